"""Broker round trips per tool call, counted on an instrumented connection: one path per
message, nothing asked twice. A round trip is a request that waits for the server's answer
(a JetStream publish and its ack, an API call, a KV read, a confirmed ack) or a pull; a
fire-and-forget publish (the metadata event of a send) is not one."""

from __future__ import annotations

from typing import Any

from gateway_helpers import ok, text
from mcp import Client

from broker.connection import Broker
from mcp_gateway.server import build_server


class Counted:
    """Wraps a connection's `publish`, recording the subject of each one that names a reply
    subject: every request goes out that way (nats-py's `request` publishes with a reply to
    its muxed inbox), and so does a pull."""

    def __init__(self, broker: Broker) -> None:
        self.trips: list[str] = []
        publish = broker.nc.publish

        async def counted(subject: str, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("reply"):
                self.trips.append(subject)
            await publish(subject, *args, **kwargs)

        broker.nc.publish = counted  # type: ignore[method-assign]

    def take(self) -> list[str]:
        trips, self.trips = self.trips, []
        return trips


async def test_send_and_check_inbox_round_trips(broker_factory, context_host):
    async def session(agent: str) -> tuple[Client, Counted]:
        broker = await broker_factory(agent_id=agent)
        client = await context_host.enter(Client(build_server(broker.settings, broker=broker)))
        return client, Counted(broker)

    alice, alice_trips = await session("n1.alice")
    bob, bob_trips = await session("n1.bob")
    await ok(bob, "whoami")
    await ok(alice, "send_message", to="bob", body="first: resolves and registers")
    await ok(bob, "check_inbox")
    alice_trips.take(), bob_trips.take()

    await ok(alice, "send_message", to="bob", body="second")
    trips = alice_trips.take()
    published = [t for t in trips if t.startswith("studio.")]
    assert len(published) == 1 and published[0].endswith(".n1.bob.n1.alice"), trips
    footer = [t for t in trips if t.startswith("$JS.API.CONSUMER.INFO.")]
    assert len(footer) <= 1 and len(trips) == len(published) + len(footer), trips

    read = await ok(bob, "check_inbox")
    assert "second" in text(read)
    trips = bob_trips.take()
    pulls = [t for t in trips if t.startswith("$JS.API.CONSUMER.MSG.NEXT.")]
    acks = [t for t in trips if t.startswith("$JS.ACK.")]
    assert len(pulls) == 1 and len(acks) == 1 and len(trips) == 2, trips
