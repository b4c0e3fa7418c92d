"""Text from other agents made safe to show in a terminal.

Message bodies, subjects, notes, task titles, summaries and paths are written by other
agents. Shown raw, an escape sequence in them could retitle a window, hide text, move the
cursor or (pasted into a shell) run as keystrokes. Everything studio prints or types passes
through `terminal_safe`: escape sequences and other control characters are dropped, and
only newline and tab survive, where text may span lines.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte ESC sequences, and the
# 8-bit C1 forms of CSI/OSC/DCS/... (0x80-0x9f).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str, *, multiline: bool = True) -> str:
    """`text` without escape sequences or control characters. With `multiline` False,
    newlines and tabs become spaces too (one line, e.g. a pointer or a table cell)."""
    text = _CONTROLS.sub("", _ESCAPES.sub("", text.replace("\r\n", "\n")))
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return text
