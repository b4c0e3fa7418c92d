"""The agent registry: which ids exist, and how a name someone typed becomes an id.

Registration is durable (an offline agent keeps its address and its unread mail) and creates
the agent's read cursor: one durable pull consumer on its node's inbox stream.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from nats.js import api

from broker import events, records, roster
from broker.connection import Broker
from broker.errors import AmbiguousAgent, UnknownAgent
from broker.kv import kv_delete, kv_get, kv_write
from broker.models import AgentKind, AgentRecord
from broker.names import AgentId, is_full_id, validate_name
from broker.provision import bucket, ensure_node_inbox
from broker.publish import retryable

log = structlog.get_logger(__name__)

# How long a bare name's resolution is reused (see resolve), and how many are kept.
NAME_TTL_S = 5.0
MAX_NAMES = 1024


def inbox_consumer(agent: AgentId) -> str:
    return f"inbox_{agent.token}"


async def register(
    broker: Broker, agent: AgentId, kind: AgentKind = AgentKind.other, role: str = ""
) -> AgentRecord:
    """Create (or keep) the agent's inbox cursor and registry entry. Safe to repeat."""
    await ensure_node_inbox(broker, agent.node)
    await _add_cursor(
        broker,
        broker.names.inbox_stream(agent.node),
        api.ConsumerConfig(
            name=inbox_consumer(agent),
            durable_name=inbox_consumer(agent),
            filter_subject=broker.names.inbox_filter(agent),
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=broker.settings.ack_wait_s,
            max_ack_pending=10_000,
            max_deliver=-1,
        ),
    )
    kv = await bucket(broker, broker.names.registry_bucket)
    existing = await kv_get(kv, _key(agent))
    record = AgentRecord(id=str(agent), kind=kind, role=role)
    previous = (
        records.parse(broker, AgentRecord, existing.value, where=_where(broker, _key(agent)))
        if existing
        else None
    )
    if previous is not None:
        record.registered_at = previous.registered_at
        if previous.model_dump(exclude={"registered_at"}) == record.model_dump(
            exclude={"registered_at"}
        ):
            broker.known_agents.add(str(agent))
            return previous
    await kv_write(
        broker, broker.names.registry_bucket, _key(agent), record.model_dump_json().encode()
    )
    broker.known_agents.add(str(agent))
    if not existing:
        await events.emit(
            broker, "agent_registered", agent=str(agent), agent_kind=kind.value, role=role
        )
    return record


async def unregister(broker: Broker, agent: AgentId) -> None:
    """Forget an agent: its registry entry and its cursor (its stored mail ages out)."""
    await kv_delete(broker, broker.names.registry_bucket, _key(agent))
    try:
        await broker.js.delete_consumer(
            broker.names.inbox_stream(agent.node), inbox_consumer(agent)
        )
    except Exception as exc:  # already gone is fine
        log.info("consumer_delete_skipped", agent=str(agent), error=str(exc))
    broker.known_agents.discard(str(agent))
    await events.emit(broker, "agent_unregistered", agent=str(agent))


async def registered(broker: Broker) -> list[AgentRecord]:
    """Every registered agent, from this process's watch of the registry (shared records:
    read-only)."""
    entries = await roster.entries(broker, broker.names.registry_bucket)
    view = broker.rosters[broker.names.registry_bucket]

    def parse_all() -> list[AgentRecord]:
        found = [
            roster.decoded(e, lambda e: _parse_record(broker, e.key, e.value)) for e in entries
        ]
        records = [r for r in found if r is not None]
        broker.known_agents.update(r.id for r in records)
        return records

    return view.memo("registered", view.seq, parse_all)


def _parse_record(broker: Broker, key: str, value: bytes | None) -> AgentRecord | None:
    where = _where(broker, key)
    record = records.parse(broker, AgentRecord, value, where=where)
    if record is not None and _key(AgentId.parse(record.id)) != key:
        records.skipped(broker, where, f"its body says {record.id!r}")
        return None
    return record


async def _add_cursor(broker: Broker, stream: str, config: api.ConsumerConfig) -> None:
    """Create the durable cursor; the same config again is a no-op, so a request that timed
    out (a cluster busy creating many at once, a leader election) is simply asked again."""
    deadline = time.monotonic() + broker.settings.publish_retry_s
    while True:
        try:
            await broker.js.add_consumer(stream, config)
            return
        except Exception as exc:
            if not retryable(exc) or time.monotonic() > deadline:
                raise
            log.info("cursor_create_retry", stream=stream, error=str(exc) or type(exc).__name__)
            await asyncio.sleep(0.2)


def _where(broker: Broker, key: str) -> str:
    return f"{broker.names.registry_bucket}/{key}"


async def record(broker: Broker, agent: AgentId) -> AgentRecord | None:
    """One agent's registry record, by a single-key read (never a listing)."""
    kv = await bucket(broker, broker.names.registry_bucket)
    entry = await kv_get(kv, _key(agent))
    if entry is None:
        return None
    found = records.parse(broker, AgentRecord, entry.value, where=_where(broker, _key(agent)))
    if found is None or found.id != str(agent):
        return None
    broker.known_agents.add(str(agent))
    return found


async def is_registered(broker: Broker, agent: AgentId) -> bool:
    if str(agent) in broker.known_agents:
        return True
    kv = await bucket(broker, broker.names.registry_bucket)
    if await kv_get(kv, _key(agent)) is None:
        return False
    broker.known_agents.add(str(agent))
    return True


async def resolve(broker: Broker, name: str) -> AgentId:
    """`node.name` must be registered; a bare name must match exactly one registered agent.

    A bare name costs a registry request, and a model names the same few teammates again and
    again, so its answer is reused for NAME_TTL_S: a same-named agent registering on another
    node makes the name ambiguous here at most that much later. A full id is checked once per
    process (Broker.known_agents)."""
    if is_full_id(name):
        agent = AgentId.parse(name)
        if await is_registered(broker, agent):
            return agent
        raise UnknownAgent(name, [r.id for r in await registered(broker)])
    validate_name(name, "agent name")
    now = time.monotonic()
    hit = broker.resolved_names.get(name)
    if hit and hit[1] > now:
        return AgentId.parse(hit[0])
    matches = await _ids_named(broker, name)
    if len(matches) == 1:
        if len(broker.resolved_names) >= MAX_NAMES:
            broker.resolved_names.clear()
        broker.resolved_names[name] = (matches[0], now + NAME_TTL_S)
        return AgentId.parse(matches[0])
    if matches:
        raise AmbiguousAgent(name, matches)
    raise UnknownAgent(name, [r.id for r in await registered(broker)])


async def _ids_named(broker: Broker, name: str) -> list[str]:
    """Registered ids `<any node>.<name>`. The registry stream lists the subjects matching a
    filter in one request, so resolving a bare name does not read every registry entry. A
    deleted key keeps its subject (the delete marker), hence the is_registered check."""
    stream = f"KV_{broker.names.registry_bucket}"
    prefix = f"$KV.{broker.names.registry_bucket}."
    info = await broker.js.stream_info(stream, subjects_filter=f"{prefix}*.{name}")
    found = []
    for subject in sorted(info.state.subjects or {}):
        agent = AgentId.parse(subject[len(prefix) :])
        if await is_registered(broker, agent):
            found.append(str(agent))
    return found


def _key(agent: AgentId) -> str:
    return f"{agent.node}.{agent.name}"
