"""The daemon's only contact with tmux. Windows are tagged with `@studio_agent <id>` so that a
restarted daemon finds its agents again; panes are addressed by id (`%3`), never by name.

libtmux runs a `tmux` process per call, so a whole tick of the monitor uses one `list-panes`
for every pane instead of one query per agent, and callers run these in a thread.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import libtmux
from libtmux.exc import LibTmuxException

from broker.errors import StudioError

TAG = "@studio_agent"
# The STUDIO_HOME whose daemon owns a session. Two homes with the same team on one tmux
# server would otherwise share `studio-<team>`: each daemon adopting, typing into and closing
# the other's agents, which read another broker.
HOME_TAG = "@studio_home"
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


class SessionTaken(StudioError):
    """The session name is in use by the studio of another STUDIO_HOME."""


def session_home(srv: libtmux.Server, name: str) -> str:
    """The home recorded on session `name` ('' when none is, or there is no such session)."""
    try:
        result = srv.cmd("show-options", "-q", "-v", "-t", f"={name}:", HOME_TAG)
    except LibTmuxException:
        return ""
    return "".join(result.stdout).strip() if not result.stderr else ""


def claim_session(srv: libtmux.Server, name: str, home: str) -> None:
    """Record `home` as the owner of session `name`, refusing (SessionTaken, naming the other
    home) when another home owns it. A session with no record (made before records existed)
    is taken over."""
    owner = session_home(srv, name)
    if owner and owner != home:
        raise SessionTaken(
            f"tmux session {name!r} belongs to the studio of STUDIO_HOME={owner}, not this "
            f"one ({home}): use another team (--team), a tmux server of its own "
            f"(STUDIO_TMUX_SOCKET), or stop that studio (`studio --home {owner} down`)"
        )
    if not owner:
        srv.cmd("set-option", "-t", f"={name}:", HOME_TAG, home)


def shell_path() -> str:
    """PATH for the plain `studio` window: this process's, with the directory of the running
    `studio` first (a daemon started by systemd, or a venv never activated, lacks it)."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    here = Path(sys.executable).parent
    if (here / "studio").exists() and str(here) not in path.split(os.pathsep):
        path = f"{here}{os.pathsep}{path}"
    return path


def studio_shell() -> str:
    """The `studio` window's command: the user's shell, not as a login shell (whose
    /etc/profile resets PATH), with shell_path() given on the command line (tmux gives a new
    pane the PATH of the tmux client that asked for it, whatever `-e` says)."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    return f"env PATH={shlex.quote(shell_path())} {shlex.quote(shell)}"


def ensure_session(srv: libtmux.Server, name: str, home: str | None = None) -> libtmux.Session:
    """The team's session, created detached with a plain shell window `studio` when missing.
    With `home`, the session is claimed for that STUDIO_HOME (see claim_session).

    The person attaching expects `studio` on the window's PATH: see studio_shell."""
    found = srv.sessions.filter(session_name=name)
    if found:
        if home:
            claim_session(srv, name, home)
        return found[0]
    # Detached, a session is 80x24 until someone attaches: too small for agent CLIs' chrome.
    session = srv.new_session(
        session_name=name,
        window_name="studio",
        window_command=studio_shell(),
        attach=False,
        x=WIDTH,
        y=HEIGHT,
    )
    if home:
        claim_session(srv, name, home)
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
