"""The `studio` command as a user runs it: a subprocess per command, in a temporary
STUDIO_HOME with a private tmux socket, so `studio up` starts its own embedded broker, node
daemon and tmux server, and `studio down` must leave none of them behind."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.settings import Settings, load_settings
from studio_cli.main import main
from studio_cli.ops import auth
from studio_cli.ops.server import ServerProcess, single_node
from studio_cli.procs import alive, descendants, terminate
from tests.conftest import unique_team
from tests.node_agent.conftest import STUDIO

_sockets = itertools.count(1)
# The team of `authed_server`.
TEAM = "acme"


@dataclass
class Cli:
    home: Path
    env: dict[str, str]
    socket: str
    team: str = "main"
    node: str = "box"

    def run(self, *args: str, ok: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [STUDIO, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if ok:
            assert done.returncode == 0, f"studio {args} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args).stdout)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def screen(self, window: str) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", f"studio-{self.team}:{window}")

    def record(self, name: str) -> dict:
        path = self.home / name
        return json.loads(path.read_text()) if path.exists() else {}

    def processes(self) -> dict[str, list[int]]:
        """Every process `up` is responsible for, by role, found by pid."""
        panes = [int(p) for p in self.tmux("list-panes", "-a", "-F", "#{pane_pid}").split()]
        server = self.tmux("display-message", "-p", "#{pid}").strip()
        found = {
            "broker": [
                self.record("run/up-broker.json").get("pid", 0),
                self.record("broker/broker.json").get("pid", 0),
            ],
            "daemon": [self.record(f"run/up-node-{self.team}.json").get("pid", 0)],
            "agents": [p for pane in panes for p in [pane, *descendants(pane)]],
            "tmux": [int(server)] if server.isdigit() else [],
        }
        return {role: [p for p in pids if p] for role, pids in found.items()}

    def cleanup(self) -> None:
        """After a failed test: nothing may outlive it."""
        left = [p for pids in self.processes().values() for p in pids]
        subprocess.run([STUDIO, "down"], env=self.env, capture_output=True, timeout=60)
        self.tmux("kill-server")
        terminate([p for p in left if alive(p)], timeout_s=5)
        tmux_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (tmux_dir / self.socket).unlink(missing_ok=True)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    home = tmp_path / "home"
    home.mkdir()
    # Faster heartbeats and wake retries than a person needs, so the test waits less.
    (home / "studio.toml").write_text(
        "heartbeat_s = 1.0\nwake_cooldown_s = 1.0\nawareness_interval_s = 5.0\n"
    )
    socket = f"studio-cli-{os.getpid()}-{next(_sockets)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    # A HOME of its own: shell agents must not run the developer's shell start-up files.
    (tmp_path / "user").mkdir(exist_ok=True)
    env.update(
        HOME=str(tmp_path / "user"),
        STUDIO_HOME=str(home),
        STUDIO_TMUX_SOCKET=socket,
        STUDIO_NODE="box",
        STUDIO_TEAM="main",
    )
    session = Cli(home=home, env=env, socket=socket)
    try:
        yield session
    finally:
        session.cleanup()


def wait_for(predicate: Callable[[], object], within: float = 15, what: str = "") -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


@pytest.fixture
def studio(nats_server, tmp_path, monkeypatch, capsys):
    """Run `studio ARGS` in process; returns (exit code, stdout, stderr)."""
    for var in ("STUDIO_AGENT_ID", "STUDIO_CREDS", "STUDIO_CONFIG", "STUDIO_TMUX_SOCKET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STUDIO_NATS_URL", nats_server.spec.url)
    monkeypatch.setenv("STUDIO_TEAM", unique_team())
    monkeypatch.setenv("STUDIO_NODE", "n1")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse exits on bad arguments
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    # Commands use the team's streams; `studio up` (or an admin) makes them.
    assert run("broker", "provision", "--nodes", "n1")[0] == 0
    return run


def one_line_error(result: tuple[int, str, str], *expected: str) -> None:
    code, _, err = result
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("studio"), err
    for text in expected:
        assert text in err, err


@pytest.fixture
def authed_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """A loopback server that includes the auth.conf of `--dir`, with nodes n1 and n2."""
    authdir = tmp_path / "cluster"
    for node in ("n1", "n2"):
        auth.add_user(authdir, TEAM, node)
    server = single_node(tmp_path / "srv")
    (tmp_path / "srv").mkdir(parents=True, exist_ok=True)
    (tmp_path / "srv" / "auth.conf").symlink_to(authdir / "auth.conf")
    server.spec.extra = 'include "auth.conf"'
    server.start()
    try:
        yield server, authdir
    finally:
        server.stop()


def as_user(server: ServerProcess, authdir: Path, node: str, user: str) -> Settings:
    return load_settings(
        env={},
        nats_url=server.spec.url,
        team=TEAM,
        node=node,
        home=authdir.parent,
        creds=str(auth.seed_path(authdir, user)),
    )
