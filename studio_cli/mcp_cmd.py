"""`studio mcp [--http] [--channels]`: the MCP gateway agent CLIs talk to.

stdio (the default) is what `claude`/`codex` start per session; `--http` serves every agent of
this node from one process. The gateway package (and the MCP SDK, slow to import) is loaded
only when this command runs, so other commands stay fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Coroutine
from typing import Any

from studio_cli.context import settings_from

TRUE = {"1", "true", "yes", "on"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="run the MCP gateway (stdio for one agent session, --http for this whole node)",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="serve streamable HTTP at /agents/<name>/mcp instead of stdio",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address (default 127.0.0.1); every request needs the bearer token "
        "(STUDIO_MCP_TOKEN, else $STUDIO_HOME/mcp-token)",
    )
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument(
        "--channels",
        action="store_true",
        help="push new messages into Claude Code as channel notifications (env STUDIO_CHANNELS=1;"
        " only when claude runs with channels enabled for this server, else they go unseen)",
    )
    parser.set_defaults(func=mcp_command)


def mcp_command(args: argparse.Namespace) -> Coroutine[Any, Any, None]:
    settings = settings_from(args)
    if args.http:
        from mcp_gateway.http import local_token, serve_http

        token = os.environ.get("STUDIO_MCP_TOKEN") or local_token(settings)
        return serve_http(settings, host=args.host, port=args.port, token=token)
    from mcp_gateway.stdio import serve_stdio

    channels = args.channels or os.environ.get("STUDIO_CHANNELS", "").lower() in TRUE
    return serve_stdio(settings, channels=channels)
