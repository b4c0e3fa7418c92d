"""Claude Code: `--mcp-config` for the studio server, `--settings` with studio's hooks and a
permission rule that allows the studio tools, and the chrome of its TUI."""

from __future__ import annotations

import json
import shlex

from node_agent.clis.session import Session
from node_agent.screen import View

# Hook events that carry turn state; PreToolUse is added for edit tools only (lease checks).
HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "Notification")
EDIT_TOOLS = "Edit|Write|MultiEdit|NotebookEdit"
# Every tool of the `studio` MCP server, without a dialog.
ALLOW_STUDIO = "mcp__studio"


def settings(session: Session) -> dict:
    def hook(event: str) -> dict:
        return {"type": "command", "command": session.hook_command(event), "timeout": 5}

    hooks: dict[str, list[dict]] = {event: [{"hooks": [hook(event)]}] for event in HOOK_EVENTS}
    hooks["PreToolUse"] = [{"matcher": EDIT_TOOLS, "hooks": [hook("PreToolUse")]}]
    return {"permissions": {"allow": [ALLOW_STUDIO]}, "hooks": hooks}


def command(session: Session) -> str:
    server = {"command": session.studio, "args": ["mcp"], "env": session.studio_env}
    mcp = session.write("claude-mcp.json", json.dumps({"mcpServers": {"studio": server}}))
    config = session.write("claude-settings.json", json.dumps(settings(session), indent=2))
    program = session.program or "claude"
    return f"{program} --mcp-config {shlex.quote(str(mcp))} --settings {shlex.quote(str(config))}"


def read_screen(text: str) -> View:
    return View(None)
