"""Host a's credentials cannot act as host b: each attempt is refused by the broker (not by
client-side checks: the calls below go straight to the server) and surfaces quickly as a
clear PermissionDenied, and b's data is untouched afterwards."""

from __future__ import annotations

import time

import pytest

from tests.multihost.conftest import Site
from tests.multihost.netlab import AgentProc, Deployment, RemoteError


async def denied(proc: AgentProc, op: str, **args) -> str:
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        await proc.call(op, **args)
    assert caught.value.type == "PermissionDenied", caught.value
    assert caught.value.message.startswith("permission denied: ")
    # Reported from the server's violation notice, not after a request timeout (5 s).
    assert time.monotonic() - started < 2.5
    return caught.value.message


async def test_a_cannot_act_as_b(site: Site, shared_deployment: Deployment):
    team = shared_deployment.team
    a = await site.agent(shared_deployment, "a")
    b = await site.agent(shared_deployment, "b")
    await a.call("register", agent="a.ann")
    await b.call("register", agent="b.ben")
    await b.call("heartbeat", agent="b.ben", state="busy")
    await a.call("send", sender="a.ann", to="b.ben", body="for ben only")

    # send as b's agent
    message = await denied(a, "send", sender="b.ben", to="a.ann", body="forged")
    assert f"studio.{team}.msg.a.ann.b.ben" in message and "node 'a'" in message
    await denied(a, "broadcast", sender="b.ben", body="forged broadcast")

    # read b's inbox: through the API, by pulling b's cursor, by making a consumer of its own
    await denied(a, "fetch", agent="b.ben", wait_s=1)
    message = await denied(a, "pull_consumer", node="b", consumer="inbox_b_ben")
    assert "CONSUMER.MSG.NEXT" in message
    await denied(a, "create_consumer", node="b", agent="ben")
    await denied(a, "watch_mail", node="b")  # nor b's mail live
    assert await a.call("watch_mail", node="a") == f"studio.{team}.msg.a.>"

    # overwrite b's presence or registry entry
    message = await denied(a, "heartbeat", agent="b.ben", state="offline")
    assert f"$KV.studio_{team}_agents.b.ben" in message
    await denied(a, "kv_put", bucket="registry", key="b.ben", value="{}")

    # serve b's control subject (its own is fine)
    message = await denied(a, "serve_control", node="b")
    assert "subscribe to" in message and f"studio.{team}.node.b.ctl.>" in message
    assert await a.call("serve_control", node="a") == f"studio.{team}.node.a.ctl.>"

    # b is untouched: its presence stands, its message is unread and only b reads it
    assert (await b.call("list_agents"))["b.ben"] == "busy"
    got = await b.call("fetch", agent="b.ben", wait_s=5)
    assert [(m["sender"], m["body"]) for m in got] == [("a.ann", "for ben only")]

    # and nobody gets in without credentials
    node = shared_deployment.plan.node("b")
    refused = await a.call("connect_anonymous", url=f"nats://{node.host}:{node.port}")
    assert "authorization" in refused.lower()
