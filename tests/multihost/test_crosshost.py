"""Three hosts (network namespaces), one cluster node and one agent process on each: messages
both ways, broadcast, a task claimed from another host, presence and notes across hosts, with
per-node credentials, and again with TLS required."""

from __future__ import annotations

import asyncio

from tests.multihost.conftest import Site
from tests.multihost.netlab import Deployment


async def exercise_cross_host(site: Site, deployment: Deployment) -> None:
    a, b, c = await asyncio.gather(*(site.agent(deployment, h) for h in ("a", "b", "c")))
    for proc, agent in ((a, "a.alice"), (b, "b.bob"), (c, "c.carol")):
        assert await proc.call("register", agent=agent) == agent

    # a → b, then b answers by bare name
    sent = await a.call("send", sender="a.alice", to="b.bob", body="hello from host a")
    got = await b.call("fetch", agent="b.bob", wait_s=10)
    assert [(m["id"], m["sender"], m["body"]) for m in got] == [
        (sent, "a.alice", "hello from host a")
    ]
    sent = await b.call("send", sender="b.bob", to="alice", body="hello back from host b")
    got = await a.call("fetch", agent="a.alice", wait_s=10)
    assert [(m["id"], m["sender"]) for m in got] == [(sent, "b.bob")]

    # broadcast from c: once to each other agent, on its own host
    assert await c.call("broadcast", sender="c.carol", body="all hands") == ["a.alice", "b.bob"]
    for proc, agent in ((a, "a.alice"), (b, "b.bob")):
        got = await proc.call("fetch", agent=agent, limit=10, wait_s=10)
        assert [(m["sender"], m["body"]) for m in got] == [("c.carol", "all hands")]
        assert await proc.call("unread", agent=agent) == 0

    # a task made on a, claimed from b and c at once: exactly one wins, a sees who
    task = await a.call("task_create", creator="a.alice", title="cross-host task")
    wins = await asyncio.gather(
        b.call("task_claim", agent="b.bob", task_id=task),
        c.call("task_claim", agent="c.carol", task_id=task),
    )
    assert sorted(wins) == [False, True]
    winner = "b.bob" if wins[0] else "c.carol"
    assert await a.call("task_get", task_id=task) == {"status": "claimed", "assignee": winner}

    # presence, notes and leases cross hosts too
    await c.call("heartbeat", agent="c.carol", state="busy")
    agents = await a.call("list_agents")
    assert agents["c.carol"] == "busy" and agents["b.bob"] == "offline"
    await b.call("note_post", sender="b.bob", text="note from host b")
    assert await c.call("notes_read", agent="c.carol") == ["note from host b"]
    assert await a.call("lease", agent="a.alice", path="src/app.py") == ["src/app.py"]
    conflict = await _error(b.call("lease", agent="b.bob", path="src/app.py"))
    assert "held by a.alice" in conflict


async def _error(call) -> str:
    try:
        await call
    except Exception as exc:
        return str(exc)
    raise AssertionError("expected an error")


async def test_cross_host_with_node_credentials(site: Site, shared_deployment: Deployment):
    await exercise_cross_host(site, shared_deployment)


async def test_cross_host_with_tls_required(site: Site):
    deployment = site.deploy(tls=True)
    assert all(url.startswith("tls://") for url in deployment.plan.client_urls())
    await exercise_cross_host(site, deployment)

    probe = await site.agent(deployment, "a")
    node = deployment.plan.node("b")
    info = await probe.call("server_info", host=node.host, port=node.port)
    assert info["tls_required"] and info["auth_required"]
    # No TLS: refused. TLS but no credentials: refused by auth.
    plain = await probe.call("connect_anonymous", url=f"nats://{node.host}:{node.port}")
    assert plain != "connected"
    ca = str(deployment.directory / "tls" / "ca.pem")
    anonymous = await probe.call("connect_anonymous", url=f"tls://{node.host}:{node.port}", ca=ca)
    assert "Authorization" in anonymous or "authorization" in anonymous
