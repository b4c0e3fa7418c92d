"""Waiting for the team instead of polling it: the logic behind the wait_for tool.

Three kinds of condition, raced against a timeout, each woken by what the broker pushes:
- an event on the events stream (optionally of one kind, optionally by given agents);
- presence: every given agent in a state (idle, busy, waiting_input, offline), looked at
  whenever this process's presence watch moves (and each second, for a TTL running out);
- mail: the caller has unread messages (new ones, when waiting for "anything"), counted
  again when a message for it passes on the wire (and every MAIL_RECHECK_S regardless).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

from nats.aio.msg import Msg

from broker import events, messages, presence, roster
from broker.connection import Broker, checked_subscribe
from broker.errors import BrokerUnavailable, InvalidInput
from broker.models import FINISHED, AgentInfo, AgentState, Event
from broker.names import AgentId

STATES = frozenset({"idle", "busy", "waiting_input", "offline"})
# Aliases a model is likely to ask for, mapped onto the broker's event kinds.
TASK_DONE = "task_done"
MESSAGE = "message"
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
EXPIRY_TICK_S = 1.0
MAIL_RECHECK_S = 5.0
MAX_WAIT_S = 300


@dataclass
class Outcome:
    reason: str  # "event" | "state" | "mail" | "timeout"
    event: Event | None = None
    agents: list[AgentInfo] = field(default_factory=list)
    unread: int = 0


def check_event_kind(event: str | None) -> None:
    if event is None or event in STATES or event in (TASK_DONE, MESSAGE):
        return
    if not _KIND_RE.fullmatch(event):
        raise InvalidInput(
            f"invalid event {event!r}: use 'message', 'task_done', a state "
            f"({', '.join(sorted(STATES))}) or an event kind such as 'task_status'"
        )


async def wait(
    broker: Broker,
    me: AgentId | None,
    watched: list[AgentId],
    event: str | None,
    timeout_s: float,
) -> Outcome:
    check_event_kind(event)
    if event in STATES and not watched:
        raise InvalidInput(f"waiting for {event!r} needs agents=[...] to watch")
    if event == MESSAGE and me is None:
        raise InvalidInput("waiting for messages needs an identity: call register(name) first")
    ids = {str(a) for a in watched}
    waiters = []
    if event in STATES:
        waiters.append(_until_state(broker, ids, AgentState(event)))
    elif event == MESSAGE and me is not None:  # (no identity was refused above)
        waiters.append(_until_mail(broker, me, baseline=0))
    else:
        waiters.append(_until_event(broker, ids, event))
        if event is None and me is not None:
            waiters.append(_until_mail(broker, me, await messages.unread_count(broker, me)))
    tasks = [asyncio.ensure_future(w) for w in waiters]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if done:
        return next(iter(done)).result()
    current = [a for a in await presence.list_agents(broker) if a.id in ids]
    return Outcome("timeout", agents=current)


async def _until_event(broker: Broker, ids: set[str], event: str | None) -> Outcome:
    kind = "task_status" if event == TASK_DONE else event
    async with contextlib.aclosing(events.watch(broker, kind)) as stream:
        async for found in stream:
            if ids and found.agent not in ids:
                continue
            if event == TASK_DONE and found.data.get("status") not in FINISHED:
                continue
            return Outcome("event", event=found)
    raise BrokerUnavailable("the events feed closed while waiting; call wait_for again")


async def _until_state(broker: Broker, ids: set[str], state: AgentState) -> Outcome:
    while True:
        team = {a.id: a for a in await presence.list_agents(broker)}
        watched = [team[i] for i in sorted(ids) if i in team]
        if len(watched) == len(ids) and all(a.state == state for a in watched):
            return Outcome("state", agents=watched)
        await roster.moved_or(broker, broker.names.agents_bucket, EXPIRY_TICK_S)


async def _until_mail(broker: Broker, me: AgentId, baseline: int) -> Outcome:
    arrived = asyncio.Event()

    async def on_message(_: Msg) -> None:
        arrived.set()

    sub = await checked_subscribe(broker, broker.names.inbox_filter(me), cb=on_message)
    try:
        while True:
            arrived.clear()
            unread = await messages.unread_count(broker, me)
            if unread > baseline:
                return Outcome("mail", unread=unread)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), MAIL_RECHECK_S)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
