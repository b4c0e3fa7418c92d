"""The everyday commands against a real broker, in process (`main([...])`), and their error
paths: every mistake is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
import time

import pytest

from broker.errors import StudioError
from studio_cli.ops.server import free_port
from tests.studio_cli.conftest import one_line_error
from tests.studio_cli.test_readme import README


def test_mail_tasks_notes_and_locks_from_the_cli(studio):
    assert studio("register", "bob")[0] == 0  # `--as` needs a registered name
    code, out, _ = studio("send", "bob", "please", "review", "--subject", "PR 7")
    assert code == 0 and "sent to n1.bob" in out
    code, out, _ = studio("inbox", "--as", "bob")
    assert "● From n1.cli" in out and "please review" in out and "1 unread" in out
    code, out, _ = studio("inbox", "--new", "--as", "bob")
    assert "please review" in out and "1 message(s) for n1.bob" in out
    assert "no new messages" in studio("inbox", "--new", "--as", "bob")[1]

    assert "T-1 dispatched to n1.bob" in studio("tasks", "add", "fix", "login", "-a", "bob")[1]
    assert "T-2 added" in studio("tasks", "add", "write docs", "--after", "T-1")[1]
    one_line_error(studio("tasks", "claim", "T-2"), "cannot start: waiting on T-1")
    assert "[studio" not in studio("tasks", "done", "T-1", "--as", "bob", "--note", "ok")[2]
    assert "n1.cli has T-2" in studio("tasks", "claim", "T-2")[1]
    board = json.loads(studio("tasks", "list", "--json")[1])
    assert [(t["id"], t["status"]) for t in board] == [("T-1", "done"), ("T-2", "claimed")]
    assert "T-1" in studio("inbox", "--new")[1]  # the creator was told it is done

    assert studio("notes", "post", "main is frozen")[0] == 0
    assert "n1.cli: main is frozen" in studio("notes", "--as", "bob")[1]
    assert "n1.cli locked src/app.py" in studio("locks", "lock", "src/app.py", "--reason", "x")[1]
    one_line_error(studio("locks", "lock", "src/app.py", "--as", "bob"), "held by n1.cli")
    assert "src/app.py  n1.cli  exclusive" in studio("locks")[1]

    status = json.loads(studio("status", "--json")[1])
    assert status["version"] == 1 and status["me"] == "n1.cli"
    assert {a["id"] for a in status["agents"]} == {"n1.bob", "n1.cli"}
    assert status["tasks"]["counts"]["done"] == 1 and status["tasks"]["counts"]["claimed"] == 1
    assert status["leases"][0]["holders"][0]["reason"] == "x"
    # The schema documented in the README is the one produced.
    (example,) = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", README, re.S)]
    for path in (
        [],
        ["agents", 0],
        ["tasks"],
        ["tasks", "counts"],
        ["tasks", "items", 0],
        ["leases", 0],
        ["leases", 0, "holders", 0],
        ["events", 0],
        ["broker"],
    ):
        documented, produced = example, status
        for step in path:
            documented, produced = documented[step], produced[step]
        assert set(documented) == set(produced), path
    assert "Tasks: 1 claimed · 1 done" in studio("status")[1]
    assert "released src/app.py" in studio("locks", "unlock", "--all")[1]


def test_every_mistake_is_one_line_and_a_nonzero_exit(studio, monkeypatch, tmp_path):
    studio("inbox")  # registers n1.cli, so the list of known agents is not empty
    one_line_error(studio("send", "ghost", "hi"), "unknown agent 'ghost'", "n1.cli")
    one_line_error(studio("send", "Bad_Name", "hi"), "invalid agent name 'Bad_Name'")
    one_line_error(studio("spawn", "Bad_Name", "--agent", "shell"), "invalid agent name")
    one_line_error(studio("spawn", "helper", "--agent", "shell"), "no daemon for node 'n1'")
    one_line_error(studio("spawn", "helper", "--agent", "no-such-program --x"), "not found")
    one_line_error(studio("stop", "ghost"), "unknown agent 'ghost'")
    one_line_error(studio("tasks", "claim", "X-1"), "invalid task id 'X-1'")
    one_line_error(studio("tasks", "done", "T-999"), "no task T-999", "`studio tasks` shows")
    one_line_error(studio("tasks", "add"), "required: TITLE", "studio tasks add --help")
    one_line_error(studio("tasks", "list", "--status", "nope"), "invalid choice: 'nope'")
    one_line_error(studio("frobnicate"), "invalid choice: 'frobnicate'")
    one_line_error(studio("send", "n1.cli", " "), "message body is empty")
    one_line_error(studio("peek", "cli", "--lines", "0"), "--lines must be between")
    one_line_error(studio("--team", "Bad Team", "status"), "team name")

    # The broker is down: said at once, in one line, with what to do.
    monkeypatch.setenv("STUDIO_NATS_URL", f"nats://127.0.0.1:{free_port()}")
    started = time.monotonic()
    one_line_error(studio("send", "bob", "hi"), "cannot reach the broker", "STUDIO_NATS_URL")
    assert time.monotonic() - started < 5
    monkeypatch.delenv("STUDIO_NATS_URL")
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "empty"))
    one_line_error(studio("status"), "the studio is not running", "studio up")
    code, out, _ = studio("doctor")
    assert code == 1 and "✗ broker" in out and "fix: studio up" in out


def test_a_missing_agent_cli_falls_back_to_shell_and_says_how_to_install_it(monkeypatch):
    from studio_cli import programs, up_cmd

    monkeypatch.setattr(programs.shutil, "which", lambda name: None)
    notes: list[str] = []
    chosen = up_cmd.choose_program("claude", notes)
    assert chosen.kind == "shell" and chosen.command == ""
    assert "claude is not installed" in notes[0] and "npm install -g" in notes[0]
    assert up_cmd.choose_program("claude", notes) == chosen and len(notes) == 1
    with pytest.raises(StudioError, match="not installed"):
        programs.parse_program("codex")
