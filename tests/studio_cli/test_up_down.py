"""`studio up` → a lead dispatches work through the CLI → agents (the scripted stand-in for
Claude Code, calling the real studio tools over a real `studio mcp`) claim, message, finish →
`studio status --json` shows it → `studio down` leaves no process behind."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from studio_cli.procs import alive
from tests.node_agent.conftest import SCRIPTED, STUDIO, read_log
from tests.studio_cli.conftest import Cli, wait_for


def kick(cli: Cli, agent: str, line: str) -> None:
    """Type a line into an agent's prompt through its daemon: only done while it is idle, so
    retry until it is (the line would otherwise be lost to a busy agent)."""

    def typed() -> bool:
        return cli.run("kick", agent, line, ok=False).returncode == 0

    wait_for(typed, 15, f"{agent} idle to take {line!r}")


def tool_texts(log, agent: str) -> str:
    return "\n".join(
        e["text"] for e in read_log(log) if e["kind"] == "tool" and e["agent"] == f"box.{agent}"
    )


def unread(cli: Cli, agent: str) -> int | None:
    status = cli.json("status", "--json", "--events", "0")
    return next(a["unread"] for a in status["agents"] if a["name"] == agent)


def test_up_three_agents_work_a_dispatched_board_and_down_leaves_nothing(cli, tmp_path):
    log = tmp_path / "agents.jsonl"
    program = (
        f"env SCRIPTED_LOG={log} SCRIPTED_STUDIO={STUDIO} SCRIPTED_BUSY_S=0.1 "
        f"{sys.executable} {SCRIPTED}"
    )
    up = cli.run("up", "--agents", "3", "--agent", program, "--cwd", str(tmp_path)).stdout
    assert "broker    started at nats://127.0.0.1:" in up
    assert "lead      started (shell)" in up
    assert f"agent-3   started ({Path(sys.executable).name} scripted_agent.py)" in up
    assert f"tmux -L {cli.socket} attach -t studio-main" in up
    wait_for(
        lambda: (
            {e["agent"] for e in read_log(log) if e["kind"] == "ready"}
            == {"box.agent-1", "box.agent-2", "box.agent-3"}
        ),
        20,
        "three agents ready",
    )

    # The lead dispatches through the CLI; each dispatch mail wakes its idle assignee.
    for i in (1, 2, 3):
        out = cli.run("tasks", "add", f"part {i}", "--assignee", f"agent-{i}", "--as", "lead")
        assert f"T-{i} dispatched to box.agent-{i}" in out.stdout
    for i in (1, 2, 3):
        wait_for(
            lambda i=i: f"T-{i} was dispatched to you" in tool_texts(log, f"agent-{i}"),
            15,
            f"agent-{i} read its task",
        )
    # One agent tells another something, through its own send_message tool. (Each agent has
    # read its mail by now, so no wake-up pointer races the typed line.)
    kick(cli, "agent-1", "send agent-2 the API for part 2 is ready")
    wait_for(
        lambda: "the API for part 2 is ready" in tool_texts(log, "agent-2"), 15, "agent-2 told"
    )
    # An open task is taken from the board by whoever claims it first.
    assert "T-4 added" in cli.run("tasks", "add", "part 4", "--as", "lead").stdout
    kick(cli, "agent-3", "claim T-4")
    wait_for(
        lambda: cli.json("tasks", "show", "T-4", "--json")["assignee"] == "box.agent-3",
        10,
        "T-4 claimed",
    )
    for i in (1, 2, 3):
        kick(cli, f"agent-{i}", f"task T-{i} done part {i} works")

    def board_done() -> dict | None:
        status = cli.json("status", "--json")
        return status if status["tasks"]["counts"]["done"] == 3 else None

    status = wait_for(board_done, 20, "every task done")
    agents = {a["id"]: a for a in status["agents"]}
    assert {"box.lead", "box.agent-1", "box.agent-2", "box.agent-3"} <= set(agents)
    assert agents["box.lead"]["role"] == "lead" and agents["box.lead"]["kind"] == "shell"
    assert {agents[f"box.agent-{i}"]["state"] for i in (1, 2, 3)} <= {"idle", "busy"}
    items = {t["id"]: t for t in status["tasks"]["items"]}
    assert [items[f"T-{i}"]["assignee"] for i in (1, 2, 3)] == [f"box.agent-{i}" for i in (1, 2, 3)]
    assert items["T-4"]["status"] == "claimed" and agents["box.agent-3"]["tasks"] == ["T-4"]
    assert {t["created_by"] for t in items.values()} == {"box.lead"}
    assert any(e["kind"] == "task_status" for e in status["events"])
    # The lead (a shell) was told of each finished task: the daemon typed `studio inbox --new`
    # into its window, which printed the notices and marked them read.
    wait_for(lambda: cli.screen("lead").count("is done") >= 3, 15, "lead read the notices")
    wait_for(lambda: unread(cli, "lead") == 0, 10, "lead inbox read")

    running = cli.processes()
    assert len(running["broker"]) == 2 and len(running["daemon"]) == 1
    # each agent window: the program plus its `studio mcp` gateway
    assert len(running["agents"]) >= 4 + 3
    down = cli.run("down").stdout
    assert "stopped box.agent-1, box.agent-2, box.agent-3, box.lead" in down
    assert "broker    stopped" in down
    left = {role: [p for p in pids if alive(p)] for role, pids in running.items()}
    assert left == {"broker": [], "daemon": [], "agents": [], "tmux": []}
    assert not (cli.home / "broker" / "broker.json").exists()


def test_up_twice_is_safe_shell_agents_print_their_mail_and_down_twice_is_safe(cli, tmp_path):
    # A stand-in `claude` on PATH for the lead: it records how it was started.
    bin_dir, argv_file = tmp_path / "bin", tmp_path / "claude-argv"
    bin_dir.mkdir()
    (bin_dir / "claude").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv_file}\nexec cat\n')
    (bin_dir / "claude").chmod(0o755)
    cli.env["PATH"] = f"{bin_dir}:{cli.env['PATH']}"
    args = ("up", "--agents", "1", "--agent", "shell", "--lead", "claude")
    first = cli.run(*args).stdout
    assert "daemon    started" in first and "agent-1   started (shell)" in first
    assert "lead      started (claude)" in first
    daemon = cli.record("run/up-node-main.json")["pid"]
    again = cli.run(*args).stdout
    assert "started" not in again, again
    assert "broker    running" in again and f"daemon    running (pid {daemon})" in again
    assert "agent-1   running (shell)" in again and "lead      running (claude)" in again
    # The lead's claude was given the studio MCP server (as box.lead) and the hooks.
    argv = wait_for(lambda: argv_file.exists() and argv_file.read_text().split(), 10, "claude")
    mcp = json.loads(Path(argv[argv.index("--mcp-config") + 1]).read_text())
    server = mcp["mcpServers"]["studio"]
    assert server["args"] == ["mcp"] and server["env"]["STUDIO_AGENT_ID"] == "box.lead"
    hooks = json.loads(Path(argv[argv.index("--settings") + 1]).read_text())["hooks"]
    assert {"UserPromptSubmit", "PostToolUse", "Stop"} <= set(hooks)
    # Mail to a shell agent: the daemon types `studio inbox --new` into it, which prints it.
    cli.run("send", "agent-1", "hello", "shell")
    wait_for(lambda: "hello shell" in cli.screen("agent-1"), 15, "mail printed in the window")
    wait_for(lambda: unread(cli, "agent-1") == 0, 10, "printed mail marked read")
    more = cli.run("up", "--agents", "2", "--agent", "shell").stdout
    assert "agent-1   running" in more and "agent-2   started (shell)" in more
    running = cli.processes()
    cli.run("down")
    assert not [p for pids in running.values() for p in pids if alive(p)]
    second = cli.run("down").stdout
    assert "daemon    not running" in second and "broker    not running" in second
