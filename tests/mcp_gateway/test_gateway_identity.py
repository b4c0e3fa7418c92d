"""The tool list, identity (env, register), status and awareness tools, in process."""

from __future__ import annotations

import json

import pytest
from gateway_helpers import FOOTER, fails, ok, text

from broker import presence
from broker.models import AgentInfo

CONTRACT = {
    "whoami",
    "register",
    "list_agents",
    "send_message",
    "broadcast",
    "check_inbox",
    "read_thread",
    "dispatch_task",
    "claim_task",
    "update_task",
    "list_tasks",
    "get_task",
    "post_note",
    "read_notes",
    "lock_files",
    "unlock_files",
    "list_locks",
    "set_status",
    "studio_status",
    "spawn_agent",
    "stop_agent",
    "kick",
    "peek_agent",
    "wait_for",
}


async def test_every_contract_tool_is_listed_with_a_description(gateway_client):
    client = await gateway_client()
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == CONTRACT
    for tool in tools.values():
        assert len(tool.description or "") > 40, tool.name
        assert tool.input_schema["type"] == "object"
        assert "ctx" not in tool.input_schema.get("properties", {})
    assert tools["list_locks"].annotations.read_only_hint
    assert not tools["send_message"].annotations.read_only_hint
    send = tools["send_message"].input_schema
    assert set(send["required"]) == {"to", "body"}
    assert "urgent" in str(send["properties"]["importance"])


async def test_without_identity_whoami_guides_and_agent_tools_refuse(gateway_client):
    client = await gateway_client()
    result = await ok(client, "whoami")
    assert "register(name)" in text(result)
    assert result.structured_content["agent"] is None
    for tool, args in [
        ("send_message", {"to": "x", "body": "hi"}),
        ("check_inbox", {}),
        ("claim_task", {"task_id": "T-1"}),
        ("lock_files", {"paths": ["a.py"]}),
        ("set_status", {"summary": "x"}),
        ("post_note", {"text": "x"}),
        ("list_tasks", {"mine": True}),
    ]:
        assert "call register(name) first" in await fails(client, tool, **args)
    # reading the team works without an identity
    await ok(client, "list_agents")
    await ok(client, "studio_status")
    await ok(client, "list_locks")


async def test_register_claims_node_dot_name_and_is_repeatable(gateway_client):
    client = await gateway_client()
    result = await ok(client, "register", name="backend", role="api", summary="auth refactor")
    assert "You are n1.backend" in text(result)
    assert result.structured_content == {"agent": "n1.backend", "kind": "other", "role": "api"}
    whoami = await ok(client, "whoami")
    assert "n1.backend" in text(whoami) and "role api" in text(whoami)
    # repeating keeps the role when none is given, and changing name is allowed over stdio
    again = await ok(client, "register", name="backend")
    assert again.structured_content["role"] == "api"
    await ok(client, "register", name="frontend")
    assert (await ok(client, "whoami")).structured_content["agent"] == "n1.frontend"
    agents = (await ok(client, "list_agents")).structured_content["agents"]
    by_id = {a["id"]: a for a in agents}
    assert by_id["n1.backend"]["summary"] == "auth refactor"
    assert by_id["n1.frontend"]["state"] == "offline"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Bad Name", "invalid agent name"),
        ("n2.other", "belongs to node 'n2'"),
        ("", "at least 1 character"),
        ("x" * 40, "at most 32 characters"),
    ],
)
async def test_register_rejects_bad_names(gateway_client, name, expected):
    client = await gateway_client()
    assert expected in await fails(client, "register", name=name)
    assert (await ok(client, "whoami")).structured_content["agent"] is None


async def test_identity_from_environment_is_fixed(gateway_client):
    client = await gateway_client("n1.worker")
    assert "You are n1.worker" in text(await ok(client, "whoami"))
    message = await fails(client, "register", name="other")
    assert "this session is n1.worker" in message and "register('worker')" in message
    updated = await ok(client, "register", name="worker", role="tester")
    assert updated.structured_content["role"] == "tester"


async def test_register_warns_when_the_name_is_live_elsewhere(gateway_client):
    first = await gateway_client()
    await ok(first, "register", name="dup")
    await ok(first, "set_status", summary="working")
    second = await gateway_client()
    result = await ok(second, "register", name="dup")
    assert "share one inbox" in text(result)


async def test_set_status_and_list_agents_filters(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n2.bob", node="n2")
    await ok(alice, "set_status", summary="writing the parser")
    await ok(bob, "whoami")
    listed = await ok(alice, "list_agents")
    assert "n1.alice busy" in text(listed) and "writing the parser" in text(listed)
    only_n2 = (await ok(alice, "list_agents", node="n2")).structured_content["agents"]
    assert [a["id"] for a in only_n2] == ["n2.bob"]
    offline = (await ok(alice, "list_agents", state="offline")).structured_content["agents"]
    assert [a["id"] for a in offline] == ["n2.bob"]
    assert "invalid arguments" in await fails(alice, "list_agents", state="sleeping")
    assert "invalid node name" in await fails(alice, "list_agents", node="N 2")
    assert "at most 500" in await fails(alice, "set_status", summary="x" * 501)


async def test_team_views_stay_a_few_kb_however_big_the_team(gateway_client, broker_factory):
    """60 agents on 3 nodes: the listing shows 20 (brief) with counts per node, the overview
    10 with this node's agents first; both stay small enough for a model's context."""
    admin = await broker_factory()
    for i in range(60):
        info = AgentInfo(id=f"n{i % 3}.w{i}", node=f"n{i % 3}", state="idle", cwd="/x" * 50)
        await presence.heartbeat(admin, info)
    alice = await gateway_client("n1.alice")
    listed = await ok(alice, "list_agents")
    assert listed.structured_content["total"] == 60
    assert len(listed.structured_content["agents"]) == 20
    assert "cwd" not in listed.structured_content["agents"][0]
    assert listed.structured_content["by_node"]["n2"] == {"idle": 20}
    assert "By node: " in text(listed) and "n2 20 (20 idle)" in text(listed)
    assert _size(listed) < 8 * 1024
    status = await ok(alice, "studio_status")
    shown = status.structured_content["agents"]
    assert len(shown) == 10 and {a["node"] for a in shown} == {"n1"}
    assert _size(status) < 6 * 1024


def _size(result) -> int:
    return len(text(result).encode()) + len(json.dumps(result.structured_content))


async def test_studio_status_overview(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")
    await ok(alice, "dispatch_task", title="write docs", assignee="bob")
    await ok(alice, "lock_files", paths=["docs/"], reason="restructuring")
    status = await ok(bob, "studio_status")
    body = text(status)
    assert "you are n1.bob" in body
    assert "T-1 [claimed] write docs · @n1.bob" in body
    assert "docs/: n1.alice exclusive" in body and "(restructuring)" in body
    assert status.structured_content["unread"] == 1
    assert body.endswith(f"{FOOTER} 1 unread message — call check_inbox")


async def test_notes_are_shared_and_read_once(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(alice, "post_note", text="we use ruff, line length 100")
    await ok(bob, "post_note", text="main is frozen until 5pm")
    notes = await ok(bob, "read_notes")
    assert "n1.alice: we use ruff" in text(notes) and "n1.bob: main is frozen" in text(notes)
    assert "No new notes." in text(await ok(bob, "read_notes"))
    assert len((await ok(alice, "read_notes", limit=1)).structured_content["notes"]) == 1
    assert "note text is empty" in await fails(alice, "post_note", text="   ")
    assert "invalid arguments" in await fails(alice, "read_notes", limit=0)
