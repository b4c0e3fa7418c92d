"""The gateway as a CLI starts it: `studio mcp` as a subprocess speaking stdio, configured only
by environment variables (STUDIO_NATS_URL, STUDIO_TEAM, STUDIO_NODE, STUDIO_AGENT_ID)."""

from __future__ import annotations

import pytest
from mcp import Client, StdioServerParameters
from rawstdio import STUDIO, RawGateway, text

from broker import agents, messages
from broker.names import AgentId


@pytest.fixture
async def gateway_env(broker, tmp_path) -> dict[str, str]:
    """What the daemon gives a session it spawns: the agent is registered, its id in the env."""
    await agents.register(broker, AgentId("n1", "alice"))
    return {
        "STUDIO_NATS_URL": ",".join(broker.settings.nats_url),
        "STUDIO_TEAM": broker.team,
        "STUDIO_NODE": "n1",
        "STUDIO_AGENT_ID": "n1.alice",
        "STUDIO_HOME": str(tmp_path),
    }


async def test_sdk_client_over_stdio(broker, gateway_env):
    bob = AgentId("n1", "bob")
    await agents.register(broker, bob)
    params = StdioServerParameters(command=STUDIO, args=["mcp"], env=gateway_env)
    async with Client(params, mode="legacy") as client:
        assert client.server_info.name == "studio"
        assert "check_inbox" in (client.instructions or "")
        names = {t.name for t in (await client.list_tools()).tools}
        assert len(names) == 24
        whoami = await client.call_tool("whoami", {})
        assert "You are n1.alice" in whoami.content[0].text
        sent = await client.call_tool("send_message", {"to": "bob", "body": "over stdio"})
        assert not sent.is_error
        await messages.send(broker, bob, "alice", "and back")
        inbox = await client.call_tool("check_inbox", {})
        assert "and back" in inbox.content[0].text
        failed = await client.call_tool("claim_task", {"task_id": "T-1"})
        assert failed.is_error and "no task T-1" in failed.content[0].text
    got = await messages.fetch(broker, bob)
    assert [d.message.body for d in got] == ["over stdio"]


@pytest.mark.parametrize("switch", ["--channels", "STUDIO_CHANNELS=1"])
async def test_channels_push_new_messages(broker, gateway_env, switch):
    bob = AgentId("n1", "bob")
    await agents.register(broker, bob)
    if switch.startswith("--"):
        gateway = await RawGateway.start(gateway_env, switch)
    else:
        gateway = await RawGateway.start({**gateway_env, "STUDIO_CHANNELS": "1"})
    try:
        init = await gateway.initialize()
        assert init["capabilities"]["experimental"] == {"claude/channel": {}}
        sent = await messages.send(
            broker, bob, "alice", "tests are green", subject="ci", importance="high"
        )
        pushed = await gateway.next_notification("notifications/claude/channel")
        assert pushed["params"]["content"] == "tests are green"
        assert pushed["params"]["meta"] == {
            "from": "n1.bob",
            "message_id": sent.id,
            "thread_id": sent.id,
            "importance": "high",
            "subject": "ci",
        }
        # handed off by the push: nothing left unread for check_inbox
        result = await gateway.call("check_inbox")
        assert text(result) == "No new messages."
        assert await messages.unread_count(broker, AgentId("n1", "alice")) == 0
    finally:
        await gateway.close()


async def test_without_channels_nothing_is_pushed(broker, gateway_env):
    bob = AgentId("n1", "bob")
    await agents.register(broker, bob)
    gateway = await RawGateway.start(gateway_env)
    try:
        init = await gateway.initialize()
        assert "experimental" not in init["capabilities"]
        await messages.send(broker, bob, "alice", "only by check_inbox")
        result = await gateway.call("check_inbox", wait_s=5)
        assert "only by check_inbox" in text(result)
        assert gateway.notifications == []
    finally:
        await gateway.close()


async def test_gateway_reports_unreachable_broker(tmp_path):
    env = {
        "STUDIO_NATS_URL": "nats://127.0.0.1:9",
        "STUDIO_TEAM": "t",
        "STUDIO_NODE": "n1",
        "STUDIO_HOME": str(tmp_path),
    }
    gateway = await RawGateway.start(env)
    try:
        await gateway.initialize()  # the gateway starts without the broker
        tools = await gateway.request("tools/list", {})
        assert len(tools["tools"]) == 24
        result = await gateway.call("whoami")
        assert result["isError"]
        assert "cannot reach the broker at nats://127.0.0.1:9" in text(result)
    finally:
        await gateway.close()
