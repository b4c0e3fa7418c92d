"""Two agents talking through their gateways: messages, threads, broadcast, the unread footer
and the long poll."""

from __future__ import annotations

import asyncio
import time

from gateway_helpers import FOOTER, fails, ok, text


async def test_two_agents_exchange_messages_in_one_thread(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")  # registers bob (the daemon would have)

    sent = await ok(
        alice,
        "send_message",
        to="bob",
        body="can you review PR 7?",
        subject="review",
        importance="high",
    )
    assert text(sent).startswith("Sent to n1.bob")
    first_id = sent.structured_content["id"]

    # bob's next tool result, whatever it is, tells him about the mail
    listed = await ok(bob, "list_locks")
    assert text(listed).endswith(f"{FOOTER} 1 unread message — call check_inbox")

    inbox = await ok(bob, "check_inbox")
    body = text(inbox)
    assert "From n1.alice" in body and "[high] — review" in body and "can you review PR 7?" in body
    assert f"id {first_id}" in body
    assert FOOTER not in body  # read now
    assert [m["id"] for m in inbox.structured_content["messages"]] == [first_id]
    assert "No new messages." in text(await ok(bob, "check_inbox"))

    answer = await ok(
        bob, "send_message", to="n1.alice", body="yes, after lunch", reply_to=first_id
    )
    assert answer.structured_content["thread_id"] == first_id
    got = await ok(alice, "check_inbox")
    assert "yes, after lunch" in text(got) and f"thread {first_id}" in text(got)

    await ok(alice, "send_message", to="bob", body="thanks", thread_id=first_id)
    thread = await ok(bob, "read_thread", thread_id=first_id)
    assert "2 message(s)" in text(thread)  # bob's inbox holds alice's two, read or not
    assert [m["body"] for m in thread.structured_content["messages"]] == [
        "can you review PR 7?",
        "thanks",
    ]
    assert "No messages in thread nope" in text(await ok(bob, "read_thread", thread_id="nope"))


async def test_footer_counts_and_plural(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")
    for i in range(3):
        await ok(alice, "send_message", to="bob", body=f"m{i}")
    assert text(await ok(bob, "whoami")).endswith("📬 3 unread messages — call check_inbox")
    part = await ok(bob, "check_inbox", limit=2)
    assert len(part.structured_content["messages"]) == 2
    assert text(part).endswith("📬 1 unread message — call check_inbox")
    # errors carry the footer too
    assert "📬 1 unread" in await fails(bob, "get_task", task_id="T-404")


async def test_send_errors_say_what_to_do_and_store_nothing(gateway_client, broker):
    alice = await gateway_client("n1.alice")
    await ok(alice, "whoami")
    unknown = await fails(alice, "send_message", to="carol", body="hi")
    assert "unknown agent 'carol'; known agents: n1.alice" in unknown
    assert "message body is empty" in await fails(alice, "send_message", to="alice", body=" ")
    too_big = await fails(alice, "send_message", to="alice", body="x" * (64 * 1024 + 1))
    assert "over the cap" in too_big and "put the content in a file" in too_big
    assert "invalid arguments" in await fails(
        alice, "send_message", to="alice", body="x", importance="critical"
    )
    assert "invalid agent id" in await fails(alice, "send_message", to="a.b.c", body="x")
    stream = await broker.js.stream_info(broker.names.inbox_stream("n1"))
    assert stream.state.messages == 0


async def test_ambiguous_names_list_the_candidates(gateway_client):
    a1 = await gateway_client("n1.sam")
    a2 = await gateway_client("n2.sam", node="n2")
    await ok(a1, "whoami")
    await ok(a2, "whoami")
    message = await fails(a1, "send_message", to="sam", body="which one?")
    assert "ambiguous" in message and "n1.sam" in message and "n2.sam" in message
    await ok(a1, "send_message", to="n2.sam", body="you")


async def test_broadcast_reaches_everyone_else_once(gateway_client):
    lead = await gateway_client("n1.lead")
    workers = [await gateway_client(f"n1.w{i}") for i in range(3)]
    for w in workers:
        await ok(w, "whoami")
    result = await ok(lead, "broadcast", body="main is broken, do not merge", subject="heads up")
    assert "Broadcast to 3 agent(s)" in text(result)
    for w in workers:
        inbox = await ok(w, "check_inbox")
        assert "[broadcast] — heads up" in text(inbox) and "do not merge" in text(inbox)
    assert "No new messages." in text(await ok(lead, "check_inbox"))


async def test_check_inbox_long_poll_returns_on_arrival(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")

    async def later() -> None:
        await asyncio.sleep(0.3)
        await ok(alice, "send_message", to="bob", body="there you go")

    started = time.monotonic()
    sender = asyncio.create_task(later())
    inbox = await ok(bob, "check_inbox", wait_s=10)
    await sender
    assert "there you go" in text(inbox)
    assert time.monotonic() - started < 5

    started = time.monotonic()
    assert "No new messages." in text(await ok(bob, "check_inbox", wait_s=0.5))
    assert 0.4 < time.monotonic() - started < 3
    assert "invalid arguments" in await fails(bob, "check_inbox", wait_s=301)
