"""The broker handle every operation takes: one NATS connection plus what is cached per process.

Operations are plain async functions over a `Broker` (see messages.py, tasks.py, ...), so the
gateway, the daemon, the CLI and the benchmarks share one code path with no class hierarchy.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from broker import nats_compat
from broker.errors import BrokerUnavailable, InvalidInput, PermissionDenied
from broker.names import Names, inbox_prefix, subject_matches
from broker.settings import Settings

if TYPE_CHECKING:  # types only: those modules build on this one
    from broker.pull import Puller
    from broker.roster import Roster

log = structlog.get_logger(__name__)
T = TypeVar("T")

_PERMISSION_RE = re.compile(r"permissions violation for (\w+) to \"?([^\"']+)", re.IGNORECASE)


@dataclass
class Broker:
    settings: Settings
    names: Names
    nc: GuardedClient
    js: JetStreamContext
    replicas: int = 1
    buckets: dict[str, KeyValue] = field(default_factory=dict)
    # Agent ids known to be registered: a send to them skips the registry lookup.
    known_agents: set[str] = field(default_factory=set)
    # Bare names resolved lately: name → (agent id, monotonic expiry); see agents.resolve.
    resolved_names: dict[str, tuple[str, float]] = field(default_factory=dict)
    # Long-lived reply subscriptions for pull requests, by consumer API subject.
    pullers: dict[str, Puller] = field(default_factory=dict)
    # Nodes whose inbox stream is known to exist.
    provisioned_nodes: set[str] = field(default_factory=set)
    # Bad records already reported (see broker.records): each is logged once.
    bad_records: set[str] = field(default_factory=set)
    # One live watch per bucket this process lists (broker.roster.Roster), by bucket name.
    rosters: dict[str, Roster] = field(default_factory=dict)
    # The stream sequence of this process's latest write to each bucket.
    written: dict[str, int] = field(default_factory=dict)
    # Message flow notices gathering to leave as one publish (broker.messages._flow).
    flow_pending: list[dict[str, object]] = field(default_factory=list)
    flow_task: asyncio.Task[None] | None = None

    @property
    def team(self) -> str:
        return self.names.team

    async def close(self) -> None:
        for roster in self.rosters.values():
            if roster.task is not None:
                roster.task.cancel()
        self.rosters.clear()
        if self.flow_task is not None:
            self.flow_task.cancel()
        if self.nc.is_connected:
            await self.flush_flow()  # the last notices leave now
        if not self.nc.is_closed:
            await self.nc.drain()

    async def flush_flow(self) -> None:
        """Publish the message-flow notices gathered so far (broker.messages._flow) as one
        core NATS message; best effort, as notices are."""
        batch, self.flow_pending = self.flow_pending, []
        if not batch:
            return
        try:
            subject = self.names.flow_subject(self.settings.node)
            await self.nc.publish(subject, json.dumps(batch).encode())
        except Exception as exc:
            log.info("flow_notice_failed", error=str(exc), notices=len(batch))


def denial_message(operation: str, subject: str, settings: Settings) -> str:
    verb = "subscribe to" if operation.lower().startswith("sub") else "publish to"
    return (
        f"permission denied: this node's credentials may not {verb} {subject} "
        f"(node {settings.node!r}, team {settings.team!r}); each node may act only as its own "
        "agents and read only its own inboxes"
    )


class GuardedClient(NATS):
    """A nats-py client whose requests fail fast with PermissionDenied when the server rejects
    them.

    A denied publish is dropped by the server, which reports it asynchronously (`-ERR
    Permissions Violation`) and sends no reply, so without this every denied JetStream API
    call or KV read would wait out its whole timeout and end as a generic timeout. Every
    request (JetStream publishes and API calls, KV reads, control requests) goes through
    `request`, so this one override covers them all.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.studio_settings = settings
        # (monotonic time, operation, subject) of the violations the server reported.
        self.denials: deque = deque(maxlen=64)
        # Guarded waits in flight: (patterns, the waiting task). A denial matching a wait's
        # patterns cancels its task, which `guard` turns into PermissionDenied. No extra
        # task or wait per request: the common case (no denial) costs a set add/discard.
        self._watching: set[tuple[tuple[str, ...], asyncio.Task]] = set()

    def record_denial(self, operation: str, subject: str) -> None:
        self.denials.append((time.monotonic(), operation, subject))
        for patterns, task in list(self._watching):
            if any(_overlaps(p, subject) for p in patterns):
                task.cancel()

    def denied_since(self, since: float, *patterns: str) -> tuple[str, str] | None:
        for at, operation, denied in reversed(self.denials):
            if at < since:
                break
            if any(_overlaps(p, denied) for p in patterns):
                return operation, denied
        return None

    async def guard(self, awaitable: Awaitable[T], *patterns: str) -> T:
        """Await `awaitable`, but raise PermissionDenied as soon as the server reports a
        violation on a subject matching one of `patterns`."""
        # Without node credentials the server grants everything: nothing to watch for.
        task = asyncio.current_task()
        if not self.studio_settings.creds or task is None:
            return await awaitable
        since = time.monotonic()
        entry = (patterns, task)
        self._watching.add(entry)
        try:
            return await awaitable
        except asyncio.CancelledError:
            denied = self.denied_since(since, *patterns)
            if denied is None:
                raise
            task.uncancel()
            # Name the subject as we sent it (the reported one is lowercased).
            shown = patterns[0] if len(patterns) == 1 else denied[1]
            raise PermissionDenied(denial_message(denied[0], shown, self.studio_settings)) from None
        finally:
            self._watching.discard(entry)

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,  # noqa: ASYNC109 (nats-py's signature, overridden)
        old_style: bool = False,
        headers: dict[str, Any] | None = None,
    ) -> Msg:
        sent = super().request(
            subject, payload, timeout=timeout, old_style=old_style, headers=headers
        )
        return await self.guard(sent, subject)


async def guarded(broker: Broker, awaitable: Awaitable[T], *patterns: str) -> T:
    """`awaitable`, failing fast with PermissionDenied on a violation matching `patterns`: for
    waits that are not requests (a pull's replies arrive on a subscription)."""
    if isinstance(broker.nc, GuardedClient):
        return await broker.nc.guard(awaitable, *patterns)
    return await awaitable


async def checked_subscribe(broker: Broker, subject: str, **kwargs: Any) -> Subscription:
    """Subscribe and confirm the server accepted it. A denied subscription is otherwise
    silent (the server drops it and reports asynchronously): a node daemon serving another
    node's control subject would simply never receive a request."""
    since = time.monotonic()
    sub = await broker.nc.subscribe(subject, **kwargs)
    # The server answers PINGs in order, so the -ERR for our SUB precedes the PONG for a PING
    # sent after it. nats-py pairs PONGs with waiters first-in-first-out, and an older PING
    # in flight can take the first PONG: the second flush's PONG is certainly ours.
    for _ in range(2):
        await broker.nc.flush(timeout=math.ceil(broker.settings.request_timeout_s))
    denied = broker.nc.denied_since(since, subject)
    if denied:
        await sub.unsubscribe()
        raise PermissionDenied(denial_message(denied[0], subject, broker.settings))
    return sub


def _overlaps(pattern: str, subject: str) -> bool:
    """Either side may be a wildcard pattern (a denied subscription names one). Case is
    ignored: nats-py lowercases the server's error text, subject included."""
    pattern, subject = pattern.lower(), subject.lower()
    return (
        pattern == subject or subject_matches(pattern, subject) or subject_matches(subject, pattern)
    )


def auth_options(settings: Settings) -> dict[str, Any]:
    """Connect options for the configured credentials: an nkey seed file (what `studio broker
    add-node` writes) or a JWT `.creds` file. Replies may only arrive under the node's own
    inbox prefix, the one its permissions allow it to subscribe to."""
    creds = settings.credentials()
    if not creds:
        return {}
    path = Path(creds).expanduser()
    try:
        head = path.read_text()[:200]
    except OSError as exc:
        raise BrokerUnavailable(
            f"cannot read credentials {path}: {exc.strerror}; STUDIO_CREDS must name the "
            "file `studio broker add-node` wrote for this node"
        ) from None
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(settings.team, settings.node)}
    if "BEGIN NATS USER JWT" in head:
        options["user_credentials"] = str(path)
    else:
        options["nkeys_seed"] = str(path)
    return options


def client_tls(ca_file: str | Path) -> ssl.SSLContext:
    """What clients pass to nats-py: trust only the studio CA and check the server's name
    (an IP address in the URL is checked against the certificate's IP entries)."""
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            f"cannot load the CA certificate {ca_file}: {exc}; STUDIO_TLS_CA must name the "
            "ca.pem written by `studio broker tls-init`"
        ) from None


async def connect(settings: Settings, *, name: str = "studio") -> Broker:
    """Connect to every configured server (so a node kill fails over). Connecting makes
    nothing: the processes that own a team's streams provision them (`provision.ensure_team`:
    `studio up`'s daemon, `studio broker provision`); a CLI command or an agent's gateway uses
    them as they are, and a team that does not exist is said so on first use
    (provision.bucket) instead of made by a typo."""
    servers = settings.servers()

    nc = GuardedClient(settings)
    refused = asyncio.get_running_loop().create_future()
    refusals = 0

    async def on_error(exc: Exception) -> None:
        nonlocal refusals
        match = _PERMISSION_RE.search(str(exc))
        if "authorization violation" in str(exc).lower() and not nc.is_connected:
            # Wrong or unknown credentials would otherwise be retried until the connect
            # timeout and reported as "cannot reach". Give up once every server refused.
            refusals += 1
            if refusals >= len(servers) and not refused.done():
                refused.set_result(None)
        elif match:
            nc.record_denial(match.group(1), match.group(2))
            # Info, not warning: provisioning expects denials under node credentials (it then
            # uses the streams the admin made); callers get a PermissionDenied either way.
            log.info("nats_permission_denied", operation=match.group(1), subject=match.group(2))
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
        # The configured order is a preference: a node's settings list its own server first
        # (`studio broker cluster-config`), so its clients stay local and a partition
        # elsewhere does not cut them off; the others are the failover.
        "dont_randomize": True,
        # A server gone without closing the connection (a cut cable) is noticed in ~15 s
        # rather than after nats-py's default of 2 unanswered pings 2 minutes apart.
        "ping_interval": 5,
        "max_outstanding_pings": 3,
    }
    options.update(auth_options(settings))
    if settings.tls_ca:
        options["tls"] = client_tls(settings.tls_ca)
    connecting = asyncio.ensure_future(nc.connect(**options))
    try:
        await asyncio.wait({connecting, refused}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not connecting.done():
            connecting.cancel()
            await nc.close()
            if refused.done():
                raise BrokerUnavailable(
                    f"the broker at {', '.join(servers)} refused these credentials "
                    f"({settings.creds or 'none'}): "
                    + (
                        f"is node {settings.node!r} added (`studio broker add-node "
                        f"{settings.node}`) and were the servers reloaded since?"
                        if settings.creds
                        else "it requires credentials; set STUDIO_CREDS (or creds in "
                        "studio.toml) to this node's seed file"
                    )
                )
            raise TimeoutError
        connecting.result()
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise BrokerUnavailable(
            f"cannot reach the broker at {', '.join(servers)}: {str(exc) or type(exc).__name__}. "
            "Is it running? (`studio up` or `studio broker serve`; `studio doctor` checks)"
        ) from None
    js = nc.jetstream(timeout=settings.request_timeout_s)
    broker = Broker(settings=settings, names=Names(settings.team), nc=nc, js=js)
    broker.replicas = settings.replicas or detect_replicas(nc)
    return broker


def detect_replicas(nc: NATS) -> int:
    """3 when the server we reached belongs to a cluster, else 1. The INFO the server sent on
    connect names its cluster; nats-py exposes it only as `_server_info`."""
    return 3 if nats_compat.server_info(nc).get("cluster") else 1
