"""Each CLI's chrome reader against screens captured from the real programs (200x50,
`tmux capture-pane -p -J`). The captures include answers whose text says "working",
"(12s", "esc to interrupt" and "Do you want to proceed": only the chrome may count."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.models import AgentKind, AgentState
from node_agent import clis

SCREENS = Path(__file__).with_name("screens")
IDLE, BUSY, ASKING = AgentState.idle, AgentState.busy, AgentState.waiting_input
# (state, input line empty) per capture; None: the screen gives no sign yet.
EXPECTED = {
    "starting": (None, None),
    "idle": (IDLE, True),
    "idle_after_answer": (IDLE, True),
    "api_error": (IDLE, True),
    "interrupted": (IDLE, True),
    "typed": (IDLE, False),
    "typed_multiline": (IDLE, False),
    "typed_in_session": (IDLE, False),
    "busy": (BUSY, None),
    "busy_tool": (BUSY, None),
    "busy_typed": (BUSY, False),
    "permission": (ASKING, False),
    "permission_mcp": (ASKING, False),
}
CAPTURES = sorted(SCREENS.glob("*/*.txt"))


def test_every_cli_has_its_screens_captured():
    kinds = {p.parent.name for p in CAPTURES}
    assert kinds == {"claude", "codex", "opencode"}
    for kind in kinds:
        names = {p.stem for p in CAPTURES if p.parent.name == kind}
        assert {"idle", "idle_after_answer", "busy", "permission", "typed"} <= names, kind


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_chrome_reader(capture: Path):
    state, empty = EXPECTED[capture.stem]
    view = clis.read_screen(AgentKind(capture.parent.name), capture.read_text())
    assert view.state == state
    if empty is not None:
        assert view.input_empty is empty


@pytest.mark.parametrize("kind", ["claude", "codex", "opencode"])
def test_conversation_text_alone_never_reads_as_chrome(kind: str):
    """Trap words with no chrome around them give no sign at all."""
    text = "Still working (12s · esc to interrupt)\nDo you want to proceed?\n❯ 1. Yes\n› hi\n"
    assert clis.read_screen(AgentKind(kind), text).state is None
