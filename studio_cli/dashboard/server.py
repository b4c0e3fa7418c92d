"""Running the dashboard: checks of where it may listen, the broker connection with the
node's own credentials (the CLI's connection path), the feed, and uvicorn.

Loopback is the default and needs no TLS (the token and the Host check guard it). Any other
address must use TLS, with the certificate `studio broker tls-init` made for this node (the
same material the broker's servers use), because the token and cookie would otherwise cross
the network in clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import structlog
from pydantic import BaseModel

from broker.errors import InvalidInput
from broker.files import write_atomic
from broker.settings import Settings, is_loopback
from studio_cli.client import acting_as, open_broker
from studio_cli.dashboard import DEFAULT_PORT
from studio_cli.dashboard.actions import Actions
from studio_cli.dashboard.app import build_app
from studio_cli.dashboard.feed import Feed
from studio_cli.dashboard.state import TeamState
from studio_cli.dashboard.token import dashboard_token
from studio_cli.ops.tls import cert_path, key_path

log = structlog.get_logger(__name__)
SHUTDOWN_S = 2


class Listen(BaseModel):
    """Where the dashboard listens, and with which certificate (None: plain HTTP)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    cert: Path | None = None
    key: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.cert else "http"


def plan_listen(settings: Settings, host: str, port: int, tls_dir: str | None) -> Listen:
    """Refuse a non-loopback address without TLS; find this node's certificate."""
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port must be between 0 and 65535, got {port}")
    if is_loopback(host) and not tls_dir:
        return Listen(host=host, port=port)
    directory = tls_dir or (str(Path(settings.tls_ca).parent) if settings.tls_ca else None)
    if not directory:
        raise InvalidInput(
            f"--host {host} is not loopback: the dashboard then needs TLS. Give --tls-dir DIR "
            "(the directory `studio broker tls-init` wrote, with "
            f"{settings.node}.pem and {settings.node}-key.pem), or set STUDIO_TLS_CA; or keep "
            "the default 127.0.0.1 and use an SSH tunnel (README, Dashboard)"
        )
    cert, key = cert_path(Path(directory), settings.node), key_path(Path(directory), settings.node)
    missing = [str(p) for p in (cert, key) if not p.is_file()]
    if missing:
        raise InvalidInput(
            f"no TLS certificate for node {settings.node!r}: {', '.join(missing)} missing; "
            f"make them with `studio broker tls-init` (node {settings.node})"
        )
    return Listen(host=host, port=port, cert=cert, key=key)


def record_path(settings: Settings) -> Path:
    """Where a running dashboard says where it is (for `studio up` and `studio down`)."""
    return settings.home / "run" / f"dashboard-{settings.team}.json"


def url_of(listen: Listen, port: int, token: str | None = None) -> str:
    host = "127.0.0.1" if listen.host in ("0.0.0.0", "::") else listen.host
    host = f"[{host}]" if ":" in host else host
    return f"{listen.scheme}://{host}:{port}/" + (f"?token={token}" if token else "")


def bind(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}; pick another "
            "--port (0: any free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def serve(
    settings: Settings,
    listen: Listen,
    *,
    as_name: str | None = None,
    window_s: float = 1800.0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run until interrupted. `on_ready` gets the URL (with the token) once pages can load."""
    import uvicorn

    token = dashboard_token(settings)
    sock = bind(listen)
    port = sock.getsockname()[1]
    async with open_broker(settings, name="studio-dashboard") as broker:
        # The person's identity, `<node>.cli`, even when started from an agent's window
        # (whose STUDIO_AGENT_ID would otherwise make the page act as that agent).
        person = settings if as_name else settings.model_copy(update={"agent_id": None})
        me = await acting_as(broker, person, as_name)
        state = TeamState(team=settings.team, node=settings.node, me=str(me), window_s=window_s)
        feed = Feed(broker, state)
        await feed.start()
        app = build_app(
            feed,
            Actions(broker, me),
            token=token,
            port=port,
            loopback=is_loopback(listen.host),
            secure=listen.cert is not None,
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=SHUTDOWN_S,
            ssl_certfile=str(listen.cert) if listen.cert else None,
            ssl_keyfile=str(listen.key) if listen.key else None,
        )
        server = uvicorn.Server(config)
        record = record_path(settings)
        write_atomic(
            record,
            f'{{"pid": {os.getpid()}, "port": {port}, "url": "{url_of(listen, port)}"}}',
            mode=0o600,
        )
        log.info("dashboard_listening", url=url_of(listen, port), me=str(me))
        if on_ready:
            on_ready(url_of(listen, port, token))
        try:
            await server.serve(sockets=[sock])
        finally:
            with contextlib.suppress(OSError):
                record.unlink()
            await asyncio.shield(feed.stop())
