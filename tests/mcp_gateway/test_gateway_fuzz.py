"""Property-based fuzzing of tool arguments through the real MCP client and server.

For any arguments: the call returns a result (never a protocol error or a crash), a rejection
is an isError result with a message that says what was wrong, and a rejected call writes
nothing (stream and bucket sequence numbers stay where they were)."""

from __future__ import annotations

import math

from gateway_helpers import ok, text
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from broker.connection import Broker

# wait_for blocks for at least a second by design; its validation has its own tests.
SKIPPED = {"wait_for"}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(),
    st.text(max_size=40),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
agent_refs = st.sampled_from(["bob", "n1.bob", "alice", "ghost", "n9.x", "", "BOB", "a.b.c", "*"])
texts = st.text(max_size=300)
PLAUSIBLE = {
    "to": agent_refs,
    "agent": agent_refs,
    "assignee": agent_refs,
    "name": st.sampled_from(["alice", "bob", "helper", "Bad Name", "", "x" * 40, "n2.zed", "-a"]),
    "node": st.sampled_from(["n1", "n2", "N1", "", "a.b", "n" * 33]),
    "task_id": st.sampled_from(["T-1", "T-2", "T-999", "t-1", "T-0", "X", "", "T-99999999999"]),
    "thread_id": st.sampled_from(["", "nope", "T-1"]) | texts,
    "paths": st.lists(
        st.sampled_from(["src/a.py", "src/", "./", "/", "a\x00b", "docs/x.md", "", "../x"]),
        max_size=4,
    ),
    "depends_on": st.lists(st.sampled_from(["T-1", "T-2", "T-9", "nope"]), max_size=3),
    "agents": st.lists(agent_refs, max_size=3),
    "status": st.sampled_from(["open", "claimed", "in_progress", "done", "failed", "finished"]),
    "importance": st.sampled_from(["low", "normal", "high", "urgent", "critical"]),
    "state": st.sampled_from(["idle", "busy", "offline", "sleeping"]),
    "kind": st.sampled_from(["claude", "codex", "shell", "vim"]),
    "limit": st.integers(-5, 300),
    "lines": st.integers(-5, 600),
    "priority": st.integers(-150, 150),
    "ttl_s": st.floats(-5, 100_000) | st.just(math.nan),
    "wait_s": st.floats(-1, 400) | st.just(math.nan),
    "mine": st.booleans(),
    "exclusive": st.booleans(),
    "worktree": st.booleans(),
}


def values_for(name: str) -> st.SearchStrategy:
    return st.one_of(PLAUSIBLE.get(name, texts), junk)


async def snapshot(broker: Broker) -> dict[str, int]:
    """Last sequence of every stream a tool may write (events excluded: a refused lease is an
    event by design)."""
    names = broker.names
    streams = [names.inbox_stream("n1"), names.notes_stream] + [
        f"KV_{b}"
        for b in (
            names.tasks_bucket,
            names.registry_bucket,
            names.agents_bucket,
            names.leases_bucket,
        )
    ]
    return {s: (await broker.js.stream_info(s)).state.last_seq for s in streams}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_arguments_give_a_result_or_a_clean_refusal(gateway_client, broker, data):
    if not hasattr(broker, "fuzz_clients"):  # once per test, reused by every example
        alice = await gateway_client("n1.alice")
        bob = await gateway_client("n1.bob")
        await ok(bob, "whoami")
        await ok(bob, "lock_files", paths=["held/"])
        await ok(alice, "dispatch_task", title="seed task")
        tools = {t.name: t.input_schema for t in (await alice.list_tools()).tools}
        broker.fuzz_clients = (alice, tools)  # type: ignore[attr-defined]
    alice, tools = broker.fuzz_clients  # type: ignore[attr-defined]

    name = data.draw(st.sampled_from(sorted(set(tools) - SKIPPED)), label="tool")
    schema = tools[name]
    required = set(schema.get("required", []))
    arguments = {}
    for prop in sorted(schema.get("properties", {})):
        if data.draw(st.floats(0, 1)) < (0.9 if prop in required else 0.5):
            arguments[prop] = data.draw(values_for(prop), label=prop)
    if data.draw(st.booleans()):
        arguments[data.draw(st.sampled_from(["unexpected", "ctx", "_meta"]))] = data.draw(junk)
    wait = arguments.get("wait_s")
    if isinstance(wait, int | float) and not math.isnan(wait) and 0 < wait <= 300:
        arguments["wait_s"] = 0.01  # a valid long poll: keep it short

    before = await snapshot(broker)
    result = await alice.call_tool(name, arguments)
    message = text(result)
    event("rejected" if result.is_error else "accepted")
    if result.is_error:
        prefix = f"Error executing tool {name}: "
        assert message.startswith(prefix) and len(message) > len(prefix) + 10, message
        assert await snapshot(broker) == before, f"{name}({arguments}) failed but wrote"
    else:
        assert message, f"{name} returned no text"

    # the gateway is still healthy after whatever it was given
    assert "You are n1.alice" in text(await ok(alice, "whoami"))
