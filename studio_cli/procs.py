"""Background processes started by `studio up`: pid files, liveness, and stopping a process tree.

`up` and `down` are separate invocations, so what was started is recorded on disk under
`STUDIO_HOME/run`; `down` stops exactly those processes (by pid, checked against the command
line it recorded, so a recycled pid is never signalled).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.files import write_atomic


@dataclass(frozen=True)
class PidFile:
    """A JSON record `{"pid": ..., "marker": ..., ...}` of one background process."""

    path: Path

    def write(self, pid: int, marker: str, **info: Any) -> None:
        write_atomic(self.path, json.dumps({"pid": pid, "marker": marker, **info}))

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None

    def live_pid(self) -> int | None:
        """The recorded pid when that process still runs (and is still the one recorded)."""
        data = self.read()
        if data and alive(data["pid"], data.get("marker", "")):
            return data["pid"]
        return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def alive(pid: int, marker: str = "") -> bool:
    """True while `pid` runs and is not a zombie; with `marker`, only if its command line
    contains it (a pid recycled by an unrelated program does not count)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    state, command = _state_and_command(pid)
    if state in ("Z", "X", ""):
        return False
    return not marker or marker in command


def _state_and_command(pid: int) -> tuple[str, str]:
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
        except OSError:
            return "", ""
        return stat.rsplit(")", 1)[-1].split()[0], command
    done = subprocess.run(
        ["ps", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True
    )
    line = done.stdout.strip()
    if not line:
        return "", ""
    state, _, command = line.partition(" ")
    return state[:1], command


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...), from one `ps` call."""
    done = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            children.setdefault(int(parts[1]), []).append(int(parts[0]))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def terminate(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """SIGTERM each live pid, wait up to `timeout_s`, SIGKILL what remains. Returns the pids
    that had to be killed."""
    pending = [p for p in pids if alive(p)]
    for pid in pending:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    if not wait_gone(pending, timeout_s):
        stubborn = [p for p in pending if alive(p)]
        for pid in stubborn:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        wait_gone(stubborn, 5.0)
        return stubborn
    return []


def wait_gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def spawn_detached(argv: list[str], log_path: Path, env: dict[str, str]) -> int:
    """Start a process in its own session, detached from this terminal, output to `log_path`.
    It outlives this command (that is the point: `down` stops it later)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    # Not waited for on purpose; mark it reaped so Popen's finalizer does not warn.
    process.returncode = 0
    return process.pid


def log_tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
