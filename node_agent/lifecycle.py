"""Spawning, adopting, stopping and burying agents: everything that changes which agents this
node runs. Registration happens before the window starts (so the initial prompt can wait in
the inbox), and any failure after it is rolled back, so no half-registered agent remains."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import structlog

from broker import agents, events, leases, messages, presence, tasks
from broker.control import SpawnRequest
from broker.errors import InvalidInput, StudioError
from broker.models import AgentInfo, AgentKind, AgentState
from broker.names import AgentId, is_valid_id, validate_name
from node_agent import launch, tmux, wake
from node_agent.state import LocalAgent, Node, Source

log = structlog.get_logger(__name__)

KIND_TAG, CWD_TAG, ROLE_TAG = "@studio_kind", "@studio_cwd", "@studio_role"
AGENT_CLIS = frozenset({AgentKind.claude, AgentKind.codex, AgentKind.opencode})


def make_worktree(cwd: str, name: str) -> str:
    """`<repo>/.worktrees/<name>` on branch `studio/<name>`; `.worktrees` is excluded locally."""
    root = subprocess.run(
        ["git", "-C", cwd, "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if root.returncode != 0:
        raise InvalidInput(f"worktree=True needs a git repository, and {cwd} is not in one")
    repo = Path(root.stdout.strip())
    target = repo / ".worktrees" / name
    if not target.exists():
        branch = f"studio/{name}"
        exists = (
            subprocess.run(
                ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", branch],
                capture_output=True,
            ).returncode
            == 0
        )
        args = [str(target), branch] if exists else ["-b", branch, str(target)]
        done = subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", *args], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise InvalidInput(f"git worktree add failed: {done.stderr.strip()}")
    exclude = repo / ".git" / "info" / "exclude"
    if exclude.parent.is_dir() and ".worktrees/" not in exclude.read_text(errors="ignore"):
        with exclude.open("a") as out:
            out.write("\n.worktrees/\n")
    return str(target)


async def spawn(node: Node, request: SpawnRequest) -> LocalAgent:
    validate_name(request.name, "agent name")
    agent_id = AgentId(node.settings.node, request.name)
    existing = node.agents.get(str(agent_id))
    if existing:
        raise InvalidInput(f"{agent_id} is already running in {existing.pane_id}; stop it first")
    if request.kind == AgentKind.other and not request.command:
        raise InvalidInput("kind 'other' needs a command to run")
    # Checked here rather than seen as a window that dies at once with "not found".
    if (
        request.kind in AGENT_CLIS
        and not request.command
        and await asyncio.to_thread(shutil.which, request.kind.value) is None
    ):
        raise InvalidInput(
            f"{request.kind.value} is not installed on node {node.settings.node} (not on "
            "its daemon's PATH): install it there, or spawn kind 'shell'"
        )
    cwd = request.cwd or str(Path.home())
    if not await asyncio.to_thread(Path(cwd).is_dir):
        raise InvalidInput(f"cwd {cwd!r} is not a directory on node {node.settings.node}")
    if request.worktree:
        cwd = await asyncio.to_thread(make_worktree, cwd, request.name)
    await agents.register(node.broker, agent_id, kind=request.kind, role=request.role)
    try:
        if request.prompt:
            # Sent as this node (a node may send only as its own agents); who asked is named.
            asker = f" from {request.requested_by}" if is_valid_id(request.requested_by) else ""
            await messages.send(
                node.broker, node.me, str(agent_id), request.prompt, subject=f"your task{asker}"
            )
        launched = launch.prepare(node.settings, agent_id, request, cwd)
        session = await asyncio.to_thread(
            tmux.ensure_session, node.tmux, node.session_name, str(node.settings.home)
        )
        pane = await asyncio.to_thread(
            tmux.spawn_window,
            session,
            str(agent_id),
            request.name,
            launched.command,
            cwd,
            launched.env,
        )
        for tag, value in (
            (KIND_TAG, request.kind.value),
            (CWD_TAG, cwd),
            (ROLE_TAG, request.role),
        ):
            await asyncio.to_thread(
                node.tmux.cmd, "set-option", "-w", "-t", pane.window_id, tag, value or "-"
            )
    except Exception:
        await agents.unregister(node.broker, agent_id)
        raise
    agent = LocalAgent(agent_id, request.kind, pane.pane_id, pane.window_id, cwd, request.role)
    node.agents[str(agent_id)] = agent
    await heartbeat(node, agent)
    await events.emit(node.broker, "agent_spawned", agent=str(agent_id), kind=request.kind.value)
    log.info("agent_spawned", agent=str(agent_id), pane=pane.pane_id, kind=request.kind.value)
    return agent


def _window_option(node: Node, window_id: str, tag: str) -> str:
    result = node.tmux.cmd("show-options", "-w", "-v", "-t", window_id, tag)
    value = result.stdout[0] if result.stdout else ""
    return "" if value == "-" else value


async def adopt(node: Node, pane: tmux.PaneInfo) -> LocalAgent | None:
    """Take over an agent window found on start-up (the daemon was restarted)."""
    try:
        agent_id = AgentId.parse(pane.agent_id)
    except StudioError:
        return None
    if agent_id.node != node.settings.node:
        return None
    kind_text = await asyncio.to_thread(_window_option, node, pane.window_id, KIND_TAG)
    cwd = await asyncio.to_thread(_window_option, node, pane.window_id, CWD_TAG)
    role = await asyncio.to_thread(_window_option, node, pane.window_id, ROLE_TAG)
    kind = AgentKind(kind_text) if kind_text in AgentKind.__members__ else AgentKind.other
    agent = LocalAgent(agent_id, kind, pane.pane_id, pane.window_id, cwd, role)
    agent.set_state(AgentState.starting, Source.adopted)
    agent.mcp_ready = True  # its session was running before this daemon started
    node.agents[str(agent_id)] = agent
    await agents.register(node.broker, agent_id, kind=kind, role=role)
    log.info("agent_adopted", agent=str(agent_id), pane=pane.pane_id)
    return agent


async def bury(node: Node, agent: LocalAgent, reason: str) -> None:
    """The pane is gone: offline now, tasks back to open, leases freed, window removed."""
    node.agents.pop(str(agent.id), None)
    await presence.go_offline(node.broker, agent.id, reason=reason)
    released = await tasks.release_agent(node.broker, agent.id, reason=reason)
    await leases.release(node.broker, agent.id)
    try:
        await asyncio.to_thread(tmux.kill_window, node.tmux, agent.window_id)
    except Exception as exc:
        log.info("window_already_gone", agent=str(agent.id), error=str(exc))
    log.info("agent_gone", agent=str(agent.id), reason=reason, released=released)


async def stop(node: Node, agent: LocalAgent, *, force: bool, timeout_s: float) -> None:
    """Graceful: ask it to wrap up, wait until it is idle again, then close the window."""
    if not force and agent.kind != AgentKind.shell and agent.state != AgentState.offline:
        await messages.send(
            node.broker,
            node.me,
            str(agent.id),
            "Please wrap up now: save your work, update your task, and finish your turn. "
            "This session will be closed when you are idle.",
            subject="stop requested",
            importance="urgent",
        )
        await wake.wake_if_idle(node, agent, force=True)
        agent.stopping = True
        asked_at = time.monotonic()
        while time.monotonic() - asked_at < timeout_s:
            if agent.state == AgentState.idle and agent.state_at > asked_at + 0.3:
                break
            await asyncio.sleep(0.2)
    await bury(node, agent, reason="stopped")


async def heartbeat(
    node: Node, agent: LocalAgent, live: dict[str, AgentInfo] | None = None
) -> AgentInfo:
    """Presence for one agent, written when it changed since the last write or a third of its
    TTL has gone (its liveness between writes is the node's key: see broker.presence).
    Summary and task are the agent's own (set through the gateway), so they are carried over
    from the current record (from `live` when the caller has read the bucket anyway, else by a
    single-key read)."""
    current = (
        live.get(str(agent.id)) if live is not None else await presence.get(node.broker, agent.id)
    )
    info = AgentInfo(
        id=str(agent.id),
        node=node.settings.node,
        state=agent.state,
        state_detail=agent.detail,
        kind=agent.kind,
        role=agent.role or (current.role if current else ""),
        summary=current.summary if current else "",
        task=current.task if current else None,
        cwd=agent.cwd,
        repo=agent.git.repo,
        branch=agent.git.branch,
        changed_files=agent.git.changed_files,
        tmux_target=f"{node.session_name}:{agent.pane_id}",
        managed=True,
    )
    content = info.model_dump_json(exclude={"last_heartbeat"})
    now = time.monotonic()
    last = agent.published
    fresh = last is not None and now - last[1] < presence.RECORD_TTL_S / 3
    if last is not None and last[0] == content and fresh and current is not None:
        return current
    await presence.heartbeat(node.broker, info)
    agent.published = (content, now)
    return info
