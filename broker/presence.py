"""Presence: who is alive and what they work on, with no reaper process to trust: every record
carries a per-message TTL, so what nobody renews disappears by itself. Registered agents with
no live record show as offline.

A node's daemon renews one key for the whole node, `<node>._node` (agent names cannot start
with `_`), every heartbeat; the records of the agents it manages (`managed`) are rewritten
only when something in them changes, or when a long TTL (RECORD_TTL_S) is a third gone, and
hold only while their node's key does. So a team's background writes, and what every watcher
of the bucket receives, grow with its nodes rather than its agents: at 1,000 agents on 50
nodes, 10 keys a second instead of 200. An agent without a daemon (a person's own session)
renews its own record with the short TTL.
"""

from __future__ import annotations

import asyncio
import time

from broker import agents, events, records, roster
from broker.connection import Broker
from broker.errors import InvalidInput
from broker.kv import kv_delete, kv_get, kv_write
from broker.models import AgentInfo, AgentKind, AgentRecord, AgentState, NodeBeat, utcnow
from broker.names import AgentId, validate_name
from broker.provision import bucket

TTL_HEARTBEATS = 3
# A managed agent's record: its liveness is its node's key; this only clears records a node
# that vanished for good left behind.
RECORD_TTL_S = 600.0
NODE_KEY = "_node"


def _key(agent_id: str) -> str:
    return agent_id  # "node.name": two KV tokens, so `node.*` selects a node's agents


def _node_key(node: str) -> str:
    return f"{node}.{NODE_KEY}"


def is_node_key(key: str) -> bool:
    return key.endswith(f".{NODE_KEY}")


def heartbeat_ttl_s(broker: Broker) -> float:
    return TTL_HEARTBEATS * broker.settings.heartbeat_s


async def node_alive(broker: Broker) -> None:
    """This node's daemon is alive: renew the key its managed agents' presence hangs on."""
    ttl = heartbeat_ttl_s(broker)
    body = NodeBeat(node=broker.settings.node, ttl_s=ttl).model_dump_json().encode()
    await kv_write(
        broker, broker.names.agents_bucket, _node_key(broker.settings.node), body, msg_ttl=ttl
    )


async def node_gone(broker: Broker) -> None:
    """A daemon stopping cleanly takes its agents offline at once, not after the TTL."""
    await kv_delete(broker, broker.names.agents_bucket, _node_key(broker.settings.node))


async def heartbeat(broker: Broker, info: AgentInfo, ttl_s: float | None = None) -> None:
    """Publish presence: a managed agent's record holds for RECORD_TTL_S (while its node's key
    does), any other for 3 heartbeat intervals, unless `ttl_s` says otherwise."""
    AgentId.parse(info.id)
    info.last_heartbeat = utcnow()
    default = RECORD_TTL_S if info.managed else heartbeat_ttl_s(broker)
    ttl = ttl_s if ttl_s is not None else default
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
    """One agent's presence, by single-key reads (its record, and its node's key when a
    daemon manages it; never a listing)."""
    kv = await bucket(broker, broker.names.agents_bucket)
    entry, node = await asyncio.gather(
        kv_get(kv, _key(str(agent))), kv_get(kv, _node_key(agent.node))
    )
    info = read_record(broker, entry.key, entry.value) if entry else None
    if info is not None and info.managed and node is None:
        return None  # its daemon is gone
    return info


async def live(broker: Broker) -> dict[str, AgentInfo]:
    """Every agent with a live heartbeat, from this process's watch of the bucket. The server
    drops an expired record without telling watchers, so its age decides here. The records
    are shared with this process's other readers: read-only."""
    return dict(await _live_view(broker))


async def _live_view(broker: Broker) -> dict[str, AgentInfo]:
    """`live`, shared with this process's other readers until the bucket changes."""
    entries = await roster.entries(broker, broker.names.agents_bucket)
    view = broker.rosters[broker.names.agents_bucket]
    # Liveness depends on the time too (a TTL running out): a view lasts a second at most.
    now = time.time()
    return view.memo("live", (view.seq, int(now)), lambda: _live(broker, entries, now))


def _live(broker: Broker, entries: list[roster.Entry], now: float) -> dict[str, AgentInfo]:
    nodes = set()
    for entry in entries:
        if is_node_key(entry.key):
            beat = roster.decoded(entry, lambda e: read_node_beat(broker, e.key, e.value))
            if beat is not None and now - entry.created < beat.ttl_s:
                nodes.add(beat.node)
    found = {}
    for entry in entries:
        if is_node_key(entry.key):
            continue
        info = roster.decoded(entry, lambda e: read_record(broker, e.key, e.value))
        if info is not None and is_live(info, entry.created, nodes, now):
            found[info.id] = info
    return found


def is_live(info: AgentInfo, written: float, nodes_alive: set[str], now: float) -> bool:
    """A record is live while its TTL runs (written: the server's time of the write, epoch
    seconds) and, when a daemon manages the agent, while that node's key is live too."""
    return now - written < info.ttl_s and (not info.managed or info.node in nodes_alive)


def read_node_beat(broker: Broker, key: str, value: bytes | None) -> NodeBeat | None:
    """A node key's body, if it speaks for the node its key names."""
    where = f"{broker.names.agents_bucket}/{key}"
    beat = records.parse(broker, NodeBeat, value, where=where)
    if beat is not None and _node_key(beat.node) != key:
        records.skipped(broker, where, f"its body says node {beat.node!r}")
        return None
    return beat


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
    alive = await _live_view(broker)
    registered = await agents.registered(broker)
    views = broker.rosters
    key = (
        views[broker.names.agents_bucket].seq,
        views[broker.names.registry_bucket].seq,
        int(time.time()),
    )
    team = views[broker.names.agents_bucket].memo("team", key, lambda: _team(alive, registered))
    return [
        info
        for info in team
        if (node is None or info.node == node) and (state is None or info.state == state)
    ]


def _team(alive: dict[str, AgentInfo], registered: list[AgentRecord]) -> list[AgentInfo]:
    records = {r.id: r for r in registered}
    team = []
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
        team.append(info)
    return team


__all__ = ["AgentKind", "go_offline", "heartbeat", "list_agents", "live", "node_alive"]
