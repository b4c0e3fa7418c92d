import asyncio

import pytest

from broker import agents, messages
from broker.errors import (
    AmbiguousAgent,
    InvalidInput,
    MessageTooLarge,
    StreamFull,
    UnknownAgent,
)
from broker.names import AgentId

ALICE, BOB = AgentId("n1", "alice"), AgentId("n2", "bob")


@pytest.fixture
async def pair(broker):
    await agents.register(broker, ALICE)
    await agents.register(broker, BOB)
    return broker


async def read_all(broker, agent, expect, wait_s=2.0):
    got = []
    while len(got) < expect:
        batch = await messages.fetch(broker, agent, limit=200, wait_s=wait_s)
        if not batch:
            break
        got += batch
        await messages.ack(batch)
    return got


async def test_send_fetch_ack(pair):
    sent = await messages.send(pair, ALICE, "bob", "hello", subject="hi", importance="high")
    assert await messages.unread_count(pair, BOB) == 1
    [delivery] = await messages.fetch(pair, BOB, wait_s=2)
    assert delivery.message.id == sent.id
    assert (delivery.message.sender, delivery.message.to) == ("n1.alice", "n2.bob")
    assert delivery.message.importance == "high"
    # Fetched but not handed off: still unread.
    assert await messages.unread_count(pair, BOB) == 1
    await messages.ack([delivery])
    await pair.nc.flush()
    assert await messages.unread_count(pair, BOB) == 0
    assert await messages.fetch(pair, BOB) == []
    # History stays readable after reading.
    assert [m.id for m in await messages.history(pair, BOB)] == [sent.id]


async def test_same_message_id_is_stored_once(pair):
    await messages.send(pair, ALICE, "n2.bob", "once", msg_id="fixed-id-1")
    await messages.send(pair, ALICE, "n2.bob", "once", msg_id="fixed-id-1")
    got = await read_all(pair, BOB, expect=2, wait_s=0.3)
    assert [d.message.id for d in got] == ["fixed-id-1"]


async def test_unacked_message_is_redelivered(broker_factory):
    broker = await broker_factory(ack_wait_s=1.0)
    await agents.register(broker, ALICE)
    await agents.register(broker, BOB)
    sent = await messages.send(broker, ALICE, "bob", "are you there?")
    [first] = await messages.fetch(broker, BOB, wait_s=2)
    assert not first.redelivered
    # The reader "crashes" without acking: after ack_wait the message comes back.
    [again] = await messages.fetch(broker, BOB, wait_s=3)
    assert again.message.id == sent.id and again.redelivered
    await messages.ack([again])


async def test_long_poll_returns_when_mail_arrives(pair):
    async def later():
        await asyncio.sleep(0.3)
        await messages.send(pair, ALICE, "bob", "late")

    task = asyncio.create_task(later())
    started = asyncio.get_running_loop().time()
    got = await messages.fetch(pair, BOB, wait_s=5)
    elapsed = asyncio.get_running_loop().time() - started
    await task
    assert [d.message.body for d in got] == ["late"]
    assert elapsed < 2


async def test_unknown_and_ambiguous_recipients(pair):
    with pytest.raises(UnknownAgent) as err:
        await messages.send(pair, ALICE, "carol", "x")
    assert "n1.alice" in str(err.value) and "n2.bob" in str(err.value)
    with pytest.raises(UnknownAgent):
        await messages.send(pair, ALICE, "n9.bob", "x")
    await agents.register(pair, AgentId("n3", "bob"))
    with pytest.raises(AmbiguousAgent, match=r"n2\.bob, n3\.bob"):
        await messages.send(pair, ALICE, "bob", "x")


async def test_body_cap_and_bad_input_store_nothing(broker_factory):
    broker = await broker_factory(max_body_bytes=100)
    await agents.register(broker, ALICE)
    await agents.register(broker, BOB)
    with pytest.raises(MessageTooLarge, match="cap of 100 bytes"):
        await messages.send(broker, ALICE, "bob", "x" * 101)
    with pytest.raises(InvalidInput, match="empty"):
        await messages.send(broker, ALICE, "bob", "   ")
    with pytest.raises(InvalidInput, match="importance"):
        await messages.send(broker, ALICE, "bob", "x", importance="meh")
    with pytest.raises(InvalidInput, match="limit"):
        await messages.fetch(broker, BOB, limit=0)
    assert await messages.unread_count(broker, BOB) == 0


async def test_thread_collects_replies(pair):
    first = await messages.send(pair, ALICE, "bob", "question")
    await messages.send(pair, ALICE, "bob", "unrelated")
    await messages.send(pair, ALICE, "bob", "follow-up", reply_to=first.id)
    thread = await messages.thread(pair, BOB, first.id)
    assert [m.body for m in thread] == ["question", "follow-up"]


async def test_broadcast_reaches_registered_agents_once_and_not_late_joiners(pair):
    carol = AgentId("n1", "carol")
    await agents.register(pair, carol)
    copies = await messages.broadcast(pair, ALICE, "standup in 5", msg_id="bc-1")
    assert sorted(m.to for m in copies) == ["n1.carol", "n2.bob"]
    # Retrying the same broadcast stores no second copy.
    await messages.broadcast(pair, ALICE, "standup in 5", msg_id="bc-1")
    late = AgentId("n2", "late")
    await agents.register(pair, late)
    for agent in (BOB, carol):
        got = await read_all(pair, agent, expect=2, wait_s=0.3)
        assert [d.message.body for d in got] == ["standup in 5"]
        assert got[0].message.broadcast
    assert await messages.unread_count(pair, late) == 0
    assert await messages.unread_count(pair, ALICE) == 0


async def test_concurrent_senders_all_read_exactly_once_in_order(broker_factory):
    reader_broker = await broker_factory()
    reader = AgentId("n1", "sink")
    await agents.register(reader_broker, reader)
    senders = [AgentId("n2", f"s{i}") for i in range(8)]
    sender_brokers = [await broker_factory() for _ in senders]
    for b, s in zip(sender_brokers, senders, strict=True):
        await agents.register(b, s)

    async def send_all(b, sender):
        for i in range(500):
            await messages.send(b, sender, "n1.sink", f"{sender}:{i}")

    async def read():
        return await read_all(reader_broker, reader, expect=4000, wait_s=5)

    reading = asyncio.create_task(read())
    await asyncio.gather(*(send_all(b, s) for b, s in zip(sender_brokers, senders, strict=True)))
    got = await reading
    bodies = [d.message.body for d in got]
    assert len(bodies) == 4000 and len(set(bodies)) == 4000
    for sender in senders:
        seq = [int(b.split(":")[1]) for b in bodies if b.startswith(f"{sender}:")]
        assert seq == list(range(500))


async def test_a_full_inbox_refuses_new_mail_and_keeps_the_old(broker_factory):
    broker = await broker_factory(inbox_max_bytes=1024 * 1024, max_body_bytes=64 * 1024)
    sender, flooded = AgentId("n1", "flooder"), AgentId("n9", "victim")
    await agents.register(broker, flooded)
    first = await messages.send(broker, sender, str(flooded), "keep me")
    with pytest.raises(StreamFull, match="is full"):
        for _ in range(40):  # 40 × 60 KiB > 1 MiB
            await messages.send(broker, sender, str(flooded), "x" * 60 * 1024)
    got = await messages.fetch(broker, flooded, limit=1)
    assert got[0].message.id == first.id, "nothing stored was dropped to make room"


async def test_a_send_tells_the_team_who_wrote_to_whom_never_the_body(broker):
    """Team views see the flow of mail (a notice on a subject no stream stores); the body
    stays in the recipient's inbox. A notice naming a sender of another node is dropped."""
    a, b = AgentId("n1", "meta-a"), AgentId("n1", "meta-b")
    for agent in (a, b):
        await agents.register(broker, agent)
    seen: asyncio.Queue = asyncio.Queue()

    async def on_flow(msg) -> None:
        await seen.put(msg)

    await broker.nc.subscribe(f"{broker.names.prefix}.flow.>", cb=on_flow)
    sent = await messages.send(broker, a, "meta-b", "the secret plan", importance="high")
    await messages.broadcast(broker, a, "hello all")
    first = await asyncio.wait_for(seen.get(), 5)  # both, gathered into one publish
    notice, wide = messages.read_flow(broker, first)
    assert (notice.id, notice.sender, notice.to) == (sent.id, "n1.meta-a", "n1.meta-b")
    assert notice.importance == "high" and b"secret" not in first.data
    assert (wide.to, wide.recipients) == ("*", 1)
    forged = type(first)(
        _client=None, subject=broker.names.flow_subject("n2"), data=first.data
    )  # notices published by node n2 naming n1's agent as the sender
    assert messages.read_flow(broker, forged) == []
