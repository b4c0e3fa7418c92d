"""studio_cli/locks_cmd.py and broker/files.py's repo_relative: lock paths are keyed relative
to the repository root whatever directory a person types them in, paths outside the
repository are refused, and `--ttl` errors name the flag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from broker.errors import InvalidInput
from broker.files import repo_relative
from tests.studio_cli.conftest import one_line_error


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "broker" / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_paths_become_repository_relative(repo):
    here = repo / "broker"
    assert repo_relative("./x.py", here) == "broker/x.py"
    assert repo_relative("x.py", here) == "broker/x.py"
    assert repo_relative("../README.md", here) == "README.md"
    assert repo_relative("sub", here) == "broker/sub/"  # an existing directory
    assert repo_relative("new/", here) == "broker/new/"
    assert repo_relative(str(repo / "tests" / "t.py"), here) == "tests/t.py"
    assert repo_relative("./x.py", repo) == "x.py"
    for outside in ("../../etc/passwd", "/etc/passwd", "../.."):
        with pytest.raises(InvalidInput, match="outside the repository"):
            repo_relative(outside, here)
    with pytest.raises(InvalidInput, match="whole repository"):
        repo_relative("..", here)


def test_a_worktree_is_its_own_root(repo):
    worktree = repo / ".worktrees" / "a"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: ../../.git/worktrees/a\n")
    assert repo_relative("x.py", worktree) == "x.py"


def test_lock_from_a_subdirectory(studio, repo, monkeypatch):
    monkeypatch.chdir(repo / "broker")
    code, out, _ = studio("locks", "lock", "./x.py")
    assert code == 0 and "n1.cli locked broker/x.py" in out
    assert "broker/x.py  n1.cli  exclusive" in studio("locks")[1]
    one_line_error(studio("locks", "lock", "../../etc/passwd"), "outside the repository")
    one_line_error(studio("locks", "lock", "/etc/passwd"), "outside the repository")
    monkeypatch.chdir(repo)
    assert "released broker/x.py" in studio("locks", "unlock", "broker/x.py")[1]
    assert "no files are locked" in studio("locks")[1]


def test_ttl_errors_name_the_flag(studio):
    for ttl in ("0", "86401"):
        result = studio("locks", "lock", "x.py", "--ttl", ttl)
        one_line_error(result, "--ttl must be between 1 and 86400 seconds")
        assert "ttl_s" not in result[2]
