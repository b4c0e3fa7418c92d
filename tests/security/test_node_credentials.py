"""Holding one node's credentials on a credentialed 3-node cluster (the deploy guide's setup,
in network namespaces): the audit's attacks, and that each now fails or does no harm. Node a
is the attacker, b the victim. The broker's own permissions are in tests/multihost."""

from __future__ import annotations

import pytest

from broker.models import AgentInfo, AgentState, Message
from tests.multihost.conftest import Site
from tests.multihost.netlab import Deployment, RemoteError


async def refused(proc, op: str, **args) -> str:
    with pytest.raises(RemoteError) as caught:
        await proc.call(op, **args)
    return caught.value.message


def subject(dep: Deployment, *tokens: str) -> str:
    return ".".join([f"studio.{dep.team}", *tokens])


async def test_forged_senders_and_records_are_not_believed(
    site: Site,
    shared_deployment: Deployment,
) -> None:
    dep = shared_deployment
    a, b = await site.agent(dep, "a"), await site.agent(dep, "b")
    for agent in ("b.lead", "b.ben"):
        await b.call("register", agent=agent)
    await a.call("register", agent="a.eve")

    # A message from a whose body claims b.lead (and carries shell syntax) reads as a.eve's.
    forged = Message(sender="b.lead; touch /tmp/x; :", to="b.ben", body="FORGED-1")
    await a.call(
        "raw_publish",
        subject=subject(dep, "msg", "b", "ben", "a", "eve"),
        body=forged.model_dump_json(),
    )
    # Publishing with b's sender tokens is refused by the broker.
    assert "permission denied" in await refused(
        a,
        "raw_publish",
        subject=subject(dep, "msg", "b", "ben", "b", "lead"),
        body=forged.model_dump_json(),
    )
    got = await b.call("fetch", agent="b.ben", wait_s=5)
    assert [(m["sender"], m["body"]) for m in got] == [("a.eve", "FORGED-1")]

    # Presence: a's own key holding b.lead's id is ignored; so is a non-JSON record.
    fake = AgentInfo(id="b.lead", node="b", state=AgentState.idle, summary="forged")
    await a.call("kv_put", bucket="agents", key="a.eve", value=fake.model_dump_json())
    await a.call("kv_put", bucket="agents", key="a.junk", value="\x00 not json")
    listed = await b.call("list_agents")
    assert listed["b.lead"] == "offline" and "a.junk" not in listed
    # Registry: a record under a's key naming b's agent is skipped; the rest still lists.
    await a.call("kv_put", bucket="registry", key="a.mallory", value='{"id": "b.zed"}')
    await a.call("kv_put", bucket="registry", key="a.junk", value="{")
    registered = await b.call("registered")
    assert "b.zed" not in registered and {"b.lead", "b.ben", "a.eve"} <= set(registered)
    # Broadcast still reaches everyone registered.
    assert sorted(await a.call("broadcast", sender="a.eve", body="hello all"))
    # Who-wrote-to-whom notices go only under a's own name, so none can claim b's agents;
    # and b's daemon key, which its agents' liveness hangs on, is b's alone to renew.
    assert "permission denied" in await refused(
        a, "raw_publish", subject=subject(dep, "flow", "b"), body="[]"
    )
    beat = '{"node": "b", "ttl_s": 999}'
    assert "permission denied" in await refused(
        a, "kv_put", bucket="agents", key="b._node", value=beat
    )


async def test_rollups_oversize_and_poison_records_do_no_harm(
    site: Site,
    shared_deployment: Deployment,
) -> None:
    dep = shared_deployment
    a, b = await site.agent(dep, "a"), await site.agent(dep, "b")
    await a.call("register", agent="a.eve")
    await b.call("register", agent="b.ben")
    first = await b.call("task_create", creator="b.ben", title="keep me")

    # A rollup header on a key a may write would wipe the bucket: the broker refuses it.
    for bucket, key in (("tasks", "task.999"), ("agents", "a.eve"), ("registry", "a.eve")):
        name = f"studio_{dep.team}_{bucket if bucket != 'agents' else 'agents'}"
        message = await refused(
            a,
            "raw_publish",
            subject=f"$KV.{name}.{key}",
            body="{}",
            headers={"Nats-Rollup": "all"},
        )
        assert "rollup" in message.lower(), message
    assert "task.1" in await b.call("kv_keys", bucket="tasks")
    assert "b.ben" in await b.call("registered")

    # A 2 MB message is refused by the broker itself, not only by studio's client.
    message = await refused(
        a,
        "raw_publish",
        subject=subject(dep, "msg", "b", "ben", "a", "eve"),
        body="x",
        size=2 * 1024 * 1024,
    )
    assert "maximum" in message.lower() or "size" in message.lower(), message

    # A bad task and a poisoned counter: the board lists, creation goes on with fresh ids.
    await a.call("kv_put", bucket="tasks", key="task.77", value="not json")
    await a.call("kv_put", bucket="tasks", key="counter", value="99999999999")
    assert first in await b.call("list_tasks")
    created = await b.call("task_create", creator="b.ben", title="after the poison")
    assert created not in (first, "T-77") and len(created) < 12
    assert created in await b.call("list_tasks")

    # Notes cursors are the node's own keys: a cannot read or move b's.
    message = await refused(a, "kv_put", bucket="cursors", key="b.ben", value="999999")
    assert "permission denied" in message

    # A bad note costs only itself: the next good note is read.
    await a.call("raw_publish", subject=subject(dep, "note", "a", "eve"), body="{broken")
    await a.call("note_post", sender="a.eve", text="a real note")
    assert "a real note" in await b.call("notes_read", agent="b.ben")


async def test_control_requests_cannot_claim_another_node(
    site: Site,
    shared_deployment: Deployment,
) -> None:
    dep = shared_deployment
    a = await site.agent(dep, "a")
    request = '{"name": "x", "kind": "other", "command": "touch /tmp/pwned"}'
    for forged_requester in ("b", "c"):
        message = await refused(
            a,
            "raw_request",
            subject=subject(dep, "node", "b", "ctl", "spawn", forged_requester),
            body=request,
        )
        assert "permission denied" in message
    # Events are signed with the node's name the same way.
    message = await refused(
        a,
        "raw_publish",
        subject=subject(dep, "event", "b", "agent_offline"),
        body='{"kind": "agent_offline", "agent": "b.ben"}',
    )
    assert "permission denied" in message
