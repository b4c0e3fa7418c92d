"""A private CODEX_HOME that points the real Codex CLI (0.171) at the fake model server.

Everything lives in one user `config.toml`: a custom model provider (so no login screen) on the
Responses wire API with retries off (a scripted `Fail` ends the turn at once), the project
marked trusted (no trust dialog), the update check off. Run `codex --no-daemon`: without it the
TUI starts a shared background app-server that outlives the window.

studio's own MCP server and hooks (with their trust) come from the daemon as `-c` flags
(node_agent/clis/codex.py), so this file holds only what a user's own config would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.agents.installed import CLIS

PROVIDER = "studio_fake"
KEY_VAR = "STUDIO_FAKE_OPENAI_KEY"
# The bundled bubblewrap, on PATH so Codex does not warn that bubblewrap is missing.
BWRAP_DIRS = sorted(CLIS.parent.glob("@openai/codex-linux-*/vendor/*/codex-resources"))


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string is also a valid TOML string


def prepare(
    home: Path,
    cwd: Path,
    base_url: str,
    *,
    approval_policy: str = "never",
) -> dict[str, str]:
    """Write `home/.codex/config.toml`; return the environment to run `codex` in."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    config_path = codex_home / "config.toml"
    config = f"""\
model = "gpt-5.1-codex"
model_provider = "{PROVIDER}"
approval_policy = {_toml(approval_policy)}
sandbox_mode = "workspace-write"
check_for_update_on_startup = false
tui.screen_reader_detection_done = true

[model_providers.{PROVIDER}]
name = "studio fake model"
base_url = {_toml(base_url.rstrip("/") + "/v1")}
env_key = "{KEY_VAR}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[projects.{_toml(str(cwd.resolve()))}]
trust_level = "trusted"
"""
    config_path.write_text(config)
    return {
        "PATH": os.pathsep.join([*map(str, BWRAP_DIRS), os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        KEY_VAR: "fake-key",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
