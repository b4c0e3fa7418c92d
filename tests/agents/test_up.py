"""`studio up --agent claude --prompt …` as a person runs it, with the real Claude Code: the
provider settings exist only in the caller's shell, and a tmux server that knows nothing of
them is already running. The prompt must reach the model once, with the studio tools."""

from __future__ import annotations

import os
import subprocess

from broker.models import AgentKind
from tests.agents import cli_claude
from tests.agents.conftest import program
from tests.agents.model_script import Script
from tests.studio_cli.conftest import Cli, cli  # noqa: F401 (fixture)


def test_up_passes_the_callers_environment_to_a_real_claude(
    cli: Cli,  # noqa: F811 (the fixture imported above)
    model: tuple[str, Script],
    tmp_path,
):
    base_url, script = model
    claude_dir = os.path.dirname(program(AgentKind.claude))
    work = tmp_path / "work"
    work.mkdir()
    # The tmux server was started earlier, from a shell without any provider settings.
    bare = {k: v for k, v in cli.env.items() if not k.startswith(("ANTHROPIC", "CLAUDE"))}
    subprocess.run(
        ["tmux", "-L", cli.socket, "new-session", "-d", "-s", "other"], env=bare, check=True
    )
    cli.env.update(cli_claude.prepare(tmp_path / "claude-home", work, base_url))
    cli.env["PATH"] = f"{claude_dir}:{cli.env['PATH']}"
    done = cli.run(
        "up", "--agents", "1", "--agent", "claude", "--lead", "none",
        "--cwd", str(work), "--prompt", "UP-TOKEN: say ok", timeout=120,
    )  # fmt: skip
    assert "agent-1" in done.stdout
    turn = script.wait_for(lambda t: any("UP-TOKEN" in r for r in t.tool_results), 60)
    assert turn.tool_named("check_inbox")
    started = [t for t in script.agent_turns() if not t.last_is_tool_result]
    assert len(started) == 1, [t.last_user[-120:] for t in started]
