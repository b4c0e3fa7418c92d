"""The background services `studio up` runs on this machine and `studio down` stops: the
embedded broker (`studio broker serve`), the node daemon (`studio node run`), and the team's
tmux session, which the daemon owns.

Each started process is recorded in `STUDIO_HOME/run/` (pid plus a command-line marker), and
logs go to `STUDIO_HOME/logs/`. Whatever was running before `up` (a broker from
STUDIO_NATS_URL, a daemon started by hand) is used, never recorded, and so never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from broker import control
from broker.connection import Broker
from broker.errors import BrokerUnavailable, StudioError
from broker.settings import Settings, studio_executable
from studio_cli.client import embedded_record
from studio_cli.procs import (
    PidFile,
    alive,
    descendants,
    log_tail,
    spawn_detached,
    terminate,
    wait_gone,
)

BROKER_MARKER = "broker serve"
DAEMON_MARKER = "node run"
BROKER_START_S = 30.0
DAEMON_START_S = 30.0


def run_dir(settings: Settings) -> Path:
    return settings.home / "run"


def logs_dir(settings: Settings) -> Path:
    return settings.home / "logs"


def broker_pidfile(settings: Settings) -> PidFile:
    return PidFile(run_dir(settings) / "up-broker.json")


def daemon_pidfile(settings: Settings, team: str | None = None) -> PidFile:
    return PidFile(run_dir(settings) / f"up-node-{team or settings.team}.json")


def daemon_log(settings: Settings) -> Path:
    return logs_dir(settings) / f"node-{settings.team}.log"


def session_name(settings: Settings) -> str:
    return f"studio-{settings.team}"


def child_env(settings: Settings) -> dict[str, str]:
    """The environment of every process `up` starts: this one's, plus the settings resolved
    from the command line, so `--home/--team/--node` reach the broker, daemon and agents."""
    env = dict(os.environ)
    env.update(STUDIO_HOME=str(settings.home), STUDIO_TEAM=settings.team, STUDIO_NODE=settings.node)
    # tmux gives a new window the PATH of the client that asked for it (the daemon), not the
    # one passed with -e; `studio` must be on it for shell agents' `studio inbox --new`.
    bin_dir = str(Path(studio_executable()).parent)
    path = env.get("PATH", "/usr/bin:/bin")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    if settings.tmux_socket:
        env["STUDIO_TMUX_SOCKET"] = settings.tmux_socket
    # Run from inside tmux, $TMUX would point the daemon's tmux calls at that server instead
    # of the one `attach_command` names.
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


@contextlib.asynccontextmanager
async def exclusive(settings: Settings) -> AsyncIterator[None]:
    """Hold `run/up.lock` (an advisory file lock), waiting for another `up`/`down` to end."""
    path = run_dir(settings) / "up.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ---------------------------------------------------------------- embedded broker


@dataclass
class BrokerState:
    url: str
    started: bool
    embedded: bool
    pid: int | None = None


def running_embedded(settings: Settings) -> BrokerState | None:
    record = embedded_record(settings)
    pid = record.get("pid")
    if record.get("url") and isinstance(pid, int) and alive(pid):
        return BrokerState(url=record["url"], started=False, embedded=True, pid=pid)
    return None


def ensure_broker(settings: Settings, env: dict[str, str]) -> BrokerState:
    """The configured broker (STUDIO_NATS_URL), the embedded one already running, or a newly
    started embedded one on loopback."""
    if settings.nats_url:
        return BrokerState(url=",".join(settings.nats_url), started=False, embedded=False)
    running = running_embedded(settings)
    if running:
        return running
    # A record left by a broker that crashed would make `broker serve` refuse to start.
    settings.embedded_record.unlink(missing_ok=True)
    pidfile = broker_pidfile(settings)
    previous = pidfile.read() or {}
    # Same port as last time when it is free, so gateways started earlier find it again.
    port = previous.get("port") if _port_free(previous.get("port")) else None
    argv = [studio_executable(), "--log-level", "info", "broker", "serve"]
    if port:
        argv += ["--port", str(port)]
    log_path = logs_dir(settings) / "broker.log"
    pid = spawn_detached(argv, log_path, env)
    pidfile.write(pid, BROKER_MARKER, port=port)
    deadline = time.monotonic() + BROKER_START_S
    while time.monotonic() < deadline:
        record = embedded_record(settings)
        if record.get("url"):
            url = record["url"]
            pidfile.write(pid, BROKER_MARKER, port=int(url.rsplit(":", 1)[1]), url=url)
            return BrokerState(url=url, started=True, embedded=True, pid=record.get("pid"))
        if not alive(pid):
            pidfile.remove()
            raise BrokerUnavailable(
                f"the embedded broker did not start; its log ({log_path}) ends with:\n"
                + log_tail(log_path)
            )
        time.sleep(0.05)
    terminate([pid])
    pidfile.remove()
    raise BrokerUnavailable(f"the embedded broker did not start in {BROKER_START_S:.0f}s")


def _port_free(port: object) -> bool:
    if not isinstance(port, int) or not 0 < port < 65536:
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_broker(settings: Settings) -> str:
    """Stop the embedded broker if `up` started it. Returns what happened, for the report."""
    pidfile = broker_pidfile(settings)
    data = pidfile.read()
    if data is None:
        running = running_embedded(settings)
        if running:
            return f"left running (not started by studio up): {running.url}"
        return "not running"
    wrapper = data["pid"] if alive(data["pid"], BROKER_MARKER) else None
    server_pid = embedded_record(settings).get("pid")
    server = server_pid if isinstance(server_pid, int) and alive(server_pid) else None
    # The wrapper stops nats-server cleanly (JetStream flushes) and removes the record.
    if wrapper:
        terminate([wrapper], timeout_s=15)
    if server:
        terminate([server], timeout_s=10)
    settings.embedded_record.unlink(missing_ok=True)
    pidfile.remove()
    return "stopped" if wrapper or server else "not running (stale record removed)"


# ---------------------------------------------------------------- node daemon


async def daemon_answers(broker: Broker, node: str) -> control.ListReply | None:
    try:
        return await control.list_managed(broker, node)
    except StudioError:
        return None


def start_daemon(settings: Settings, env: dict[str, str]) -> int:
    argv = [studio_executable(), "--log-level", "info", "node", "run"]
    pid = spawn_detached(argv, daemon_log(settings), env)
    daemon_pidfile(settings).write(pid, DAEMON_MARKER, team=settings.team, node=settings.node)
    return pid


async def wait_daemon(broker: Broker, settings: Settings, pid: int) -> control.ListReply:
    deadline = time.monotonic() + DAEMON_START_S
    while time.monotonic() < deadline:
        reply = await daemon_answers(broker, settings.node)
        if reply is not None:
            return reply
        if not alive(pid):
            daemon_pidfile(settings).remove()
            raise StudioError(
                f"the node daemon exited; its log ({daemon_log(settings)}) ends with:\n"
                + log_tail(daemon_log(settings))
            )
        await asyncio.sleep(0.1)
    raise StudioError(
        f"the node daemon did not answer within {DAEMON_START_S:.0f}s; see {daemon_log(settings)}"
    )


def other_daemons(settings: Settings) -> list[str]:
    """Teams whose daemon `up` started in this home and that still run (they share the
    embedded broker, so it must stay up for them)."""
    found = []
    for path in run_dir(settings).glob("up-node-*.json"):
        team = path.stem.removeprefix("up-node-")
        if team != settings.team and PidFile(path).live_pid():
            found.append(team)
    return sorted(found)


# ---------------------------------------------------------------- tmux


def tmux_argv(settings: Settings, *args: str) -> list[str]:
    socket_args = ["-L", settings.tmux_socket] if settings.tmux_socket else []
    return ["tmux", *socket_args, *args]


def tmux(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    argv = tmux_argv(settings, *args)
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        # No tmux at all (`down` on a machine without it), or a wedged server.
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def attach_command(settings: Settings) -> str:
    """How to see the session from this terminal (inside tmux, attaching would nest)."""
    if os.environ.get("TMUX") and not settings.tmux_socket:
        return " ".join(tmux_argv(settings, "switch-client", "-t", session_name(settings)))
    return " ".join(tmux_argv(settings, "attach", "-t", session_name(settings)))


def tmux_installed() -> bool:
    return shutil.which("tmux") is not None


def session_pane_pids(settings: Settings) -> list[int]:
    if foreign_owner(settings):
        return []
    done = tmux(settings, "list-panes", "-s", "-t", session_name(settings), "-F", "#{pane_pid}")
    return [int(p) for p in done.stdout.split() if p.isdigit()] if done.returncode == 0 else []


# node_agent.tmux.HOME_TAG: the STUDIO_HOME that owns a session (read here with the tmux
# command, so the CLI does not load libtmux).
HOME_TAG = "@studio_home"


def session_owner(settings: Settings) -> str:
    """The STUDIO_HOME recorded on the team's session ('' when none is, or no session)."""
    target = f"={session_name(settings)}:"
    done = tmux(settings, "show-options", "-q", "-v", "-t", target, HOME_TAG)
    return done.stdout.strip() if done.returncode == 0 else ""


def foreign_owner(settings: Settings) -> str:
    """The other STUDIO_HOME that owns the team's session on this tmux server, else ''."""
    owner = session_owner(settings)
    return owner if owner and owner != str(settings.home) else ""


def check_session_free(settings: Settings) -> None:
    """Refuse to start a second studio into a session another home owns: its daemon would
    adopt, type into and close that home's agents, which read another broker."""
    other = foreign_owner(settings)
    if other:
        raise StudioError(
            f"tmux session {session_name(settings)} belongs to the studio of "
            f"STUDIO_HOME={other}, not this one ({settings.home}): use another team "
            "(--team), a tmux server of its own (STUDIO_TMUX_SOCKET), or stop that studio "
            f"first (`studio --home {other} down`)"
        )


def claim_session(settings: Settings) -> None:
    """Record this home as the owner of the team's session (made by its daemon)."""
    if not session_owner(settings):
        tmux(
            settings,
            "set-option",
            "-t",
            f"={session_name(settings)}:",
            HOME_TAG,
            str(settings.home),
        )


def kill_session(settings: Settings) -> list[int]:
    """Close the team's tmux session and make sure nothing that ran in it survives (a pane's
    program gets SIGHUP; anything that ignores it is terminated). Returns the pids it saw.
    A session another home owns is left alone."""
    if foreign_owner(settings):
        return []
    panes = session_pane_pids(settings)
    tree = [p for pane in panes for p in [pane, *descendants(pane)]]
    if panes or tmux(settings, "has-session", "-t", session_name(settings)).returncode == 0:
        tmux(settings, "kill-session", "-t", session_name(settings))
    if not wait_gone(tree, 3.0):
        terminate([p for p in tree if alive(p)], timeout_s=5)
    return tree
