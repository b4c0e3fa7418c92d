"""What each agent window is started with: its environment (caller over daemon, studio's own
last), and each CLI's configuration: studio's MCP server, turn signals and allowed tools."""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import stat
import tomllib
from pathlib import Path

import pytest

from broker.control import SpawnRequest
from broker.errors import InvalidInput
from broker.models import AgentKind
from broker.names import AgentId
from node_agent import launch
from node_agent.clis import codex, opencode
from studio_cli import agent_env
from tests.conftest import make_settings

AGENT = AgentId("n1", "worker")


@pytest.fixture
def settings(tmp_path):
    return make_settings(
        ["nats://127.0.0.1:4222"], tmp_path / "home", agent_env={"FROM_CONFIG": "c", "BOTH": "c"}
    )


def test_window_environment_layers(settings, monkeypatch):
    monkeypatch.setenv("FROM_DAEMON", "d")
    monkeypatch.setenv("BOTH", "d")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    monkeypatch.setenv("STUDIO_AGENT_ID", "n1.someone-else")
    request = SpawnRequest(name="worker", env={"BOTH": "r", "FROM_REQUEST": "r"})
    env = launch.window_env(settings, AGENT, request)
    assert env["FROM_DAEMON"] == "d" and env["FROM_CONFIG"] == "c"
    assert env["FROM_REQUEST"] == "r" and env["BOTH"] == "r", "the request wins over config"
    assert "TMUX" not in env, "the daemon's tmux client is not the agent's"
    assert env["STUDIO_AGENT_ID"] == "n1.worker", "studio's own variables come last"


def test_spawn_env_is_validated():
    with pytest.raises(ValueError, match="bad environment variable"):
        SpawnRequest(name="w", env={"A B": "x"})


def test_cli_env_passthrough_only_for_this_node(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy")
    monkeypatch.setenv("STUDIO_TEAM", "x")
    monkeypatch.setenv("TERM", "xterm")

    args = argparse.Namespace(env=["EXTRA=1=2"])
    local = agent_env.for_window(args, local=True)
    assert local["ANTHROPIC_BASE_URL"] == "http://proxy" and local["EXTRA"] == "1=2"
    assert "STUDIO_TEAM" not in local and "TERM" not in local
    assert agent_env.for_window(args, local=False) == {"EXTRA": "1=2"}
    with pytest.raises(InvalidInput, match="NAME=VALUE"):
        agent_env.explicit(["no-equals"])


def test_claude_gets_its_tools_allowed_and_every_turn_hook(settings, tmp_path):
    request = SpawnRequest(name="worker", kind=AgentKind.claude, env={"SECRET": "s3cr3t"})
    launched = launch.prepare(settings, AGENT, request, str(tmp_path))
    args = shlex.split(launched.command)
    assert args[0] == "claude"
    mcp_file = Path(args[args.index("--mcp-config") + 1])
    config = json.loads(Path(args[args.index("--settings") + 1]).read_text())
    assert config["permissions"]["allow"] == ["mcp__studio"]
    assert {"Stop", "StopFailure", "PermissionRequest", "UserPromptSubmit"} <= set(config["hooks"])
    server = json.loads(mcp_file.read_text())["mcpServers"]["studio"]
    assert server["env"]["STUDIO_AGENT_ID"] == "n1.worker"
    assert "s3cr3t" not in mcp_file.read_text(), "window secrets stay out of files"
    assert stat.S_IMODE((settings.home / "agents" / AGENT.token).stat().st_mode) == 0o700
    assert stat.S_IMODE(mcp_file.stat().st_mode) == 0o600


def test_codex_hooks_carry_their_trust(settings, tmp_path):
    launched = launch.prepare(settings, AGENT, SpawnRequest(name="w", kind="codex"), str(tmp_path))
    args = shlex.split(launched.command)
    assert args[:2] == ["codex", "--no-daemon"]
    flags = [args[i + 1] for i, a in enumerate(args) if a == "-c"]
    config: dict = {}
    for flag in flags:  # each -c is a TOML key = value
        parsed = tomllib.loads(flag)
        for table, values in parsed.items():
            config.setdefault(table, {}).update(values)
    assert config["mcp_servers"]["studio"]["default_tools_approval_mode"] == "approve"
    assert config["mcp_servers"]["studio"]["env"]["STUDIO_AGENT_ID"] == "n1.worker"
    handler = config["hooks"]["Stop"][0]["hooks"][0]
    # Codex's own hash of the hook's identity: compact, key-sorted JSON.
    identity = {"event_name": "stop", "hooks": [{**handler, "async": False}]}
    digest = hashlib.sha256(
        json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    trust = config["hooks"]["state"]["/<session-flags>/config.toml:stop:0:0"]
    assert trust == {"trusted_hash": f"sha256:{digest}"}
    assert set(config["hooks"]) - {"state"} == set(codex.HOOK_EVENTS)


def test_opencode_config_is_injected_not_written(settings, tmp_path):
    request = SpawnRequest(name="w", kind="opencode")
    launched = launch.prepare(settings, AGENT, request, str(tmp_path))
    config = json.loads(launched.env["OPENCODE_CONFIG_CONTENT"])
    assert config["mcp"]["studio"]["environment"]["STUDIO_AGENT_ID"] == "n1.worker"
    assert config["permission"] == {"studio_*": "allow"}
    assert config["plugin"] == [opencode.PLUGIN.as_uri()] and opencode.PLUGIN.is_file()
    assert not list(tmp_path.glob("opencode.json*"))
