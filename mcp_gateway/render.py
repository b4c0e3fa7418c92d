"""Records as short text a model reads well: one line per item, ids it can pass back to tools,
times in UTC, and nothing a later tool call would not need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from broker.models import AgentInfo, Event, Lease, Message, Note, Task, TaskStatus

T = TypeVar("T")

# A tool result must fit a model's context at any team size (a few KB): lists show this
# many, with totals and filters for the rest.
MAX_LIST = 20
# Fields a listing leaves out: internal (tmux target, TTL) or long (a description, a log);
# the one-record tools (get_task, whoami) show them.
BRIEF_EXCLUDE = {"tmux_target", "ttl_s", "cwd", "description", "log"}


def clock(at: datetime) -> str:
    return f"{at:%H:%M:%S}Z"


def message(m: Message, *, redelivered: bool = False) -> str:
    tags = [m.importance.value] if m.importance.value != "normal" else []
    if m.broadcast:
        tags.append("broadcast")
    if redelivered:
        tags.append("redelivered")
    head = f"From {m.sender} at {clock(m.created_at)}"
    if tags:
        head += f" [{', '.join(tags)}]"
    if m.subject:
        head += f" — {m.subject}"
    ids = f"(id {m.id}"
    if m.thread_id and m.thread_id != m.id:
        ids += f", thread {m.thread_id}"
    return f"{head} {ids})\n{m.body}"


def messages_block(items: list[str]) -> str:
    return "\n\n".join(items)


def task_line(t: Task) -> str:
    parts = [f"{t.id} [{t.status.value}] {t.title}"]
    if t.assignee:
        parts.append(f"@{t.assignee}")
    if t.priority:
        parts.append(f"prio {t.priority}")
    if t.depends_on:
        parts.append(f"after {', '.join(t.depends_on)}")
    return " · ".join(parts)


def task_detail(t: Task) -> str:
    lines = [
        task_line(t),
        f"created by {t.created_by} at {clock(t.created_at)}, updated {clock(t.updated_at)}",
    ]
    if t.labels:
        lines.append(f"labels: {', '.join(t.labels)}")
    if t.description:
        lines.append(t.description)
    for note in t.log[-20:]:
        lines.append(f"  {clock(note.at)} {note.by}: {note.text}")
    return "\n".join(lines)


def next_step(t: Task) -> str:
    """What the holder of a task should do next, as the tool call to make."""
    if t.status == TaskStatus.claimed:
        return f"next: update_task('{t.id}', status='in_progress') when you start"
    if t.status == TaskStatus.in_progress:
        return f"next: update_task('{t.id}', status='done', note='what changed') when finished"
    if t.status == TaskStatus.open:
        return f"anyone can take it with claim_task('{t.id}')"
    return ""


def agent_line(a: AgentInfo) -> str:
    parts = [f"{a.id} {a.state.value}", a.kind.value]
    if a.role:
        parts.append(f"role {a.role}")
    if a.task:
        parts.append(f"on {a.task}")
    if a.branch:
        changed = f", {len(a.changed_files)} changed" if a.changed_files else ""
        parts.append(f"branch {a.branch}{changed}")
    line = " · ".join(parts)
    return f"{line} — {a.summary}" if a.summary else line


def lease_line(lease: Lease) -> str:
    holders = "; ".join(
        f"{h.agent} {'exclusive' if h.exclusive else 'shared'} until {clock(h.expires_at)}"
        + (f" ({h.reason})" if h.reason else "")
        for h in lease.holders
    )
    return f"{lease.path}: {holders}"


def note_line(n: Note) -> str:
    return f"{clock(n.created_at)} {n.sender}: {n.text}"


def event_line(e: Event) -> str:
    who = f" {e.agent}" if e.agent else ""
    task = f" {e.task}" if e.task else ""
    data = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", []))
    return f"{clock(e.created_at)} {e.kind}{who}{task}" + (f" ({data})" if data else "")


def dumped(records: Sequence[BaseModel], limit: int = MAX_LIST) -> list[dict[str, Any]]:
    """The first `limit` records as JSON data, brief: what `bullet` shows, for structured
    content."""
    return [r.model_dump(mode="json", exclude=BRIEF_EXCLUDE) for r in records[:limit]]


def per_node(found: Sequence[AgentInfo]) -> dict[str, dict[str, int]]:
    """Agents counted by node and state: the team at a glance when it is too big to list."""
    counts: dict[str, dict[str, int]] = {}
    for (node, state), n in Counter((a.node, a.state) for a in found).items():
        counts.setdefault(node, {})[str(state)] = n
    return counts


def per_node_line(counts: dict[str, dict[str, int]], limit: int = MAX_LIST) -> str:
    nodes = sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))
    parts = [
        f"{node} {sum(states.values())} ("
        + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        + ")"
        for node, states in nodes[:limit]
    ]
    more = f"; … and {len(nodes) - limit} more nodes" if len(nodes) > limit else ""
    return "By node: " + "; ".join(parts) + more


def bullet(items: Sequence[T], line: Callable[[T], str], empty: str, limit: int = MAX_LIST) -> str:
    """The first `limit` items, a line each (only those are rendered: a team of a thousand
    costs a listing twenty lines, not a thousand), and how many more there are."""
    if not items:
        return empty
    shown = [f"- {line(item)}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"- … and {len(items) - limit} more")
    return "\n".join(shown)
