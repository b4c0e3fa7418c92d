"""What the daemon knows about each local agent, and the node-wide context its loops share."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import libtmux

from broker.connection import Broker
from broker.models import AgentKind, AgentState
from broker.names import AgentId
from broker.settings import Settings
from node_agent.awareness import GitState

# Hook-reported state is trusted for this long before screen heuristics may override it
# (a CLI killed mid-turn never sends its Stop hook).
HOOK_STATE_TRUST_S = 120.0


@dataclass
class LocalAgent:
    id: AgentId
    kind: AgentKind
    pane_id: str
    window_id: str
    cwd: str
    role: str = ""
    state: AgentState = AgentState.starting
    state_source: str = "spawn"
    state_at: float = field(default_factory=time.monotonic)
    # Message ids already mentioned in hook context: each is announced once, never nagged.
    announced: set[str] = field(default_factory=set)
    last_wake: float = 0.0
    wake_retry: asyncio.Task | None = None
    git: GitState = field(default_factory=GitState)
    stopping: bool = False

    def set_state(self, state: AgentState, source: str) -> bool:
        changed = state != self.state
        self.state, self.state_source, self.state_at = state, source, time.monotonic()
        return changed

    @property
    def hook_state_fresh(self) -> bool:
        return self.state_source == "hook" and time.monotonic() - self.state_at < HOOK_STATE_TRUST_S


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

    @property
    def session_name(self) -> str:
        return f"studio-{self.settings.team}"

    @property
    def me(self) -> AgentId:
        """The daemon's own sender id for notices (a node may only send as its own agents)."""
        return AgentId(self.settings.node, "studio")
