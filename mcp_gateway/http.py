"""`studio mcp --http`: one gateway process per node over streamable HTTP.

Each agent connects to `/agents/<name>/mcp` (or to `/mcp` with an `X-Studio-Agent: <name>`
header), so one process serves every session of the node with one broker connection.

Whoever reaches the port can speak for any agent of the node, and on one machine loopback is
no boundary between users: every request must carry `Authorization: Bearer <token>`, always.
The token is STUDIO_MCP_TOKEN, else one made at first start and kept 0600 in STUDIO_HOME
(`mcp-token`), where `studio install` and the agent configs read it.
"""

from __future__ import annotations

import hmac
import json
import secrets

from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.errors import InvalidInput
from broker.files import write_atomic
from broker.settings import Settings, is_loopback
from mcp_gateway.server import build_server, lowlevel

LOOPBACK_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


def local_token(settings: Settings) -> str:
    """STUDIO_HOME's gateway token, made (0600) the first time it is needed."""
    path = settings.home / "mcp-token"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, secrets.token_urlsafe(32) + "\n", mode=0o600)
    return path.read_text().strip()


def http_app(settings: Settings, *, token: str, host: str = "127.0.0.1") -> ASGIApp:
    if not token:
        raise InvalidInput("the HTTP gateway needs a token (STUDIO_MCP_TOKEN or mcp-token)")
    server = build_server(settings)
    manager = StreamableHTTPSessionManager(
        app=lowlevel(server),
        # On loopback also refuse foreign Host headers (a page rebinding a name to 127.0.0.1).
        security_settings=LOOPBACK_SECURITY if is_loopback(host) else None,
    )
    endpoint = StreamableHTTPASGIApp(manager)
    app = Starlette(
        routes=[Route("/mcp", endpoint=endpoint), Route("/agents/{agent}/mcp", endpoint=endpoint)],
        lifespan=lambda _: manager.run(),
    )
    return BearerToken(app, token)


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
    settings: Settings, *, token: str, host: str = "127.0.0.1", port: int = 8765
) -> None:
    import uvicorn

    app = http_app(settings, host=host, token=token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
