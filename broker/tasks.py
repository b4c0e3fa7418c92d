"""The task board: a KV bucket where every change is a compare-and-set on the key's revision.

Two claimers read the same revision; only the first update with that revision lands, the
other sees the new state and is told who won. That is the whole concurrency story.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from broker import agents, events, messages, records, roster
from broker.connection import Broker
from broker.errors import (
    DependencyCycle,
    InvalidInput,
    InvalidTransition,
    TaskConflict,
    TaskNotFound,
)
from broker.kv import kv_get, kv_write
from broker.models import FINISHED, TRANSITIONS, Importance, Task, TaskNote, TaskStatus, utcnow
from broker.names import AgentId, parse_task_id, task_id
from broker.provision import bucket
from broker.publish import CasConflict

COUNTER_KEY = "counter"
MAX_TITLE = 200
MAX_DESCRIPTION = 16 * 1024
STARTED = frozenset({TaskStatus.claimed, TaskStatus.in_progress})


def _key(tid: str) -> str:
    return f"task.{parse_task_id(tid)}"


MAX_NUMBER = 10**9  # T-1 … T-999999999: ids stay short enough to type


async def _next_number(broker: Broker) -> int:
    kv = await bucket(broker, broker.names.tasks_bucket)
    while True:
        entry = await kv_get(kv, COUNTER_KEY)
        current = _counter(entry.value) if entry else 0
        if current is None:  # not a number we wrote: start after the highest task there is
            records.skipped(broker, f"{broker.names.tasks_bucket}/{COUNTER_KEY}", "bad counter")
            found = await roster.entries(broker, broker.names.tasks_bucket, "task.*", fresh=True)
            current = max((_number(e.key) for e in found), default=0)
        try:
            await kv_write(
                broker,
                broker.names.tasks_bucket,
                COUNTER_KEY,
                str(current + 1).encode(),
                last=entry.revision if entry else 0,
            )
        except CasConflict:
            continue
        return current + 1


def _counter(value: bytes | None) -> int | None:
    text = (value or b"").decode(errors="replace")
    return int(text) if text.isascii() and text.isdigit() and int(text) < MAX_NUMBER else None


def _number(key: str) -> int:
    tail = key.removeprefix("task.")
    return int(tail) if tail.isascii() and tail.isdigit() else 0


async def get(broker: Broker, tid: str) -> Task:
    kv = await bucket(broker, broker.names.tasks_bucket)
    entry = await kv_get(kv, _key(tid))
    if entry is None:
        raise TaskNotFound(f"no task {tid}; `list_tasks` shows the board")
    task = records.parse(broker, Task, entry.value, where=f"{broker.names.tasks_bucket}/{tid}")
    if task is None:
        raise TaskNotFound(f"task {tid} is stored unreadably; create a new task instead")
    task.revision = entry.revision or 0
    return task


async def list_tasks(
    broker: Broker, *, status: str | None = None, assignee: str | None = None, fresh: bool = False
) -> list[Task]:
    """The board, from this process's watch of it (`fresh` for decisions: roster.entries)."""
    if status is not None:
        status = _status(status)
    tasks = []
    for entry in await roster.entries(broker, broker.names.tasks_bucket, "task.*", fresh=fresh):
        where = f"{broker.names.tasks_bucket}/{entry.key}"
        task = records.parse(broker, Task, entry.value, where=where)
        if task is None:
            continue
        task.revision = entry.revision or 0
        if (status is None or task.status == status) and (
            assignee is None or task.assignee == assignee
        ):
            tasks.append(task)
    return sorted(tasks, key=lambda t: parse_task_id(t.id))


def _status(value: str) -> TaskStatus:
    try:
        return TaskStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in TaskStatus)
        raise InvalidInput(f"invalid status {value!r}: use one of {choices}") from None


async def _check_deps(broker: Broker, tid: str | None, depends_on: list[str]) -> list[str]:
    """Every dependency must exist, and following dependencies must never lead back to `tid`.
    Reads only the tasks reachable from the new dependencies, not the whole board."""
    normalized = sorted({task_id(parse_task_id(dep)) for dep in depends_on}, key=parse_task_id)
    if tid and tid in normalized:
        raise DependencyCycle(f"{tid} cannot depend on itself")
    seen: dict[str, Task] = {}
    missing = []
    for dep in normalized:
        try:
            seen[dep] = await get(broker, dep)
        except TaskNotFound:
            missing.append(dep)
    if missing:
        raise TaskNotFound(f"unknown dependency {', '.join(missing)}; create those tasks first")
    if tid:
        stack = [d for t in seen.values() for d in t.depends_on]
        while stack:
            current = stack.pop()
            if current == tid:
                raise DependencyCycle(
                    f"dependency cycle: {tid} -> {' / '.join(normalized)} leads back to {tid}"
                )
            if current in seen:
                continue
            try:
                seen[current] = await get(broker, current)
            except TaskNotFound:
                continue
            stack.extend(seen[current].depends_on)
    return normalized


async def _unfinished_deps(broker: Broker, task: Task) -> list[str]:
    blocking = []
    for dep in task.depends_on:
        try:
            if (await get(broker, dep)).status != TaskStatus.done:
                blocking.append(dep)
        except TaskNotFound:
            blocking.append(dep)
    return blocking


async def create(
    broker: Broker,
    creator: AgentId,
    title: str,
    *,
    description: str = "",
    assignee: str | None = None,
    priority: int = 0,
    depends_on: list[str] | None = None,
    labels: list[str] | None = None,
) -> Task:
    """Create a task; with an assignee it is dispatched (claimed for them) and they are told."""
    title = (title or "").strip()
    if not title:
        raise InvalidInput("task title is empty: give it a short imperative title")
    if len(title) > MAX_TITLE or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"task title max {MAX_TITLE} characters, description max {MAX_DESCRIPTION}"
        )
    if not -100 <= priority <= 100:
        raise InvalidInput("priority must be between -100 and 100 (higher is more urgent)")
    deps = await _check_deps(broker, None, depends_on or [])
    owner = await agents.resolve(broker, assignee) if assignee else None
    while True:
        number = await _next_number(broker)
        if number >= MAX_NUMBER:
            raise InvalidInput("the task board is full (a billion tasks); start a new team")
        try:
            return await _create(
                broker, creator, number, title, description, owner, priority, deps, labels
            )
        except CasConflict:
            continue  # that id is taken (the counter was reset): take the next one


async def _create(
    broker: Broker,
    creator: AgentId,
    number: int,
    title: str,
    description: str,
    owner: AgentId | None,
    priority: int,
    deps: list[str],
    labels: list[str] | None,
) -> Task:
    task = Task(
        id=task_id(number),
        title=title,
        description=description,
        created_by=str(creator),
        assignee=str(owner) if owner else None,
        status=TaskStatus.claimed if owner else TaskStatus.open,
        priority=priority,
        depends_on=deps,
        labels=sorted(set(labels or [])),
    )
    task.revision = await kv_write(
        broker, broker.names.tasks_bucket, _key(task.id), task.model_dump_json().encode(), last=0
    )
    await events.emit(broker, "task_created", agent=str(creator), task=task.id, title=title)
    if owner and owner != creator:
        await _notify(
            broker,
            creator,
            owner,
            task,
            f"Task {task.id} was dispatched to you: {task.title}\n{task.description}".strip()
            + f"\n(update_task('{task.id}', status='in_progress') when you start)",
        )
    return task


async def _mutate(
    broker: Broker, tid: str, change: Callable[[Task], Awaitable[Task] | Task]
) -> tuple[Task, Task]:
    """Read, apply `change`, CAS-write; on a lost race re-read and re-apply. `change` raises
    to refuse. Returns (before, after)."""
    while True:
        before = await get(broker, tid)
        after = before.model_copy(deep=True)
        result = change(after)
        after = await result if isinstance(result, Awaitable) else result
        after.updated_at = utcnow()
        try:
            after.revision = await kv_write(
                broker,
                broker.names.tasks_bucket,
                _key(tid),
                after.model_dump_json().encode(),
                last=before.revision,
            )
        except CasConflict:
            continue
        return before, after


async def claim(broker: Broker, agent: AgentId, tid: str) -> Task:
    """Atomically take an open task. Exactly one of any number of racing claimers wins."""

    async def take(task: Task) -> Task:
        if task.status != TaskStatus.open:
            holder = f" by {task.assignee}" if task.assignee else ""
            raise TaskConflict(f"{task.id} is already {task.status.value}{holder}; pick another")
        blocking = await _unfinished_deps(broker, task)
        if blocking:
            raise TaskConflict(
                f"{task.id} cannot start: waiting on {', '.join(blocking)} (not done yet)"
            )
        task.status = TaskStatus.claimed
        task.assignee = str(agent)
        return task

    _, task = await _mutate(broker, tid, take)
    await events.emit(broker, "task_claimed", agent=str(agent), task=task.id)
    return task


async def update(
    broker: Broker,
    agent: AgentId,
    tid: str,
    *,
    status: str | None = None,
    note: str | None = None,
    depends_on: list[str] | None = None,
    assignee: str | None = None,
) -> Task:
    """Change status (valid transitions only), add a log note, replace dependencies."""
    new_status = _status(status) if status else None
    deps = (
        await _check_deps(broker, task_id(parse_task_id(tid)), depends_on)
        if depends_on is not None
        else None
    )
    owner = await agents.resolve(broker, assignee) if assignee else None
    if note is not None and len(note) > MAX_DESCRIPTION:
        raise InvalidInput(f"note is too long (max {MAX_DESCRIPTION} characters)")

    async def apply(task: Task) -> Task:
        if deps is not None:
            task.depends_on = deps
        if owner is not None:
            task.assignee = str(owner)
        if new_status and new_status != task.status:
            if new_status not in TRANSITIONS[task.status]:
                allowed = ", ".join(s.value for s in sorted(TRANSITIONS[task.status]))
                raise InvalidTransition(
                    f"{task.id} is {task.status.value}; it can move to: {allowed}"
                )
            if new_status in STARTED:
                blocking = await _unfinished_deps(broker, task)
                if blocking:
                    raise TaskConflict(f"{task.id} cannot start: waiting on {', '.join(blocking)}")
                task.assignee = task.assignee or str(agent)
            if new_status == TaskStatus.open:
                task.assignee = None
            task.status = new_status
        if note:
            task.log.append(TaskNote(by=str(agent), text=note))
        return task

    before, task = await _mutate(broker, tid, apply)
    if task.status != before.status:
        await events.emit(
            broker,
            "task_status",
            agent=str(agent),
            task=task.id,
            status=task.status.value,
            previous=before.status.value,
        )
        creator = AgentId.parse(task.created_by)
        if task.status in (TaskStatus.done, TaskStatus.failed) and creator != agent:
            await _notify(
                broker,
                agent,
                creator,
                task,
                f"Task {task.id} is {task.status.value} ({agent}): {task.title}"
                + (f"\nnote: {note}" if note else ""),
            )
    if owner is not None and owner != agent and before.assignee != task.assignee:
        await _notify(
            broker, agent, owner, task, f"Task {task.id} was assigned to you: {task.title}"
        )
    return task


async def release_agent(
    broker: Broker, agent: AgentId, reason: str = "agent went away"
) -> list[str]:
    """Put every task the agent holds (claimed or in progress) back to open."""
    released = []
    for task in await list_tasks(broker, assignee=str(agent), fresh=True):
        if task.status not in STARTED:
            continue

        def reopen(t: Task) -> Task:
            if t.assignee == str(agent) and t.status in STARTED:
                t.status = TaskStatus.open
                t.assignee = None
                t.log.append(TaskNote(by="studio", text=f"returned to open: {reason}"))
            return t

        _, after = await _mutate(broker, task.id, reopen)
        if after.status == TaskStatus.open:
            released.append(task.id)
            await events.emit(
                broker, "task_released", agent=str(agent), task=task.id, reason=reason
            )
    return released


async def _notify(broker: Broker, sender: AgentId, to: AgentId, task: Task, body: str) -> None:
    """Tell someone about a task through their inbox. The board write already happened, so a
    failure here is an event, never a rolled-back task."""
    try:
        await messages.send(
            broker,
            sender,
            str(to),
            body,
            subject=f"task {task.id}",
            thread_id=f"task-{task.id}",
            importance=Importance.high,
        )
    except Exception as exc:
        await events.emit(broker, "notify_failed", agent=str(to), task=task.id, error=str(exc))


def is_finished(task: Task) -> bool:
    return task.status in FINISHED
