"""Error messages from broker/ are written for the MCP tools' readers (models), and name
tools (``list_tasks``); a person at the CLI needs the command that does the same. One table,
applied to every error the CLI prints."""

from __future__ import annotations

import re

# MCP tool -> the CLI command a person types instead.
CLI_FOR_TOOL = {
    "list_tasks": "studio tasks",
    "get_task": "studio tasks show",
    "dispatch_task": "studio tasks add",
    "claim_task": "studio tasks claim",
    "update_task": "studio tasks update",
    "list_agents": "studio status",
    "studio_status": "studio status",
    "check_inbox": "studio inbox --new",
    "send_message": "studio send",
    "lock_files": "studio locks lock",
    "unlock_files": "studio locks unlock",
    "list_locks": "studio locks",
    "read_notes": "studio notes",
    "post_note": "studio notes post",
    "spawn_agent": "studio spawn",
    "stop_agent": "studio stop",
    "peek_agent": "studio peek",
    "register": "studio register",
}
_TOOL = re.compile(r"`?\b(" + "|".join(sorted(CLI_FOR_TOOL, key=len, reverse=True)) + r")\b`?")


def for_cli(text: str) -> str:
    """`text` with every MCP tool name replaced by its CLI command, in backticks."""

    def swap(match: re.Match[str]) -> str:
        whole, tool = match.group(0), match.group(1)
        # A bare `register` is an ordinary word; only backticked it names the tool.
        if tool == "register" and not whole.startswith("`"):
            return whole
        return f"`{CLI_FOR_TOOL[tool]}`"

    return _TOOL.sub(swap, text)
