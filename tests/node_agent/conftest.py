"""Real node daemons (`studio node run` subprocesses), each on a private tmux socket, against the
session's nats-server, driving the scripted agent program."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from broker import control
from broker.connection import Broker, connect
from broker.errors import StudioError
from broker.provision import ensure_team
from tests.conftest import make_settings, unique_team

ROOT = Path(__file__).resolve().parents[2]
STUDIO = str(Path(sys.executable).parent / "studio")
SCRIPTED = ROOT / "tests" / "node_agent" / "scripted_agent.py"
_sockets = itertools.count(1)
# STUDIO_TEST_DAEMON_LOG=debug logs every hook event a daemon receives.
LOG_LEVEL = os.environ.get("STUDIO_TEST_DAEMON_LOG", "info")


@dataclass
class Daemon:
    node: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> None:
        out = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                STUDIO,
                "--log-level",
                os.environ.get("STUDIO_TEST_DAEMON_LOG", "info"),
                "node",
                "run",
            ],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)


@dataclass
class Studio:
    """One team on the test broker, with any number of node daemons, each with a tmux server of
    its own (as on separate hosts)."""

    urls: list[str]
    home_root: Path
    team: str
    tmux_socket: str
    broker: Broker | None = None
    daemons: dict[str, Daemon] = field(default_factory=dict)

    def env_for(self, node: str) -> dict[str, str]:
        home = self.home_root / node
        home.mkdir(parents=True, exist_ok=True)
        (home / "studio.toml").write_text(
            "heartbeat_s = 1.0\nwake_cooldown_s = 2.0\nawareness_interval_s = 0.5\n"
            "orphan_grace_s = 1.0\n"
            # The test client is another node ("lead") that starts scripted programs.
            'remote_control = "all"\n'
        )
        user = self.home_root / f"user-{node}"  # shells must not run the developer's rc files
        user.mkdir(exist_ok=True)
        return {
            **os.environ,
            "HOME": str(user),
            "STUDIO_NATS_URL": ",".join(self.urls),
            "STUDIO_TEAM": self.team,
            "STUDIO_NODE": node,
            "STUDIO_HOME": str(home),
            "STUDIO_TMUX_SOCKET": self.socket(node),
        }

    async def start_daemon(self, node: str) -> Daemon:
        daemon = self.daemons.get(node) or Daemon(
            node, self.env_for(node), self.home_root / f"daemon-{node}.log"
        )
        self.daemons[node] = daemon
        daemon.start()
        await self.wait_ready(node)
        return daemon

    async def wait_ready(self, node: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                await control.list_managed(self.broker, node)
                return
            except StudioError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"daemon {node} not ready:\n{self.daemons[node].log_path.read_text()}")

    def agent_command(self, log: Path, busy_s: float = 0.2) -> str:
        return (
            f"env SCRIPTED_LOG={log} SCRIPTED_STUDIO={STUDIO} SCRIPTED_BUSY_S={busy_s} "
            f"{sys.executable} {SCRIPTED}"
        )

    def socket(self, node: str) -> str:
        """Each node, like a host, has a tmux server of its own."""
        return f"{self.tmux_socket}-{node}"

    def socket_with(self, window: str) -> str:
        """The socket of the node whose session has `window`."""
        for node in self.daemons:
            done = subprocess.run(
                ["tmux", "-L", self.socket(node), "list-windows", "-t", f"studio-{self.team}",
                 "-F", "#{window_name}"],
                capture_output=True, text=True,
            )  # fmt: skip
            if window in done.stdout.split():
                return self.socket(node)
        raise AssertionError(f"no node has a window {window!r}")

    def stop(self) -> None:
        for daemon in self.daemons.values():
            daemon.kill()
        for node in self.daemons:
            subprocess.run(["tmux", "-L", self.socket(node), "kill-server"], capture_output=True)


@pytest.fixture
async def studio(nats_server, tmp_path) -> AsyncIterator[Studio]:
    team = unique_team()
    s = Studio(
        [nats_server.spec.url], tmp_path, team, f"studio-test-{os.getpid()}-{next(_sockets)}"
    )
    s.broker = await connect(make_settings(s.urls, tmp_path / "client", team=team, node="lead"))
    await ensure_team(s.broker)
    try:
        yield s
    finally:
        s.stop()
        await s.broker.close()


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for(predicate: Callable[[], object], within: float = 10, what: str = "") -> object:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


async def run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 0, f"{command} failed: {err.decode()}"


async def type_into(studio: Studio, window: str, text: str) -> None:
    """Keystrokes from a person at the keyboard (tests only; the daemon never does this)."""
    target = f"studio-{studio.team}:{window}"
    await run("tmux", "-L", studio.socket_with(window), "send-keys", "-t", target, text, "Enter")
