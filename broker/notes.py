"""The notes feed: an append-only scratchpad every agent can post to, read with a per-agent
cursor, so each agent sees each note once in `read_notes`."""

from __future__ import annotations

from nats.aio.msg import Msg

from broker import records
from broker.connection import Broker
from broker.errors import InvalidInput
from broker.kv import kv_get, kv_write
from broker.models import Note
from broker.names import AgentId
from broker.provision import bucket
from broker.publish import publish
from broker.pull import snapshot

MAX_NOTE_BYTES = 16 * 1024


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
    """Notes this agent has not read yet, oldest first; they are marked read.

    The read position is a key of the cursors bucket, `<node>.<name>`, which only the agent's
    own node may write: no other node can read someone's notes as them or move their cursor.
    The notes themselves are read with a throwaway ordered consumer, so the stream carries no
    consumer per agent."""
    if not 1 <= limit <= 500:
        raise InvalidInput(f"limit must be between 1 and 500, got {limit}")
    names = broker.names
    key = f"{agent.node}.{agent.name}"
    kv = await bucket(broker, names.cursors_bucket)
    entry = await kv_get(kv, key)
    text = entry.value.decode(errors="replace") if entry and entry.value else "0"
    last = int(text) if text.isascii() and text.isdigit() else 0
    raws = [
        raw
        async for raw in snapshot(
            broker, f"{names.prefix}.note.>", names.notes_stream, start_seq=last + 1, limit=limit
        )
    ]
    if raws:
        seq = raws[-1].metadata.sequence.stream
        await kv_write(broker, names.cursors_bucket, key, str(seq).encode())
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
