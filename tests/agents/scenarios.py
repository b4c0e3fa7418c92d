"""What every agent CLI must do under studio, written once and run against each real CLI.

Each scenario drives one real CLI session through the daemon and asserts on what the fake
model was sent (the model's view), on the screen (the person's view) and on the daemon's
judged state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.agents.conftest import CliAgent, Team, pointer, saw
from tests.agents.model_script import Call, Fail, Hold, Say, Turn

CONFUSING = (
    "I am working on it (12s · esc to interrupt). Do you want to proceed? esc interrupt\n"
    "• Working (3s • esc to interrupt)"
)


@dataclass
class Cli:
    """What differs per CLI: how a person clears the input line, and a tool call that
    opens a permission dialog (with the prepare options that make it ask)."""

    kind: str
    clear_input: list[str]
    permission_call: Call
    permission_options: dict[str, object] = field(default_factory=dict)


def user_turns(agent: CliAgent) -> list[Turn]:
    """Agent turns a user message started (not continuations after a tool result)."""
    return [t for t in agent.script.agent_turns() if not t.last_is_tool_result]


def tool_result_has(token: str) -> Callable[[Turn], bool]:
    return lambda turn: any(token in r for r in turn.tool_results)


async def still(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def spawn_wake_and_typing_rules(team: Team, cli: Cli) -> dict[str, float]:
    """Spawn with a prompt (one turn, tools present, no dialog), idle wake, conversation
    text that looks like chrome, a person's half-typed input, and a turn that fails."""
    figures = {}
    started = time.monotonic()
    agent = await team.spawn(cli.kind, "worker", prompt="PROMPT-TOKEN-1: say ok")
    await agent.wait_turn(tool_result_has("PROMPT-TOKEN-1"), within=60)
    figures["spawn_to_prompt_s"] = time.monotonic() - started
    turns = user_turns(agent)
    assert len(turns) == 1, [t.last_user[-200:] for t in turns]
    assert turns[0].tool_named("check_inbox"), "the first turn had the studio tools"
    await agent.wait_state("idle")
    assert await agent.unread() == 0

    # An idle agent is woken; its answer holds words a screen heuristic would misread.
    team.script.add_rule(
        lambda t: Say(CONFUSING) if any("WAKE-TOKEN-2" in r for r in t.tool_results) else None
    )
    sent = time.monotonic()
    await agent.send("WAKE-TOKEN-2: please answer")
    await agent.wait_turn(tool_result_has("WAKE-TOKEN-2"))
    figures["idle_wake_s"] = time.monotonic() - sent
    await agent.wait_state("idle")
    await still(3)
    assert await agent.state() == "idle", "conversation text changed the judged state"

    # Half-typed input is never submitted, nor typed over; once cleared, the mail comes.
    agent.keys("-l", "please refactor the parser")
    await still(1)
    before = len(user_turns(agent))
    await agent.send("TYPED-TOKEN-3")
    await still(6)
    assert len(user_turns(agent)) == before, "a pointer was submitted over typed text"
    assert not any("please refactor the parser" in t.text for t in agent.script.turns)
    assert "please refactor the parser" in agent.screen()
    assert await agent.unread() == 1
    agent.keys(*cli.clear_input)
    await agent.wait_turn(tool_result_has("TYPED-TOKEN-3"), within=40)
    await agent.wait_state("idle")

    # A turn that fails (API error) leaves the agent idle, with why, and no wake loop.
    team.script.queue(Fail(400))
    count = len(user_turns(agent))
    await agent.send("FAIL-TOKEN-4")
    await agent.wait_turn(lambda t: pointer(t) and len(user_turns(agent)) > count, within=20)
    await agent.wait_state("idle", within=20)
    pointers = len(user_turns(agent))
    await still(8)
    assert len(user_turns(agent)) == pointers, "woken again in a loop after a failed turn"
    info = await agent.info()
    assert info is not None and info.state_detail, "status says why"
    return figures


async def busy_turn_and_permission(team: Team, cli: Cli) -> dict[str, float]:
    """Mail for a busy agent waits for the turn's end, then reaches the very next model
    request; a permission dialog is never typed into."""
    figures = {}
    agent = await team.spawn(cli.kind, "busy", **cli.permission_options)
    await agent.wait_state("idle", within=60)
    held = 6.0
    team.script.queue(Hold(held, Say("long answer done")))
    await agent.send("BUSY-START")
    first = await agent.wait_turn(pointer, within=30)
    await agent.wait_state("busy", within=5)
    await agent.send("BUSY-TOKEN-2")
    turns_before = len(user_turns(agent))
    hold_ends = first.at + held
    late = await agent.wait_turn(saw("BUSY-TOKEN-2"), within=30)
    assert late.at >= hold_ends - 0.5, "the mail was typed into the busy turn"
    figures["turn_end_to_mail_s"] = late.at - hold_ends
    assert len(user_turns(agent)) <= turns_before + 1, [
        t.last_user[-90:] for t in user_turns(agent)
    ]
    await agent.wait_state("idle", within=30)

    # A permission dialog: the daemon sees it, and types nothing while it is up.
    team.script.queue(cli.permission_call)
    await agent.send("PERMISSION-START")
    await agent.wait_state("waiting_input", within=30)
    turns = len(agent.script.turns)
    await agent.send("PERMISSION-TOKEN-3")
    await still(5)
    assert await agent.state() == "waiting_input"
    dialog = [line for line in agent.screen().splitlines() if line.strip()][-8:]
    assert not any("[studio]" in line for line in dialog), "typed into a dialog"
    assert len(agent.script.turns) == turns, "the dialog was answered by something"
    agent.keys("Escape")
    await agent.wait_turn(saw("PERMISSION-TOKEN-3"), within=40)
    return figures
