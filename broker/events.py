"""The events stream: task changes, agent lifecycle, lease conflicts, file overlaps.

Events are a notification feed (bounded retention), never the source of truth, so a failed
emit is logged and does not undo the operation that caused it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import structlog
from nats.aio.msg import Msg

from broker import records
from broker.connection import Broker
from broker.models import Event
from broker.pull import snapshot, stream_from_now

log = structlog.get_logger(__name__)


async def emit(
    broker: Broker,
    kind: str,
    /,
    *,
    agent: str | None = None,
    task: str | None = None,
    **data: object,
) -> Event | None:
    event = Event(kind=kind, node=broker.settings.node, agent=agent, task=task, data=data)
    subject = broker.names.event_subject(broker.settings.node, kind)
    try:
        # No wait for the stream's ack: an event is a notice about a write that already
        # happened, and waiting would add a round trip to every claim and update.
        await broker.nc.publish(
            subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id}
        )
    except Exception as exc:
        log.warning("event_emit_failed", kind=kind, error=str(exc))
        return None
    return event


async def recent(broker: Broker, limit: int = 20, kind: str | None = None) -> list[Event]:
    """The last `limit` events (optionally of one kind), oldest first."""
    info = await broker.js.stream_info(broker.names.events_stream)
    last = info.state.last_seq
    if last == 0:
        return []
    start = max(1, last - (limit * 4 if kind else limit) + 1)
    found: list[Event] = []
    async for event in _read(broker, start, kind, stop_at=last):
        found.append(event)
    return found[-limit:]


async def watch(
    broker: Broker, kind: str | None = None, *, history: bool = False
) -> AsyncGenerator[Event, None]:
    """Yield events as they happen (from now, or from the start of retention)."""
    subject = broker.names.event_filter(kind)
    async for msg in stream_from_now(broker, subject, broker.names.events_stream, history=history):
        if (event := read_event(broker, msg)) is not None:
            yield event


async def _read(
    broker: Broker, start_seq: int, kind: str | None, stop_at: int
) -> AsyncIterator[Event]:
    subject = broker.names.event_filter(kind)
    reader = snapshot(
        broker, subject, broker.names.events_stream, start_seq=start_seq, stop_seq=stop_at
    )
    async for msg in reader:
        if (event := read_event(broker, msg)) is not None:
            yield event


def read_event(broker: Broker, msg: Msg) -> Event | None:
    """An event, attributed to the node its subject names (whatever its body says)."""
    node = broker.names.event_node(msg.subject)
    event = records.parse(broker, Event, msg.data, where=f"event {msg.subject}")
    if event is None or node is None:
        return None
    return event.model_copy(update={"node": node})
