"""The node benchmark's rig: a real daemon on a private tmux socket, tiny idle agents spawned
through the control service, and ways to watch their screens without a process per look.
The measurements themselves are in node_bench.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from broker import control, messages
from broker.connection import Broker
from broker.control import PeekRequest, SpawnRequest
from broker.errors import StudioError
from broker.names import AgentId
from studio_cli.ops.server import ServerProcess

STUDIO = str(Path(sys.executable).parent / "studio")
TEAM, NODE = "bench", "bn1"
HEARTBEAT_S = 1.0
WAKE_COOLDOWN_S = 0.3
POLL_S = 0.001

# The idle agent: a prompt, cooked-mode reads, a log of when each line arrived. It writes no
# pointer text back (only its length), so the pasted text on screen is the terminal's echo.
TINY_AGENT = """
import sys, time
out = open(sys.argv[1], "a", buffering=1)
while True:
    sys.stdout.write("agent> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        break
    out.write("%.6f %d\\n" % (time.monotonic(), len(line)))
    sys.stdout.write("read %d chars\\n" % len(line))
"""


class Tail:
    """Follows a growing file from an offset, without a process per look (a `capture-pane`
    per poll would cost a tmux client start each millisecond)."""

    def __init__(self, path: Path) -> None:
        path.touch()
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.offset = 0

    def skip(self) -> None:
        """Forget everything written so far."""
        self.offset = os.fstat(self.fd).st_size

    def _new(self) -> bytes:
        data = os.pread(self.fd, 1 << 20, self.offset)
        self.offset += len(data)
        return data

    async def wait_for(self, needle: bytes, within: float) -> tuple[float | None, bytes]:
        """(monotonic time the needle was first seen, or None on timeout; bytes read)."""
        seen = b""
        deadline = time.monotonic() + within
        while True:
            seen += self._new()
            if needle in seen:
                return time.monotonic(), seen
            if time.monotonic() > deadline:
                return None, seen
            await asyncio.sleep(POLL_S)

    def read_all(self) -> bytes:
        return os.pread(self.fd, 1 << 26, 0)

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Rig:
    """One nats-server, one daemon on a private tmux socket, one client acting as the team."""

    tmp: Path
    server: ServerProcess
    socket: str
    home: Path
    env: dict[str, str]
    daemon_log: Path
    daemon: subprocess.Popen | None = None
    broker: Broker | None = None
    panes: dict[str, str] = field(default_factory=dict)
    # Per agent: its screen output (tmux pipe-pane) and its program's line log.
    watched: dict[str, tuple[Tail, Tail]] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        assert self.daemon is not None
        return self.daemon.pid

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)

    def start_daemon(self) -> None:
        with self.daemon_log.open("ab") as out:
            self.daemon = subprocess.Popen(
                [STUDIO, "--log-level", "info", "node", "run"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def daemon_log_tail(self, chars: int = 3000) -> str:
        try:
            return self.daemon_log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Daemon (its own process group), then the tmux server with every agent in it."""
        for tails in self.watched.values():
            for tail in tails:
                tail.close()
        if self.daemon is not None and self.daemon.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait(5)
        self.tmux("kill-server")
        # tmux leaves its socket file behind: remove ours (only ours, by its exact name).
        tmpdir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (tmpdir / self.socket).unlink(missing_ok=True)


def make_rig(tmp: Path, server: ServerProcess) -> Rig:
    home = tmp / "home"
    home.mkdir(parents=True)
    (home / "studio.toml").write_text(
        f"heartbeat_s = {HEARTBEAT_S}\nwake_cooldown_s = {WAKE_COOLDOWN_S}\n"
    )
    socket = f"studio-bench-{os.getpid()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")},
        "STUDIO_NATS_URL": server.spec.url,
        "STUDIO_TEAM": TEAM,
        "STUDIO_NODE": NODE,
        "STUDIO_HOME": str(home),
        "STUDIO_TMUX_SOCKET": socket,
    }
    (tmp / "agent.py").write_text(TINY_AGENT)
    return Rig(tmp, server, socket, home, env, tmp / "daemon.log")


async def wait_ready(rig: Rig, within: float = 30.0) -> float:
    """Seconds until the daemon answers a control request."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if rig.daemon is not None and rig.daemon.poll() is not None:
            raise RuntimeError(f"daemon exited:\n{rig.daemon_log_tail()}")
        try:
            await control.list_managed(rig.broker, NODE)
            return time.monotonic() - started
        except StudioError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"daemon not ready after {within:.0f}s:\n{rig.daemon_log_tail()}")


async def spawn_tiny(rig: Rig, name: str) -> float:
    """Spawn one tiny agent; returns the spawn request's latency in ms."""
    lines = rig.tmp / f"{name}.lines"
    command = f"{shlex.quote(sys.executable)} -S {shlex.quote(str(rig.tmp / 'agent.py'))} " + (
        shlex.quote(str(lines))
    )
    start = time.perf_counter()
    reply = await control.spawn(
        rig.broker, NODE, SpawnRequest(name=name, kind="other", command=command, cwd=str(rig.tmp))
    )
    took = (time.perf_counter() - start) * 1000
    rig.panes[name] = reply.tmux_target.rsplit(":", 1)[-1]
    return took


async def agent_state(rig: Rig, name: str) -> str:
    return (await control.peek(rig.broker, NODE, PeekRequest(agent=name, lines=1))).state


async def wait_states(rig: Rig, names: list[str], states: set[str], within: float = 20) -> None:
    deadline = time.monotonic() + within
    pending = list(names)
    while pending:
        listed = {a.id: a.state for a in (await control.list_managed(rig.broker, NODE)).agents}
        pending = [n for n in pending if listed.get(f"{NODE}.{n}") not in states]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"agents {pending} never reached {states}: {listed}")
        await asyncio.sleep(0.05)


async def drain(broker: Broker, agent: AgentId) -> int:
    """Read and ack everything unread, as the agent itself would; wait until the cursor shows
    it (an ack is a plain publish, so the count can lag it a little)."""
    taken = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if await messages.unread_count(broker, agent) == 0:
            return taken
        got = await messages.fetch(broker, agent, limit=100)
        await messages.ack(got)
        taken += len(got)
        if not got:
            await asyncio.sleep(0.01)
    raise RuntimeError(f"could not drain {agent}'s inbox")
