"""Claude Code: `--mcp-config` for the studio server, `--settings` with studio's hooks and a
permission rule that allows the studio tools, and the chrome of its TUI."""

from __future__ import annotations

import json
import re
import shlex

from broker.models import AgentState
from node_agent.clis.session import Session
from node_agent.screen import UNKNOWN, View

# Hook events that carry turn state; PreToolUse is added for edit tools only (lease checks).
# StopFailure: a turn ended in an API error (no Stop then); PermissionRequest: a dialog is up
# (Notification says so only ~6 s later).
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "Stop",
    "StopFailure",
    "PermissionRequest",
    "Notification",
)
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
# Every tool of the `studio` MCP server, without a dialog.
ALLOW_STUDIO = "mcp__studio"


def settings(session: Session) -> dict:
    def hook(event: str) -> dict:
        return {"type": "command", "command": session.hook_command(event), "timeout": 5}

    hooks: dict[str, list[dict]] = {event: [{"hooks": [hook(event)]}] for event in HOOK_EVENTS}
    hooks["PreToolUse"] = [{"matcher": "|".join(EDIT_TOOLS), "hooks": [hook("PreToolUse")]}]
    return {"permissions": {"allow": [ALLOW_STUDIO]}, "hooks": hooks}


def command(session: Session) -> str:
    server = {"command": session.studio, "args": ["mcp"], "env": session.studio_env}
    mcp = session.write("claude-mcp.json", json.dumps({"mcpServers": {"studio": server}}))
    config = session.write("claude-settings.json", json.dumps(settings(session), indent=2))
    program = session.program or "claude"
    return f"{program} --mcp-config {shlex.quote(str(mcp))} --settings {shlex.quote(str(config))}"


_SPINNER = re.compile(r"^[·✢✳✶✻✽*] \S[^…]*…")
_RULE_MIN = 20


def _is_rule(line: str) -> bool:
    return len(line) >= _RULE_MIN and set(line) == {"─"}


def read_screen(text: str) -> View:
    """Claude Code draws its input box inline, between two full-width `─` rules, with `❯`
    on its first line and a footer under it. A turn shows as the footer's "esc to interrupt"
    or, with text typed, as the spinner line ("✽ Forming…") right above the box. A dialog
    replaces the box and ends in "Esc to cancel"."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return UNKNOWN  # blank until the TUI has started
    rules = [i for i, line in enumerate(lines) if _is_rule(line)]
    boxed = len(rules) >= 2 and lines[rules[-2] + 1].startswith("❯")
    if lines[-1].strip().startswith("Esc to cancel") and not (boxed and rules[-1] > len(lines) - 4):
        return View(AgentState.waiting_input, False)
    if not boxed or len(lines) - rules[-1] > 4:
        return UNKNOWN
    top, bottom = rules[-2], rules[-1]
    typed = "\n".join(lines[top + 1 : bottom])[1:].strip()
    footer = lines[bottom + 1].strip() if bottom + 1 < len(lines) else ""
    above = next(
        (line for line in reversed(lines[:top]) if line.strip() and not line.startswith("  ⎿")),
        "",
    )
    if footer.startswith("esc to interrupt") or _SPINNER.match(above):
        return View(AgentState.busy, not typed)
    return View(AgentState.idle, not typed)


def stop_feedback(reason: str) -> dict:
    """Continue the turn with `reason` for the model. Of the Stop hook's documented outputs
    this one shows the person "Stop hook feedback", not "Stop hook error"."""
    return {"hookSpecificOutput": {"hookEventName": "Stop", "additionalContext": reason}}
