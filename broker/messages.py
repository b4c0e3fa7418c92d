"""Direct messages, broadcast, and the read cursor (fetch, then ack after handoff).

Delivery is at-least-once: `fetch` hands out messages without acking; the caller acks only
after the message reached the agent (tool result written, notification sent, hook printed).
A process that dies in between leaves the message un-acked and it is delivered again after
`ack_wait`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js.errors import APIError

from broker import agents, records
from broker.connection import Broker
from broker.errors import InvalidInput, MessageTooLarge
from broker.ids import new_ulid
from broker.models import FlowBatch, Importance, Message, MessageFlow
from broker.names import AgentId
from broker.provision import ensure_node_inbox
from broker.publish import publish
from broker.pull import next_subject, pull, snapshot

# How long flow notices gather before they leave as one publish (see _flow).
FLOW_BATCH_S = 0.05

MAX_SUBJECT_CHARS = 200
ACK_TIMEOUT_S, ACK_RETRY_S = 5.0, 20.0


def read_message(broker: Broker, msg: Msg) -> Message | None:
    """A stored message as its reader sees it, or None for a record that is not one (skipped,
    never fatal). Sender and recipient come from the subject, which the broker checked,
    never from the body, which the sender wrote."""
    # The subject and the writer's msg id name the record (the daemon's live copy of a
    # message has no stream sequence).
    where = f"{msg.subject}#{(msg.headers or {}).get('Nats-Msg-Id', '')}"
    parties = broker.names.msg_parties(msg.subject)
    message = records.parse(broker, Message, msg.data, where=where)
    if message is None or parties is None:
        if parties is None:
            records.skipped(broker, where, "not a message subject")
        return None
    recipient, sender = parties
    if message.sender != str(sender) or message.to != str(recipient):
        records.warn_once(broker, where, "message_parties_corrected", claimed=message.sender)
        message = message.model_copy(update={"sender": str(sender), "to": str(recipient)})
    return message


@dataclass
class Delivery:
    """A fetched, not yet acknowledged message."""

    message: Message
    raw: Msg
    redelivered: bool

    async def ack(self) -> None:
        """Mark it read, confirmed by the server (an unconfirmed ack could leave the unread
        count read right after still counting it). Retried through a slow moment, such as
        the burst of acks after a broadcast to a thousand agents, or a leader election after
        a broker node died; a retry of an ack that did land is answered like the first."""
        deadline = time.monotonic() + ACK_RETRY_S
        while True:
            try:
                await self.raw.ack_sync(timeout=ACK_TIMEOUT_S)
                return
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                # No responders: the consumer's leader is being re-elected (a node died).
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)


def _check_body(broker: Broker, body: str) -> None:
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("message body is empty: say something")
    size = len(body.encode())
    if size > broker.settings.max_body_bytes:
        raise MessageTooLarge(size, broker.settings.max_body_bytes)


def _importance(value: str | Importance) -> Importance:
    try:
        return Importance(value)
    except ValueError:
        choices = ", ".join(i.value for i in Importance)
        raise InvalidInput(f"invalid importance {value!r}: use one of {choices}") from None


async def send(
    broker: Broker,
    sender: AgentId,
    to: str,
    body: str,
    *,
    subject: str = "",
    thread_id: str | None = None,
    reply_to: str | None = None,
    importance: str | Importance = Importance.normal,
    msg_id: str | None = None,
) -> Message:
    """Store one message in the recipient's inbox. Passing the same `msg_id` again (a retry)
    stores nothing new."""
    _check_body(broker, body)
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidInput(
            f"subject is {len(subject)} characters; keep it under {MAX_SUBJECT_CHARS}"
        )
    recipient = await agents.resolve(broker, to)
    message = Message(
        id=msg_id or new_ulid(),
        sender=str(sender),
        to=str(recipient),
        subject=subject,
        body=body,
        thread_id=thread_id or reply_to,
        reply_to=reply_to,
        importance=_importance(importance),
    )
    if message.thread_id is None:
        message.thread_id = message.id
    await deliver(broker, sender, recipient, message)
    _flow(broker, message.id, message.sender, message.to, message.importance.value)
    return message


def _flow(
    broker: Broker, msg_id: str, sender: str, to: str, importance: str, recipients: int = 1
) -> None:
    """Tell whoever watches the team (the dashboard's message flow) that a message went out.
    Notices wait FLOW_BATCH_S and leave together, as one core NATS publish that no stream
    stores and nobody acknowledges: a send pays a list append (one publish per send cost a
    round trip 5 % in broker_bench). The sender's node is in the subject, enforced by the
    broker; readers validate the rest (read_flow)."""
    broker.flow_pending.append(
        {"id": msg_id, "sender": sender, "to": to, "importance": importance,
         "recipients": recipients, "at": time.time()}
    )  # fmt: skip
    if broker.flow_task is None or broker.flow_task.done():
        broker.flow_task = asyncio.get_running_loop().create_task(_send_flow(broker))


async def _send_flow(broker: Broker) -> None:
    await asyncio.sleep(FLOW_BATCH_S)
    await broker.flush_flow()


def read_flow(broker: Broker, msg: Msg) -> list[MessageFlow]:
    """The notices of one batch whose sender belongs to the node its subject names (a node
    may publish only under its own name; any other sender is a forgery, and skipped)."""
    node = broker.names.flow_node(msg.subject)
    batch = records.parse(broker, FlowBatch, msg.data, where=f"flow {msg.subject}")
    if node is None or batch is None:
        return []
    return [notice for notice in batch.root if notice.sender.split(".")[0] == node]


async def deliver(broker: Broker, sender: AgentId, recipient: AgentId, message: Message) -> None:
    """Publish an already built message (the retry unit: same message, same id)."""
    await publish(
        broker,
        broker.names.msg_subject(recipient, sender),
        message.model_dump_json().encode(),
        msg_id=message.id,
    )


async def broadcast(
    broker: Broker, sender: AgentId, body: str, *, subject: str = "", msg_id: str | None = None
) -> list[Message]:
    """One durable copy to every agent registered now (except the sender). Copy ids derive
    from the broadcast id, so retrying a broadcast stores no second copy anywhere."""
    _check_body(broker, body)
    broadcast_id = msg_id or new_ulid()
    recipients = [
        AgentId.parse(r.id) for r in await agents.registered(broker) if r.id != str(sender)
    ]
    copies = [
        Message(
            id=f"{broadcast_id}-{r.token}",
            sender=str(sender),
            to=str(r),
            subject=subject,
            body=body,
            thread_id=broadcast_id,
            broadcast=True,
        )
        for r in recipients
    ]
    await asyncio.gather(
        *(deliver(broker, sender, r, m) for r, m in zip(recipients, copies, strict=True))
    )
    _flow(broker, broadcast_id, str(sender), "*", "normal", len(copies))
    return copies


async def fetch(
    broker: Broker, agent: AgentId, limit: int = 10, wait_s: float = 0.0
) -> list[Delivery]:
    """Up to `limit` unread messages, oldest first. With `wait_s` > 0 and nothing unread,
    wait up to that long for the first one (a long poll). Nothing is acked here."""
    if not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be between 1 and 1000, got {limit}")
    if not 0 <= wait_s <= 300:
        raise InvalidInput(f"wait_s must be between 0 and 300 seconds, got {wait_s}")
    await ensure_node_inbox(broker, agent.node)
    api_subject = next_subject(broker.names.inbox_stream(agent.node), agents.inbox_consumer(agent))
    raws = await pull(broker, api_subject, limit, wait_s=0)
    if not raws:
        # A no_wait pull can miss a message stored a moment ago (the consumer learns of new
        # stream messages asynchronously); the consumer's pending count does not, so when it
        # says there is mail, wait briefly for it instead of answering "nothing".
        if wait_s == 0 and (await _cursor(broker, agent)).get("num_pending", 0) > 0:
            wait_s = 1.0
        if wait_s > 0:
            raws = await pull(broker, api_subject, 1, wait_s=wait_s)
            if raws and limit > 1:
                raws += await pull(broker, api_subject, limit - 1, wait_s=0)
    deliveries = []
    for raw in raws:
        message = read_message(broker, raw)
        if message is None:
            await raw.term()  # not a studio message; never redeliver it
            continue
        deliveries.append(Delivery(message, raw, raw.metadata.num_delivered > 1))
    return deliveries


async def ack(deliveries: list[Delivery]) -> None:
    """The one way messages are marked read (see Delivery.ack)."""
    await asyncio.gather(*(d.ack() for d in deliveries))


async def unread_count(broker: Broker, agent: AgentId) -> int:
    """Messages not yet acked: pending plus fetched-but-not-handed-off."""
    state = await _cursor(broker, agent)
    return state.get("num_pending", 0) + state.get("num_ack_pending", 0)


async def _cursor(broker: Broker, agent: AgentId) -> dict:
    """The inbox consumer's state as plain JSON. Every tool result's footer asks for it, and
    nats-py's ConsumerInfo parsing costs about 0.1 ms of CPU a call, more than the rest of
    the footer."""
    stream, consumer = broker.names.inbox_stream(agent.node), agents.inbox_consumer(agent)
    reply = await broker.nc.request(
        f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
        b"",
        timeout=broker.settings.request_timeout_s,
    )
    state = json.loads(reply.data)
    if "error" in state:
        raise APIError.from_error(state["error"])
    return state


async def history(broker: Broker, agent: AgentId, limit: int = 20) -> list[Message]:
    """The agent's last `limit` messages, read or not, oldest first (reading does not
    remove anything: the inbox stream keeps messages for its retention period)."""
    found = [m async for m in _scan_inbox(broker, agent)]
    return found[-limit:]


async def thread(broker: Broker, agent: AgentId, thread_id: str) -> list[Message]:
    """Messages of one thread in this agent's inbox, oldest first."""
    return [
        m async for m in _scan_inbox(broker, agent) if m.thread_id == thread_id or m.id == thread_id
    ]


async def _scan_inbox(broker: Broker, agent: AgentId) -> AsyncIterator[Message]:
    stream = broker.names.inbox_stream(agent.node)
    info = await broker.js.stream_info(stream, subjects_filter=broker.names.inbox_filter(agent))
    if not info.state.subjects:
        return
    async for msg in snapshot(broker, broker.names.inbox_filter(agent), stream):
        if (message := read_message(broker, msg)) is not None:
            yield message


@dataclass
class Unread:
    """How many messages are unread, and (up to a limit) which, without taking any."""

    count: int
    messages: list[Message]


async def peek_unread(broker: Broker, agent: AgentId, limit: int = 20) -> Unread:
    """Unread messages without taking them: for notices ("2 new from X") that must not count
    as handing the message over. Reads past the cursor's ack floor with a throwaway consumer;
    the count comes from the same cursor read, so callers need no second one."""
    state = await _cursor(broker, agent)
    count = state.get("num_pending", 0) + state.get("num_ack_pending", 0)
    if count == 0:
        return Unread(0, [])
    start = state.get("ack_floor", {}).get("stream_seq", 0) + 1
    found: list[Message] = []
    reader = snapshot(
        broker,
        broker.names.inbox_filter(agent),
        broker.names.inbox_stream(agent.node),
        start_seq=start,
        limit=limit,
    )
    async for msg in reader:
        if (message := read_message(broker, msg)) is not None:
            found.append(message)
    return Unread(count, found)
