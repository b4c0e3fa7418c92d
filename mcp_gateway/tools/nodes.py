"""Agents on any machine, through that machine's daemon: spawn_agent, stop_agent, kick,
peek_agent. Each is one control request (broker/control.py); with no daemon on the node the
call fails at once with a message saying so."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from broker import control
from broker.models import AgentKind
from broker.names import validate_name
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import AgentRef, Name, NodeName, ShortText, SpawnKind


def register_tools(server: MCPServer) -> None:
    @tool(server)
    async def spawn_agent(
        ctx: Context,
        name: Name,
        node: NodeName = None,
        kind: SpawnKind = AgentKind.claude,
        cwd: Annotated[str, Field(max_length=1024, description="working directory")] = "",
        prompt: Annotated[
            str, Field(max_length=control.MAX_PROMPT_CHARS, description="its first instruction")
        ] = "",
        worktree: Annotated[bool, Field(description="give it its own git worktree")] = False,
        role: ShortText = "",
    ) -> CallToolResult:
        """Start a new agent session (Claude Code, Codex, OpenCode or a shell) in a tmux window
        on this or another machine, registered as <node>.<name> with its own inbox. Give it a
        prompt saying what to do; use worktree=true when it will edit the same repo as others."""
        gw = Gateway.of(ctx)
        target = validate_name(node or gw.settings.node, "node name")
        spec = control.SpawnRequest(
            requested_by=_requester(gw, ctx),
            name=validate_name(name, "agent name"),
            kind=kind,
            cwd=cwd,
            prompt=prompt,
            worktree=worktree,
            role=role,
        )
        done = await control.spawn(gw.broker, target, spec)
        where = f" in {done.tmux_target}" if done.tmux_target else ""
        return reply(
            f"Started {done.agent} ({kind}){where}. Reach it with send_message(to='{done.agent}').",
            done,
        )

    @tool(server, idempotent=True)
    async def stop_agent(
        ctx: Context,
        agent: AgentRef,
        force: Annotated[
            bool, Field(description="close at once instead of letting it finish")
        ] = False,
    ) -> CallToolResult:
        """Stop an agent's session: by default it is asked to wrap up and closed once idle
        (up to 30 s); force=true closes it at once. Its inbox stays; its claimed tasks go
        back to open."""
        gw = Gateway.of(ctx)
        target = await gw.resolve(agent)
        request = control.StopRequest(
            requested_by=_requester(gw, ctx), agent=str(target), force=force
        )
        done = await control.stop(gw.broker, target.node, request)
        return reply(f"Stopped {target}." if done.stopped else f"{target} was not running.", done)

    @tool(server)
    async def kick(
        ctx: Context,
        agent: AgentRef,
        text: Annotated[str, Field(max_length=2000, description="what to tell it")] = "",
    ) -> CallToolResult:
        """Wake an idle agent so it looks at its inbox (or types `text` into its prompt). A busy
        agent is never interrupted: it is told through its hooks instead."""
        gw = Gateway.of(ctx)
        target = await gw.resolve(agent)
        done = await control.kick(
            gw.broker,
            target.node,
            control.KickRequest(requested_by=_requester(gw, ctx), agent=str(target), text=text),
        )
        outcome = (
            "woken" if done.delivered else f"not woken ({done.detail or done.state or 'busy'})"
        )
        return reply(f"{target}: {outcome}.", done)

    @tool(server, read_only=True)
    async def peek_agent(
        ctx: Context,
        agent: AgentRef,
        lines: Annotated[int, Field(ge=1, le=control.MAX_PEEK_LINES)] = 40,
    ) -> CallToolResult:
        """Show the last lines of another agent's terminal screen, to see what it is doing or
        why it is stuck, without disturbing it."""
        gw = Gateway.of(ctx)
        target = await gw.resolve(agent)
        done = await control.peek(
            gw.broker,
            target.node,
            control.PeekRequest(requested_by=_requester(gw, ctx), agent=str(target), lines=lines),
        )
        state = f" ({done.state})" if done.state else ""
        return reply(f"{target}{state}, last {lines} lines:\n{done.text}", done)


def _requester(gw: Gateway, ctx: Context) -> str:
    caller = gw.caller(ctx)
    return str(caller) if caller else ""
