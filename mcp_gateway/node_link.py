"""Tells this node's daemon that an agent session's studio MCP server is connected.

The daemon must not point an agent CLI at check_inbox before the CLI has the studio tools:
the model would answer without them. The first `tools/list` from the CLI is the moment the
tools exist for it, so that is when the gateway sends `mcp-ready` over the daemon's hook
socket (the same one-line protocol as `studio hook`). No daemon, no harm: nothing is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from mcp_gateway.gateway import Gateway
from node_agent.hook_client import socket_path

log = structlog.get_logger(__name__)

TIMEOUT_S = 2.0


async def tell_daemon(gateway: Gateway) -> None:
    agent = gateway.settings.agent_id
    if not agent:
        return  # a session a person started: no daemon owns it
    path = socket_path(str(gateway.settings.home), gateway.settings.team)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(f"mcp-ready {agent}\n".encode())
            writer.write_eof()
            await reader.read()
            writer.close()
    except (OSError, TimeoutError) as exc:
        log.debug("daemon_not_told", error=str(exc))


async def announce_ready(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: after the first tools/list has been answered, tell the daemon."""
    result = await call_next(ctx)
    gateway = ctx.lifespan_context
    if ctx.method == "tools/list" and isinstance(gateway, Gateway) and not gateway.told_daemon:
        gateway.told_daemon = True
        await tell_daemon(gateway)
    return result
