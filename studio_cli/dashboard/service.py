"""The dashboard as one of `studio up`'s background services: started detached (like the
broker and the daemon, recorded in STUDIO_HOME/run), its URL printed, stopped by `studio down`.

The port is the default one when free, else any: a second home or team on this machine gets
its own dashboard rather than an error.
"""

from __future__ import annotations

import json
import time

from broker.errors import InvalidInput
from broker.settings import Settings, studio_executable
from studio_cli.dashboard.server import DEFAULT_PORT, Listen, bind, record_path
from studio_cli.dashboard.token import dashboard_token
from studio_cli.procs import PidFile, alive, log_tail, spawn_detached, terminate

MARKER = "dashboard"
START_S = 20.0


def pidfile(settings: Settings) -> PidFile:
    return PidFile(settings.home / "run" / f"up-dashboard-{settings.team}.json")


def _running_url(settings: Settings) -> str | None:
    try:
        record = json.loads(record_path(settings).read_text())
    except (OSError, ValueError):
        return None
    pid, url = record.get("pid"), record.get("url")
    return url if isinstance(pid, int) and alive(pid) and isinstance(url, str) else None


def ensure(settings: Settings, env: dict[str, str]) -> str:
    """Start the dashboard unless one runs for this home and team; returns the line `up`
    prints (its URL with the token)."""
    token = dashboard_token(settings)
    url = _running_url(settings)
    if url:
        return f"running at {url}?token={token}"
    log_path = settings.home / "logs" / f"dashboard-{settings.team}.log"
    argv = [studio_executable(), "--log-level", "info", "dashboard", "--port"]
    try:
        bind(Listen(port=DEFAULT_PORT)).close()
        port = DEFAULT_PORT
    except InvalidInput:  # taken (another home's dashboard): any free port
        port = 0
    pid = spawn_detached([*argv, str(port)], log_path, env)
    pidfile(settings).write(pid, MARKER, team=settings.team)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        url = _running_url(settings)
        if url:
            return f"started at {url}?token={token}"
        if not alive(pid):
            pidfile(settings).remove()
            return f"did not start; its log ({log_path}) ends with:\n{log_tail(log_path)}"
        time.sleep(0.05)
    return f"not answering after {START_S:.0f}s; see {log_path}"


def stop(settings: Settings) -> str:
    """Stop the dashboard `up` started (a hand-started one is left alone)."""
    file = pidfile(settings)
    pid = file.live_pid()
    file.remove()
    if pid is None:
        return "not running" if _running_url(settings) is None else "left running (not ours)"
    terminate([pid], timeout_s=5)
    record_path(settings).unlink(missing_ok=True)
    return f"stopped (pid {pid})"
