"""codex (being written)."""

from __future__ import annotations

from node_agent.clis.session import Session
from node_agent.screen import View


def command(session: Session) -> str:
    return session.program or "codex"


def read_screen(text: str) -> View:
    return View(None)
