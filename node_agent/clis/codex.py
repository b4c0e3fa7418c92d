"""Codex: the studio MCP server, studio's hooks and their trust, all as `-c` overrides of this
session only, so the user's `config.toml` is never touched; and the chrome of its TUI.

Codex runs a hook only once its trust is recorded (the `/hooks` dialog writes
`hooks.state."<source>:<event>:<group>:<handler>".trusted_hash`). Hooks given with `-c`
come from the session-flags layer, whose source is `/<session-flags>/config.toml`, and trust
given the same way counts. So studio passes each hook together with its trust: no dialog,
nothing skipped, nothing left behind. The hash is Codex's: sha256 of the hook's identity as
compact key-sorted JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex

from broker.models import AgentState
from node_agent.clis.session import Session
from node_agent.screen import UNKNOWN, View

# PermissionRequest: an approval dialog is shown; Interrupt: Esc ended the turn.
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PermissionRequest",
    "Stop",
    "Interrupt",
)
HOOK_TIMEOUT_S = 3  # Codex caps Interrupt's timeout at 3 s; one value for all keeps it simple
FLAGS_SOURCE = "/<session-flags>/config.toml"
# check_inbox and wait_for may wait up to 300 s; Codex stops a tool call after 60 s.
TOOL_TIMEOUT_S = 330


def _snake(event: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


def trust_hash(event: str, command: str) -> str:
    handler = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S, "async": False}
    identity = {"event_name": _snake(event), "hooks": [handler]}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _toml(value: object) -> str:
    """A TOML value: JSON strings, numbers, booleans and arrays are TOML too."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def overrides(session: Session) -> list[str]:
    server = {
        "command": session.studio,
        "args": ["mcp"],
        "env": session.studio_env,
        # Codex asks before each MCP tool call otherwise, even with approval_policy "never".
        "default_tools_approval_mode": "approve",
        "required": True,
        "tool_timeout_sec": TOOL_TIMEOUT_S,
    }
    flags = [f"mcp_servers.studio={_toml(server)}"]
    trust = {}
    for event in HOOK_EVENTS:
        command = session.hook_command(event)
        handler = {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_S}
        flags.append(f"hooks.{event}={_toml([{'hooks': [handler]}])}")
        trust[f"{FLAGS_SOURCE}:{_snake(event)}:0:0"] = {"trusted_hash": trust_hash(event, command)}
    flags.append(f"hooks.state={_toml(trust)}")
    return flags


def command(session: Session) -> str:
    # --no-daemon: otherwise the TUI starts a shared app-server that outlives the window.
    program = session.program or "codex"
    return f"{program} --no-daemon" + "".join(f" -c {shlex.quote(o)}" for o in overrides(session))


_INPUT = re.compile(r"^\s{0,2}› (.*)$")
_PLACEHOLDER = "Ask Codex to do anything"
_WORKING = re.compile(r"^[•◦] Working \(\d+[smh]?.*esc to interrupt\)$")
_DIALOG = re.compile(
    r"^\s*(Press enter to confirm or esc to cancel|enter to submit \| esc to cancel)\s*$"
)


def read_screen(text: str) -> View:
    """The bottom of Codex's TUI: the last `› ` input line, the line above the input area
    (its "Working" status while a turn runs), and a dialog's footer."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    bottom = lines[-4:]
    if any(_DIALOG.match(line) for line in bottom):
        return View(AgentState.waiting_input, False)
    at = next((i for i in range(len(lines) - 1, -1, -1) if _INPUT.match(lines[i])), None)
    # The footer (model and hints) follows the input line; it may wrap in a narrow window.
    if at is None or not 1 < len(lines) - at <= 6:
        return UNKNOWN
    above = next((line.strip() for line in reversed(lines[:at]) if line.strip()), "")
    if _WORKING.match(above):
        return View(AgentState.busy, False)
    if any(line.strip() == "loading" for line in lines[:4]):
        return UNKNOWN  # the header says it is still starting
    typed = _INPUT.match(lines[at]).group(1).strip()  # type: ignore[union-attr]
    return View(AgentState.idle, typed in ("", _PLACEHOLDER))
