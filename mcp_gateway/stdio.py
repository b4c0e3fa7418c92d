"""`studio mcp`: one gateway per agent session, spoken over the CLI's stdin/stdout."""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from broker.settings import Settings
from mcp_gateway.server import build_server, initialization_options, lowlevel


async def serve_stdio(settings: Settings, *, channels: bool = False) -> None:
    """Serve until the client closes stdin. stdout carries only protocol; logs go to stderr."""
    server = build_server(settings, channels=channels)
    options = initialization_options(server, channels=channels)
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel(server).run(read_stream, write_stream, options)
