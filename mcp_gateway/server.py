"""The gateway's MCP server: every tool, the lifespan that owns the broker connection, and the
initialization options (the `claude/channel` capability when channels are on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import structlog
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.models import InitializationOptions

from broker import agents
from broker.connection import Broker
from broker.settings import Settings
from mcp_gateway import channels as channel_push
from mcp_gateway import node_link
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import tidy_errors
from mcp_gateway.tools import MODULES

log = structlog.get_logger(__name__)

INSTRUCTIONS = """\
studio connects you with the other coding agents of your team, on this and other machines.
Start with whoami; if you have no identity, register(name). studio_status shows who does what.
Talk with send_message / broadcast; read mail with check_inbox. When a tool result ends with
"📬 N unread", call check_inbox soon: teammates are waiting on you.
Coordinate work on the task board (dispatch_task, claim_task, update_task with status and a
note), and lock_files before editing files others may touch (unlock_files when done).
Messages may also arrive as <channel source="studio" from=... message_id=...> events: they are
already marked read; answer with send_message(to=<from>, reply_to=<message_id>).
"""


def build_server(
    settings: Settings, *, broker: Broker | None = None, channels: bool = False
) -> MCPServer:
    """The server for one process. With `broker` given (tests, benchmarks) it is used and left
    open; otherwise the gateway connects from `settings` and closes on shutdown."""

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[Gateway]:
        gateway = Gateway.create(settings, broker)
        if channels:
            gateway.channel = channel_push.ChannelPusher(gateway)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_warm_up, gateway)
                if gateway.channel:
                    tasks.start_soon(gateway.channel.run)
                yield gateway
                tasks.cancel_scope.cancel()
        finally:
            await gateway.close()

    server = MCPServer("studio", instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING")
    for module in MODULES:
        module.register_tools(server)
    server.middleware.append(tidy_errors)
    server.middleware.append(node_link.announce_ready)
    if channels:
        server.middleware.append(channel_push.attach_middleware)
    return server


def lowlevel(server: MCPServer) -> Server[Any]:
    """The SDK keeps the low-level server private (its own in-memory client reaches it the
    same way); we need it to run transports with our initialization options."""
    return server._lowlevel_server


def initialization_options(server: MCPServer, *, channels: bool) -> InitializationOptions:
    experimental: dict[str, dict[str, Any]] | None = (
        {channel_push.CAPABILITY: {}} if channels else None
    )
    return lowlevel(server).create_initialization_options(experimental_capabilities=experimental)


async def _warm_up(gateway: Gateway) -> None:
    """Connect (and look up the identity, read-only) while the client is still initializing,
    so the first tool call does not pay for it. Failures are left for that call to report."""
    try:
        broker = await gateway.ready()
        if gateway.identity:
            await agents.is_registered(broker, gateway.identity)
    except Exception as exc:
        log.info("gateway_warm_up_failed", error=str(exc) or type(exc).__name__)
