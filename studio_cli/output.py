"""Small helpers for what commands print: progress lines and short renderings of records.

Program output goes to stdout with print (logs go to stderr through structlog); a step that
takes a while shows a transient "starting…" line on a terminal and only its result otherwise,
so captured output stays clean.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from broker.text import terminal_safe

if TYPE_CHECKING:
    from broker.models import Message

LABEL_WIDTH = 9
ERASE_LINE = "\r\x1b[2K"


class Progress:
    """`start` shows what is being done (terminal only); `done` prints the result line."""

    def __init__(self) -> None:
        self.out = raw_stdout()
        self.tty = self.out.isatty()

    def start(self, label: str, text: str) -> None:
        if self.tty:
            self._line(f"{ERASE_LINE}  {label:<{LABEL_WIDTH}} {terminal_safe(text)}", end="")

    def done(self, label: str, text: str) -> None:
        prefix = ERASE_LINE if self.tty else ""
        self._line(f"{prefix}  {label:<{LABEL_WIDTH}} {terminal_safe(text)}")

    def _line(self, text: str, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()


def raw_stdout() -> TextIO:
    """The real stdout, for output that carries our own escape codes (progress, colours)."""
    return sys.stdout.raw if isinstance(sys.stdout, TerminalSafe) else sys.stdout


class TerminalSafe(io.TextIOBase):
    """stdout for every CLI command: what other agents wrote (bodies, notes, titles,
    summaries) is printed here, so no escape sequence or control character gets through
    (see broker.text). Rich's colours go to the real stream, from sanitised data."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()


def safe_data(value: Any) -> Any:
    """Every string in a JSON-like tree made one terminal-safe line (for table cells)."""
    if isinstance(value, str):
        return terminal_safe(value, multiline=False)
    if isinstance(value, list):
        return [safe_data(v) for v in value]
    if isinstance(value, dict):
        return {k: safe_data(v) for k, v in value.items()}
    return value


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
    """Positional TEXT arguments: several words are joined, `-` reads stdin. Text is stored
    as UTF-8, so stdin that is not UTF-8 is refused here, saying so (arguments are checked
    in studio_cli.main)."""
    if words != ["-"]:
        return " ".join(words)
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        from broker.errors import InvalidInput

        raise InvalidInput(
            f"stdin is not valid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "studio stores text as UTF-8: convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from None
