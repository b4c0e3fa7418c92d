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

import nats.errors
from nats.js import api
from nats.js.errors import APIError, NoStreamResponseError

from broker.connection import Broker
from broker.errors import BrokerUnavailable, StreamFull

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
