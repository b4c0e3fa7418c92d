"""wait_for: events, presence states, mail, timeouts."""

from __future__ import annotations

import asyncio
import time

from gateway_helpers import fails, ok, text

from broker import presence
from broker.models import AgentInfo, AgentState


async def _later(delay: float, coro) -> None:
    await asyncio.sleep(delay)
    await coro


async def test_wait_for_task_done_by_given_agents(gateway_client):
    lead = await gateway_client("n1.lead")
    dev = await gateway_client("n1.dev")
    await ok(dev, "whoami")
    await ok(lead, "dispatch_task", title="a", assignee="dev")
    await ok(dev, "update_task", task_id="T-1", status="in_progress")
    finish = asyncio.create_task(_later(0.3, ok(dev, "update_task", task_id="T-1", status="done")))
    result = await ok(lead, "wait_for", agents=["dev"], event="task_done", timeout_s=10)
    await finish
    assert result.structured_content["reason"] == "event"
    assert "task_status n1.dev T-1 (status=done, previous=in_progress)" in text(result)


async def test_wait_for_state_of_every_agent(gateway_client, broker):
    lead = await gateway_client("n1.lead")
    w1 = await gateway_client("n1.w1")
    w2 = await gateway_client("n1.w2")
    for w in (w1, w2):
        await ok(w, "whoami")

    async def go_idle() -> None:
        for name in ("w1", "w2"):
            await asyncio.sleep(0.2)
            await presence.heartbeat(
                broker, AgentInfo(id=f"n1.{name}", node="n1", state=AgentState.idle)
            )

    task = asyncio.create_task(go_idle())
    result = await ok(lead, "wait_for", agents=["w1", "n1.w2"], event="idle", timeout_s=10)
    await task
    assert result.structured_content["reason"] == "state"
    assert "All watched agents are idle" in text(result)
    assert "needs agents=" in await fails(lead, "wait_for", event="idle", timeout_s=1)


async def test_wait_for_mail_and_any(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")
    send = asyncio.create_task(_later(0.3, ok(alice, "send_message", to="bob", body="ping")))
    result = await ok(bob, "wait_for", event="message", timeout_s=10)
    await send
    assert "You have 1 unread message(s) — call check_inbox." in text(result)
    # with mail already waiting, "any" waits for something new: here a task event
    create = asyncio.create_task(_later(0.3, ok(alice, "dispatch_task", title="new work")))
    result = await ok(bob, "wait_for", timeout_s=10)
    await create
    assert result.structured_content["reason"] == "event"
    assert "task_created n1.alice T-1" in text(result)


async def test_wait_for_times_out_and_validates(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")
    started = time.monotonic()
    result = await ok(alice, "wait_for", agents=["bob"], event="task_claimed", timeout_s=1)
    assert 0.9 < time.monotonic() - started < 3
    assert "Nothing happened within 1s. Now:\n- n1.bob offline" in text(result)
    assert "invalid event" in await fails(alice, "wait_for", event="Task Done!", timeout_s=1)
    assert "invalid arguments" in await fails(alice, "wait_for", timeout_s=0)
    assert "unknown agent 'nobody'" in await fails(alice, "wait_for", agents=["nobody"])
