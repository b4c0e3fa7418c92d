"""What an agent CLI's own chrome shows: idle with an empty input line, idle with text typed,
busy, or a dialog waiting for a person.

Only the CLI's chrome is read (the input box at the bottom, its status line, its dialogs),
never the conversation above it, so an answer that says "working" or "Do you want to
proceed" changes nothing. The rules were written against captured screens of the real
programs, kept in tests/node_agent/screens/.

The screen is the second line of evidence: the CLIs' own signals (hooks, plugin) decide turn
start and end. The screen decides whether typing is safe right now, and notices the cases
those signals miss (a dialog before its notification, a turn that died without a Stop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from broker.models import AgentState

SHELLS = frozenset({"bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh", "csh"})


@dataclass(frozen=True)
class View:
    state: AgentState | None  # None: the screen gives no clear sign (e.g. still starting)
    input_empty: bool | None = None


UNKNOWN = View(None)


def shell_state(foreground: str) -> AgentState:
    return AgentState.idle if foreground in SHELLS else AgentState.busy


def _lines(screen: str) -> list[str]:
    return [line.rstrip() for line in screen.splitlines()]


_GENERIC_PROMPT = re.compile(r"[>❯›$#%]\s*$")


def generic(screen: str) -> View:
    """Programs we have no chrome rules for: a prompt character ending the last line."""
    tail = [line for line in _lines(screen) if line.strip()][-1:]
    if tail and _GENERIC_PROMPT.search(tail[0]):
        return View(AgentState.idle, True)
    return UNKNOWN
