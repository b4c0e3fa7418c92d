"""How each kind of agent is started: its command line, and the MCP config and hooks injected
at launch so every session can reach the studio and tell the daemon when its turns start
and end."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from broker.models import AgentKind
from broker.names import AgentId
from broker.settings import Settings

HOOK_EVENTS = ["UserPromptSubmit", "PostToolUse", "Stop", "Notification", "SessionStart"]
EDIT_TOOLS = "Edit|Write|MultiEdit|NotebookEdit"


def studio_executable() -> str:
    beside = Path(sys.executable).parent / "studio"
    return str(beside) if beside.exists() else shutil.which("studio") or "studio"


def agent_environment(settings: Settings, agent: AgentId) -> dict[str, str]:
    env = {
        "STUDIO_AGENT_ID": str(agent),
        "STUDIO_TEAM": settings.team,
        "STUDIO_NODE": settings.node,
        "STUDIO_HOME": str(settings.home),
        "PATH": f"{Path(studio_executable()).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    if settings.nats_url:
        env["STUDIO_NATS_URL"] = ",".join(settings.nats_url)
    if settings.creds:
        env["STUDIO_CREDS"] = settings.creds
    if settings.tls_ca:
        env["STUDIO_TLS_CA"] = settings.tls_ca
    if os.environ.get("STUDIO_CONFIG"):
        env["STUDIO_CONFIG"] = os.environ["STUDIO_CONFIG"]
    return env


def hook_command(event: str) -> str:
    """Same as `studio hook EVENT`, minus the interpreter's site-packages scan."""
    client = Path(__file__).with_name("hook_client.py")
    return f"{shlex.quote(sys.executable)} -S {shlex.quote(str(client))} {event}"


def claude_files(directory: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """`--mcp-config` and `--settings` files for one Claude Code session."""
    directory.mkdir(parents=True, exist_ok=True)
    studio = studio_executable()
    mcp = {"mcpServers": {"studio": {"command": studio, "args": ["mcp"], "env": env}}}
    hooks: dict[str, list] = {
        event: [{"hooks": [{"type": "command", "command": hook_command(event), "timeout": 5}]}]
        for event in HOOK_EVENTS
    }
    hooks["PreToolUse"] = [
        {
            "matcher": EDIT_TOOLS,
            "hooks": [{"type": "command", "command": hook_command("PreToolUse"), "timeout": 5}],
        }
    ]
    mcp_path, settings_path = directory / "mcp.json", directory / "settings.json"
    mcp_path.write_text(json.dumps(mcp, indent=2))
    settings_path.write_text(json.dumps({"hooks": hooks}, indent=2))
    return mcp_path, settings_path


def command_for(kind: AgentKind, command: str, directory: Path, env: dict[str, str]) -> str:
    """The shell command a window runs. `command` overrides the kind's default program."""
    studio = studio_executable()
    if kind == AgentKind.claude:
        mcp_path, settings_path = claude_files(directory, env)
        program = command or "claude"
        mcp_arg, settings_arg = shlex.quote(str(mcp_path)), shlex.quote(str(settings_path))
        return f"{program} --mcp-config {mcp_arg} --settings {settings_arg}"
    if kind == AgentKind.codex:
        program = command or "codex"
        overrides = [
            f"mcp_servers.studio.command={json.dumps(studio)}",
            'mcp_servers.studio.args=["mcp"]',
            f"notify={json.dumps([studio, 'hook', 'codex-notify'])}",
        ]
        return program + "".join(f" -c {shlex.quote(o)}" for o in overrides)
    if kind == AgentKind.shell:
        return command or os.environ.get("SHELL", "/bin/bash")
    return command or "opencode"
