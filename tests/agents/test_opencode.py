"""The real OpenCode CLI under studio (see tests/agents/scenarios.py)."""

from __future__ import annotations

from broker.models import AgentKind
from tests.agents import scenarios
from tests.agents.model_script import Call

OPENCODE = scenarios.Cli(
    kind=AgentKind.opencode,
    clear_input=["C-u"],
    permission_call=Call("bash", {"command": "echo hi", "description": "say hi"}),
    permission_options={"permission": {"bash": "ask"}},
)


async def test_opencode_spawn_wake_and_typing_rules(team):
    await scenarios.spawn_wake_and_typing_rules(team, OPENCODE)


async def test_opencode_busy_turn_and_permission(team):
    await scenarios.busy_turn_and_permission(team, OPENCODE)
