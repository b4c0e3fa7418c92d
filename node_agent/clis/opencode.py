"""OpenCode: the studio MCP server, a permission rule and studio's plugin, injected through
`OPENCODE_CONFIG_CONTENT` (merged over the user's and the project's config, never written to
either); and the chrome of its TUI.

The plugin (opencode_plugin.js, beside this file) reports turn start and end, errors and
permission prompts to the daemon over its hook socket, appends new-mail notes to tool
results, and at a turn's end hands the model its unread mail through OpenCode's own API
(`session.promptAsync`) instead of keystrokes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from broker.models import AgentState
from node_agent.clis.session import Session
from node_agent.screen import UNKNOWN, View

PLUGIN = Path(__file__).with_name("opencode_plugin.js")


def config(session: Session) -> dict:
    return {
        "mcp": {
            "studio": {
                "type": "local",
                "command": [session.studio, "mcp"],
                "environment": session.studio_env,
                "enabled": True,
            }
        },
        # OpenCode names MCP tools <server>_<tool>; the last matching rule wins.
        "permission": {"studio_*": "allow"},
        "plugin": [PLUGIN.as_uri()],
    }


def command(session: Session) -> tuple[str, dict[str, str]]:
    return session.program or "opencode", {"OPENCODE_CONFIG_CONTENT": json.dumps(config(session))}


_BOX_BOTTOM = re.compile(r"^(\s*)╹(▀+)")
_BAR = re.compile(r"^\s*┃")
_PERMISSION = re.compile(r"^\s*┃\s+Allow once\s+Allow always\s+Reject\b")
_BUSY = re.compile(r"esc (again to )?interrupt")
_PLACEHOLDER = re.compile(r'^Ask anything… ".*"$')


def read_screen(text: str) -> View:
    """From the bottom up: a permission prompt, else the input box (the `┃` run above the
    last `╹▀▀…` line) and the footer line under it, where "esc interrupt" shows a turn."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1].strip():
        lines.pop()
    if any(_PERMISSION.match(line) for line in lines[-4:]):
        return View(AgentState.waiting_input, False)
    at = next((i for i in range(len(lines) - 1, -1, -1) if _BOX_BOTTOM.match(lines[i])), None)
    below = [line for line in lines[at + 1 :] if line.strip()] if at is not None else []
    if at is None or len(below) > 3:
        return UNKNOWN
    footer = below[0] if below else ""
    if _BUSY.search(footer):
        return View(AgentState.busy, False)
    bottom = _BOX_BOTTOM.match(lines[at])
    assert bottom is not None
    left, width = len(bottom.group(1)), len(bottom.group(2))
    box = []
    for line in reversed(lines[:at]):
        if not _BAR.match(line):
            break
        box.append(line[left + 1 : left + 1 + width].strip())
    box.reverse()
    typed = [t for t in box[1:-2] if t and not _PLACEHOLDER.match(t)]
    return View(AgentState.idle, not typed)
