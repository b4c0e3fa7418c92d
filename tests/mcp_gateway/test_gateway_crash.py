"""A gateway killed between fetching a message and handing it off loses nothing: the message
stays unacknowledged and the next gateway of that agent gets it again after ack_wait.

The crash is a real SIGKILL of a real `studio mcp` process, taken at the exact moment: the
subprocess replaces the hand-off function with one that kills the process, so it dies after
the fetch (and after the answer was built) but before the ack.
"""

from __future__ import annotations

import sys
import time

import pytest
from rawstdio import RawGateway, text

from broker import agents, messages
from broker.names import AgentId

ACK_WAIT_S = 2.0
KILL_AT_HANDOFF = """
import os, signal, sys
import {module} as target

async def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

target.hand_off = die
from studio_cli.main import main
sys.exit(main(["mcp", *sys.argv[1:]]))
"""


@pytest.fixture
async def setup(broker_factory, tmp_path):
    broker = await broker_factory(ack_wait_s=ACK_WAIT_S)
    alice, bob = AgentId("n1", "alice"), AgentId("n1", "bob")
    await agents.register(broker, alice)  # the inbox cursor gets the short ack_wait
    await agents.register(broker, bob)
    env = {
        "STUDIO_NATS_URL": ",".join(broker.settings.nats_url),
        "STUDIO_TEAM": broker.team,
        "STUDIO_NODE": "n1",
        "STUDIO_AGENT_ID": str(alice),
        "STUDIO_HOME": str(tmp_path),
        "STUDIO_ACK_WAIT_S": str(ACK_WAIT_S),
    }
    return broker, alice, bob, env


async def _pending(broker, agent: AgentId) -> tuple[int, int]:
    info = await broker.js.consumer_info(
        broker.names.inbox_stream(agent.node), agents.inbox_consumer(agent)
    )
    return info.num_pending, info.num_ack_pending


@pytest.mark.parametrize(
    ("module", "args"),
    [("mcp_gateway.tools.messaging", []), ("mcp_gateway.channels", ["--channels"])],
    ids=["check_inbox", "channel_push"],
)
async def test_killed_before_handoff_is_delivered_again(setup, module, args):
    broker, alice, bob, env = setup
    sent = await messages.send(broker, bob, "alice", "do not lose me")

    doomed = await RawGateway.start(
        env, *args, command=[sys.executable, "-c", KILL_AT_HANDOFF.format(module=module)]
    )
    await doomed.initialize()
    with pytest.raises(EOFError):
        if args:  # the push fetches on its own as soon as the session is up
            await doomed.next_notification("notifications/claude/channel")
        await doomed.call("check_inbox")
    assert await doomed.process.wait() == -9  # SIGKILL, not a clean exit
    assert await _pending(broker, alice) == (0, 1)  # fetched, never acknowledged

    started = time.monotonic()
    survivor = await RawGateway.start(env)
    try:
        await survivor.initialize()
        result = await survivor.call("check_inbox", wait_s=10)
        body = text(result)
        assert "do not lose me" in body and f"id {sent.id}" in body and "[redelivered]" in body
        assert time.monotonic() - started < ACK_WAIT_S + 5
        assert await _pending(broker, alice) == (0, 0)
        assert text(await survivor.call("check_inbox")) == "No new messages."
    finally:
        await survivor.close()
