"""The broker connection of one CLI command.

A person at a terminal wants "the broker is down" in a second, not after the client's 10 s of
reconnect attempts, so the servers are probed with a plain TCP connect first. The caller's
identity is registered on first use, so `<node>.cli` has an inbox like any agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from broker import agents
from broker.connection import Broker, connect
from broker.errors import BrokerUnavailable
from broker.models import AgentKind
from broker.names import AgentId
from broker.settings import Settings
from studio_cli.context import cli_identity
from studio_cli.procs import alive

PROBE_TIMEOUT_S = 1.5


@contextlib.asynccontextmanager
async def open_broker(settings: Settings, *, name: str = "studio-cli") -> AsyncIterator[Broker]:
    await check_reachable(settings)
    broker = await connect(settings, name=name)
    try:
        yield broker
    finally:
        with contextlib.suppress(Exception):
            await broker.close()


async def check_reachable(settings: Settings) -> list[str]:
    """Raise BrokerUnavailable (one clear line) unless at least one server accepts a TCP
    connection. Returns the server list."""
    if not settings.nats_url and not settings.embedded_record.exists():
        raise BrokerUnavailable(
            f"the studio is not running (no broker in STUDIO_HOME={settings.home}): start it "
            "with `studio up`, or set STUDIO_NATS_URL to use a broker elsewhere"
        )
    servers = settings.servers()
    if not settings.nats_url:
        record = embedded_record(settings)
        pid = record.get("pid")
        if isinstance(pid, int) and not alive(pid):
            raise BrokerUnavailable(
                f"the embedded broker of STUDIO_HOME={settings.home} is not running (it was "
                "stopped or crashed); start it with `studio up`"
            )
    errors = await asyncio.gather(*(_probe(url) for url in servers))
    if all(errors):
        reason = errors[0]
        hint = (
            "start it with `studio up`"
            if not settings.nats_url
            else "check STUDIO_NATS_URL and that the broker runs"
        )
        raise BrokerUnavailable(
            f"cannot reach the broker at {', '.join(servers)} ({reason}); {hint} "
            "(`studio doctor` checks)"
        )
    return servers


def embedded_record(settings: Settings) -> dict:
    try:
        data = json.loads(settings.embedded_record.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def _probe(url: str) -> str:
    """'' when `url` accepts a TCP connection, else why not."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.scheme in ("ws", "wss"):
        return ""  # behind a proxy a TCP probe proves little; let the client try
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=PROBE_TIMEOUT_S
        )
    except TimeoutError:
        return f"no answer from {host}:{port} within {PROBE_TIMEOUT_S:.1f}s"
    except OSError as exc:
        return exc.strerror or str(exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


async def acting_as(broker: Broker, settings: Settings, as_name: str | None = None) -> AgentId:
    """Who this command acts as, registered on first use (an existing registration, e.g. the
    daemon's record of an agent window, is left as it is)."""
    me = cli_identity(settings, as_name)
    if not await agents.is_registered(broker, me):
        await agents.register(broker, me, kind=AgentKind.other, role="cli")
    return me
