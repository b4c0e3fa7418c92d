"""Presence: who is alive and what they work on. Each heartbeat rewrites the agent's key with a
per-message TTL of a few heartbeats, so an agent whose node stops heartbeating disappears by
itself, with no reaper process to trust. Registered agents with no live key show as offline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from broker import agents, events, records, roster
from broker.connection import Broker
from broker.errors import InvalidInput
from broker.kv import kv_delete, kv_get, kv_write
from broker.models import AgentInfo, AgentKind, AgentState, utcnow
from broker.names import AgentId, validate_name
from broker.provision import bucket

TTL_HEARTBEATS = 3


def _key(agent_id: str) -> str:
    return agent_id  # "node.name": two KV tokens, so `node.*` selects a node's agents


async def heartbeat(broker: Broker, info: AgentInfo, ttl_s: float | None = None) -> None:
    """Publish presence. The TTL defaults to 3 heartbeat intervals."""
    AgentId.parse(info.id)
    info.last_heartbeat = utcnow()
    ttl = ttl_s if ttl_s is not None else TTL_HEARTBEATS * broker.settings.heartbeat_s
    info.ttl_s = ttl
    await kv_write(
        broker,
        broker.names.agents_bucket,
        _key(info.id),
        info.model_dump_json().encode(),
        msg_ttl=ttl,
    )


async def go_offline(broker: Broker, agent: AgentId, reason: str = "") -> None:
    """Remove presence at once (a dead pane), instead of waiting for the TTL."""
    await kv_delete(broker, broker.names.agents_bucket, _key(str(agent)))
    await events.emit(broker, "agent_offline", agent=str(agent), reason=reason)


async def get(broker: Broker, agent: AgentId) -> AgentInfo | None:
    """One agent's presence, by a single-key read (never a listing)."""
    kv = await bucket(broker, broker.names.agents_bucket)
    entry = await kv_get(kv, _key(str(agent)))
    return read_record(broker, entry.key, entry.value) if entry else None


async def live(broker: Broker) -> dict[str, AgentInfo]:
    """Every agent with a live heartbeat, from this process's watch of the bucket. The server
    drops an expired record without telling watchers, so its age decides here. The records
    are shared with this process's other readers: read-only."""
    now = time.time()
    found = {}
    for entry in await roster.entries(broker, broker.names.agents_bucket):
        info = roster.decoded(entry, lambda e: read_record(broker, e.key, e.value))
        if info is not None and now - entry.created < info.ttl_s:
            found[info.id] = info
    return found


def read_record(broker: Broker, key: str, value: bytes | None) -> AgentInfo | None:
    """A presence record, if it is one and speaks for the agent its key names: a node may
    write only its own agents' keys, so a body naming another agent is a forgery."""
    where = f"{broker.names.agents_bucket}/{key}"
    info = records.parse(broker, AgentInfo, value, where=where)
    if info is not None and (_key(info.id) != key or info.node != info.id.split(".")[0]):
        records.skipped(broker, where, f"its body says {info.id!r}")
        return None
    return info


async def list_agents(
    broker: Broker, *, node: str | None = None, state: str | None = None
) -> list[AgentInfo]:
    """Every registered agent with its presence; the ones without a heartbeat are offline."""
    if node is not None:
        validate_name(node, "node name")
    if state is not None and state not in AgentState.__members__:
        choices = ", ".join(AgentState.__members__)
        raise InvalidInput(f"invalid state {state!r}: use one of {choices}")
    alive = await live(broker)
    records = {r.id: r for r in await agents.registered(broker)}
    result = []
    for agent_id in sorted(set(records) | set(alive)):
        info = alive.get(agent_id)
        if info is None:
            record = records[agent_id]
            info = AgentInfo(
                id=agent_id,
                node=agent_id.split(".")[0],
                state=AgentState.offline,
                kind=record.kind,
                role=record.role,
            )
        if (node is None or info.node == node) and (state is None or info.state == state):
            result.append(info)
    return result


async def watch(broker: Broker) -> AsyncIterator[tuple[str, AgentInfo | None]]:
    """(agent id, presence) on every change; None when an agent left or its presence expired."""
    kv = await bucket(broker, broker.names.agents_bucket)
    watcher = await kv.watchall()
    try:
        async for entry in watcher:
            if entry is None:
                continue
            if entry.value and entry.operation not in ("DEL", "PURGE"):
                info = read_record(broker, entry.key, entry.value)
                if info is not None:
                    yield entry.key, info
            else:
                yield entry.key, None
    finally:
        await watcher.stop()


__all__ = ["AgentKind", "go_offline", "heartbeat", "list_agents", "live", "watch"]
