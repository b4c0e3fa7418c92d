"""The team as the dashboard shows it: an in-memory copy of the buckets and the recent stream
records, with the views pages render and the patches they receive.

Pure data, no I/O: feed.py feeds it from the broker, app.py serialises it. Each `apply_*`
returns the patches to push (none when nothing a page shows changed: a heartbeat that only
moves `last_heartbeat` costs no browser any work).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from broker.models import (
    AgentInfo,
    AgentRecord,
    AgentState,
    Event,
    Lease,
    Message,
    MessageFlow,
    Note,
    Task,
    utcnow,
)
from node_agent.awareness import find_overlaps

Patch = dict[str, Any]
MAX_EVENTS = 500
MAX_NOTES = 200
MAX_MESSAGES = 1000
MAX_DESCRIPTION = 500
MAX_BODY = 2000


class TeamState:
    """Everything one dashboard process knows; one instance per process, shared by pages."""

    def __init__(self, *, team: str, node: str, me: str, window_s: float) -> None:
        self.team, self.node, self.me, self.window_s = team, node, me, window_s
        self.started = utcnow()
        self.records: dict[str, AgentRecord] = {}
        self.presence: dict[str, AgentInfo] = {}
        # When each agent entered its current state, as observed here; `exact` is False when
        # the state was already current at the dashboard's start (then: "at least since").
        self.since: dict[str, tuple[str, datetime, bool]] = {}
        self.unread: dict[str, int | None] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.notes: deque[dict[str, Any]] = deque(maxlen=MAX_NOTES)
        self.messages: deque[dict[str, Any]] = deque(maxlen=MAX_MESSAGES)
        self.hidden_inboxes: set[str] = set()
        # Why an agent without presence is offline, when this process saw it go.
        self.offline_reason: dict[str, str] = {}
        self.overlaps: list[dict[str, Any]] = []
        self.loaded = False

    # ------------------------------------------------------------------ agents

    def agent_ids(self) -> list[str]:
        return sorted(set(self.records) | set(self.presence))

    def agent_view(self, agent_id: str) -> dict[str, Any] | None:
        record, info = self.records.get(agent_id), self.presence.get(agent_id)
        if record is None and info is None:
            return None
        node, name = agent_id.split(".", 1)
        state = info.state.value if info else AgentState.offline.value
        _, since, exact = self.since.get(agent_id, (state, self.started, False))
        return {
            "id": agent_id,
            "node": node,
            "name": name,
            "state": state,
            "state_detail": info.state_detail if info else self.offline_reason.get(agent_id, ""),
            "kind": (info.kind if info else record.kind).value,  # type: ignore[union-attr]
            "role": info.role if info and info.role else (record.role if record else ""),
            "summary": info.summary if info else "",
            "task": info.task if info else None,
            "cwd": info.cwd if info else "",
            "repo": info.repo if info else "",
            "branch": info.branch if info else "",
            "changed_files": info.changed_files if info else [],
            "tmux_target": info.tmux_target if info else "",
            "unread": self.unread.get(agent_id),
            "state_since": since.isoformat(),
            "state_since_exact": exact,
        }

    def _agent_patches(self, agent_id: str, before: dict[str, Any] | None) -> list[Patch]:
        after = self.agent_view(agent_id)
        if after == before:
            return []
        patches: list[Patch] = [{"t": "agent", "id": agent_id, "v": after}]
        return patches + self._overlap_patches()

    def apply_record(self, agent_id: str, record: AgentRecord | None) -> list[Patch]:
        before = self.agent_view(agent_id)
        if record is None:
            self.records.pop(agent_id, None)
        else:
            self.records[agent_id] = record
        return self._agent_patches(agent_id, before)

    def apply_presence(
        self, agent_id: str, info: AgentInfo | None, reason: str = ""
    ) -> list[Patch]:
        before = self.agent_view(agent_id)
        if info is None:
            self.presence.pop(agent_id, None)
            self.offline_reason[agent_id] = reason
        else:
            self.presence[agent_id] = info
            self.offline_reason.pop(agent_id, None)
        self._track_state(agent_id)
        return self._agent_patches(agent_id, before)

    def apply_unread(self, agent_id: str, count: int | None) -> list[Patch]:
        before = self.agent_view(agent_id)
        self.unread[agent_id] = count
        return self._agent_patches(agent_id, before) if before is not None else []

    def _track_state(self, agent_id: str) -> None:
        info = self.presence.get(agent_id)
        state = info.state.value if info else AgentState.offline.value
        previous = self.since.get(agent_id)
        if previous is None:
            # Known from the first load: its state began before we looked.
            self.since[agent_id] = (state, utcnow() if self.loaded else self.started, self.loaded)
        elif previous[0] != state:
            self.since[agent_id] = (state, utcnow(), True)

    def _overlap_patches(self) -> list[Patch]:
        live = [i for i in self.presence.values() if i.state != AgentState.offline]
        found = [
            {"repo": o.repo, "path": o.path, "agents": list(o.agents)} for o in find_overlaps(live)
        ]
        if found == self.overlaps:
            return []
        self.overlaps = found
        return [{"t": "overlaps", "v": found}]

    # ------------------------------------------------------------------ board and leases

    def apply_task(self, key: str, task: Task | None) -> list[Patch]:
        tid = task.id if task else _task_id_of(key)
        if tid is None:
            return []
        if task is None:
            return [{"t": "task", "id": tid, "v": None}] if self.tasks.pop(tid, None) else []
        view = task_view(task)
        if self.tasks.get(tid) == view:
            return []
        self.tasks[tid] = view
        return [{"t": "task", "id": tid, "v": view}]

    def apply_lease(self, key: str, lease: Lease | None) -> list[Patch]:
        if lease is None:
            return [{"t": "lease", "id": key, "v": None}] if self.leases.pop(key, None) else []
        view = {**lease.model_dump(mode="json"), "key": key}
        self.leases[key] = view
        return [{"t": "lease", "id": key, "v": view}]

    # ------------------------------------------------------------------ feeds

    def apply_event(self, event: Event) -> list[Patch]:
        view = event.model_dump(mode="json")
        self.events.append(view)
        return [{"t": "event", "v": view}]

    def apply_note(self, note: Note) -> list[Patch]:
        view = note.model_dump(mode="json")
        self.notes.append(view)
        return [{"t": "note", "v": view}]

    def apply_message(self, message: Message) -> list[Patch]:
        body = message.body if len(message.body) <= MAX_BODY else message.body[:MAX_BODY] + "…"
        view = {
            "id": message.id,
            "from": message.sender,
            "to": message.to,
            "subject": message.subject,
            "body": body,
            "readable": True,
            "importance": message.importance.value,
            "broadcast": message.broadcast,
            "created_at": message.created_at.isoformat(),
        }
        return self._add_message(view)

    def apply_message_meta(self, notice: MessageFlow) -> list[Patch]:
        """A flow notice (broker.messages.read_flow checked its sender): metadata only, the
        body stays in the recipient's inbox."""
        view = {
            "id": notice.id,
            "from": notice.sender,
            "to": notice.to if notice.to != "*" else f"everyone ({notice.recipients})",
            "subject": "",
            "body": None,
            "readable": False,
            "importance": notice.importance.value,
            "broadcast": notice.to == "*",
            "created_at": notice.at.isoformat(),
        }
        return self._add_message(view)

    def _add_message(self, view: dict[str, Any]) -> list[Patch]:
        for known in self.messages:
            if known["id"] == view["id"]:
                if known["readable"] or not view["readable"]:
                    return []
                known.update(view)  # metadata first, then the body: keep the body
                return [{"t": "msg", "v": view}]
        self.messages.append(view)
        return [{"t": "msg", "v": view}]

    def hide_inbox(self, node: str) -> list[Patch]:
        if node in self.hidden_inboxes:
            return []
        self.hidden_inboxes.add(node)
        return [{"t": "hidden_inboxes", "v": sorted(self.hidden_inboxes)}]

    # ------------------------------------------------------------------ whole state

    def snapshot(self) -> dict[str, Any]:
        """What a page needs to draw everything; patches keep it current afterwards."""
        return {
            "team": self.team,
            "node": self.node,
            "me": self.me,
            "window_s": self.window_s,
            "agents": [v for a in self.agent_ids() if (v := self.agent_view(a)) is not None],
            "tasks": sorted(self.tasks.values(), key=lambda t: _number(t["id"])),
            "leases": sorted(self.leases.values(), key=lambda lease: lease["path"]),
            "overlaps": self.overlaps,
            "events": list(self.events)[-200:],
            "notes": list(self.notes),
            "messages": list(self.messages),
            "hidden_inboxes": sorted(self.hidden_inboxes),
        }

    def agent_events(self, agent_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Recent events about one agent (it acted, or it is named in the event's data)."""
        found = [
            e
            for e in self.events
            if e.get("agent") == agent_id or agent_id in map(str, e.get("data", {}).values())
        ]
        return found[-limit:]


def task_view(task: Task) -> dict[str, Any]:
    description = task.description
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION] + "…"
    return {
        "id": task.id,
        "title": task.title,
        "description": description,
        "status": task.status.value,
        "assignee": task.assignee,
        "created_by": task.created_by,
        "priority": task.priority,
        "depends_on": task.depends_on,
        "labels": task.labels,
        "log": len(task.log),
        "last_note": task.log[-1].text[:200] if task.log else "",
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
    }


def _task_id_of(key: str) -> str | None:
    tail = key.removeprefix("task.")
    return f"T-{tail}" if tail.isascii() and tail.isdigit() else None


def _number(tid: str) -> int:
    tail = tid.removeprefix("T-")
    return int(tail) if tail.isdigit() else 0
