"""Getting mail to an agent's attention without ever interrupting it.

A pointer is typed only when every one of these holds:
- the agent is idle by its own signals (hooks, plugin) or, for a CLI without them, its screen;
- for an agent CLI, its studio MCP server has connected (else check_inbox does not exist yet);
- its input line is empty on screen, read from the CLI's own chrome just before typing, so a
  person's half-typed prompt is never submitted and a dialog never answered;
- it is not backing off after wakes that came to nothing (an API error, a pointer the CLI
  did not take), and mail it was already pointed to waits for a reminder interval.

The pointer is pasted as one bracketed block, Enter follows after a pause, and the daemon then
checks that a turn did start. Its text holds only fixed words, a count and validated ids.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from broker import messages
from broker.models import AgentKind, AgentState, Message
from broker.names import is_valid_id
from broker.text import terminal_safe
from node_agent import clis, screen, tmux
from node_agent.state import LocalAgent, Node

log = structlog.get_logger(__name__)

VERIFY_S = 5.0
# How soon to look again when a CLI's screen has not caught up with its idle signal, and for
# how long after that signal.
SETTLE_S, SETTLE_WINDOW_S = 0.3, 3.0
AGENT_CLIS = frozenset({AgentKind.claude, AgentKind.codex, AgentKind.opencode})


def pointer_text(kind: AgentKind, unread: list[Message], count: int) -> str:
    """What gets typed. For a shell it is a command that shows the mail."""
    if kind == AgentKind.shell:
        return "studio inbox --new"
    senders = sorted({m.sender for m in unread if is_valid_id(m.sender)})
    who = f" from {', '.join(senders[:3])}" if senders else ""
    plural = "message" if count == 1 else "messages"
    return f"[studio] {count} new {plural}{who} — call check_inbox to read them"


def may_type_into(agent: LocalAgent, now: float, cooldown_s: float) -> bool:
    return (
        agent.state == AgentState.idle
        and not agent.stopping
        and (agent.mcp_ready or agent.kind not in AGENT_CLIS)
        and now - agent.last_wake >= cooldown_s
        and now >= agent.wake_not_before
    )


async def input_view(node: Node, agent: LocalAgent) -> screen.View:
    """Read the pane now: is the CLI showing its input line, empty, with no dialog?"""
    if agent.kind == AgentKind.shell:
        return screen.View(AgentState.idle, True)  # judged by its foreground process
    text = await asyncio.to_thread(tmux.capture_many, node.tmux, [agent.pane_id])
    return clis.read_screen(agent.kind, text.get(agent.pane_id, ""))


def ready_to_type(view: screen.View) -> bool:
    return view.state == AgentState.idle and view.input_empty is True


async def wake_if_idle(
    node: Node, agent: LocalAgent, *, force: bool = False, arrived: Message | None = None
) -> bool:
    """Paste the pointer when the agent is idle and has mail it has not been pointed to (or
    its reminder is due, or `force`: a kick). Returns True when the pointer was typed.
    `arrived`: the message whose arrival prompted this, counted even if the durable cursor
    has not caught up yet."""
    now = time.monotonic()
    cooldown = 0.0 if force else node.settings.wake_cooldown_s
    if force:
        agent.wake_not_before = 0.0  # a person's kick is a deliberate retry: no backoff
    if not may_type_into(agent, now, cooldown):
        if may_type_into(agent, now, 0.0):
            _retry_after_cooldown(node, agent, agent.last_wake + cooldown - now)
        return False
    unread = await messages.peek_unread(node.broker, agent.id, limit=10)
    if arrived is not None and all(m.id != arrived.id for m in unread.messages):
        unread = messages.Unread(unread.count + 1, [*unread.messages, arrived])
    if unread.count == 0:
        agent.inbox_read()
        return False
    fresh = [m for m in unread.messages if m.id not in agent.announced]
    if not fresh and not force and time.monotonic() < agent.remind_at:
        return False
    if not may_type_into(agent, time.monotonic(), cooldown):
        return False  # it started a turn while we looked
    view = await input_view(node, agent)
    if not ready_to_type(view):
        typed = view.state == AgentState.idle
        log.info("wake_deferred", agent=str(agent.id), why="text typed" if typed else "not ready")
        if not typed and time.monotonic() - agent.state_at < SETTLE_WINDOW_S:
            # Just after a turn's end the screen may lag the CLI's own signal: look again
            # soon rather than at the next sweep.
            _retry_after_cooldown(node, agent, SETTLE_S)
        return False
    agent.last_wake = time.monotonic()
    if not fresh:
        agent.reminded()
    agent.announced.update(m.id for m in unread.messages)
    text = pointer_text(agent.kind, unread.messages, unread.count)
    await asyncio.to_thread(tmux.paste, node.tmux, agent.pane_id, text)
    log.info("agent_woken", agent=str(agent.id), unread=unread.count)
    node.spawn(_verify(agent, agent.last_wake))
    return True


async def wake_quietly(node: Node, agent: LocalAgent, arrived: Message | None = None) -> None:
    """`wake_if_idle` for background callers: a failure is logged, never raised."""
    try:
        await wake_if_idle(node, agent, arrived=arrived)
    except Exception as exc:
        log.warning("wake_failed", agent=str(agent.id), error=str(exc))


def _retry_after_cooldown(node: Node, agent: LocalAgent, delay: float) -> None:
    """Mail that arrives during the cooldown is not left for the slow sweep: one retry per
    agent is scheduled for when the cooldown ends."""
    if agent.wake_retry is not None and not agent.wake_retry.done():
        return

    async def later() -> None:
        await asyncio.sleep(max(0.0, delay))
        await wake_quietly(node, agent)

    agent.wake_retry = node.spawn(later())


async def type_text(node: Node, agent: LocalAgent, text: str) -> bool:
    """A kick: type `text` if (and only if) the agent is idle with an empty input line. It is
    typed as one line with no control characters: nothing in it can act as a keystroke."""
    text = terminal_safe(text, multiline=False).strip()
    if not text or agent.state != AgentState.idle or agent.stopping:
        return False
    if not ready_to_type(await input_view(node, agent)):
        return False
    agent.last_wake = time.monotonic()
    await asyncio.to_thread(tmux.paste, node.tmux, agent.pane_id, text)
    return True


async def _verify(agent: LocalAgent, woken_at: float) -> None:
    """A pasted pointer that did not start a turn (the CLI was not ready, or lost the Enter)
    is retried only after a backoff, so a CLI that cannot answer is not typed into in a loop."""
    deadline = woken_at + VERIFY_S
    while time.monotonic() < deadline:
        if agent.state_at > woken_at and agent.state != AgentState.idle:
            log.info(
                "wake_confirmed", agent=str(agent.id), after_s=round(agent.state_at - woken_at, 3)
            )
            # A turn started: the pointer did its job, so new mail may wake it again at once.
            agent.last_wake = 0.0
            return
        await asyncio.sleep(0.05)
    if agent.kind == AgentKind.shell:
        return  # `studio inbox --new` may come and go between two looks at the pane
    delay = agent.wake_failed("a wake did not start a turn")
    log.warning("wake_unconfirmed", agent=str(agent.id), backoff_s=delay)
