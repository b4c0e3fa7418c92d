"""`studio install claude|codex`: each client's own file and format, merged, never clobbered."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from studio_cli.main import main


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    for name in ("STUDIO_NATS_URL", "STUDIO_TEAM", "STUDIO_NODE", "STUDIO_HOME", "STUDIO_CREDS"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_claude_project_scope_merges_mcp_json(tmp_path, monkeypatch, capsys):
    project = tmp_path / "repo"
    project.mkdir()
    (project / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"other": {"command": "x"}}, "custom": 1})
    )
    monkeypatch.setenv("STUDIO_NATS_URL", "nats://10.0.0.5:4222")
    monkeypatch.setenv("STUDIO_TEAM", "acme")
    assert main(["install", "claude", "--dir", str(project)]) == 0
    data = json.loads((project / ".mcp.json").read_text())
    assert data["custom"] == 1 and data["mcpServers"]["other"] == {"command": "x"}
    entry = data["mcpServers"]["studio"]
    assert entry["type"] == "stdio" and entry["args"] == ["mcp"]
    assert Path(entry["command"]).name == "studio" and Path(entry["command"]).is_file()
    assert entry["env"] == {"STUDIO_NATS_URL": "nats://10.0.0.5:4222", "STUDIO_TEAM": "acme"}
    assert "claude mcp list" in capsys.readouterr().out
    # running again replaces only our entry
    assert main(["--team", "other", "install", "claude", "--dir", str(project)]) == 0
    again = json.loads((project / ".mcp.json").read_text())
    assert again["mcpServers"]["studio"]["env"]["STUDIO_TEAM"] == "other"
    assert set(again["mcpServers"]) == {"other", "studio"}


def test_claude_user_scope_keeps_the_rest_of_claude_json(isolated_home):
    state = {"numStartups": 12, "projects": {"/x": {"allowedTools": []}}, "mcpServers": {}}
    (isolated_home / ".claude.json").write_text(json.dumps(state))
    assert main(["install", "claude", "--scope", "user"]) == 0
    data = json.loads((isolated_home / ".claude.json").read_text())
    assert data["numStartups"] == 12 and data["projects"] == {"/x": {"allowedTools": []}}
    assert data["mcpServers"]["studio"]["args"] == ["mcp"]


def test_codex_user_scope_rewrites_only_its_tables(isolated_home, monkeypatch):
    monkeypatch.setenv("STUDIO_NODE", "laptop")
    config = isolated_home / ".codex" / "config.toml"
    config.parent.mkdir()
    original = (
        '# my settings\nmodel = "o3"\n\n[mcp_servers.docs]\ncommand = "docs-mcp"\n\n'
        '[mcp_servers.studio]\ncommand = "old"\n\n[mcp_servers.studio.env]\nSTALE = "1"\n\n'
        '[profiles.fast]\nmodel = "mini"\n'
    )
    config.write_text(original)
    assert main(["install", "codex", "--scope", "user"]) == 0
    text = config.read_text()
    assert text.startswith('# my settings\nmodel = "o3"')
    data = tomllib.loads(text)
    assert data["model"] == "o3" and data["profiles"] == {"fast": {"model": "mini"}}
    assert data["mcp_servers"]["docs"] == {"command": "docs-mcp"}
    studio = data["mcp_servers"]["studio"]
    assert Path(studio["command"]).name == "studio" and studio["args"] == ["mcp"]
    assert studio["env"] == {"STUDIO_NODE": "laptop"}  # STALE is gone
    assert studio["tool_timeout_sec"] >= 300  # check_inbox / wait_for may wait 300 s
    assert main(["install", "codex", "--scope", "user"]) == 0
    assert config.read_text().count("[mcp_servers.studio]") == 1


def test_codex_project_scope_and_codex_home(tmp_path, monkeypatch):
    project = tmp_path / "repo"
    project.mkdir()
    assert main(["install", "codex", "--dir", str(project)]) == 0
    assert (
        "studio" in tomllib.loads((project / ".codex" / "config.toml").read_text())["mcp_servers"]
    )
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    assert main(["install", "codex", "--scope", "user"]) == 0
    assert (tmp_path / "codex-home" / "config.toml").is_file()


def test_unreadable_files_are_left_alone(tmp_path, isolated_home, capsys):
    project = tmp_path / "repo"
    project.mkdir()
    (project / ".mcp.json").write_text("{not json")
    assert main(["install", "claude", "--dir", str(project)]) == 1
    assert (project / ".mcp.json").read_text() == "{not json"
    assert "not valid JSON" in capsys.readouterr().err

    config = isolated_home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text("[broken\n")
    assert main(["install", "codex", "--scope", "user"]) == 1
    assert config.read_text() == "[broken\n"

    config.write_text('[mcp_servers]\nstudio = { command = "inline" }\n')
    assert main(["install", "codex", "--scope", "user"]) == 1
    assert "defines mcp_servers.studio inline" in capsys.readouterr().err
    assert "inline" in config.read_text()


def test_claude_install_allows_the_studio_tools_in_its_settings(tmp_path, isolated_home):
    project = tmp_path / "repo"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").write_text(
        json.dumps({"permissions": {"allow": ["Bash(ls)"]}, "model": "x"})
    )
    assert main(["install", "claude", "--dir", str(project)]) == 0
    assert main(["install", "claude", "--dir", str(project)]) == 0  # idempotent
    local = json.loads((project / ".claude" / "settings.local.json").read_text())
    assert local["permissions"]["allow"] == ["Bash(ls)", "mcp__studio"]
    assert local["enabledMcpjsonServers"] == ["studio"] and local["model"] == "x"
    assert main(["install", "claude", "--scope", "user"]) == 0
    user = json.loads((isolated_home / ".claude" / "settings.json").read_text())
    assert user == {"permissions": {"allow": ["mcp__studio"]}}


def test_codex_install_approves_the_studio_tools(tmp_path):
    project = tmp_path / "repo"
    project.mkdir()
    assert main(["install", "codex", "--dir", str(project)]) == 0
    table = tomllib.loads((project / ".codex" / "config.toml").read_text())["mcp_servers"]
    assert table["studio"]["default_tools_approval_mode"] == "approve"


def test_opencode_install_merges_its_config(tmp_path, isolated_home, monkeypatch, capsys):
    project = tmp_path / "repo"
    project.mkdir()
    (project / "opencode.json").write_text(
        json.dumps({"model": "a/b", "permission": "ask", "mcp": {"other": {"type": "remote"}}})
    )
    monkeypatch.setenv("STUDIO_TEAM", "acme")
    assert main(["install", "opencode", "--dir", str(project)]) == 0
    data = json.loads((project / "opencode.json").read_text())
    assert data["model"] == "a/b" and data["mcp"]["other"] == {"type": "remote"}
    studio = data["mcp"]["studio"]
    assert studio["type"] == "local" and studio["command"][-1] == "mcp"
    assert studio["environment"] == {"STUDIO_TEAM": "acme"}
    assert data["permission"] == {"*": "ask", "studio_*": "allow"}
    assert "opencode mcp list" in capsys.readouterr().out
    monkeypatch.setenv("XDG_CONFIG_HOME", str(isolated_home / "cfg"))
    assert main(["install", "opencode", "--scope", "user"]) == 0
    user = json.loads((isolated_home / "cfg" / "opencode" / "opencode.json").read_text())
    assert user["permission"] == {"studio_*": "allow"}
    (project / "opencode.json").write_text("[1]")
    assert main(["install", "opencode", "--dir", str(project)]) != 0
