"""Who am I on the team: whoami, register, set_status."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult

from broker import agents, presence
from broker.connection import Broker
from broker.models import AgentInfo, AgentState
from broker.names import AgentId
from mcp_gateway.gateway import Gateway, client_kind
from mcp_gateway.render import clock
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import Name, ShortText, Summary


def register_tools(server: MCPServer) -> None:
    @tool(server, read_only=True)
    async def whoami(ctx: Context) -> CallToolResult:
        """Show your studio identity (agent id, team, node, role). Call it at the start of a
        session: if it says you have no identity, call register(name)."""
        gw = Gateway.of(ctx)
        agent = gw.caller(ctx)
        facts = {"team": gw.broker.team, "node": gw.settings.node}
        if agent is None:
            return reply(
                f"No identity yet (team {gw.broker.team}, node {gw.settings.node}). "
                "Call register(name) with a short name for yourself, e.g. 'backend'.",
                {**facts, "agent": None},
            )
        await gw.ensure_registered(agent, ctx.request_context.session)
        record = await agents.record(gw.broker, agent)
        kind = record.kind.value if record else "other"
        details = [f"team {gw.broker.team}"] + [kind] * (kind != "other")
        details += [f"role {record.role}"] if record and record.role else []
        return reply(
            f"You are {agent} ({', '.join(details)}). "
            f"Others reach you with send_message(to='{agent.name}').",
            {**facts, "agent": str(agent), "kind": kind, "role": record.role if record else ""},
        )

    @tool(server, idempotent=True)
    async def register(
        ctx: Context, name: Name, role: ShortText = "", summary: Summary = ""
    ) -> CallToolResult:
        """Claim your identity on the team as <this machine's node>.<name>, so other agents can
        message you and assign you tasks. Call once at the start, unless whoami already shows
        an identity. role: what you do ('backend', 'reviewer'); summary: your current work."""
        gw = Gateway.of(ctx)
        agent = await gw.claimable(ctx, name)
        warning = await _live_elsewhere(gw.broker, agent) if gw.caller(ctx) != agent else ""
        record = await agents.record(gw.broker, agent)
        kind = record.kind if record else client_kind(ctx.request_context.session)
        role = role or (record.role if record else "")
        await agents.register(gw.broker, agent, kind=kind, role=role)
        if ctx.request_context.request is None:
            gw.adopt(agent, fixed=gw.identity_fixed)
        if summary:
            await _set_summary(gw.broker, agent, summary)
        text = (
            f"You are {agent}. Others reach you with send_message(to='{agent.name}'); "
            "list_agents shows the team."
        )
        return reply(text + warning, {"agent": str(agent), "kind": kind.value, "role": role})

    @tool(server, idempotent=True)
    async def set_status(ctx: Context, summary: Summary) -> CallToolResult:
        """Tell the team in one line what you are working on now (shown by list_agents and
        studio_status). Update it when you switch to something else."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        info = await _set_summary(gw.broker, me, summary)
        return reply(f"Status of {me}: {summary}", info)


async def _set_summary(broker: Broker, agent: AgentId, summary: str) -> AgentInfo:
    """Rewrite the agent's presence with a new summary, keeping what the daemon reported."""
    info = await presence.get(broker, agent)
    if info is None:
        record = await agents.record(broker, agent)
        info = AgentInfo(id=str(agent), node=agent.node, state=AgentState.busy)
        if record:
            info.kind, info.role = record.kind, record.role
    info.summary = summary.strip()
    await presence.heartbeat(broker, info)
    return info


async def _live_elsewhere(broker: Broker, agent: AgentId) -> str:
    """A warning when another live session already uses this id (they would share an inbox)."""
    info = await presence.get(broker, agent)
    if info is None or info.state == AgentState.offline:
        return ""
    return (
        f"\nNote: {agent} already shows as {info.state.value} (last heartbeat "
        f"{clock(info.last_heartbeat)}). If that is another session, register another name: "
        "two sessions on one name share one inbox."
    )
