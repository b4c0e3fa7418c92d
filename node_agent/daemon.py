"""`studio node run`: the per-machine daemon, as a handful of concurrent loops over one `Node`.

- monitor: one tmux query per tick; dead panes are buried, screen state read where no hook
  speaks, idle agents with mail woken;
- mail: a plain subscription to this node's inbox subjects, so a wake starts the moment a
  message is stored (nothing is consumed: the durable cursors are the agents' own);
- heartbeat: presence for every agent;
- awareness: git state per agent, and overlap notices;
- the control service and the hook socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from nats.aio.msg import Msg

from broker import events, messages, presence, tasks
from broker.connection import checked_subscribe, connect
from broker.models import AgentKind, AgentState
from broker.names import AgentId
from broker.provision import ensure_team
from broker.settings import Settings
from node_agent import awareness, clis, control_service, hooks, lifecycle, screen, tmux, wake
from node_agent.state import LocalAgent, Node, Source

log = structlog.get_logger(__name__)

MONITOR_S = 0.25
# How long the screen must show an idle input line before a hook-reported turn is taken as
# ended without its end signal.
QUIET_S = 5.0
MAIL_SWEEP_S = 5.0


async def run(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """The daemon. Its process must have `studio` on its PATH (see studio_cli.node_cmd): the
    tmux server it starts passes that PATH on to the agent windows."""
    broker = await connect(settings, name=f"studio-node-{settings.node}")
    await ensure_team(broker)
    node = Node(settings, broker, tmux.server(settings.tmux_socket))
    await asyncio.to_thread(tmux.ensure_session, node.tmux, node.session_name, str(settings.home))
    await presence.node_alive(broker)  # before any agent's record: they hang on this key
    for pane in await asyncio.to_thread(tmux.list_agent_panes, node.tmux, node.session_name):
        if not pane.dead:
            await lifecycle.adopt(node, pane)
    await control_service.serve(node)

    async def on_mail(msg: Msg) -> None:
        await _on_mail(node, msg)

    await checked_subscribe(broker, broker.names.node_inbox_subjects(settings.node), cb=on_mail)
    hook_server = await hooks.serve(node)
    await events.emit(broker, "node_started", agent=None, node=settings.node)
    log.info("node_daemon_ready", node=settings.node, team=settings.team, agents=len(node.agents))
    if ready is not None:
        ready.set()
    loops = [monitor_loop(node), heartbeat_loop(node), awareness_loop(node), mail_sweep(node)]
    try:
        await asyncio.gather(*loops)
    finally:
        hook_server.close()
        for task in list(node.background):
            task.cancel()
        with contextlib.suppress(Exception):
            await presence.node_gone(broker)  # its agents offline now, not after the TTL
        with contextlib.suppress(Exception):
            await broker.close()


async def _on_mail(node: Node, msg: Msg) -> None:
    tokens = msg.subject.split(".")
    agent = node.agents.get(f"{tokens[3]}.{tokens[4]}") if len(tokens) >= 5 else None
    if agent is None or agent.state != AgentState.idle:
        return
    # Sender from the subject (never the body), or None for a record that is not a message.
    arrived = messages.read_message(node.broker, msg)
    node.spawn(wake.wake_quietly(node, agent, arrived))


async def monitor_loop(node: Node) -> None:
    while True:
        try:
            await monitor_once(node)
        except Exception as exc:
            log.warning("monitor_failed", error=str(exc))
        await asyncio.sleep(MONITOR_S)


async def monitor_once(node: Node) -> None:
    panes = {
        p.agent_id: p
        for p in await asyncio.to_thread(tmux.list_agent_panes, node.tmux, node.session_name)
    }
    watched = []
    for agent_id, agent in list(node.agents.items()):
        pane = panes.get(agent_id)
        if pane is None or pane.dead:
            await lifecycle.bury(node, agent, reason="pane exited" if pane else "window closed")
        elif agent.source != Source.hook or agent.state != AgentState.idle:
            # An agent idle by its own signals needs no look: its next turn starts with a
            # hook, and a wake reads its screen anyway just before typing.
            watched.append((agent, pane))
    screens = await asyncio.to_thread(
        tmux.capture_many,
        node.tmux,
        [a.pane_id for a, _ in watched if a.kind != AgentKind.shell],
    )
    for agent, pane in watched:
        seen: AgentState | None
        if agent.kind == AgentKind.shell:
            seen = screen.shell_state(pane.command)
        else:
            seen = clis.read_screen(agent.kind, screens.get(agent.pane_id, "")).state
        if seen is not None and judge(agent, seen):
            log.info("agent_state", agent=str(agent.id), state=agent.state.value, source="screen")
            if agent.state == AgentState.idle:
                await wake.wake_quietly(node, agent)


def judge(agent: LocalAgent, seen: AgentState) -> bool:
    """Fold what the screen shows into the agent's state; True when that changed it.

    The CLI's own signals (hooks, plugin) win, with two exceptions the screen sees first: a
    permission dialog (its notification comes seconds later, or never), and a turn that ended
    with no end signal (an API error, Esc, a crash), seen as the idle input line for QUIET_S.
    """
    if agent.source != Source.hook or seen == AgentState.waiting_input:
        if seen == agent.state:
            return False
        return agent.set_state(seen, Source.screen)
    if agent.state == AgentState.waiting_input and seen != AgentState.waiting_input:
        return agent.set_state(seen, Source.screen)  # the dialog was answered
    if agent.state == AgentState.busy and seen == AgentState.idle:
        now = time.monotonic()
        agent.quiet_since = agent.quiet_since or now
        if now - agent.quiet_since >= QUIET_S:
            agent.set_state(AgentState.idle, Source.screen)
            agent.wake_failed("its last turn ended without finishing (interrupted or failed)")
            return True
    else:
        agent.quiet_since = None
    return False


async def mail_sweep(node: Node) -> None:
    """Idle agents with unread mail that no arrival woke (e.g. mail that came while the daemon
    was down, or a pointer the CLI missed) are retried here, after the cooldown."""
    while True:
        await asyncio.sleep(MAIL_SWEEP_S)
        for agent in list(node.agents.values()):
            if agent.state == AgentState.idle:
                await wake.wake_quietly(node, agent)


async def heartbeat_loop(node: Node) -> None:
    while True:
        try:
            await presence.node_alive(node.broker)
            live = await presence.live(node.broker)
            for agent in list(node.agents.values()):
                await lifecycle.heartbeat(node, agent, live)
            await release_orphans(node, set(live))
        except Exception as exc:
            log.warning("heartbeat_failed", error=str(exc))
        await asyncio.sleep(node.settings.heartbeat_s)


async def release_orphans(node: Node, alive: set[str]) -> None:
    """A whole node can vanish (crash, cut cable) with no daemon left to bury its agents: their
    presence expires, and after a grace period any live daemon returns their tasks to open.
    Only agents once seen alive count, so a CLI identity that never heartbeats keeps its
    claims. Releasing is a CAS per task, so several daemons doing it at once is harmless."""
    now = time.monotonic()
    node.seen_alive |= alive - set(node.agents)
    for agent_id in node.seen_alive - alive:
        since = node.gone_since.setdefault(agent_id, now)
        if now - since >= node.settings.orphan_grace_s:
            released = await tasks.release_agent(
                node.broker, AgentId.parse(agent_id), reason="its presence expired"
            )
            log.info("orphan_tasks_released", agent=agent_id, tasks=released)
            node.seen_alive.discard(agent_id)
            node.gone_since.pop(agent_id, None)
    for agent_id in alive:
        node.gone_since.pop(agent_id, None)


async def awareness_loop(node: Node) -> None:
    while True:
        try:
            await awareness_once(node)
        except Exception as exc:
            log.warning("awareness_failed", error=str(exc))
        await asyncio.sleep(node.settings.awareness_interval_s)


async def awareness_once(node: Node) -> None:
    changed = False
    for agent in list(node.agents.values()):
        state = await asyncio.to_thread(awareness.read_git_state, agent.cwd)
        if state != agent.git:
            agent.git, changed = state, True
    live = await presence.live(node.broker)
    if changed:
        for agent in list(node.agents.values()):
            live[str(agent.id)] = await lifecycle.heartbeat(node, agent, live)
    for overlap in awareness.find_overlaps(list(live.values())):
        for agent_id in overlap.agents:
            if agent_id not in node.agents:
                continue
            others = [a for a in overlap.agents if a != agent_id]
            key = (agent_id, ",".join(others), overlap.path)
            if key in node.overlaps_told:
                continue
            node.overlaps_told.add(key)
            await messages.send(
                node.broker,
                node.me,
                agent_id,
                f"Heads-up: {', '.join(others)} is also changing {overlap.path} "
                f"in the same repository. Coordinate (send_message) before you both edit it.",
                subject=f"overlap on {overlap.path}",
                importance="high",
            )
            await events.emit(
                node.broker, "overlap", agent=agent_id, path=overlap.path, others=others
            )
