"""Pull requests on a durable consumer, written out instead of `PullSubscription.fetch`.

nats-py's fetch blocks for its whole timeout when nothing is pending, so "give me what is
there now" and "wait for the first message" could not both be fast. Here: `no_wait` for the
former, an expiring request for the latter, each on a private reply subject so a late status
from one request never leaks into the next.
"""

from __future__ import annotations

import contextlib
import json

import nats.errors
from nats.aio.msg import Msg

from broker.connection import Broker
from broker.errors import BrokerUnavailable


def next_subject(stream: str, consumer: str) -> str:
    return f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"


async def pull(broker: Broker, api_subject: str, batch: int, wait_s: float) -> list[Msg]:
    """One pull request. no_wait returns what is there now (ending with a 404 status when
    short); an expiring request waits up to `wait_s` for the first message."""
    request: dict = {"batch": batch}
    if wait_s > 0:
        request["expires"] = int(wait_s * 1e9)
    else:
        request["no_wait"] = True
    inbox = broker.nc.new_inbox()
    sub = await broker.nc.subscribe(inbox)
    got: list[Msg] = []
    try:
        await broker.nc.publish(api_subject, json.dumps(request).encode(), reply=inbox)
        timeout = wait_s + broker.settings.request_timeout_s
        while len(got) < batch:
            try:
                msg = await sub.next_msg(timeout=timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            status = msg.headers.get("Status") if msg.headers else None
            if status is None:
                got.append(msg)
                timeout = broker.settings.request_timeout_s
            elif status == "100":  # idle heartbeat
                continue
            elif status in ("404", "408", "409"):  # none left / expired / leadership change
                break
            else:
                description = msg.headers.get("Description", "")
                raise BrokerUnavailable(f"read failed on {api_subject}: {status} {description}")
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return got
