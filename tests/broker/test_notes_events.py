import asyncio

import pytest

from broker import events, notes
from broker.errors import InvalidInput
from broker.names import AgentId

A, B = AgentId("n1", "a"), AgentId("n2", "b")


async def test_notes_have_a_cursor_per_agent(broker):
    await notes.post(broker, A, "renamed UserService to Accounts")
    await notes.post(broker, B, "db migration pending")
    assert [n.text for n in await notes.read_new(broker, B)] == [
        "renamed UserService to Accounts",
        "db migration pending",
    ]
    assert await notes.read_new(broker, B) == []
    assert len(await notes.read_new(broker, A, limit=1)) == 1
    assert [n.sender for n in await notes.read_new(broker, A)] == ["n2.b"]
    with pytest.raises(InvalidInput):
        await notes.post(broker, A, "")


async def test_events_recent_and_watch(broker):
    got = []

    async def watch():
        async for event in events.watch(broker, "custom"):
            got.append(event)
            return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await events.emit(broker, "other", agent="n1.a")
    await events.emit(broker, "custom", agent="n1.a", detail=1)
    await asyncio.wait_for(watcher, 5)
    assert got[0].kind == "custom" and got[0].data == {"detail": 1}
    recent = await events.recent(broker, limit=5)
    assert [e.kind for e in recent][-2:] == ["other", "custom"]
    assert [e.kind for e in await events.recent(broker, limit=5, kind="custom")] == ["custom"]
