"""Everything studio knows about each agent CLI: how to start it with the studio MCP server,
its turn signals (hooks, plugin) and permissions, and how its own chrome looks on screen.

One module per CLI; `command_for` and `screen_reader` dispatch on the agent kind.
"""

from __future__ import annotations

import os

from broker.models import AgentKind
from node_agent import screen
from node_agent.clis import claude, codex, opencode
from node_agent.clis.session import Session

__all__ = ["Session", "command_for", "read_screen", "stop_feedback"]


def command_for(kind: AgentKind, session: Session) -> tuple[str, dict[str, str]]:
    """The window's command line, and variables it needs beyond the common ones."""
    if kind == AgentKind.claude:
        return claude.command(session), {}
    if kind == AgentKind.codex:
        return codex.command(session), {}
    if kind == AgentKind.opencode:
        return opencode.command(session)
    if kind == AgentKind.shell:
        return session.program or os.environ.get("SHELL", "/bin/bash"), {}
    return session.program, {}


READERS = {
    AgentKind.claude: claude.read_screen,
    AgentKind.codex: codex.read_screen,
    AgentKind.opencode: opencode.read_screen,
}


def read_screen(kind: AgentKind, text: str) -> screen.View:
    """What the CLI's chrome shows (see node_agent.screen)."""
    reader = READERS.get(kind, screen.generic)
    return reader(text)


def stop_feedback(kind: AgentKind, reason: str) -> dict:
    """A Stop hook's answer that keeps the turn going with `reason` for the model: Claude
    Code's quiet form where it has one, else the Claude-compatible block (Codex, the
    OpenCode plugin)."""
    if kind == AgentKind.claude:
        return claude.stop_feedback(reason)
    return {"decision": "block", "reason": reason}
