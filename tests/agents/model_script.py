"""The fake model's brain, shared by every provider's wire format: each request is reduced to
a provider-neutral `Turn`, a `Script` decides the reply, and the provider module renders that
reply in its own streaming format. Every turn is logged, so a test asserts what the model saw.

Only the model is fake: the agent CLIs, their MCP clients, hooks and plugins are the real
programs from npm.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    """One model request, as the provider module read it."""

    provider: str  # "anthropic" | "responses" | "chat"
    body: dict[str, Any]  # the request body as sent
    tools: list[str]  # names of the tools offered
    text: str  # every piece of text in the request, joined: what the model "saw"
    last_user: str  # the text of the last user message (tool results excluded)
    tool_results: list[str]  # texts of tool results after that last user message
    last_is_tool_result: bool  # the request answers a tool call of ours
    at: float = field(default_factory=time.monotonic)

    @property
    def side(self) -> bool:
        """A tool-less side request (session title, summaries): not an agent turn."""
        return not self.tools

    def tool_named(self, suffix: str) -> str | None:
        """The offered tool whose name ends with `suffix` (CLIs prefix MCP tools differently:
        `mcp__studio__check_inbox`, `studio_check_inbox`)."""
        return next((t for t in self.tools if t.endswith(suffix)), None)


def text_of(value: Any) -> str:
    """The text of a message's content or a tool output: a string, or a list of parts of
    which the text ones count (both OpenAI APIs use this shape)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(part.get("text", "") for part in value if isinstance(part, dict))
    return ""


@dataclass
class Say:
    text: str


@dataclass
class Call:
    """A tool call; `tool` is matched by suffix against the offered tools."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fail:
    """An API error answer (the CLI's turn ends abnormally)."""

    status: int = 500
    message: str = "fake model: scripted failure"


@dataclass
class Hold:
    """Stream slowly: the turn stays busy `seconds`, then `then` is sent."""

    seconds: float
    then: Say | Call


Reply = Say | Call | Fail | Hold
Rule = Callable[[Turn], Reply | None]


def default_rule(turn: Turn) -> Reply:
    """What a cooperative model does: read studio mail when pointed at it, else say ok."""
    if turn.side:
        return Say("studio session")
    if turn.last_is_tool_result:
        return Say("done: " + (turn.tool_results[-1][:200] if turn.tool_results else ""))
    if "check_inbox" in turn.last_user and turn.tool_named("check_inbox"):
        return Call("check_inbox")
    return Say("ok")


class Script:
    """Rules tried newest first; the first that answers wins, `default_rule` otherwise.
    Thread-safe: the server answers from its own thread while the test waits in another."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._once: list[Reply] = []
        self._lock = threading.Condition()
        self.turns: list[Turn] = []

    def add_rule(self, rule: Rule) -> None:
        with self._lock:
            self._rules.insert(0, rule)

    def queue(self, *replies: Reply) -> None:
        """Replies for the next agent turns (side requests excluded), in order."""
        with self._lock:
            self._once.extend(replies)

    def reply(self, turn: Turn) -> Reply:
        with self._lock:
            self.turns.append(turn)
            self._lock.notify_all()
            if not turn.side and self._once:
                return self._once.pop(0)
            rules = list(self._rules)
        for rule in rules:
            answer = rule(turn)
            if answer is not None:
                return answer
        return default_rule(turn)

    def agent_turns(self) -> list[Turn]:
        with self._lock:
            return [t for t in self.turns if not t.side]

    def wait_for(self, predicate: Callable[[Turn], bool], timeout: float = 30.0) -> Turn:
        """The first logged turn (past or future) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for turn in self.turns:
                    if predicate(turn):
                        return turn
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [t.last_user[-120:] for t in self.turns[-5:]]
                    raise AssertionError(f"no model request matched within {timeout}s: {seen}")
                self._lock.wait(min(left, 0.2))
