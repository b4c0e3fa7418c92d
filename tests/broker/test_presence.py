import asyncio

import pytest

from broker import agents, presence
from broker.errors import InvalidInput
from broker.models import AgentInfo, AgentState
from broker.names import AgentId
from tests.node_agent.conftest import wait_for


async def test_heartbeat_lists_and_filters(broker):
    a, b = AgentId("n1", "a"), AgentId("n2", "b")
    await agents.register(broker, a)
    await agents.register(broker, b)
    await presence.heartbeat(broker, AgentInfo(id=str(a), node="n1", state=AgentState.busy))
    listed = {i.id: i.state for i in await presence.list_agents(broker)}
    assert listed == {"n1.a": "busy", "n2.b": "offline"}
    assert [i.id for i in await presence.list_agents(broker, node="n2")] == ["n2.b"]
    assert [i.id for i in await presence.list_agents(broker, state="busy")] == ["n1.a"]
    with pytest.raises(InvalidInput, match="invalid state"):
        await presence.list_agents(broker, state="sleepy")


async def test_presence_expires_without_heartbeats(broker):
    agent = AgentId("n1", "ephemeral")
    await agents.register(broker, agent)
    await presence.heartbeat(broker, AgentInfo(id=str(agent), node="n1", state="idle"), ttl_s=1)
    assert "n1.ephemeral" in await presence.live(broker)
    for _ in range(50):  # the per-message TTL removes the key
        if not await presence.live(broker):
            break
        await asyncio.sleep(0.1)
    assert await presence.live(broker) == {}
    [info] = await presence.list_agents(broker)
    assert info.state == "offline"


async def test_managed_agents_live_and_die_with_their_nodes_key(broker_factory):
    """A daemon renews one key for its node; its agents' records, written only when they
    change, hold while that key does: in a listing and in a single-key read alike."""
    node = await broker_factory(node="n7", heartbeat_s=0.4)
    reader = await broker_factory()
    info = AgentInfo(id="n7.coder", node="n7", state="busy", managed=True)
    await presence.heartbeat(node, info)
    assert info.ttl_s == presence.RECORD_TTL_S
    assert await presence.get(reader, AgentId("n7", "coder")) is None  # no daemon yet
    await presence.node_alive(node)
    assert (await presence.get(reader, AgentId("n7", "coder"))).state == "busy"
    for _ in range(50):
        if "n7.coder" in await presence.live(reader):
            break
        await asyncio.sleep(0.05)
    assert "n7.coder" in await presence.live(reader)
    unmanaged = AgentInfo(id="n7.person", node="n7", state="busy")
    await presence.heartbeat(node, unmanaged)
    assert unmanaged.ttl_s == 3 * 0.4
    # The daemon stops renewing: after its key's TTL (3 heartbeats) its agents are offline,
    # though their records are still stored.
    for _ in range(60):  # (the server applies a TTL in whole seconds, rounded up)
        gone = await presence.get(reader, AgentId("n7", "coder")) is None
        if gone and "n7.coder" not in await presence.live(reader):
            break
        await asyncio.sleep(0.1)
    assert "n7.coder" not in await presence.live(reader)
    assert await presence.get(reader, AgentId("n7", "coder")) is None
    await presence.node_alive(node)
    await presence.node_gone(node)  # a clean stop: offline at once
    assert "n7.coder" not in await presence.live(node)


async def test_a_forged_node_key_is_skipped(broker):
    from broker.kv import kv_write

    body = b'{"node": "n2", "ttl_s": 999}'
    await kv_write(broker, broker.names.agents_bucket, "n1._node", body)
    managed = AgentInfo(id="n1.x", node="n1", state="busy", managed=True)
    await presence.heartbeat(broker, managed)
    assert "n1.x" not in await presence.live(broker)


async def test_go_offline_removes_presence_at_once(broker):
    agent = AgentId("n1", "gone")
    await agents.register(broker, agent)
    await presence.heartbeat(broker, AgentInfo(id=str(agent), node="n1", state="idle"))
    await presence.go_offline(broker, agent, reason="pane died")
    assert await presence.live(broker) == {}


async def test_a_thousand_presence_reads_use_one_consumer(broker_factory):
    """A process keeps one watch per bucket it lists: 1,000 reads of the team, by the
    listings every hot path uses, add one consumer in all, and see each change."""
    reader, writer = await broker_factory(), await broker_factory()
    stream = f"KV_{reader.names.agents_bucket}"
    before = (await reader.js.stream_info(stream)).state.consumer_count
    assert await presence.live(reader) == {}
    for i in range(1000):
        if i % 100 == 0:  # another process's heartbeat: the view follows it
            await presence.heartbeat(writer, AgentInfo(id=f"n1.a{i}", node="n1", state="idle"))
            view = reader.rosters[reader.names.agents_bucket]
            await wait_for(lambda i=i, view=view: f"n1.a{i}" in view.entries)
        if i % 2:
            assert len(await presence.live(reader)) == i // 100 + 1
        else:
            assert len(await presence.list_agents(reader)) == i // 100 + 1
    after = (await reader.js.stream_info(stream)).state.consumer_count
    assert after == before + 1
    await reader.close()
    for _ in range(100):  # and it goes with the process
        if (await writer.js.stream_info(stream)).state.consumer_count == before:
            break
        await asyncio.sleep(0.2)
    assert (await writer.js.stream_info(stream)).state.consumer_count == before


async def test_a_listing_shows_this_process_own_write_at_once(broker):
    """The watch is asynchronous, but a process's listing waits for its own last write."""
    for i in range(20):
        await presence.heartbeat(broker, AgentInfo(id=f"n1.w{i}", node="n1", state="idle"))
        assert f"n1.w{i}" in await presence.live(broker)
        await presence.go_offline(broker, AgentId("n1", f"w{i}"))
        assert f"n1.w{i}" not in await presence.live(broker)
