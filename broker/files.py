"""Small file helpers for the records studio keeps on disk (configs, credentials, pid files):
every write is atomic, because a reader (a reloading nats-server, a second `studio up`) may
look at any moment and must never see half a file. Also the one place where a path a person
typed becomes the repository-relative path a file lock is keyed by.

Imported by the CLI's start-up path, so pydantic is only imported for type checking."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from broker.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


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


def repo_root(start: Path) -> Path:
    """The git checkout `start` is in (a `.git` directory, or the `.git` file of a worktree),
    found without running git; `start` itself outside any checkout."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def repo_relative(path: str, cwd: Path) -> str:
    """`path` as typed in `cwd` (relative to it, or absolute), made relative to the root of
    the checkout `cwd` is in, as leases key it: `./x.py` typed in `repo/broker/` is
    `broker/x.py`, the same file every agent of the repository names. A trailing `/` (a
    directory; added for an existing directory) is kept. A path outside the checkout is
    refused: a lock there names a file no teammate's path can match (and `/etc/passwd` is
    no project file)."""
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise InvalidInput(f"invalid path {path!r}: give a file path or a directory ending in '/'")
    root = repo_root(cwd)
    is_dir = path.endswith("/")
    absolute = os.path.normpath(os.path.join(cwd, os.path.expanduser(path.strip())))
    relative = os.path.relpath(absolute, root).replace(os.sep, "/")
    if relative == ".." or relative.startswith("../"):
        raise InvalidInput(
            f"{path!r} is outside the repository {root}: locks name files inside it "
            "(relative to its root, or to the current directory)"
        )
    if relative == ".":
        raise InvalidInput(f"{path!r} is the whole repository: name files or subdirectories")
    relative = posixpath.normpath(relative)
    return relative + "/" if is_dir or os.path.isdir(absolute) else relative
