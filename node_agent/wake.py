"""Getting mail to an agent's attention without ever interrupting it.

Only an idle agent (prompt shown, no turn running) is typed into: a short pointer is pasted as
one bracketed block, Enter follows after a pause, and the daemon then checks that a turn did
start. Busy agents are left to their hooks; agents on a permission prompt are never touched.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from broker import messages
from broker.models import AgentKind, AgentState, Message
from node_agent import tmux
from node_agent.state import LocalAgent, Node

log = structlog.get_logger(__name__)

VERIFY_S = 3.0


def pointer_text(kind: AgentKind, unread: list[Message], count: int) -> str:
    """What gets typed. For a shell it is a command that shows the mail."""
    if kind == AgentKind.shell:
        return "studio inbox --new"
    senders = sorted({m.sender for m in unread})
    who = f" from {', '.join(senders[:3])}" if senders else ""
    plural = "message" if count == 1 else "messages"
    return f"[studio] {count} new {plural}{who} — call check_inbox to read them"


def may_type_into(agent: LocalAgent, now: float, cooldown_s: float) -> bool:
    return (
        agent.state == AgentState.idle
        and not agent.stopping
        and now - agent.last_wake >= cooldown_s
    )


async def wake_if_idle(
    node: Node, agent: LocalAgent, *, force: bool = False, settle_s: float = 0.0
) -> bool:
    """Paste the pointer when the agent is idle and has unread mail. Returns True when the
    pointer was typed. `settle_s`: on a fresh arrival, how long to let the durable cursor catch
    up with a message the plain subscription saw first."""
    now = time.monotonic()
    cooldown = 0.0 if force else node.settings.wake_cooldown_s
    if not may_type_into(agent, now, cooldown):
        if may_type_into(agent, now, 0.0):
            _retry_after_cooldown(node, agent, agent.last_wake + cooldown - now)
        return False
    unread = await messages.peek_unread(node.broker, agent.id, limit=10)
    settle_until = time.monotonic() + settle_s
    while unread.count == 0 and time.monotonic() < settle_until:
        await asyncio.sleep(0.02)
        unread = await messages.peek_unread(node.broker, agent.id, limit=10)
    if unread.count == 0:
        return False
    if not may_type_into(agent, time.monotonic(), cooldown):
        return False  # it started a turn while we looked
    agent.last_wake = time.monotonic()
    text = pointer_text(agent.kind, unread.messages, unread.count)
    await asyncio.to_thread(tmux.paste, node.tmux, agent.pane_id, text)
    log.info("agent_woken", agent=str(agent.id), unread=unread.count)
    asyncio.get_running_loop().create_task(_verify(node, agent, agent.last_wake))
    return True


def _retry_after_cooldown(node: Node, agent: LocalAgent, delay: float) -> None:
    """Mail that arrives during the cooldown is not left for the slow sweep: one retry per
    agent is scheduled for when the cooldown ends."""
    if agent.wake_retry is not None and not agent.wake_retry.done():
        return

    async def later() -> None:
        await asyncio.sleep(max(0.0, delay))
        try:
            await wake_if_idle(node, agent)
        except Exception as exc:
            log.warning("wake_retry_failed", agent=str(agent.id), error=str(exc))

    agent.wake_retry = asyncio.get_running_loop().create_task(later())


async def type_text(node: Node, agent: LocalAgent, text: str) -> bool:
    """A kick: type `text` if (and only if) the agent is idle."""
    if agent.state != AgentState.idle or agent.stopping:
        return False
    agent.last_wake = time.monotonic()
    await asyncio.to_thread(tmux.paste, node.tmux, agent.pane_id, text)
    return True


async def _verify(node: Node, agent: LocalAgent, woken_at: float) -> None:
    """A pasted pointer that did not start a turn (the CLI was not ready) is retried after the
    cooldown, because the state stays idle and mail stays unread."""
    deadline = woken_at + VERIFY_S
    while time.monotonic() < deadline:
        if agent.state_at > woken_at and agent.state != AgentState.idle:
            log.info(
                "wake_confirmed", agent=str(agent.id), after_s=round(agent.state_at - woken_at, 3)
            )
            # A turn started: the pointer did its job, so new mail may wake it again at once.
            agent.last_wake = 0.0
            return
        await asyncio.sleep(0.1)
    log.warning("wake_unconfirmed", agent=str(agent.id))
