"""Awareness of the team: list_agents, studio_status, post_note, read_notes."""

from __future__ import annotations

import asyncio
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from broker import leases, messages, notes, presence, tasks
from mcp_gateway import render
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import AgentStateParam, NodeName

# studio_status is an overview of three lists: each shows fewer than a listing tool does.
STATUS_LIST = 10


def register_tools(server: MCPServer) -> None:
    @tool(server, read_only=True)
    async def list_agents(
        ctx: Context, node: NodeName = None, state: AgentStateParam | None = None
    ) -> CallToolResult:
        """List the agents of the team (optionally of one node, or in one state) with what each
        is doing. Use it to find who to ask or assign work to."""
        gw = Gateway.of(ctx)
        found = await presence.list_agents(gw.broker, node=node, state=state)
        text = render.bullet(found, render.agent_line, "No agents match.")
        data: dict = {"agents": render.dumped(found), "total": len(found)}
        if len(found) > render.MAX_LIST:
            data["by_node"] = render.per_node(found)
            text += f"\n{render.per_node_line(data['by_node'])}"
            text += "\n(filter by node or state to see the rest)"
        return reply(text, data)

    @tool(server, read_only=True)
    async def studio_status(ctx: Context) -> CallToolResult:
        """One overview of the team: agents and what they do, unfinished tasks, file locks, and
        your unread mail. A good first call when you join, and before planning work."""
        gw = Gateway.of(ctx)
        me = gw.caller(ctx)
        team, board, held = await asyncio.gather(
            presence.list_agents(gw.broker),
            tasks.list_tasks(gw.broker),
            leases.list_leases(gw.broker),
        )
        unfinished = [t for t in board if not tasks.is_finished(t)]
        more = max(len(team), len(unfinished), len(held)) > STATUS_LIST
        unread = (
            await messages.unread_count(gw.broker, me)
            if me and str(me) in gw.broker.known_agents
            else 0
        )
        # This node's agents first: the ones a model most often works next to.
        here = gw.settings.node
        team = [a for a in team if a.node == here] + [a for a in team if a.node != here]
        by_node = render.per_node(team)
        text = "\n".join(
            [
                f"Team {gw.broker.team} — you are {me or 'not registered (call register)'}",
                f"Agents ({len(team)}):",
                render.bullet(team, render.agent_line, "- none yet", STATUS_LIST),
                *([render.per_node_line(by_node)] if len(team) > STATUS_LIST else []),
                f"Unfinished tasks ({len(unfinished)} of {len(board)}):",
                render.bullet(unfinished, render.task_line, "- none", STATUS_LIST),
                f"File locks ({len(held)}):",
                render.bullet(held, render.lease_line, "- none", STATUS_LIST),
                *(["(list_agents, list_tasks, list_locks show more)"] if more else []),
            ]
        )
        return reply(
            text,
            {
                "team": gw.broker.team,
                "you": str(me) if me else None,
                "unread": unread,
                # At most STATUS_LIST of each, like the text: it must fit a model's context.
                "agents": render.dumped(team, STATUS_LIST),
                "by_node": by_node,
                "tasks": render.dumped(unfinished, STATUS_LIST),
                "leases": render.dumped(held, STATUS_LIST),
                "counts": {
                    "agents": len(team),
                    "tasks": len(board),
                    "unfinished": len(unfinished),
                    "leases": len(held),
                },
            },
        )

    @tool(server)
    async def post_note(
        ctx: Context, text: Annotated[str, Field(max_length=notes.MAX_NOTE_BYTES)]
    ) -> CallToolResult:
        """Add a short note to the team's shared scratchpad (decisions, conventions, findings
        everyone should know). Everyone sees each note once in read_notes."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        note = await notes.post(gw.broker, me, text)
        return reply(f"Posted note {note.id}.", note)

    @tool(server)
    async def read_notes(
        ctx: Context, limit: Annotated[int, Field(ge=1, le=200)] = 20
    ) -> CallToolResult:
        """Read the team notes you have not seen yet, oldest first (each note shows once)."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        found = await notes.read_new(gw.broker, me, limit=limit)
        text = render.bullet(found, render.note_line, "No new notes.")
        return reply(text, {"notes": [n.model_dump(mode="json") for n in found]})
