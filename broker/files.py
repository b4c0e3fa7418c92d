"""Small file helpers for the records studio keeps on disk (configs, credentials, pid files):
every write is atomic, because a reader (a reloading nats-server, a second `studio up`) may
look at any moment and must never see half a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from broker.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def write_atomic(path: Path, text: str, mode: int | None = None) -> Path:
    """Write `text` to `path` through a temporary file and a rename. `mode` defaults to the
    existing file's mode (0o644 for a new file), so rewriting a secret keeps it private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


def read_model(path: Path, model: type[M]) -> M | None:
    """The record in `path`, None when there is none; a damaged file is an error that names it."""
    if not path.is_file():
        return None
    try:
        return model.model_validate_json(path.read_text())
    except ValueError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
