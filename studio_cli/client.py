"""The broker connection of one CLI command.

A person at a terminal wants "the broker is down" in a second, not after the client's 10 s of
reconnect attempts, so the servers are probed first: a TCP connect and the NATS greeting
(`INFO`) every server sends at once. What failed is named (refused, no answer, not NATS),
and the hint fits where the command runs (inside `studio up`, suggesting `studio up` helps
nobody).

Identity: the default one (`$STUDIO_AGENT_ID`, else `<node>.cli`) is registered on first use,
so it has an inbox like any agent. A name given with `--as` must already be registered: a typo
would otherwise become a new agent that stays in every list (`studio register NAME` makes
one on purpose).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from studio_cli.context import cli_identity

if TYPE_CHECKING:
    from broker.connection import Broker
    from broker.names import AgentId
    from broker.settings import Settings

PROBE_TIMEOUT_S = 1.5
GREETING = b"INFO "


@contextlib.asynccontextmanager
async def open_broker(
    settings: Settings, *, name: str = "studio-cli", inside_up: bool = False
) -> AsyncIterator[Broker]:
    from broker.connection import connect
    from broker.errors import BrokerUnavailable

    servers = await check_reachable(settings, inside_up=inside_up)
    try:
        broker = await connect(settings, name=name)
    except BrokerUnavailable as exc:
        if "credentials" in str(exc):
            raise
        # The servers answered the probe, so the NATS session itself failed (TLS, overload).
        raise BrokerUnavailable(
            f"cannot connect to the broker at {', '.join(servers)}: it answers, but the NATS "
            "connection did not complete (a tls:// broker needs STUDIO_TLS_CA; an overloaded "
            f"or stopped server answers late); {_hint(settings, inside_up)}"
        ) from None
    try:
        yield broker
    finally:
        with contextlib.suppress(Exception):
            await broker.close()


def _hint(settings: Settings, inside_up: bool) -> str:
    if settings.nats_url:
        return "check STUDIO_NATS_URL and that the broker runs there (`studio doctor` checks)"
    if inside_up:
        return f"see {settings.home / 'logs' / 'broker.log'}, then `studio down` and try again"
    return "start it with `studio up` (`studio doctor` checks)"


async def check_reachable(settings: Settings, *, inside_up: bool = False) -> list[str]:
    """Raise BrokerUnavailable (one clear line, with the cause) unless at least one server
    accepts a connection and greets like a NATS server. Returns the server list."""
    from broker.errors import BrokerUnavailable
    from studio_cli.procs import alive

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
                f"stopped or crashed); {_hint(settings, inside_up)}"
            )
    errors = await asyncio.gather(*(probe(url) for url in servers))
    if all(errors):
        causes = "; ".join(f"{url}: {error}" for url, error in zip(servers, errors, strict=True))
        raise BrokerUnavailable(f"cannot reach the broker ({causes}); {_hint(settings, inside_up)}")
    return servers


def embedded_record(settings: Settings) -> dict:
    try:
        data = json.loads(settings.embedded_record.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


async def probe(url: str) -> str:
    """'' when `url` accepts a TCP connection and greets with NATS's INFO, else why not."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    if parts.scheme in ("ws", "wss"):
        return ""  # behind a proxy a TCP probe proves little; let the client try
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=PROBE_TIMEOUT_S
        )
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_S:.1f}s (host down, or a firewall)"
    except ConnectionRefusedError:
        return "connection refused (nothing listens on that port)"
    except socket.gaierror:
        return f"unknown host {host!r}"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    try:
        greeting = await asyncio.wait_for(reader.read(len(GREETING)), timeout=PROBE_TIMEOUT_S)
    except (TimeoutError, OSError):
        greeting = b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if greeting != GREETING:
        return (
            f"connected, but no NATS greeting within {PROBE_TIMEOUT_S:.1f}s (not a NATS port, "
            "or the server is stopped or overloaded)"
        )
    return ""


async def acting_as(broker: Broker, settings: Settings, as_name: str | None = None) -> AgentId:
    """Who this command acts as. The default identity is registered on first use (an existing
    registration, e.g. the daemon's record of an agent window, is left as it is); an `--as`
    name must be registered already."""
    from broker import agents
    from broker.errors import UnknownAgent
    from broker.models import AgentKind

    me = cli_identity(settings, as_name)
    if await agents.is_registered(broker, me):
        return me
    if as_name:
        error = UnknownAgent(str(me), [r.id for r in await agents.registered(broker)])
        error.args = (f"{error}; `studio register {me.name}` makes a new agent of that name",)
        raise error
    await agents.register(broker, me, kind=AgentKind.other, role="cli")
    return me
