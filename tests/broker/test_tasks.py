import asyncio

import pytest

from broker import agents, messages, tasks
from broker.errors import (
    DependencyCycle,
    InvalidInput,
    InvalidTransition,
    TaskConflict,
    TaskNotFound,
)
from broker.names import AgentId

LEAD, DEV = AgentId("n1", "lead"), AgentId("n2", "dev")


@pytest.fixture
async def board(broker):
    await agents.register(broker, LEAD)
    await agents.register(broker, DEV)
    return broker


async def test_ids_are_sequential_and_typable(board):
    t1 = await tasks.create(board, LEAD, "first")
    t2 = await tasks.create(board, LEAD, "second", priority=5, labels=["ui", "ui"])
    assert (t1.id, t2.id) == ("T-1", "T-2")
    assert (await tasks.get(board, "T-2")).labels == ["ui"]
    assert [t.id for t in await tasks.list_tasks(board)] == ["T-1", "T-2"]


async def test_twenty_racing_claimers_one_winner(broker_factory):
    brokers = [await broker_factory() for _ in range(20)]
    claimers = [AgentId("n1", f"c{i}") for i in range(20)]
    for b, c in zip(brokers, claimers, strict=True):
        await agents.register(b, c)
    task = await tasks.create(brokers[0], claimers[0], "contested")

    async def claim(b, c):
        try:
            return await tasks.claim(b, c, task.id)
        except TaskConflict:
            return None

    results = await asyncio.gather(*(claim(b, c) for b, c in zip(brokers, claimers, strict=True)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = await tasks.get(brokers[0], task.id)
    assert final.assignee == winners[0].assignee and final.status == "claimed"


async def test_lifecycle_notifies_creator_and_assignee(board):
    task = await tasks.create(board, LEAD, "build it", description="details", assignee="dev")
    assert task.status == "claimed" and task.assignee == "n2.dev"
    [notice] = await messages.fetch(board, DEV, wait_s=2)
    assert "T-1" in notice.message.body and notice.message.sender == "n1.lead"
    await messages.ack([notice])
    await tasks.update(board, DEV, task.id, status="in_progress", note="starting")
    done = await tasks.update(board, DEV, task.id, status="done", note="shipped")
    assert done.status == "done" and [n.text for n in done.log] == ["starting", "shipped"]
    [report] = await messages.fetch(board, LEAD, wait_s=2)
    assert "done" in report.message.body and "shipped" in report.message.body


async def test_invalid_transitions_are_refused(board):
    task = await tasks.create(board, LEAD, "x")
    with pytest.raises(InvalidTransition, match="can move to"):
        await tasks.update(board, LEAD, task.id, status="done")
    with pytest.raises(InvalidInput, match="invalid status"):
        await tasks.update(board, LEAD, task.id, status="finished")
    with pytest.raises(TaskNotFound):
        await tasks.update(board, LEAD, "T-99", status="claimed")
    assert (await tasks.get(board, task.id)).status == "open"


async def test_dependencies_block_start_and_cycles_are_rejected(board):
    base = await tasks.create(board, LEAD, "base")
    top = await tasks.create(board, LEAD, "top", depends_on=[base.id])
    with pytest.raises(TaskConflict, match="waiting on T-1"):
        await tasks.claim(board, DEV, top.id)
    with pytest.raises(DependencyCycle):
        await tasks.update(board, LEAD, base.id, depends_on=[top.id])
    with pytest.raises(DependencyCycle):
        await tasks.update(board, LEAD, base.id, depends_on=[base.id])
    with pytest.raises(TaskNotFound, match="T-42"):
        await tasks.create(board, LEAD, "orphan", depends_on=["T-42"])
    await tasks.claim(board, DEV, base.id)
    await tasks.update(board, DEV, base.id, status="done")
    claimed = await tasks.claim(board, DEV, top.id)
    assert claimed.status == "claimed"
    assert (await tasks.get(board, base.id)).depends_on == []


async def test_release_returns_an_agents_tasks_to_open(board):
    a = await tasks.create(board, LEAD, "a")
    b = await tasks.create(board, LEAD, "b")
    c = await tasks.create(board, LEAD, "c")
    await tasks.claim(board, DEV, a.id)
    await tasks.claim(board, DEV, b.id)
    await tasks.update(board, DEV, b.id, status="in_progress")
    await tasks.claim(board, DEV, c.id)
    await tasks.update(board, DEV, c.id, status="done")
    released = await tasks.release_agent(board, DEV)
    assert released == ["T-1", "T-2"]
    statuses = {t.id: (t.status, t.assignee) for t in await tasks.list_tasks(board)}
    assert statuses == {"T-1": ("open", None), "T-2": ("open", None), "T-3": ("done", "n2.dev")}
    assert [t.id for t in await tasks.list_tasks(board, status="open")] == ["T-1", "T-2"]


async def test_bad_task_input(board):
    with pytest.raises(InvalidInput, match="title is empty"):
        await tasks.create(board, LEAD, "  ")
    with pytest.raises(InvalidInput, match="priority"):
        await tasks.create(board, LEAD, "x", priority=1000)
    assert await tasks.list_tasks(board) == []
