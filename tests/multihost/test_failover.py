"""A broker node is SIGKILLed in the middle of a 5,000-message exchange between two hosts:
every message arrives, none twice."""

from __future__ import annotations

import asyncio

from tests.cluster import crash
from tests.multihost.conftest import Site

PER_SIDE = 2500


async def test_node_sigkill_during_5000_message_exchange(site: Site):
    deployment = site.deploy()
    a = await site.agent(deployment, "a")
    b = await site.agent(deployment, "b")
    await a.call("register", agent="a.ann")
    await b.call("register", agent="b.ben")
    # Kill the server leading b's inbox: its writes must move to a new leader mid-stream.
    victim = deployment.stream_leader(f"STUDIO_{deployment.team.upper()}_INBOX_B")
    assert victim in ("a", "b", "c")

    receive_b = asyncio.create_task(b.call("drain", limit_s=180, agent="b.ben", count=PER_SIDE))
    receive_a = asyncio.create_task(a.call("drain", limit_s=180, agent="a.ann", count=PER_SIDE))
    send_ab = asyncio.create_task(
        a.call("send_many", limit_s=180, sender="a.ann", to="b.ben", count=PER_SIDE, prefix="ab")
    )
    send_ba = asyncio.create_task(
        b.call("send_many", limit_s=180, sender="b.ben", to="a.ann", count=PER_SIDE, prefix="ba")
    )
    # Both directions under way (and neither near its end) when the node dies.
    await asyncio.gather(
        a.call("wait_sent", prefix="ab", at_least=PER_SIDE // 5),
        b.call("wait_sent", prefix="ba", at_least=PER_SIDE // 5),
    )
    crash(deployment.server(victim))
    killed_at = await asyncio.gather(
        a.call("sent_count", prefix="ab"), b.call("sent_count", prefix="ba")
    )

    await asyncio.gather(send_ab, send_ba)
    got_b, got_a = await asyncio.gather(receive_b, receive_a)
    assert max(killed_at) < PER_SIDE, "the kill came after the exchange"
    for got, prefix in ((got_b, "ab"), (got_a, "ba")):
        ids = got["ids"]
        assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} delivered twice"
        assert set(ids) == {f"{prefix}-{i}" for i in range(PER_SIDE)}
    assert deployment.server(victim).process.poll() is not None
    new_leader = await b.call("stream_leader", stream=f"STUDIO_{deployment.team.upper()}_INBOX_B")
    assert new_leader not in (None, victim)
    print(
        f"killed {victim} after {killed_at} sends; a→b {send_ab.result()}, b→a {send_ba.result()}"
    )
