"""Small helpers for what commands print: progress lines and short renderings of records.

Program output goes to stdout with print (logs go to stderr through structlog); a step that
takes a while shows a transient "starting…" line on a terminal and only its result otherwise,
so captured output stays clean.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from broker.models import Message

LABEL_WIDTH = 9


class Progress:
    """`start` shows what is being done (terminal only); `done` prints the result line."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()

    def start(self, label: str, text: str) -> None:
        if self.tty:
            print(f"\r\x1b[2K  {label:<{LABEL_WIDTH}} {text}", end="", flush=True)

    def done(self, label: str, text: str) -> None:
        prefix = "\r\x1b[2K" if self.tty else ""
        print(f"{prefix}  {label:<{LABEL_WIDTH}} {text}", flush=True)


def clock(at: datetime | None) -> str:
    if at is None:
        return "-"
    now = datetime.now(UTC)
    return f"{at:%H:%M:%S}Z" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M}Z"


def message_block(m: Message, *, unread: bool = False) -> str:
    """A message as a person reads it in a terminal."""
    head = f"{'● ' if unread else ''}From {m.sender} · {clock(m.created_at)}"
    if m.importance.value != "normal":
        head += f" · {m.importance.value}"
    if m.broadcast:
        head += " · broadcast"
    if m.subject:
        head += f" · {m.subject}"
    ids = f"  (id {m.id}" + (f", thread {m.thread_id}" if m.thread_id != m.id else "") + ")"
    body = "\n".join(f"  {line}" for line in m.body.splitlines() or [""])
    return f"{head}{ids}\n{body}"


def join_text(words: list[str]) -> str:
    """Positional TEXT arguments: several words are joined, `-` reads stdin."""
    if words == ["-"]:
        return sys.stdin.read()
    return " ".join(words)
