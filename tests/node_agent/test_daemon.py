"""The node daemon end to end: real tmux, real nats-server, real git, the scripted agent calling
the studio tools through a real `studio mcp` subprocess."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from broker import agents, leases, messages, presence, tasks
from broker.control import (
    KickRequest,
    PeekRequest,
    SpawnRequest,
    StopRequest,
    list_managed,
    peek,
    spawn,
    stop,
)
from broker.errors import StudioError
from broker.models import AgentInfo
from broker.names import AgentId
from tests.node_agent.conftest import read_log, run, type_into, wait_for

LEAD = AgentId("lead", "boss")


async def spawn_scripted(studio, node, name, tmp_path, busy_s=0.2, cwd=None):
    log = tmp_path / f"{node}-{name}.jsonl"
    await spawn(
        studio.broker,
        node,
        SpawnRequest(
            name=name,
            kind="other",
            command=studio.agent_command(log, busy_s),
            cwd=str(cwd or tmp_path),
        ),
    )
    await wait_for(lambda: any(e["kind"] == "ready" for e in read_log(log)), 15, "agent ready")
    return log


async def wait_idle(studio, node, name):
    async def state():
        return (await peek(studio.broker, node, PeekRequest(agent=name))).state

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await state() == "idle":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{node}.{name} never idle")


def bodies_read(log) -> str:
    return "\n".join(e["text"] for e in read_log(log) if e["kind"] == "tool")


async def test_idle_agent_is_woken_and_reads_its_message_within_a_second(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    await studio.start_daemon("a")
    log = await spawn_scripted(studio, "a", "worker", tmp_path)
    await wait_idle(studio, "a", "worker")
    sent_at = time.time()
    await messages.send(studio.broker, LEAD, "a.worker", "please review PR 7")
    await wait_for(lambda: "please review PR 7" in bodies_read(log), 5, "message read")
    read_at = next(e["t"] for e in read_log(log) if e["kind"] == "tool" and "PR 7" in e["text"])
    assert read_at - sent_at < 1.0
    assert await messages.unread_count(studio.broker, AgentId("a", "worker")) == 0


async def test_busy_agent_gets_no_keystrokes_and_sees_mail_at_its_turn_boundary(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    await studio.start_daemon("a")
    log = await spawn_scripted(studio, "a", "busy", tmp_path)
    await wait_idle(studio, "a", "busy")
    # Start a long turn by typing into it (as a person would), then mail it mid-turn.
    await studio.broker.nc.flush()
    await type_into(studio, "busy", "busy 2.5")
    await wait_for(lambda: any(e["kind"] == "turn_start" for e in read_log(log)), 5, "turn")
    await asyncio.sleep(0.3)
    await messages.send(studio.broker, LEAD, "a.busy", "mid-turn news")
    await wait_for(lambda: "mid-turn news" in bodies_read(log), 10, "read at boundary")
    entries = read_log(log)
    assert not [e for e in entries if e["kind"] == "keys_while_busy"]
    # It learned of the mail from its own hooks at the turn boundary, not from typing.
    assert any(e["kind"] == "stop_blocked" for e in entries) or any(
        e["kind"] == "hook" and "additionalContext" in str(e["reply"]) for e in entries
    )


async def test_daemon_sigkill_and_restart_readopts_every_window_and_loses_nothing(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    daemon = await studio.start_daemon("a")
    logs = [await spawn_scripted(studio, "a", n, tmp_path) for n in ("one", "two")]
    await wait_idle(studio, "a", "one")
    daemon.kill()
    await messages.send(studio.broker, LEAD, "a.one", "sent while the daemon was dead")
    await studio.start_daemon("a")
    listed = await list_managed(studio.broker, "a")
    assert sorted(a.id for a in listed.agents) == ["a.one", "a.two"]
    await wait_for(lambda: "while the daemon was dead" in bodies_read(logs[0]), 15, "mail")
    assert await messages.unread_count(studio.broker, AgentId("a", "one")) == 0


async def test_two_daemons_spawn_message_and_peek_across_nodes(studio, tmp_path):
    await studio.start_daemon("a")
    await studio.start_daemon("b")
    log_b = await spawn_scripted(studio, "b", "remote", tmp_path)
    log_a = await spawn_scripted(studio, "a", "local", tmp_path)
    await wait_idle(studio, "b", "remote")
    await wait_idle(studio, "a", "local")
    # An agent on a messages one on b through its own tools (the scripted agent's `send`).
    await type_into(studio, "local", "send b.remote hello from a")
    await wait_for(lambda: "hello from a" in bodies_read(log_b), 10, "cross-node message")
    screen = await peek(studio.broker, "b", PeekRequest(agent="remote", lines=30))
    assert "hello from a" in screen.text
    assert read_log(log_a)


async def test_killed_agent_goes_offline_and_its_task_returns_to_open(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    await studio.start_daemon("a")
    await spawn_scripted(studio, "a", "doomed", tmp_path)
    doomed = AgentId("a", "doomed")
    task = await tasks.create(studio.broker, LEAD, "fragile work", assignee="a.doomed")
    await wait_for(lambda: True, 0.1)
    live = await presence.live(studio.broker)
    assert "a.doomed" in live
    socket = studio.socket("a")
    await run("tmux", "-L", socket, "kill-window", "-t", f"studio-{studio.team}:doomed")

    async def reopened():
        return (await tasks.get(studio.broker, task.id)).status == "open"

    deadline = time.monotonic() + 10
    while not await reopened():
        assert time.monotonic() < deadline, "task not reopened"
        await asyncio.sleep(0.1)
    assert "a.doomed" not in await presence.live(studio.broker)
    states = {i.id: i.state for i in await presence.list_agents(studio.broker)}
    assert states["a.doomed"] == "offline"
    assert doomed


def git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


async def test_two_agents_changing_the_same_file_are_both_told(studio, tmp_path):
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    (origin / "app.py").write_text("print('v1')\n")
    git(origin, "add", ".")
    git(origin, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    clone_a, clone_b = tmp_path / "clone-a", tmp_path / "clone-b"
    for clone in (clone_a, clone_b):
        await run("git", "clone", "-q", str(origin), str(clone))
    await studio.start_daemon("a")
    await studio.start_daemon("b")
    log_a = await spawn_scripted(studio, "a", "alice", tmp_path, cwd=clone_a)
    await spawn_scripted(studio, "b", "bob", tmp_path, cwd=clone_b)
    (clone_a / "app.py").write_text("print('alice')\n")
    (clone_b / "app.py").write_text("print('bob')\n")

    async def told(agent):
        # history, not unread: the woken agent may already have read the notice
        found = await messages.history(studio.broker, agent)
        return [m for m in found if "app.py" in m.body and "also changing" in m.body]

    for agent in (AgentId("a", "alice"), AgentId("b", "bob")):
        deadline = time.monotonic() + 15
        while not await told(agent):
            assert time.monotonic() < deadline, f"{agent} was not told"
            await asyncio.sleep(0.2)
    info = (await presence.live(studio.broker))["a.alice"]
    assert info.changed_files == ["app.py"] and info.branch == "main"
    # Before alice edits the file again, her pre-edit hook tells her bob is changing it too.
    # (First let the turn in which she read the notice end, so no wake is in flight.)
    await wait_for(lambda: read_log(log_a)[-1]["kind"] == "turn_end", 10, "notice turn over")
    await wait_idle(studio, "a", "alice")
    await type_into(studio, "alice", f"edit {clone_a / 'app.py'} more")

    def pre_edit():
        return [e for e in read_log(log_a) if e["kind"] == "hook" and e["event"] == "PreToolUse"]

    [hook] = await wait_for(pre_edit, 10, "pre-edit hook")
    context = hook["reply"]["hookSpecificOutput"]["additionalContext"]
    assert "b.bob is also changing app.py" in context


async def test_control_errors_stop_kick_and_leases_in_hooks(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    await studio.start_daemon("a")
    with pytest.raises(StudioError, match="invalid agent name"):
        await spawn(studio.broker, "a", SpawnRequest(name="Bad Name", kind="shell"))
    with pytest.raises(StudioError, match="not a directory"):
        await spawn(studio.broker, "a", SpawnRequest(name="x", kind="shell", cwd="/nope/nope"))
    with pytest.raises(StudioError, match="needs a command"):
        await spawn(studio.broker, "a", SpawnRequest(name="x", kind="other"))
    # A refused spawn leaves nothing registered.
    assert "a.x" not in {r.id for r in await agents.registered(studio.broker)}
    with pytest.raises(StudioError, match="no daemon for node 'zz'"):
        await spawn(studio.broker, "zz", SpawnRequest(name="x", kind="shell"))
    log = await spawn_scripted(studio, "a", "editor", tmp_path)
    with pytest.raises(StudioError, match="already running"):
        await spawn(studio.broker, "a", SpawnRequest(name="editor", kind="shell"))
    await wait_idle(studio, "a", "editor")
    # An exclusive lease held by someone else denies the edit before it happens.
    target = tmp_path / "locked.py"
    # Leases name repository-relative paths (outside a checkout: relative to its directory).
    await leases.acquire(studio.broker, LEAD, ["locked.py"], reason="migration")
    await type_into(studio, "editor", f"edit {target} hello")
    await wait_for(
        lambda: any(e["kind"] == "hook" and e["event"] == "PreToolUse" for e in read_log(log)),
        10,
        "pre-edit hook",
    )
    hook = next(e for e in read_log(log) if e["kind"] == "hook" and e["event"] == "PreToolUse")
    decision = hook["reply"]["hookSpecificOutput"]
    assert (
        decision["permissionDecision"] == "deny" and "boss" in decision["permissionDecisionReason"]
    )
    assert not target.exists()
    await wait_idle(studio, "a", "editor")
    kicked = await studio_kick(studio, "editor", "hello there")
    assert kicked.delivered
    await wait_for(
        lambda: any(e.get("line") == "hello there" for e in read_log(log)), 5, "kick typed"
    )
    stopped = await stop(studio.broker, "a", StopRequest(agent="editor", timeout_s=10))
    assert stopped.stopped
    assert any("wrap up" in e.get("text", "") for e in read_log(log))
    await spawn(studio.broker, "a", SpawnRequest(name="sh", kind="shell", cwd=str(tmp_path)))
    started = time.monotonic()
    await stop(studio.broker, "a", StopRequest(agent="sh", force=True))
    assert time.monotonic() - started < 3
    assert (await list_managed(studio.broker, "a")).agents == []


async def studio_kick(studio, name, text):
    from broker.control import kick

    return await kick(studio.broker, "a", KickRequest(agent=name, text=text))


async def test_tasks_of_an_agent_on_a_vanished_node_return_to_open(studio, tmp_path):
    await agents.register(studio.broker, LEAD)
    await studio.start_daemon("a")
    ghost = AgentId("c", "ghost")  # on a node with no daemon left to bury it
    await agents.register(studio.broker, ghost)
    await presence.heartbeat(
        studio.broker, AgentInfo(id=str(ghost), node="c", state="busy"), ttl_s=2
    )
    task = await tasks.create(studio.broker, LEAD, "work on c")
    await tasks.claim(studio.broker, ghost, task.id)
    # A CLI identity that never heartbeats keeps its claim.
    cli_task = await tasks.create(studio.broker, LEAD, "claimed from a terminal")
    await tasks.claim(studio.broker, LEAD, cli_task.id)

    async def reopened():
        return (await tasks.get(studio.broker, task.id)).status == "open"

    deadline = time.monotonic() + 15
    while not await reopened():
        assert time.monotonic() < deadline, "orphaned task not reopened"
        await asyncio.sleep(0.2)
    assert (await tasks.get(studio.broker, cli_task.id)).assignee == str(LEAD)
