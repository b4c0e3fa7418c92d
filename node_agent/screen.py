"""Screen heuristics: is the agent in this pane idle, busy or waiting on a question?

Second line of evidence only; hook events (UserPromptSubmit, Stop, Notification) are exact and
win whenever an agent sends them. These rules look at the bottom of the captured screen, where
every agent CLI draws its prompt and its "working" indicator.
"""

from __future__ import annotations

import re

from broker.models import AgentKind, AgentState

SHELLS = frozenset({"bash", "zsh", "sh", "fish", "dash", "ksh", "tcsh", "csh"})

_BUSY = re.compile(r"esc to interrupt|ctrl\+c to interrupt|working\b|thinking…|\(\d+s\b", re.I)
_WAITING = re.compile(
    r"do you want to (proceed|make this edit|create)|allow (once|always)|\[y/n\]|approve\?",
    re.I,
)
_PROMPT = re.compile(r"[>❯›▌$#%]\s*$")


def _tail(screen: str, lines: int = 12) -> list[str]:
    return [line.rstrip() for line in screen.splitlines() if line.strip()][-lines:]


def classify(kind: AgentKind, screen: str, foreground: str) -> AgentState | None:
    """The state the screen suggests, or None when it gives no clear sign."""
    if kind == AgentKind.shell:
        return AgentState.idle if foreground in SHELLS else AgentState.busy
    tail = _tail(screen)
    if not tail:
        return None
    text = "\n".join(tail)
    if _WAITING.search(text):
        return AgentState.waiting_input
    if _BUSY.search(text):
        return AgentState.busy
    if any(_PROMPT.search(line) for line in tail[-4:]):
        return AgentState.idle
    return None
