"""Host c loses its link for 20 s. The other hosts see its agent go offline once its presence
expires; mail sent to it meanwhile is kept by the majority and delivered, once, after the link
comes back; and its agent shows up again."""

from __future__ import annotations

import asyncio
import time

from tests.multihost.conftest import Site
from tests.multihost.netlab import AgentProc, RemoteError

PARTITION_S = 20.0
MESSAGES = 30


async def wait_state(proc: AgentProc, agent: str, state: str, within_s: float) -> float:
    """Seconds until `proc` sees `agent` in `state` (fails after `within_s`)."""
    started = time.monotonic()
    seen: object = None
    while time.monotonic() - started < within_s:
        try:
            seen = (await proc.call("list_agents", limit_s=within_s)).get(agent)
        except RemoteError as exc:  # a stream leader lost with the cut: re-elected shortly
            seen = exc
        if seen == state:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"{agent} still {seen!r}, not {state!r}, after {within_s}s")


async def test_partitioned_host_goes_offline_and_gets_its_mail_after(site: Site):
    deployment = site.deploy()
    a = await site.agent(deployment, "a")
    c = await site.agent(deployment, "c", heartbeat_s=1.0)  # presence TTL: 3 s
    await a.call("register", agent="a.ann")
    await c.call("register", agent="c.cid")
    await c.call("heartbeat_start", agent="c.cid", state="busy")
    await wait_state(a, "c.cid", "busy", within_s=5)
    before = await a.call("send", sender="a.ann", to="c.cid", body="before the cut")
    assert [m["id"] for m in await c.call("fetch", agent="c.cid", wait_s=5)] == [before]

    deployment.lab.set_link("c", up=False)
    cut_at = time.monotonic()
    try:
        offline_after = await wait_state(a, "c.cid", "offline", within_s=PARTITION_S - 2)
        sent = [
            await a.call("send", sender="a.ann", to="c.cid", body=f"while cut {i}")
            for i in range(MESSAGES)
        ]
        await asyncio.sleep(max(0.0, PARTITION_S - (time.monotonic() - cut_at)))
        sent_by = time.monotonic() - cut_at
    finally:
        deployment.lab.set_link("c", up=True)
    healed_at = time.monotonic()

    got = await c.call("drain", limit_s=90, agent="c.cid", count=MESSAGES, idle_s=30)
    delivered_after = time.monotonic() - healed_at
    assert len(got["ids"]) == len(set(got["ids"])), "delivered twice"
    # all of them, in order, and nothing from before the cut again
    assert got["ids"] == sent, got["errors"]
    back_after = await wait_state(a, "c.cid", "busy", within_s=30)
    print(
        f"offline after {offline_after:.1f}s of partition, {MESSAGES} sent by {sent_by:.1f}s; "
        f"delivered {delivered_after:.1f}s after the heal, online again {back_after:.1f}s later"
    )
