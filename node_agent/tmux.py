"""The daemon's only contact with tmux. Windows are tagged with `@studio_agent <id>` so that a
restarted daemon finds its agents again; panes are addressed by id (`%3`), never by name.

libtmux runs a `tmux` process per call, so a whole tick of the monitor uses one `list-panes`
for every pane instead of one query per agent, and callers run these in a thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import libtmux
from libtmux.exc import LibTmuxException

TAG = "@studio_agent"
_FIELDS = ["pane_id", "window_id", TAG, "pane_dead", "pane_current_command", "pane_pid"]
_SEP = "\x1f"
WIDTH, HEIGHT = 200, 50


@dataclass(frozen=True)
class PaneInfo:
    pane_id: str
    window_id: str
    agent_id: str
    dead: bool
    command: str
    pid: int


def server(socket_name: str | None = None) -> libtmux.Server:
    return libtmux.Server(socket_name=socket_name) if socket_name else libtmux.Server()


def ensure_session(srv: libtmux.Server, name: str) -> libtmux.Session:
    """The team's session, created detached with a placeholder window when missing."""
    found = srv.sessions.filter(session_name=name)
    if found:
        return found[0]
    # Detached, a session is 80x24 until someone attaches: too small for agent CLIs' chrome.
    session = srv.new_session(
        session_name=name, window_name="studio", attach=False, x=WIDTH, y=HEIGHT
    )
    # Keep a dead agent's pane around so the daemon can see it died (and why).
    session.set_option("remain-on-exit", "on", global_=False)
    return session


def spawn_window(
    session: libtmux.Session,
    agent_id: str,
    window_name: str,
    command: str,
    cwd: str,
    environment: dict[str, str],
) -> PaneInfo:
    window = session.new_window(
        window_name=window_name,
        start_directory=cwd,
        environment=environment,
        window_shell=command,
        attach=False,
    )
    window.set_option(TAG, agent_id)
    window.set_option("remain-on-exit", "on")
    pane = window.active_pane
    assert pane is not None and pane.pane_id is not None
    return PaneInfo(
        pane.pane_id, window.window_id or "", agent_id, False, "", int(pane.pane_pid or 0)
    )


def list_agent_panes(srv: libtmux.Server, session_name: str) -> list[PaneInfo]:
    """Every tagged pane of the session, from one tmux call."""
    fmt = _SEP.join(f"#{{{f}}}" for f in _FIELDS)
    try:
        result = srv.cmd("list-panes", "-s", "-t", session_name, "-F", fmt)
    except LibTmuxException:
        return []
    panes = []
    for line in result.stdout:
        parts = line.split(_SEP)
        if len(parts) != len(_FIELDS) or not parts[2]:
            continue
        pane_id, window_id, agent_id, dead, command, pid = parts
        panes.append(PaneInfo(pane_id, window_id, agent_id, dead == "1", command, int(pid or 0)))
    return panes


def capture(srv: libtmux.Server, pane_id: str, lines: int = 50) -> str:
    result = srv.cmd("capture-pane", "-p", "-J", "-t", pane_id, "-S", f"-{lines}")
    return "\n".join(result.stdout)


def capture_many(srv: libtmux.Server, pane_ids: list[str], lines: int = 15) -> dict[str, str]:
    """The screens of many panes from one tmux process (one per pane costs a process each)."""
    if not pane_ids:
        return {}
    args: list[str] = []
    for pane_id in pane_ids:
        if args:
            args.append(";")
        args += ["display-message", "-p", "-t", pane_id, f"{_SEP}#{{pane_id}}"]
        args += [";", "capture-pane", "-p", "-J", "-t", pane_id, "-S", f"-{lines}"]
    screens: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in srv.cmd(*args).stdout:
        if line.startswith(_SEP):
            current = screens.setdefault(line[len(_SEP) :], [])
        elif current is not None:
            current.append(line)
    return {pane_id: "\n".join(text) for pane_id, text in screens.items()}


def paste(srv: libtmux.Server, pane_id: str, text: str, enter_delay_s: float = 0.15) -> None:
    """Paste as one bracketed block (so a TUI treats it as typed text, not keystrokes to
    interpret), give the program time to take it in, then press Enter."""
    buffer = f"studio-{pane_id.lstrip('%')}"
    srv.cmd("set-buffer", "-b", buffer, "--", text)
    srv.cmd("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id)
    time.sleep(enter_delay_s)
    srv.cmd("send-keys", "-t", pane_id, "Enter")


def kill_window(srv: libtmux.Server, window_id: str) -> None:
    srv.cmd("kill-window", "-t", window_id)


def session_exists(srv: libtmux.Server, name: str) -> bool:
    return bool(srv.sessions.filter(session_name=name))
