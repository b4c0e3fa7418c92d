"""Pull requests on a durable consumer, written out instead of `PullSubscription.fetch`.

nats-py's fetch blocks for its whole timeout when nothing is pending, so "give me what is
there now" and "wait for the first message" could not both be fast. Here: `no_wait` for the
former, an expiring request for the latter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from broker.connection import Broker, guarded
from broker.errors import BrokerUnavailable

# How long the server keeps a throwaway ordered consumer once nobody reads it. nats-py's
# default is 5 minutes: a process reading a bucket every few seconds then leaves hundreds of
# consumers behind, which tax every write and hit the server's per-stream limit.
ONE_SHOT_CONSUMER_S = 5.0


def next_subject(stream: str, consumer: str) -> str:
    return f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"


@dataclass
class Puller:
    """One long-lived reply subscription per consumer (a subscription per request costs a
    SUB/UNSUB and a queue each time). The lock keeps concurrent fetches from mixing replies."""

    sub: Subscription
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def _puller(broker: Broker, api_subject: str) -> Puller:
    puller = broker.pullers.get(api_subject)
    if puller is None:
        puller = Puller(await broker.nc.subscribe(broker.nc.new_inbox()))
        broker.pullers[api_subject] = puller
    return puller


def _status(msg: Msg) -> str | None:
    return msg.headers.get("Status") if msg.headers else None


async def _leftovers(sub: Subscription, batch: int) -> list[Msg]:
    """Messages a previous request received after it gave up are delivered and waiting for
    an ack: hand them out first. Stale status replies are dropped."""
    got: list[Msg] = []
    while sub.pending_msgs and len(got) < batch:
        msg = await sub.next_msg(timeout=0.001)
        if _status(msg) is None:
            got.append(msg)
    return got


async def pull(broker: Broker, api_subject: str, batch: int, wait_s: float) -> list[Msg]:
    """One pull request. no_wait returns what is there now (ending with a 404 status when
    short); an expiring request waits up to `wait_s` for the first message."""
    puller = await _puller(broker, api_subject)
    async with puller.lock:
        got = await _leftovers(puller.sub, batch)
        if len(got) >= batch:
            return got
        request: dict = {"batch": batch - len(got)}
        if wait_s > 0 and not got:
            request["expires"] = int(wait_s * 1e9)
        else:
            request["no_wait"] = True
        payload = json.dumps(request).encode()
        await broker.nc.publish(api_subject, payload, reply=puller.sub.subject)
        timeout = wait_s + broker.settings.request_timeout_s
        # A consumer whose leader is being re-elected (a node died) answers 503 for a few
        # seconds: ask again until it is back, within the budget publishes get.
        retry_until = time.monotonic() + broker.settings.publish_retry_s
        while len(got) < batch:
            try:
                # A pull on a consumer these credentials may not read is dropped by the
                # server with an asynchronous violation: fail fast, not after the timeout.
                msg = await guarded(broker, puller.sub.next_msg(timeout=timeout), api_subject)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            status = _status(msg)
            if status is None:
                got.append(msg)
                timeout = broker.settings.request_timeout_s
            elif status == "100":  # idle heartbeat
                continue
            elif status in ("404", "408", "409"):  # none left / expired / leadership change
                break
            elif status == "503" and not got and time.monotonic() < retry_until:
                await asyncio.sleep(0.25)
                await broker.nc.publish(api_subject, payload, reply=puller.sub.subject)
            else:
                description = (msg.headers or {}).get("Description", "")
                raise BrokerUnavailable(f"read failed on {api_subject}: {status} {description}")
        return got


async def snapshot(
    broker: Broker,
    subject: str,
    stream: str,
    *,
    start_seq: int | None = None,
    stop_seq: int | None = None,
    limit: int | None = None,
) -> AsyncIterator[Msg]:
    """Read the stored messages of `subject` once, from `start_seq` (default: the first) until
    the reader has caught up, with a throwaway ordered consumer: for history, previews and
    recent events, which must not move anyone's cursor."""
    policy = (
        api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL)
        if start_seq is None
        else api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq
        )
    )
    sub = await broker.js.subscribe(
        subject,
        stream=stream,
        ordered_consumer=True,
        config=policy,
        inactive_threshold=ONE_SHOT_CONSUMER_S,
    )
    count = 0
    try:
        info = await sub.consumer_info()
        delivered = info.delivered.consumer_seq if info.delivered else 0
        if info.num_pending == 0 and delivered == 0:
            return  # nothing stored past the start: do not wait for a message that won't come
        while limit is None or count < limit:
            try:
                msg = await sub.next_msg(timeout=broker.settings.request_timeout_s)
            except (TimeoutError, nats.errors.TimeoutError):
                return
            count += 1
            yield msg
            meta = msg.metadata
            if meta.num_pending == 0 or (stop_seq and meta.sequence.stream >= stop_seq):
                return
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def stream_from_now(
    broker: Broker, subject: str, stream: str, *, history: bool = False
) -> AsyncIterator[Msg]:
    """Messages of `subject` as they are stored (or from the start of retention)."""
    policy = api.DeliverPolicy.ALL if history else api.DeliverPolicy.NEW
    sub = await broker.js.subscribe(
        subject,
        stream=stream,
        ordered_consumer=True,
        config=api.ConsumerConfig(deliver_policy=policy),
        inactive_threshold=ONE_SHOT_CONSUMER_S,
    )
    try:
        async for msg in sub.messages:
            yield msg
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
