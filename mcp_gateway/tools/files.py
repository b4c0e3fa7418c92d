"""Advisory file leases: lock_files, unlock_files, list_locks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from broker import leases
from broker.files import repo_relative
from mcp_gateway import render
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import Paths, ShortText


def _in_repo(paths: list[str]) -> list[str]:
    """A model often names files by absolute path, or from its working directory (`./x`):
    those become relative to the checkout's root, as leases key them. The gateway runs in the
    agent's working directory (stdio); any other path is taken as relative to the root."""
    return [
        repo_relative(p, Path.cwd()) if os.path.isabs(p) or p.startswith(("./", "../")) else p
        for p in paths
    ]


def register_tools(server: MCPServer) -> None:
    @tool(server)
    async def lock_files(
        ctx: Context,
        paths: Paths,
        reason: ShortText = "",
        ttl_s: Annotated[
            float, Field(ge=1, le=leases.MAX_TTL_S, description="seconds until it frees itself")
        ] = 600,
        exclusive: bool = True,
    ) -> CallToolResult:
        """Announce that you are editing files (or a directory ending in '/') so others do not
        edit them at the same time: all paths are taken or none. If someone holds one, you are
        told who and until when: message them or pick other work. Locking again renews; locks
        expire after ttl_s. exclusive=false takes a shared lock (readers)."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        held = await leases.acquire(
            gw.broker, me, _in_repo(paths), ttl_s=ttl_s, exclusive=exclusive, reason=reason
        )
        text = f"Locked for {ttl_s:.0f}s:\n" + render.bullet(held, render.lease_line, "")
        return reply(text, {"leases": [x.model_dump(mode="json") for x in held]})

    @tool(server, idempotent=True)
    async def unlock_files(ctx: Context, paths: Paths) -> CallToolResult:
        """Release your locks on these paths as soon as you are done with them."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        released = await leases.release(gw.broker, me, _in_repo(paths))
        text = f"Released: {', '.join(released)}." if released else "You held none of these."
        return reply(text, {"released": released})

    @tool(server, read_only=True)
    async def list_locks(ctx: Context) -> CallToolResult:
        """Show every current file lock: path, holder, shared or exclusive, expiry, reason.
        Check it before editing files another agent might be working on."""
        gw = Gateway.of(ctx)
        held = await leases.list_leases(gw.broker)
        text = render.bullet(held, render.lease_line, "No files are locked.")
        return reply(text, {"leases": [x.model_dump(mode="json") for x in held]})
