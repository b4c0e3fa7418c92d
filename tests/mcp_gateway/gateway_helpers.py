"""Assertions on tool results, shared by the gateway tests."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp_types import CallToolResult

FOOTER = "📬"


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def ok(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {text(result)}"
    return result


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed: {text(result)}"
    message = text(result)
    assert message.startswith(f"Error executing tool {tool}: "), message
    return message
