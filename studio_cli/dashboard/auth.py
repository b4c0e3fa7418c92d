"""Who may use the dashboard: the holder of the token, and only through an expected Host.

The first visit carries `?token=...` (the URL `studio dashboard` prints); it is answered with
an HttpOnly, SameSite=Strict cookie and a redirect that drops the token from the address bar.
Every later request must carry that cookie; anything else gets 401. On loopback the Host header
must name loopback too, so a web page that rebinds its own name to 127.0.0.1 gets nothing, and
state-changing requests must come from the page itself (same Origin, JSON body).
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

from studio_cli.dashboard.token import cookie_value, same

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def cookie_name(port: int) -> str:
    """Cookies belong to a host, not a port: two dashboards on one machine (two homes or
    teams) must not overwrite each other's."""
    return f"studio_dashboard_{port}"


class TokenGate:
    """ASGI middleware in front of every route (pages, the event stream, actions)."""

    def __init__(
        self, app: ASGIApp, token: str, *, port: int, loopback: bool, secure: bool
    ) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_value(token)
        self.name = cookie_name(port)
        self.loopback = loopback
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.loopback and _hostname(headers.get("host", "")) not in LOOPBACK_HOSTS:
            await _refuse(send, 403, "this dashboard answers only on 127.0.0.1 / localhost")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0]
        if given:
            if not same(given, self.token):
                await _refuse(send, 401, "wrong token: open the URL `studio dashboard` printed")
                return
            await self._welcome(scope, query, send)
            return
        if not same(_cookie(headers.get("cookie", ""), self.name), self.cookie):
            await _refuse(
                send,
                401,
                "not signed in: open the URL with ?token=... that `studio dashboard` printed "
                "(the token is in $STUDIO_HOME/dashboard-token)",
            )
            return
        if scope["method"] not in ("GET", "HEAD") and not _same_origin(headers):
            await _refuse(send, 403, "actions are accepted only from the dashboard page itself")
            return
        await self.app(scope, receive, send)

    async def _welcome(self, scope: Scope, query: dict[str, list[str]], send: Send) -> None:
        """Set the cookie and send the browser to the same page without the token."""
        rest = {k: v for k, v in query.items() if k != "token"}
        target = scope.get("path", "/") + (f"?{urlencode(rest, doseq=True)}" if rest else "")
        attributes = "; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if self.secure else "")
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", target.encode()),
                    (b"set-cookie", f"{self.name}={self.cookie}{attributes}".encode()),
                    (b"cache-control", b"no-store"),
                    (b"referrer-policy", b"no-referrer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookie(header: str, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is simply no cookie
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def _same_origin(headers: dict[str, str]) -> bool:
    """A JSON body (a cross-site form cannot send one without a CORS preflight we never
    answer) and, when the browser names an Origin, this very host."""
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == headers.get("host", "")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})
