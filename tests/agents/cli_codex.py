"""A private CODEX_HOME that points the real Codex CLI (0.171) at the fake model server.

Everything lives in one user `config.toml`: a custom model provider (so no login screen) on the
Responses wire API with retries off (a scripted `Fail` ends the turn at once), the project
marked trusted (no trust dialog), the update check off. Run `codex --no-daemon`: without it the
TUI starts a shared background app-server that outlives the window.

Hooks in a user config are skipped, and a "Hooks need review" dialog opens at start, unless each
one's trust is recorded next to it, as `/hooks` would record it: `hooks.state."<config path>:
<event_snake>:<group>:<handler>".trusted_hash`, the sha256 of the hook's normalized identity
(`hook_trust_hash`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

PROVIDER = "studio_fake"
KEY_VAR = "STUDIO_FAKE_OPENAI_KEY"
CODEX = Path.home() / ".cache/studio/agent-clis/node_modules/.bin/codex"
# The bundled bubblewrap, on PATH so Codex does not warn that bubblewrap is missing.
BWRAP_DIR = (
    Path.home() / ".cache/studio/agent-clis/node_modules/@openai/codex-linux-x64/vendor"
    "/x86_64-unknown-linux-musl/codex-resources"
)


TIMEOUT = 30  # seconds; hashed as written (unset, Codex hashes its default: 600, or 1 for
# SessionEnd and Interrupt, whose timeouts it caps at 3 with a startup warning)
_SHORT = ("SessionEnd", "Interrupt")


def _timeout(event: str, timeout: int) -> int:
    return min(timeout, 3) if event in _SHORT else timeout


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string, number, bool or list is also valid TOML


def _snake(event: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()  # "PreToolUse" -> "pre_tool_use"


def hook_trust_hash(event: str, command: str, timeout: int, matcher: str | None = None) -> str:
    """What Codex records once a person trusts this (synchronous) command hook."""
    handler = {"type": "command", "command": command, "timeout": timeout, "async": False}
    identity: dict[str, object] = {"event_name": _snake(event), "hooks": [handler]}
    if matcher is not None:
        identity["matcher"] = matcher
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def hooks_toml(config_path: Path, hooks: Mapping[str, str], timeout: int = TIMEOUT) -> str:
    """One trusted command hook per event (`{"Stop": "studio hook stop"}`), matching all tools."""
    lines: list[str] = []
    for event, command in hooks.items():
        lines += [
            f"[[hooks.{event}]]",
            f"[[hooks.{event}.hooks]]",
            'type = "command"',
            f"command = {_toml(command)}",
            f"timeout = {_timeout(event, timeout)}",
            "",
        ]
    for event, command in hooks.items():
        key = f"{config_path}:{_snake(event)}:0:0"
        trusted = hook_trust_hash(event, command, _timeout(event, timeout))
        lines += [f"[hooks.state.{_toml(key)}]", f"trusted_hash = {_toml(trusted)}", ""]
    return "\n".join(lines)


def prepare(
    home: Path,
    cwd: Path,
    base_url: str,
    *,
    approval_policy: str = "never",
    hooks: Mapping[str, str] | None = None,
    extra_toml: str = "",
) -> dict[str, str]:
    """Write `home/.codex/config.toml`; return the environment to run `codex --no-daemon` in.
    `extra_toml` holds tables only (`[mcp_servers.studio]` ...): it follows the top-level keys."""
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

{extra_toml}

{hooks_toml(config_path, hooks or {})}
"""
    config_path.write_text(config)
    return {
        "PATH": f"{BWRAP_DIR}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        KEY_VAR: "fake-key",
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
