"""What the daemon knows about each local agent, and the node-wide context its loops share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import libtmux

from broker.connection import Broker
from broker.models import AgentKind, AgentState
from broker.names import AgentId
from broker.settings import Settings
from node_agent.awareness import GitState

# Backoff after a wake that did not lead to a completed turn (the pointer was not taken, or
# the turn ended in an API error): 30 s, doubling, at most 10 minutes.
WAKE_BACKOFF_S = 30.0
WAKE_BACKOFF_MAX_S = 600.0
# Unread mail that was already pointed out is pointed out again only after this long
# (doubling per reminder), so a model that chose to leave it is not nagged in a loop.
REMIND_AFTER_S = 60.0
REMIND_MAX_S = 900.0


class Source(StrEnum):
    """Where the current state came from; a CLI's own signals outrank its screen."""

    spawn = "spawn"
    adopted = "adopted"
    hook = "hook"  # Claude Code / Codex hooks, the OpenCode plugin
    screen = "screen"


@dataclass
class LocalAgent:
    id: AgentId
    kind: AgentKind
    pane_id: str
    window_id: str
    cwd: str
    role: str = ""
    state: AgentState = AgentState.starting
    source: Source = Source.spawn
    state_at: float = field(default_factory=time.monotonic)
    # Why the agent is in its state, when that is not self-evident (shown by `studio status`).
    detail: str = ""
    # The session's studio MCP server has connected: only then is a pointer to
    # check_inbox useful, so agent CLIs are not woken before it.
    mcp_ready: bool = False
    # Message ids already put in front of the model (pointer, hook context, Stop feedback).
    announced: set[str] = field(default_factory=set)
    last_wake: float = 0.0
    wake_retry: asyncio.Task[None] | None = None
    # Consecutive wakes that came to nothing, and when the next one may be tried.
    wake_failures: int = 0
    wake_not_before: float = 0.0
    reminders: int = 0
    remind_at: float = 0.0
    # When the screen started to disagree with a hook-reported busy state (see monitor).
    quiet_since: float | None = None
    git: GitState = field(default_factory=GitState)
    stopping: bool = False
    # The presence record last written (without its time) and when (see lifecycle.heartbeat).
    published: tuple[str, float] | None = None

    def set_state(self, state: AgentState, source: Source, detail: str = "") -> bool:
        changed = state != self.state or detail != self.detail
        self.state, self.source, self.state_at = state, source, time.monotonic()
        self.detail = detail
        self.quiet_since = None
        return changed

    def wake_failed(self, why: str) -> float:
        """Back off after a wake that came to nothing; returns the delay."""
        delay = min(WAKE_BACKOFF_S * 2**self.wake_failures, WAKE_BACKOFF_MAX_S)
        self.wake_failures += 1
        self.wake_not_before = time.monotonic() + delay
        self.detail = f"{why}; next wake in {delay:.0f}s"
        return delay

    def turn_completed(self) -> None:
        """A turn ran to its end: the CLI answers, so wakes are no longer held back."""
        self.wake_failures, self.wake_not_before = 0, 0.0

    def reminded(self) -> None:
        delay = min(REMIND_AFTER_S * 2**self.reminders, REMIND_MAX_S)
        self.reminders += 1
        self.remind_at = time.monotonic() + delay

    def inbox_read(self) -> None:
        self.reminders, self.remind_at = 0, 0.0


@dataclass
class Node:
    settings: Settings
    broker: Broker
    tmux: libtmux.Server
    agents: dict[str, LocalAgent] = field(default_factory=dict)
    # (agent, other agent, path) overlaps already reported.
    overlaps_told: set[tuple[str, str, str]] = field(default_factory=set)
    # Agents of other nodes seen alive, and since when each has been gone (see orphans).
    seen_alive: set[str] = field(default_factory=set)
    gone_since: dict[str, float] = field(default_factory=dict)
    # Work started in the background (wakes, control answers): kept, so none is collected
    # mid-flight, and cancelled when the daemon stops.
    background: set[asyncio.Task] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    @property
    def session_name(self) -> str:
        return f"studio-{self.settings.team}"

    @property
    def me(self) -> AgentId:
        """The daemon's own sender id for notices (a node may only send as its own agents)."""
        return AgentId(self.settings.node, "studio")
