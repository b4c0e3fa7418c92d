"""Claude Code channels: new inbox messages pushed into the session as they arrive.

A server that declares the `claude/channel` experimental capability may send
`notifications/claude/channel` with `{"content": str, "meta": {str: str}}`; Claude Code, when
started with channels enabled for this server, shows each one to the model as a
`<channel source="studio" from="..." ...>` event, even while it is busy.

At-least-once, like check_inbox: a message is acked only after its notification was handed to
the transport; a gateway that dies first leaves it unacked, and it comes again after
ack_wait. Channels are opt-in (`studio mcp --channels` or STUDIO_CHANNELS=1) because a client
that ignores the notification would still have the message marked read.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import anyio
import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp_types import Notification
from pydantic import BaseModel

from broker import messages
from broker.connection import Broker, connect
from broker.messages import Delivery
from mcp_gateway.gateway import Gateway
from mcp_gateway.handoff import hand_off

log = structlog.get_logger(__name__)

CAPABILITY = "claude/channel"
METHOD: Literal["notifications/claude/channel"] = "notifications/claude/channel"
LONG_POLL_S = 10.0
BATCH = 10
RETRY_S = 1.0


class ChannelParams(BaseModel):
    content: str
    meta: dict[str, str]


# The channel's params carry `meta` (not MCP's `_meta`), so they cannot derive from the SDK's
# NotificationParams, which the type parameter is bounded by; the wire shape is Claude Code's.
class ChannelNotification(
    Notification[ChannelParams, Literal["notifications/claude/channel"]]  # type: ignore[type-var]
):
    method: Literal["notifications/claude/channel"] = METHOD
    params: ChannelParams


def notification(delivery: Delivery) -> ChannelNotification:
    """Meta keys become attributes of the <channel> tag, so they are plain identifiers."""
    m = delivery.message
    meta = {
        "from": m.sender,
        "message_id": m.id,
        "thread_id": m.thread_id or m.id,
        "importance": m.importance.value,
    }
    if m.subject:
        meta["subject"] = m.subject
    if m.broadcast:
        meta["broadcast"] = "true"
    if delivery.redelivered:
        meta["redelivered"] = "true"
    return ChannelNotification(params=ChannelParams(content=m.body, meta=meta))


class ChannelPusher:
    """Fetches the session agent's new messages and writes each as a channel notification.

    It long-polls on a connection of its own: reads of one consumer are serialized per
    connection, and a check_inbox call must not queue behind a ten-second poll."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.session: ServerSession | None = None
        self.attached = asyncio.Event()
        self.feed: Broker | None = None

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.close()

    def attach(self, session: ServerSession) -> None:
        if self.session is None:
            self.session = session
            self.attached.set()

    async def run(self) -> None:
        """Until the session ends: wait for the client and an identity, then long-poll."""
        await self.attached.wait()
        while True:
            await self.gateway.identity_ready.wait()
            try:
                await self.push_once(LONG_POLL_S)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                log.info("channel_closed")
                return
            except Exception as exc:  # keep the session's tools alive whatever the feed does
                log.warning("channel_push_failed", error=str(exc) or type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def push_once(self, wait_s: float) -> int:
        """One fetch and its notifications; returns how many were pushed and acked."""
        agent = self.gateway.identity
        if agent is None or self.session is None:
            return 0
        await self.gateway.ready()
        await self.gateway.ensure_registered(agent, self.session)
        if self.feed is None:
            name = f"studio-mcp-channel {self.gateway.settings.node}"
            self.feed = await connect(self.gateway.settings, name=name)
        deliveries = await messages.fetch(self.feed, agent, limit=BATCH, wait_s=wait_s)
        for delivery in deliveries:
            await self.session.send_notification(notification(delivery))  # type: ignore[arg-type]
            await hand_off([delivery])
        return len(deliveries)


async def attach_middleware(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Hands the session to the pusher once the client may receive notifications: after
    `notifications/initialized` (or any later request, for clients without that step)."""
    result = await call_next(ctx)
    gateway = ctx.lifespan_context
    if ctx.method != "initialize" and isinstance(gateway, Gateway) and gateway.channel:
        gateway.channel.attach(ctx.session)
    return result
