"""The private corners of nats-py that studio relies on, in one place (checked against nats-py
2.16). Each exists because the public API does not expose what is needed; when nats-py grows
a public way, only this module changes."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from nats.js.kv import KeyValue


def server_info(nc: Client) -> dict[str, Any]:
    """The INFO the server sent on connect (names its cluster, among others)."""
    return getattr(nc, "_server_info", None) or {}


async def watch_delivered_nothing(watcher: KeyValue.KeyWatcher) -> bool:
    """Whether a KV watcher's consumer has delivered nothing yet. nats-py announces "no initial
    values" (a None update) from consumer info, racing the delivery: it may come while values
    are already on the wire, so a None is believed only when this says so."""
    info = await watcher._sub.consumer_info()
    return not info.delivered or info.delivered.consumer_seq == 0
