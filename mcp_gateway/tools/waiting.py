"""wait_for: block until the team does something, instead of polling in a loop."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from mcp_gateway import conditions, render
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import AgentRef


def register_tools(server: MCPServer) -> None:
    @tool(server, read_only=True)
    async def wait_for(
        ctx: Context,
        agents: Annotated[
            list[AgentRef] | None,
            Field(max_length=50, description="agents to watch (default: anyone)"),
        ] = None,
        event: Annotated[
            str | None,
            Field(
                max_length=40,
                description="'message' (you have mail), 'task_done' (a task finished), a state "
                "every listed agent must reach ('idle', 'busy', 'waiting_input', 'offline'), or "
                "an event kind such as 'task_claimed'; default: any event or new mail",
            ),
        ] = None,
        timeout_s: Annotated[float, Field(ge=1, le=conditions.MAX_WAIT_S)] = 60,
    ) -> CallToolResult:
        """Wait (up to timeout_s) until something happens: other agents finish a task, become
        idle, send you mail, or emit an event. Use it instead of polling when you have nothing
        to do until others are done; keep timeout_s under your client's tool timeout."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx) if gw.caller(ctx) else None
        watched = [await gw.resolve(a) for a in agents or []]
        outcome = await conditions.wait(gw.broker, me, watched, event, timeout_s)
        data: dict[str, object] = {
            "reason": outcome.reason,
            "event": outcome.event.model_dump(mode="json") if outcome.event else None,
            "agents": [a.model_dump(mode="json") for a in outcome.agents],
        }
        if outcome.reason == "mail":
            data["unread"] = outcome.unread
        return reply(_describe(outcome, event, timeout_s), data)


def _describe(outcome: conditions.Outcome, event: str | None, timeout_s: float) -> str:
    states = render.bullet(outcome.agents, render.agent_line, "")
    if outcome.reason == "event" and outcome.event:
        return f"Event: {render.event_line(outcome.event)}"
    if outcome.reason == "state":
        return f"All watched agents are {event}:\n{states}"
    if outcome.reason == "mail":
        return f"You have {outcome.unread} unread message(s) — call check_inbox."
    return f"Nothing happened within {timeout_s:.0f}s." + (f" Now:\n{states}" if states else "")
