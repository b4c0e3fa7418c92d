"""The dashboard's live feed against a real broker: presence per node (a daemon's agents live
and die with its node key) and the team's message flow, without a browser."""

from __future__ import annotations

from broker import agents, messages, presence
from broker.models import AgentInfo, AgentKind, AgentState
from broker.names import AgentId
from studio_cli.dashboard.feed import Feed
from studio_cli.dashboard.state import TeamState
from tests.node_agent.conftest import wait_for


async def test_managed_agents_follow_their_node_key_and_mail_flows_in(broker_factory):
    daemon = await broker_factory(node="n2")
    watcher = await broker_factory(node="n1")
    await agents.register(daemon, AgentId("n2", "coder"), AgentKind.claude)
    await agents.register(daemon, AgentId("n2", "lead"), AgentKind.claude)
    await presence.node_alive(daemon)
    info = AgentInfo(id="n2.coder", node="n2", state=AgentState.busy, managed=True)
    await presence.heartbeat(daemon, info)
    state = TeamState(team=watcher.team, node="n1", me="n1.cli", window_s=600)
    feed = Feed(watcher, state)
    await feed.start()
    try:
        assert state.presence["n2.coder"].state == AgentState.busy
        await presence.node_gone(daemon)  # the daemon stopped: its agents go offline now
        await wait_for(lambda: "n2.coder" not in state.presence)
        assert "daemon" in (state.agent_view("n2.coder") or {})["state_detail"]
        await presence.node_alive(daemon)
        await wait_for(lambda: "n2.coder" in state.presence)

        sent = await messages.send(daemon, AgentId("n2", "lead"), "n2.coder", "a private note")
        await wait_for(lambda: any(m["id"] == sent.id for m in state.messages))
        [shown] = [m for m in state.messages if m["id"] == sent.id]
        assert (shown["from"], shown["to"]) == ("n2.lead", "n2.coder")
    finally:
        await feed.stop()
