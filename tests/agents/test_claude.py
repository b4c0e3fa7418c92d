"""The real Claude Code CLI under studio (see tests/agents/scenarios.py)."""

from __future__ import annotations

from broker.models import AgentKind
from tests.agents import scenarios
from tests.agents.model_script import Call

CLAUDE = scenarios.Cli(
    kind=AgentKind.claude,
    clear_input=["C-u"],
    permission_call=Call("Bash", {"command": "touch asked.txt", "description": "make a file"}),
)


async def test_claude_spawn_wake_and_typing_rules(team):
    await scenarios.spawn_wake_and_typing_rules(team, CLAUDE)


async def test_claude_busy_turn_and_permission(team):
    await scenarios.busy_turn_and_permission(team, CLAUDE)
