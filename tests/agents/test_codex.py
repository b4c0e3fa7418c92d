"""The real Codex CLI under studio (see tests/agents/scenarios.py)."""

from __future__ import annotations

from broker.models import AgentKind
from tests.agents import scenarios
from tests.agents.model_script import Call

CODEX = scenarios.Cli(
    kind=AgentKind.codex,
    clear_input=["C-u"],  # never C-c: at an idle prompt it quits Codex
    permission_call=Call(
        "exec_command",
        {
            "cmd": "touch /outside.txt",
            "sandbox_permissions": "require_escalated",
            "justification": "Need to write outside the workspace",
        },
    ),
    permission_options={"approval_policy": "on-request"},
)


async def test_codex_spawn_wake_and_typing_rules(team):
    await scenarios.spawn_wake_and_typing_rules(team, CODEX)


async def test_codex_busy_turn_and_permission(team):
    await scenarios.busy_turn_and_permission(team, CODEX)
