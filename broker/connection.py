"""The broker handle every operation takes: one NATS connection plus what is cached per process.

Operations are plain async functions over a `Broker` (see messages.py, tasks.py, ...), so the
gateway, the daemon, the CLI and the benchmarks share one code path with no class hierarchy.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass, field

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from broker.errors import BrokerUnavailable, PermissionDenied
from broker.names import Names
from broker.settings import Settings

log = structlog.get_logger(__name__)

_PERMISSION_RE = re.compile(r"permissions violation for (\w+) to \"?([^\"']+)", re.IGNORECASE)


@dataclass
class Broker:
    settings: Settings
    names: Names
    nc: NATS
    js: JetStreamContext
    replicas: int = 1
    buckets: dict[str, KeyValue] = field(default_factory=dict)
    # Agent ids known to be registered: a send to them skips the registry lookup.
    known_agents: set[str] = field(default_factory=set)
    # Nodes whose inbox stream is known to exist.
    provisioned_nodes: set[str] = field(default_factory=set)
    # (monotonic time, operation, subject) of recent permission violations reported by the
    # server: a denied publish only shows up as a timeout, this turns it into a clear error.
    denials: deque = field(default_factory=lambda: deque(maxlen=64))

    @property
    def team(self) -> str:
        return self.names.team

    def recent_denial(self, subject: str, since: float) -> str | None:
        for at, operation, denied in reversed(self.denials):
            if at >= since and (denied == subject or _subject_matches(denied, subject)):
                return operation
        return None

    def raise_if_denied(self, subject: str, since: float) -> None:
        operation = self.recent_denial(subject, since)
        if operation:
            raise PermissionDenied(
                f"permission denied: this node's credentials may not {operation.lower()} "
                f"to {subject} (node {self.settings.node!r}, team {self.team!r})"
            )

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


def _subject_matches(pattern: str, subject: str) -> bool:
    p_tokens, s_tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(p_tokens):
        if token == ">":
            return len(s_tokens) > i
        if i >= len(s_tokens) or (token != "*" and token != s_tokens[i]):
            return False
    return len(p_tokens) == len(s_tokens)


async def connect(settings: Settings, *, name: str = "studio", provision: bool = True) -> Broker:
    """Connect to every configured server (so a node kill fails over) and provision the team."""
    from broker.provision import detect_replicas, ensure_team

    servers = settings.servers()
    holder: dict[str, Broker] = {}

    async def on_error(exc: Exception) -> None:
        match = _PERMISSION_RE.search(str(exc))
        if match and "broker" in holder:
            holder["broker"].denials.append((time.monotonic(), match.group(1), match.group(2)))
            log.warning("nats_permission_denied", operation=match.group(1), subject=match.group(2))
        elif not isinstance(exc, nats.errors.SlowConsumerError):
            log.info("nats_error", error=str(exc) or type(exc).__name__)

    options: dict = {
        "servers": servers,
        "name": name,
        "error_cb": on_error,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.25,
        "connect_timeout": 2,
        "allow_reconnect": True,
    }
    if settings.creds:
        options["user_credentials"] = settings.creds
        # Replies may only arrive under the node's own prefix (its permissions allow no other).
        options["inbox_prefix"] = f"_INBOX_{settings.team}_{settings.node}"
    if settings.tls_ca:
        import ssl

        context = ssl.create_default_context(cafile=settings.tls_ca)
        options["tls"] = context
    try:
        nc = await asyncio.wait_for(nats.connect(**options), timeout=10)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise BrokerUnavailable(
            f"cannot reach the broker at {', '.join(servers)}: {exc or type(exc).__name__}. "
            "Is it running? (`studio up` or `studio broker serve`; `studio doctor` checks)"
        ) from None
    js = nc.jetstream(timeout=settings.request_timeout_s)
    broker = Broker(settings=settings, names=Names(settings.team), nc=nc, js=js)
    holder["broker"] = broker
    broker.replicas = settings.replicas or await detect_replicas(broker)
    if provision:
        await ensure_team(broker)
    return broker
