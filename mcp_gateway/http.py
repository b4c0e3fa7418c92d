"""`studio mcp --http`: one gateway process per node over streamable HTTP.

Each agent connects to `/agents/<name>/mcp` (or to `/mcp` with an `X-Studio-Agent: <name>`
header), so one process serves every session of the node with one broker connection.

Whoever reaches the port can speak for any agent of the node, so it binds loopback only unless
a token is configured; then every request must carry `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.cluster_config import is_loopback
from broker.errors import InvalidInput
from broker.settings import Settings
from mcp_gateway.server import build_server, lowlevel

LOOPBACK_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


def check_exposure(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise InvalidInput(
            f"refusing to serve MCP on {host} without credentials: anyone reaching the port "
            "could act as any agent of this node. Set STUDIO_MCP_TOKEN (clients then send "
            "'Authorization: Bearer <token>'), or keep the default 127.0.0.1"
        )


def http_app(settings: Settings, *, host: str = "127.0.0.1", token: str | None = None) -> ASGIApp:
    check_exposure(host, token)
    server = build_server(settings)
    manager = StreamableHTTPSessionManager(
        app=lowlevel(server),
        # With a token the bearer check is the protection (a rebinding page cannot add it).
        security_settings=LOOPBACK_SECURITY if is_loopback(host) and not token else None,
    )
    endpoint = StreamableHTTPASGIApp(manager)
    app = Starlette(
        routes=[Route("/mcp", endpoint=endpoint), Route("/agents/{agent}/mcp", endpoint=endpoint)],
        lifespan=lambda _: manager.run(),
    )
    return BearerToken(app, token) if token else app


class BearerToken:
    """Refuses HTTP requests without the configured bearer token (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"error": "missing or wrong bearer token"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


async def serve_http(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None
) -> None:
    import uvicorn

    app = http_app(settings, host=host, token=token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
