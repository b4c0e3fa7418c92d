"""What an agent window runs: a known agent CLI (`claude`, `codex`, `opencode`, `shell`) or any
command line (kind `other`), and whether it is installed here."""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from broker.errors import InvalidInput
from broker.models import AgentKind

KNOWN_KINDS = ("claude", "codex", "opencode", "shell")
INTERPRETERS = ("python", "node", "bash", "sh", "ruby", "perl", "uv", "npx")
INSTALL_HINTS = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "opencode": "npm install -g opencode-ai",
}


@dataclass(frozen=True)
class Program:
    kind: AgentKind
    command: str = ""

    @property
    def label(self) -> str:
        """Short name for progress lines: the kind, or what the command runs (past `env` and
        its VAR=value words; an interpreter with the script it runs)."""
        if not self.command:
            return self.kind.value
        words = shlex.split(self.command)
        while words and (words[0] == "env" or "=" in words[0]):
            words.pop(0)
        names = [w.rsplit("/", 1)[-1] for w in words[:2]]
        if len(names) == 2 and names[0].startswith(INTERPRETERS):
            return " ".join(names)
        return names[0] if names else self.command


def installed(kind: str) -> bool:
    return kind == "shell" or shutil.which(kind) is not None


def missing_message(kind: str) -> str:
    return f"{kind} is not installed (no `{kind}` on PATH); install it with `{INSTALL_HINTS[kind]}`"


def parse_program(value: str, *, check: bool = True) -> Program:
    """`value` is a kind or a command line. With `check`, a command's program must exist here
    and a known agent CLI must be installed (InvalidInput otherwise)."""
    value = value.strip()
    if value in KNOWN_KINDS:
        if check and not installed(value):
            raise InvalidInput(missing_message(value) + ", or use --agent shell")
        return Program(AgentKind(value))
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise InvalidInput(f"cannot parse the command {value!r}: {exc}") from None
    if not words:
        raise InvalidInput("empty agent command: use claude, codex, opencode, shell, or a command")
    if check and shutil.which(words[0]) is None and not Path(words[0]).is_file():
        raise InvalidInput(
            f"{words[0]!r} not found: --agent takes claude, codex, opencode, shell, or a command "
            "line whose program exists"
        )
    return Program(AgentKind.other, value)
