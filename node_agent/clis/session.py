"""The per-session facts every CLI module configures from."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path


def hook_command(event: str) -> str:
    """Same as `studio hook EVENT`, minus the interpreter's site-packages scan."""
    client = Path(__file__).parents[1] / "hook_client.py"
    return f"{shlex.quote(sys.executable)} -S {shlex.quote(str(client))} {event}"


@dataclass(frozen=True)
class Session:
    """What a CLI module needs to configure one agent session."""

    directory: Path  # private to this agent (0700): config files go here
    cwd: Path
    studio: str  # the `studio` executable
    studio_env: dict[str, str]  # STUDIO_* for the MCP server and hooks; no secrets
    program: str  # a command line replacing the kind's default program, or ""

    def hook_command(self, event: str) -> str:
        return hook_command(event)

    def write(self, name: str, text: str) -> Path:
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return path
