"""The studio's records as they are stored on the broker and returned to callers."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, RootModel

from broker.ids import new_ulid


def utcnow() -> datetime:
    return datetime.now(UTC)


class Importance(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Message(BaseModel):
    id: str = Field(default_factory=new_ulid)
    sender: str
    to: str
    subject: str = ""
    body: str
    thread_id: str | None = None
    reply_to: str | None = None
    importance: Importance = Importance.normal
    broadcast: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class TaskStatus(StrEnum):
    open = "open"
    claimed = "claimed"
    in_progress = "in_progress"
    blocked = "blocked"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({TaskStatus.done, TaskStatus.failed, TaskStatus.cancelled})

# Which statuses a task may move to from each status. Finished tasks may be reopened.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.open: frozenset({TaskStatus.claimed, TaskStatus.blocked, TaskStatus.cancelled}),
    TaskStatus.claimed: frozenset(
        {
            TaskStatus.in_progress,
            TaskStatus.open,
            TaskStatus.blocked,
            TaskStatus.done,
            TaskStatus.failed,
            TaskStatus.cancelled,
        }
    ),
    TaskStatus.in_progress: frozenset(
        {
            TaskStatus.done,
            TaskStatus.failed,
            TaskStatus.blocked,
            TaskStatus.open,
            TaskStatus.cancelled,
        }
    ),
    TaskStatus.blocked: frozenset(
        {TaskStatus.open, TaskStatus.in_progress, TaskStatus.cancelled, TaskStatus.failed}
    ),
    TaskStatus.done: frozenset({TaskStatus.open}),
    TaskStatus.failed: frozenset({TaskStatus.open}),
    TaskStatus.cancelled: frozenset({TaskStatus.open}),
}


class TaskNote(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    by: str
    text: str


class Task(BaseModel):
    id: str
    title: str
    description: str = ""
    created_by: str
    assignee: str | None = None
    status: TaskStatus = TaskStatus.open
    priority: int = 0
    depends_on: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    log: list[TaskNote] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    revision: int = Field(default=0, exclude=True)


class AgentState(StrEnum):
    starting = "starting"
    idle = "idle"
    busy = "busy"
    waiting_input = "waiting_input"
    offline = "offline"


class AgentKind(StrEnum):
    claude = "claude"
    codex = "codex"
    opencode = "opencode"
    shell = "shell"
    other = "other"


class AgentRecord(BaseModel):
    """A registered agent: its address exists whether or not it is running."""

    id: str
    kind: AgentKind = AgentKind.other
    role: str = ""
    registered_at: datetime = Field(default_factory=utcnow)


class AgentInfo(BaseModel):
    """Presence and awareness, refreshed by heartbeats; gone when they stop."""

    id: str
    node: str
    state: AgentState = AgentState.starting
    # Why it is in that state when that is not self-evident (a failed turn, a backoff).
    state_detail: str = ""
    kind: AgentKind = AgentKind.other
    role: str = ""
    summary: str = ""
    cwd: str = ""
    repo: str = ""
    branch: str = ""
    changed_files: list[str] = Field(default_factory=list)
    tmux_target: str = ""
    task: str | None = None
    last_heartbeat: datetime = Field(default_factory=utcnow)
    # How long this record holds without the next heartbeat (its per-message TTL).
    ttl_s: float = 15.0
    # A node's daemon manages the agent: it is live only while that node's key is
    # (broker.presence).
    managed: bool = False


class MessageFlow(BaseModel):
    """That a message went from one agent to another (never its body): what a team view
    shows of mail it may not read."""

    id: str
    sender: str
    to: str
    importance: Importance = Importance.normal
    recipients: int = 1  # a broadcast: one notice for all its copies
    at: datetime = Field(default_factory=utcnow)


# One publish of flow notices: a node's sends of the last moment (broker.messages._flow).
FlowBatch = RootModel[list[MessageFlow]]


class NodeBeat(BaseModel):
    """A node daemon's liveness, renewed every heartbeat under `<node>._node`."""

    node: str
    ttl_s: float


class LeaseHolder(BaseModel):
    agent: str
    exclusive: bool
    reason: str = ""
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class Lease(BaseModel):
    """All current holders of one path (shared leases have several)."""

    path: str
    holders: list[LeaseHolder] = Field(default_factory=list)


class LeaseConflictInfo(BaseModel):
    path: str
    holder: str
    exclusive: bool
    reason: str
    expires_at: datetime


class Note(BaseModel):
    id: str = Field(default_factory=new_ulid)
    sender: str
    text: str
    created_at: datetime = Field(default_factory=utcnow)


class Event(BaseModel):
    id: str = Field(default_factory=new_ulid)
    kind: str
    # The node that emitted it, from the subject the broker checked (set when read).
    node: str = ""
    agent: str | None = None
    task: str | None = None
    data: dict = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
