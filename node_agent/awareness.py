"""Who is changing what: each agent's repository, branch and changed files, and the overlaps
between agents (on any host) changing the same file of the same repository.

A repository is identified across machines by its origin URL, else by its root commit, so two
clones or worktrees of one project compare equal while unrelated repos never do.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from broker.models import AgentInfo


@dataclass(frozen=True)
class GitState:
    repo: str = ""
    root: str = ""
    branch: str = ""
    changed_files: list[str] = field(default_factory=list)


def _git(cwd: str, *args: str, strip: bool = True) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", cwd, *args], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout


def read_git_state(cwd: str) -> GitState:
    """Blocking (runs git); the daemon calls it from a thread every few seconds."""
    if not cwd:
        return GitState()
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if not root:
        return GitState()
    repo = _git(cwd, "config", "--get", "remote.origin.url") or ""
    if not repo:
        roots = _git(cwd, "rev-list", "--max-parents=0", "HEAD") or ""
        repo = f"root:{roots.splitlines()[-1]}" if roots else f"path:{root}"
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD") or ""
    # Not stripped: each entry starts with a two-letter status that may begin with a space.
    status = _git(cwd, "status", "--porcelain=v1", "-z", "--untracked-files=all", strip=False)
    status = status or ""
    changed = []
    entries = status.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            i += 1  # the next entry is the rename's source path
        changed.append(path)
    return GitState(repo=repo, root=root, branch=branch, changed_files=sorted(set(changed)))


@dataclass(frozen=True)
class Overlap:
    repo: str
    path: str
    agents: tuple[str, ...]


def find_overlaps(agents: list[AgentInfo]) -> list[Overlap]:
    """Files changed in two or more checkouts (clones or worktrees, on any host) of the same
    repository. Agents sharing one working directory see the same changes, which say nothing
    about who made them, so a checkout counts once: otherwise every changed file of a shared
    tree would be reported to each of its agents."""
    holders: dict[tuple[str, str], dict[str, tuple[str, str]]] = defaultdict(dict)
    for info in agents:
        if not info.repo:
            continue
        for path in info.changed_files:
            holders[(info.repo, path)][info.id] = (info.node, info.cwd)
    return [
        Overlap(repo, path, tuple(sorted(ids)))
        for (repo, path), ids in sorted(holders.items())
        if len(set(ids.values())) > 1
    ]
