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


async def test_presence_reads_leave_no_consumers_behind(broker):
    """Each read of the bucket is a throwaway consumer; the server forgets it within seconds
    instead of nats-py's five minutes, so a daemon reading every few seconds stays flat."""
    agent = AgentId("n1", "reader")
    await presence.heartbeat(broker, AgentInfo(id=str(agent), node="n1", state="idle"))
    stream = f"KV_{broker.names.agents_bucket}"
    before = (await broker.js.stream_info(stream)).state.consumer_count
    for _ in range(200):
        assert str(agent) in await presence.live(broker)
    after = (await broker.js.stream_info(stream)).state.consumer_count
    assert after > before, "each read made a consumer (else this test proves nothing)"
    for _ in range(100):
        await asyncio.sleep(0.2)
        if (await broker.js.stream_info(stream)).state.consumer_count <= before:
            break
    assert (await broker.js.stream_info(stream)).state.consumer_count <= before
