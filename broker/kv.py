"""Small KV primitives on the team's buckets: single-key reads, writes that name the revision
they expect (compare-and-set), and deletes. Writes go through `publish`, so they survive a leader
failover with one msg id; whole-bucket reads live in `broker.roster`, which keeps one watch per
process instead of a consumer per read.
"""

from __future__ import annotations

from nats.js.errors import APIError, KeyNotFoundError
from nats.js.kv import KeyValue

from broker.connection import Broker
from broker.ids import new_ulid
from broker.publish import EXPECTED_LAST_SUBJECT_SEQ, CasConflict, publish


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
        return _wrote(broker, bucket, landed)
    return _wrote(broker, bucket, ack.seq)


def _wrote(broker: Broker, bucket: str, seq: int) -> int:
    """Note this process's latest write to `bucket`, so its own listings wait for it
    (broker.roster: a process sees its own writes)."""
    broker.written[bucket] = max(seq, broker.written.get(bucket, 0))
    return seq


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
    ack = await publish(broker, f"$KV.{bucket}.{key}", b"", headers=headers)
    _wrote(broker, bucket, ack.seq)
