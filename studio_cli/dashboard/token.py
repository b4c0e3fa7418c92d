"""The dashboard's secret: a token kept 0600 in STUDIO_HOME, handed to the person once in the
printed URL and kept afterwards in a cookie.

It is not the MCP gateway's token (`mcp-token`): a dashboard URL ends up in a browser's history
and a terminal's scrollback, and must not also let its holder speak as every agent over MCP.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from broker.files import write_atomic
from broker.settings import Settings

TOKEN_FILE = "dashboard-token"


def dashboard_token(settings: Settings) -> str:
    """STUDIO_HOME's dashboard token, made (0600, in a 0700 home) the first time it is needed."""
    path = settings.home / TOKEN_FILE
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, secrets.token_urlsafe(32) + "\n", mode=0o600)
    return path.read_text().strip()


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the token itself never sits in the
    browser's cookie store, yet checking it needs nothing stored on the server."""
    return hmac.new(token.encode(), b"studio-dashboard-cookie", hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison (a timing difference must not reveal the secret)."""
    return hmac.compare_digest(given.encode(), expected.encode())
