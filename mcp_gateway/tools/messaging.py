"""Mail between agents: send_message, broadcast, check_inbox, read_thread."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from broker import messages
from broker.models import Importance
from mcp_gateway import render
from mcp_gateway.gateway import Gateway
from mcp_gateway.handoff import hand_off
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import AgentRef, Body, ImportanceParam, Ref, ShortText

MAX_WAIT_S = 300


def register_tools(server: MCPServer) -> None:
    @tool(server)
    async def send_message(
        ctx: Context,
        to: AgentRef,
        body: Body,
        subject: ShortText = "",
        thread_id: Ref = None,
        reply_to: Annotated[
            str | None, Field(max_length=80, description="id of the message you answer")
        ] = None,
        importance: ImportanceParam = Importance.normal,
    ) -> CallToolResult:
        """Send a message to one agent's durable inbox (it is kept until they read it, even if
        they are offline). Use it to ask, answer, hand over work or report results. To answer
        a message, pass its id as reply_to so the conversation stays one thread."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        sent = await messages.send(
            gw.broker,
            me,
            str(await gw.resolve(to)),
            body,
            subject=subject,
            thread_id=thread_id,
            reply_to=reply_to,
            importance=importance,
        )
        return reply(f"Sent to {sent.to} (id {sent.id}, thread {sent.thread_id}).", sent)

    @tool(server)
    async def broadcast(ctx: Context, body: Body, subject: ShortText = "") -> CallToolResult:
        """Send one message to every registered agent except you (e.g. 'I renamed X to Y',
        'main is broken, do not merge'). Use send_message for anything meant for one agent."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        copies = await messages.broadcast(gw.broker, me, body, subject=subject)
        recipients = [c.to for c in copies]
        text = f"Broadcast to {len(recipients)} agent(s): {', '.join(recipients) or 'nobody yet'}."
        return reply(
            text, {"recipients": recipients, "thread_id": copies[0].thread_id if copies else None}
        )

    @tool(server, reports_unread=True)
    async def check_inbox(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        wait_s: Annotated[
            float,
            Field(ge=0, le=MAX_WAIT_S, description="wait up to this long for a first message"),
        ] = 0,
    ) -> CallToolResult:
        """Read your new messages, oldest first; they are marked read once shown to you. Call it
        when a result says you have unread mail. With wait_s > 0 it waits for a first message
        (keep wait_s under your client's tool timeout)."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        deliveries = await messages.fetch(gw.broker, me, limit=limit, wait_s=wait_s)
        if not deliveries:
            # none pending now; any fetched elsewhere and not acked come back after ack_wait
            return reply("No new messages.", {"messages": [], "unread": 0})
        blocks = [render.message(d.message, redelivered=d.redelivered) for d in deliveries]
        result = reply(
            f"{len(deliveries)} new message(s):\n\n" + render.messages_block(blocks),
            {
                "messages": [d.message.model_dump(mode="json") for d in deliveries],
                # still waiting after these (as of the fetch): the footer counts from it
                "unread": deliveries[-1].raw.metadata.num_pending,
            },
        )
        # The handoff: only now that the answer exists do the messages leave the unread set.
        await hand_off(deliveries)
        return result

    @tool(server, read_only=True)
    async def read_thread(
        ctx: Context, thread_id: Annotated[str, Field(min_length=1, max_length=80)]
    ) -> CallToolResult:
        """Show every message of one conversation in your inbox, read or not, oldest first.
        Use it to recall context before answering; thread ids appear in check_inbox."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        found = await messages.thread(gw.broker, me, thread_id)
        if not found:
            return reply(f"No messages in thread {thread_id} in your inbox.", {"messages": []})
        shown = found[-render.MAX_LIST :]
        text = f"Thread {thread_id}, {len(found)} message(s):\n\n" + render.messages_block(
            [render.message(m) for m in shown]
        )
        return reply(text, {"messages": [m.model_dump(mode="json") for m in shown]})
