"""The notes feed: an append-only scratchpad every agent can post to, read with a per-agent
cursor (a durable consumer), so each agent sees each note once in `read_notes`."""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import api

from broker import records
from broker.connection import Broker
from broker.errors import InvalidInput
from broker.models import Note
from broker.names import AgentId
from broker.publish import publish
from broker.pull import next_subject, pull

MAX_NOTE_BYTES = 16 * 1024


def _consumer(agent: AgentId) -> str:
    return f"notes_{agent.token}"


async def post(broker: Broker, sender: AgentId, text: str) -> Note:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("note text is empty")
    if len(text.encode()) > MAX_NOTE_BYTES:
        raise InvalidInput(f"note is over {MAX_NOTE_BYTES} bytes; keep notes short")
    note = Note(sender=str(sender), text=text)
    await publish(
        broker, broker.names.note_subject(sender), note.model_dump_json().encode(), msg_id=note.id
    )
    return note


async def read_new(broker: Broker, agent: AgentId, limit: int = 20) -> list[Note]:
    """Notes this agent has not read yet, oldest first; they are marked read."""
    if not 1 <= limit <= 500:
        raise InvalidInput(f"limit must be between 1 and 500, got {limit}")
    stream = broker.names.notes_stream
    await broker.js.add_consumer(
        stream,
        api.ConsumerConfig(
            name=_consumer(agent),
            durable_name=_consumer(agent),
            ack_policy=api.AckPolicy.ALL,
            deliver_policy=api.DeliverPolicy.ALL,
            filter_subject=f"{broker.names.prefix}.note.>",
            inactive_threshold=30 * 86400,
        ),
    )
    raws = await pull(broker, next_subject(stream, _consumer(agent)), limit, wait_s=0)
    if raws:
        await raws[-1].ack()  # AckPolicy.ALL: acks everything up to here
    return [note for raw in raws if (note := _read(broker, raw)) is not None]


def _read(broker: Broker, raw: Msg) -> Note | None:
    """A note, its author taken from the subject the broker checked (not from the body)."""
    note = records.parse(
        broker, Note, raw.data, where=f"{raw.subject}@{raw.metadata.sequence.stream}"
    )
    author = broker.names.note_sender(raw.subject)
    if note is None or author is None:
        return None
    return note if note.sender == str(author) else note.model_copy(update={"sender": str(author)})
