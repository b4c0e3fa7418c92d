"""The task board through the gateway: dispatch → claim → done with notifications, races,
dependencies and the errors a model must be able to act on."""

from __future__ import annotations

import asyncio
import json

from gateway_helpers import fails, ok, text


async def test_dispatch_progress_done_notifies_both_sides(gateway_client):
    lead = await gateway_client("n1.lead")
    dev = await gateway_client("n1.dev")
    await ok(dev, "whoami")

    created = await ok(
        lead,
        "dispatch_task",
        title="add rate limiting",
        description="per user, 10/s",
        assignee="dev",
        priority=5,
    )
    assert "Created T-1: add rate limiting — assigned to n1.dev (they got a message)" in text(
        created
    )
    assert created.structured_content["status"] == "claimed"

    inbox = text(await ok(dev, "check_inbox"))
    assert "Task T-1 was dispatched to you: add rate limiting" in inbox and "per user" in inbox

    started = await ok(dev, "update_task", task_id="T-1", status="in_progress")
    assert "T-1 [in_progress]" in text(started) and "status='done'" in text(started)
    mine = await ok(dev, "list_tasks", mine=True)
    assert [t["id"] for t in mine.structured_content["tasks"]] == ["T-1"]

    done = await ok(dev, "update_task", task_id="T-1", status="done", note="token bucket in mw.py")
    assert done.structured_content["status"] == "done"
    report = text(await ok(lead, "check_inbox"))
    assert "Task T-1 is done (n1.dev)" in report and "token bucket in mw.py" in report

    detail = text(await ok(lead, "get_task", task_id="T-1"))
    assert "created by n1.lead" in detail and "per user, 10/s" in detail
    assert "n1.dev: token bucket in mw.py" in detail


async def test_open_task_racing_claimers_exactly_one_wins(gateway_client):
    lead = await gateway_client("n1.lead")
    workers = [await gateway_client(f"n1.w{i}") for i in range(4)]
    created = await ok(lead, "dispatch_task", title="fix the flaky test")
    assert "claim_task('T-1')" in text(created)
    results = await asyncio.gather(
        *(w.call_tool("claim_task", {"task_id": "T-1"}) for w in workers)
    )
    winners = [r for r in results if not r.is_error]
    losers = [text(r) for r in results if r.is_error]
    assert len(winners) == 1 and len(losers) == 3
    holder = winners[0].structured_content["assignee"]
    assert all(f"T-1 is already claimed by {holder}; pick another" in m for m in losers)
    assert "You have T-1" in text(winners[0])


async def test_dependencies_block_until_done(gateway_client):
    lead = await gateway_client("n1.lead")
    dev = await gateway_client("n1.dev")
    await ok(lead, "dispatch_task", title="schema")
    await ok(lead, "dispatch_task", title="api", depends_on=["T-1"])
    blocked = await fails(dev, "claim_task", task_id="T-2")
    assert "T-2 cannot start: waiting on T-1" in blocked
    await ok(dev, "claim_task", task_id="T-1")
    await ok(dev, "update_task", task_id="T-1", status="done")
    await ok(dev, "claim_task", task_id="T-2")
    assert "unknown dependency T-9" in await fails(
        lead, "dispatch_task", title="x", depends_on=["T-9"]
    )
    board = (await ok(lead, "list_tasks")).structured_content["tasks"]
    assert [t["id"] for t in board] == ["T-2", "T-1"]  # unfinished first
    assert len((await ok(lead, "list_tasks", status="done")).structured_content["tasks"]) == 1
    by_dev = await ok(lead, "list_tasks", assignee="dev")
    assert {t["id"] for t in by_dev.structured_content["tasks"]} == {"T-1", "T-2"}


async def test_task_errors_are_actionable_and_write_nothing(gateway_client, broker):
    lead = await gateway_client("n1.lead")
    assert "invalid task id 'X-1'" in await fails(lead, "get_task", task_id="X-1")
    assert "no task T-404; `list_tasks` shows the board" in await fails(
        lead, "get_task", task_id="T-404"
    )
    assert "task title is empty" in await fails(lead, "dispatch_task", title="  ")
    assert "unknown agent 'ghost'" in await fails(
        lead, "dispatch_task", title="x", assignee="ghost"
    )
    assert "invalid arguments" in await fails(lead, "dispatch_task", title="x", priority=1000)
    info = await broker.js.stream_info(f"KV_{broker.names.tasks_bucket}")
    assert info.state.messages == 0  # not even the counter moved

    await ok(lead, "dispatch_task", title="real")
    assert "nothing to update" in await fails(lead, "update_task", task_id="T-1")
    assert "T-1 is open; it can move to" in await fails(
        lead, "update_task", task_id="T-1", status="done"
    )
    assert "invalid arguments" in await fails(lead, "update_task", task_id="T-1", status="finished")
    await ok(lead, "update_task", task_id="T-1", note="context: see #12")
    assert "n1.lead: context: see #12" in text(await ok(lead, "get_task", task_id="T-1"))


async def test_board_views_stay_small_however_big_the_board(gateway_client):
    """A result must fit a model's context: at most 20 tasks are listed (10 in the overview),
    brief, with the totals."""
    lead = await gateway_client("n1.lead")
    await asyncio.gather(*(ok(lead, "dispatch_task", title=f"chore {i}") for i in range(70)))
    listed = await ok(lead, "list_tasks")
    assert listed.structured_content["total"] == 70
    assert len(listed.structured_content["tasks"]) == 20
    assert "description" not in listed.structured_content["tasks"][0]
    assert "… and 50 more" in text(listed) and "filter by status" in text(listed)
    assert _size(listed) < 8 * 1024
    status = await ok(lead, "studio_status")
    assert status.structured_content["counts"]["unfinished"] == 70
    assert len(status.structured_content["tasks"]) == 10
    assert "list_tasks" in text(status) and _size(status) < 6 * 1024


def _size(result) -> int:
    return len(text(result).encode()) + len(json.dumps(result.structured_content))
