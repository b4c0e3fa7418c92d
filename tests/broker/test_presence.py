import asyncio

import pytest

from broker import agents, presence
from broker.errors import InvalidInput
from broker.models import AgentInfo, AgentState
from broker.names import AgentId


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


async def test_presence_expires_without_heartbeats_and_watch_sees_heartbeats(broker):
    agent = AgentId("n1", "ephemeral")
    await agents.register(broker, agent)
    seen: list = []

    async def watch():
        async for key, info in presence.watch(broker):
            seen.append((key, info.state if info else None))
            return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await presence.heartbeat(broker, AgentInfo(id=str(agent), node="n1", state="idle"), ttl_s=1)
    assert "n1.ephemeral" in await presence.live(broker)
    await asyncio.wait_for(watcher, timeout=10)
    assert seen == [("n1.ephemeral", "idle")]
    for _ in range(50):  # the per-message TTL removes the key
        if not await presence.live(broker):
            break
        await asyncio.sleep(0.1)
    assert await presence.live(broker) == {}
    [info] = await presence.list_agents(broker)
    assert info.state == "offline"


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
            await _until(lambda i=i, view=view: f"n1.a{i}" in view.entries)
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


async def _until(check, limit_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
