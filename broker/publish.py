"""JetStream writes that survive a leader failover, and small KV primitives built on them.

A stream leader killed with SIGKILL takes several seconds to be replaced (~6.5 s measured on a
2-core machine). During that window a publish times out or gets 503/no-responders. We retry
with the same `Nats-Msg-Id`, so a publish that did land before the error is stored once
(the stream's duplicate window covers the retry span).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import nats.errors
from nats.js import api
from nats.js.errors import APIError, KeyNotFoundError, NoStreamResponseError
from nats.js.kv import KeyValue

from broker.connection import Broker
from broker.errors import BrokerUnavailable, StreamFull
from broker.ids import new_ulid
from broker.pull import ONE_SHOT_CONSUMER_S

EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = (10071, 10164)
# "maximum bytes/messages exceeded" on a stream that discards new writes when full (inboxes).
STREAM_FULL = 10077
_RETRYABLE_API_CODES = {503}


class CasConflict(Exception):
    """The key's revision moved since it was read: re-read and decide again."""


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        return exc.code in _RETRYABLE_API_CODES or exc.err_code == 10008  # 10008: JS unavailable
    return isinstance(
        exc,
        NoStreamResponseError
        | nats.errors.TimeoutError
        | nats.errors.NoRespondersError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.StaleConnectionError
        | asyncio.TimeoutError,
    )


async def publish(
    broker: Broker,
    subject: str,
    payload: bytes,
    *,
    msg_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    msg_ttl: float | None = None,
) -> api.PubAck:
    """Publish to a stream and wait for its ack, retrying across failovers with one msg id."""
    hdrs = dict(headers or {})
    if msg_id:
        hdrs["Nats-Msg-Id"] = msg_id
    started = time.monotonic()
    deadline = started + broker.settings.publish_retry_s
    delay = 0.05
    while True:
        try:
            return await broker.js.publish(subject, payload, headers=hdrs or None, msg_ttl=msg_ttl)
        except APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise CasConflict(subject) from None
            if exc.err_code == STREAM_FULL:
                raise StreamFull(
                    f"{subject} is full ({exc.description}): its recipient's node has that much "
                    "mail stored; it is kept, and new mail is refused until some expires"
                ) from None
            if not retryable(exc) or time.monotonic() > deadline:
                raise BrokerUnavailable(f"publish to {subject} failed: {exc}") from None
        except Exception as exc:
            # A denied publish is not retryable: the client raises PermissionDenied at once.
            if not retryable(exc):
                raise
            if time.monotonic() > deadline:
                raise BrokerUnavailable(
                    f"publish to {subject} not acknowledged after "
                    f"{broker.settings.publish_retry_s:.0f}s: is the broker (or its stream "
                    "leader) down? `studio doctor` checks"
                ) from None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def kv_get(kv: KeyValue, key: str) -> KeyValue.Entry | None:
    """The live entry, or None when absent, deleted or expired."""
    return (await kv_read(kv, key))[0]


async def kv_read(kv: KeyValue, key: str) -> tuple[KeyValue.Entry | None, int]:
    """(live entry or None, the revision a compare-and-set must name). A deleted key still has
    a revision (its delete marker), so writing it again must not assume 0."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError as exc:
        return None, (exc.entry.revision or 0) if exc.entry else 0
    if entry.value is None or entry.operation in ("DEL", "PURGE"):
        return None, entry.revision or 0
    return entry, entry.revision or 0


async def kv_write(
    broker: Broker,
    bucket: str,
    key: str,
    value: bytes,
    *,
    last: int | None = None,
    msg_ttl: float | None = None,
    msg_id: str | None = None,
) -> int:
    """Put (last=None) or compare-and-set (last=revision, 0 = must not exist). Raises
    CasConflict when the revision moved. TTL is per message, for presence and leases.

    Each write has its own msg id, reused by publish's retries. The server checks the
    expected revision before duplicates, so a CAS whose first attempt landed (ack lost in a
    failover) comes back as a conflict with itself: the msg id on the key's latest revision
    tells that case apart from a real conflict."""
    msg_id = msg_id or new_ulid()
    subject = f"$KV.{bucket}.{key}"
    headers = {EXPECTED_LAST_SUBJECT_SEQ: str(last)} if last is not None else None
    try:
        ack = await publish(
            broker, subject, value, msg_id=msg_id, headers=headers, msg_ttl=_ttl(msg_ttl)
        )
    except CasConflict:
        landed = await _latest_with_id(broker, bucket, subject, msg_id)
        if landed is None:
            raise
        return landed
    return ack.seq


async def _latest_with_id(broker: Broker, bucket: str, subject: str, msg_id: str) -> int | None:
    """The key's latest revision if it carries `msg_id`: read from the leader, the one
    replica sure to have the write being asked about."""
    try:
        latest = await broker.js.get_msg(f"KV_{bucket}", subject=subject, direct=False)
    except APIError:
        return None
    headers = latest.headers or {}
    return latest.seq if headers.get("Nats-Msg-Id") == msg_id else None


def _ttl(seconds: float | None) -> float | None:
    # The header takes whole seconds; round up so a lease never ends early.
    return None if seconds is None else max(1, int(seconds + 0.999))


async def kv_delete(broker: Broker, bucket: str, key: str, *, last: int | None = None) -> None:
    headers = {"KV-Operation": "DEL"}
    if last is not None:
        headers[EXPECTED_LAST_SUBJECT_SEQ] = str(last)
    await publish(broker, f"$KV.{bucket}.{key}", b"", headers=headers)


async def kv_entries(kv: KeyValue, pattern: str = ">") -> list[KeyValue.Entry]:
    """Every live entry matching `pattern`, read in one pass of an ordered consumer.

    nats-py's watcher may announce "no initial values" (None) while values are already on the
    wire: it decides from consumer info, racing the delivery. A None is believed only when the
    consumer delivered nothing; otherwise reading goes on to the entry whose delta is 0.
    Deletes are read too (and dropped here) so that the last message always carries delta 0.
    """
    watcher = await kv.watch(pattern, inactive_threshold=ONE_SHOT_CONSUMER_S)
    entries: list[Any] = []
    try:
        while True:
            entry = await watcher.updates(timeout=10)
            if entry is None:
                info = await watcher._sub.consumer_info()
                if not info.delivered or info.delivered.consumer_seq == 0:
                    break
                continue
            if entry.value and entry.operation not in ("DEL", "PURGE"):
                entries.append(entry)
            if entry.delta == 0:
                break
    finally:
        await watcher.stop()
    return entries
