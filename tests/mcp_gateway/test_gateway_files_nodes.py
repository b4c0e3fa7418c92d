"""File leases and node control through the gateway. Node control runs against no daemon
(must fail fast) and against a stand-in daemon answering with the broker/control.py models."""

from __future__ import annotations

import asyncio
import time

import pytest
from gateway_helpers import fails, ok, text

from broker import control
from broker.models import AgentKind


async def test_leases_conflict_name_the_holder_and_expire(gateway_client):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    held = await ok(alice, "lock_files", paths=["src/api/", "README.md"], reason="refactor")
    assert "Locked for 600s" in text(held)
    assert {x["path"] for x in held.structured_content["leases"]} == {"src/api/", "README.md"}

    conflict = await fails(bob, "lock_files", paths=["src/api/routes.py", "docs/x.md"])
    assert "lease conflict: src/api/ held by n1.alice until" in conflict
    assert "(refactor)" in conflict
    # all or nothing: bob got neither path
    paths = {x["path"] for x in (await ok(bob, "list_locks")).structured_content["leases"]}
    assert paths == {"src/api/", "README.md"}

    await ok(alice, "lock_files", paths=["shared.txt"], exclusive=False)
    await ok(bob, "lock_files", paths=["shared.txt"], exclusive=False)
    assert "shared" in text(await ok(bob, "list_locks"))

    released = await ok(alice, "unlock_files", paths=["src/api/", "nothing.py"])
    assert released.structured_content["released"] == ["src/api/"]
    await ok(bob, "lock_files", paths=["src/api/routes.py"])
    assert "You held none of these." in text(await ok(alice, "unlock_files", paths=["x.py"]))

    await ok(alice, "lock_files", paths=["tmp/"], ttl_s=1)
    assert "held by n1.alice" in await fails(bob, "lock_files", paths=["tmp/a"])
    await asyncio.sleep(2.2)
    await ok(bob, "lock_files", paths=["tmp/a"])


async def test_lease_input_errors(gateway_client):
    alice = await gateway_client("n1.alice")
    assert "invalid arguments" in await fails(alice, "lock_files", paths=[])
    assert "the whole repository" in await fails(alice, "lock_files", paths=["./"])
    assert "the whole tree" in await fails(alice, "lock_files", paths=["."])
    assert "invalid arguments" in await fails(alice, "lock_files", paths=["a"], ttl_s=0)
    assert "invalid path" in await fails(alice, "lock_files", paths=["ok.py", "bad\x00"])
    assert "No files are locked." in text(await ok(alice, "list_locks"))


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("spawn_agent", {"name": "helper"}),
        ("spawn_agent", {"name": "helper", "node": "n7"}),
        ("stop_agent", {"agent": "bob"}),
        ("kick", {"agent": "bob"}),
        ("peek_agent", {"agent": "bob"}),
    ],
)
async def test_node_control_without_daemon_fails_fast(gateway_client, tool, arguments):
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    await ok(bob, "whoami")
    started = time.monotonic()
    message = await fails(alice, tool, **arguments)
    assert time.monotonic() - started < 1.0
    node = arguments.get("node", "n1")
    assert f"no daemon for node {node!r}" in message and "studio node run" in message


async def test_node_control_against_a_daemon(gateway_client, broker):
    """A stand-in daemon: decodes each request with control.REQUESTS, answers with REPLIES."""
    seen: list[control.ControlRequest] = []

    async def serve(msg) -> None:
        verb = control.Verb(msg.subject.split(".")[-2])
        request = control.REQUESTS[verb].model_validate_json(msg.data)
        seen.append(request)
        if verb == control.Verb.spawn:
            reply = control.SpawnReply(agent=f"n1.{request.name}", tmux_target="studio-t:3")
        elif verb == control.Verb.stop:
            reply = control.StopReply(agent=request.agent, stopped=True)
        elif verb == control.Verb.kick:
            reply = control.KickReply(agent=request.agent, delivered=False, state="busy")
        else:
            reply = control.PeekReply(agent=request.agent, state="idle", text="$ pytest\n3 passed")
        await msg.respond(reply.model_dump_json().encode())

    sub = await broker.nc.subscribe(broker.names.control_subject("n1", "*", "*"), cb=serve)
    try:
        alice = await gateway_client("n1.alice")
        bob = await gateway_client("n1.bob")
        await ok(bob, "whoami")
        spawned = await ok(
            alice, "spawn_agent", name="helper", kind="codex", prompt="write tests", worktree=True
        )
        assert "Started n1.helper (codex) in studio-t:3" in text(spawned)
        assert "Stopped n1.bob." in text(await ok(alice, "stop_agent", agent="bob"))
        assert "n1.bob: not woken (busy)" in text(await ok(alice, "kick", agent="n1.bob"))
        peek = await ok(alice, "peek_agent", agent="bob", lines=5)
        assert "n1.bob (idle), last 5 lines:\n$ pytest\n3 passed" in text(peek)
        spawn = seen[0]
        assert isinstance(spawn, control.SpawnRequest)
        assert (spawn.kind, spawn.prompt, spawn.worktree, spawn.requested_by) == (
            AgentKind.codex,
            "write tests",
            True,
            "n1.alice",
        )
        assert [type(r).__name__ for r in seen[1:]] == ["StopRequest", "KickRequest", "PeekRequest"]
        assert "unknown agent 'ghost'" in await fails(alice, "stop_agent", agent="ghost")
        assert "invalid arguments" in await fails(alice, "spawn_agent", name="x", kind="vim")
        assert "invalid arguments" in await fails(alice, "peek_agent", agent="bob", lines=0)
    finally:
        await sub.unsubscribe()


async def test_daemon_refusal_is_reported(gateway_client, broker):
    async def refuse(msg) -> None:
        await msg.respond(control.failure("tmux is not installed on n1; apt install tmux"))

    sub = await broker.nc.subscribe(broker.names.control_subject("n1", "spawn", "*"), cb=refuse)
    try:
        alice = await gateway_client("n1.alice")
        message = await fails(alice, "spawn_agent", name="helper")
        assert message.endswith("tmux is not installed on n1; apt install tmux")
    finally:
        await sub.unsubscribe()


async def test_control_client_contract(broker):
    """broker/control.py directly: the daemon will reuse these models and this function."""
    with pytest.raises(control.NodeUnavailable, match="no daemon for node 'far'"):
        await control.list_managed(broker, "far")

    async def slow(msg) -> None:
        await asyncio.sleep(1)

    sub = await broker.nc.subscribe(broker.names.control_subject("n1", "list", "*"), cb=slow)
    try:
        with pytest.raises(control.NodeUnavailable, match="did not answer list within 0s"):
            await control.request(broker, "n1", "list", control.ListRequest(), timeout_s=0.2)
    finally:
        await sub.unsubscribe()

    async def garbage(msg) -> None:
        await msg.respond(b"{not json")

    sub = await broker.nc.subscribe(broker.names.control_subject("n1", "list", "*"), cb=garbage)
    try:
        with pytest.raises(control.ControlFailed, match="malformed list reply"):
            await control.list_managed(broker, "n1")
    finally:
        await sub.unsubscribe()
    with pytest.raises(control.StudioError, match="unknown control verb"):
        await control.request(broker, "n1", "reboot", control.ListRequest())


async def test_lock_paths_from_the_agent_directory_become_repository_paths(
    gateway_client, tmp_path, monkeypatch
):
    """The stdio gateway runs where the agent works: an absolute path or `./x` there names
    the same lease as the repository-relative path a teammate gives."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    alice = await gateway_client("n1.alice")
    bob = await gateway_client("n1.bob")
    held = await ok(alice, "lock_files", paths=[str(tmp_path / "src" / "api.py"), "./db.py"])
    assert {x["path"] for x in held.structured_content["leases"]} == {"src/api.py", "src/db.py"}
    assert "held by n1.alice" in await fails(bob, "lock_files", paths=["src/api.py"])
    assert "outside the repository" in await fails(bob, "lock_files", paths=["/etc/passwd"])
    released = await ok(alice, "unlock_files", paths=["./api.py"])
    assert released.structured_content["released"] == ["src/api.py"]
