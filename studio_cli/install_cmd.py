"""`studio install claude|codex|opencode [--scope project|user]`: register the studio MCP
server with an agent CLI, in that CLI's own configuration file and format, with its tools
allowed so a session a person starts by hand can use them with no dialog.

| client   | project scope                            | user scope                             |
|----------|------------------------------------------|----------------------------------------|
| claude   | .mcp.json, .claude/settings.local.json   | ~/.claude.json, ~/.claude/settings.json |
| codex    | .codex/config.toml                       | $CODEX_HOME/config.toml                |
| opencode | opencode.json                            | ~/.config/opencode/opencode.json       |

Claude's settings file gets `permissions.allow: ["mcp__studio"]` (and, for a project,
`enabledMcpjsonServers`, which skips the approve-this-server question); Codex's table gets
`default_tools_approval_mode = "approve"`; OpenCode's config gets `permission."studio_*"`.

Existing files are merged, never replaced: other servers and settings are kept (in TOML,
comments and formatting too), only the `studio` entry is written, and a file that cannot be
parsed is left alone with an error. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from broker.errors import InvalidInput
from broker.files import write_atomic
from studio_cli.context import settings_from

SERVER_NAME = "studio"
# Settings a session's gateway must share with this machine; never STUDIO_AGENT_ID (per session).
SHARED_ENV = (
    "STUDIO_NATS_URL",
    "STUDIO_TEAM",
    "STUDIO_NODE",
    "STUDIO_HOME",
    "STUDIO_CREDS",
    "STUDIO_TLS_CA",
)
# Codex stops a tool call after 60 s by default; check_inbox / wait_for may wait up to 300 s.
CODEX_TOOL_TIMEOUT_S = 330


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install", help="add the studio MCP server to Claude Code, Codex or OpenCode"
    )
    parser.add_argument("client", choices=["claude", "codex", "opencode"])
    parser.add_argument(
        "--scope",
        choices=["project", "user"],
        default="project",
        help="project: this directory's config (default); user: every project of this user",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="project directory (default: current directory)"
    )
    parser.set_defaults(func=install_command)


def install_command(args: argparse.Namespace) -> int:
    command, cmd_args = studio_command()
    env = shared_env(args)
    project = (args.dir or Path.cwd()).expanduser().resolve()
    if not project.is_dir():
        # A mistyped --dir would otherwise get a fresh directory holding only studio's config.
        raise InvalidInput(f"--dir {str(args.dir)!r} is not a directory: create it first")
    if args.client == "claude":
        path = project / ".mcp.json" if args.scope == "project" else Path.home() / ".claude.json"
        merge_json(path, claude_entry(command, cmd_args, env))
        allow_in_claude(project, args.scope)
    elif args.client == "opencode":
        config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        path = (
            project / "opencode.json"
            if args.scope == "project"
            else config_home / "opencode" / "opencode.json"
        )
        merge_opencode(path, [command, *cmd_args], env)
    else:
        codex_home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
        path = (
            project / ".codex" / "config.toml"
            if args.scope == "project"
            else codex_home / "config.toml"
        )
        merge_toml(path, codex_table(command, cmd_args, env))
    print(f"studio MCP server written to {path} ({args.client}, {args.scope} scope)")
    print(f"check it with `{args.client} mcp list`" + CHECK_NOTE.get(args.client, ""))
    return 0


CHECK_NOTE = {"claude": " (it starts the server and reports ✔ Connected)"}
CLAUDE_ALLOW = "mcp__studio"


def _json_object(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path} is not valid JSON ({exc}); fix it first") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} does not hold a JSON object; fix it first")
    return data


def _add_once(data: dict[str, Any], key: str, value: str, path: Path) -> None:
    items = data.setdefault(key, [])
    if not isinstance(items, list):
        raise InvalidInput(f"{key!r} in {path} is not a list; fix it first")
    if value not in items:
        items.append(value)


def allow_in_claude(project: Path, scope: str) -> Path:
    """Allow every studio tool (and, for a project's `.mcp.json`, the server itself) in the
    settings file Claude Code reads for that scope."""
    if scope == "project":
        path = project / ".claude" / "settings.local.json"
    else:
        path = Path.home() / ".claude" / "settings.json"
    data = _json_object(path)
    permissions = data.setdefault("permissions", {})
    if not isinstance(permissions, dict):
        raise InvalidInput(f"'permissions' in {path} is not an object; fix it first")
    _add_once(permissions, "allow", CLAUDE_ALLOW, path)
    if scope == "project":
        _add_once(data, "enabledMcpjsonServers", SERVER_NAME, path)
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def merge_opencode(path: Path, command: list[str], env: dict[str, str]) -> None:
    """`mcp.studio` and a rule allowing its tools (OpenCode names them studio_<tool>)."""
    data = _json_object(path)
    servers = data.setdefault("mcp", {})
    if not isinstance(servers, dict):
        raise InvalidInput(f"'mcp' in {path} is not an object; fix it first")
    servers[SERVER_NAME] = {"type": "local", "command": command, "enabled": True}
    if env:
        servers[SERVER_NAME]["environment"] = env
    permission = data.get("permission")
    if isinstance(permission, str):  # one rule for every tool: keep it as the fallback
        permission = {"*": permission}
    permission = permission if isinstance(permission, dict) else {}
    permission[f"{SERVER_NAME}_*"] = "allow"
    data["permission"] = permission
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def studio_command() -> tuple[str, list[str]]:
    """The absolute command that starts `studio mcp` with this installation."""
    script = Path(sys.executable).parent / "studio"
    if script.is_file():
        return str(script), ["mcp"]
    return sys.executable, ["-m", "studio_cli.main", "mcp"]


def shared_env(args: argparse.Namespace) -> dict[str, str]:
    """STUDIO_* settings configured here (env or global flags), so the client's gateway joins
    the same broker, team and node as this shell."""
    env = {name: os.environ[name] for name in SHARED_ENV if os.environ.get(name)}
    settings = settings_from(args)
    for flag, name in (("team", "STUDIO_TEAM"), ("node", "STUDIO_NODE")):
        if getattr(args, flag, None):
            env[name] = getattr(settings, flag)
    if getattr(args, "home", None):
        env["STUDIO_HOME"] = str(Path(args.home).resolve())
    return env


def claude_entry(command: str, cmd_args: list[str], env: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "stdio", "command": command, "args": cmd_args}
    if env:
        entry["env"] = env
    return entry


def merge_json(path: Path, entry: dict[str, Any]) -> None:
    """Set `mcpServers.studio` in a JSON file, keeping every other key as it was."""
    data = _json_object(path)
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise InvalidInput(f"'mcpServers' in {path} is not an object; fix it first")
    servers[SERVER_NAME] = entry
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def codex_table(command: str, cmd_args: list[str], env: dict[str, str]) -> str:
    lines = [
        f"[mcp_servers.{SERVER_NAME}]",
        f"command = {_toml_str(command)}",
        f"args = [{', '.join(_toml_str(a) for a in cmd_args)}]",
        f"tool_timeout_sec = {CODEX_TOOL_TIMEOUT_S}",
        'default_tools_approval_mode = "approve"',
    ]
    if env:
        lines += ["", f"[mcp_servers.{SERVER_NAME}.env]"]
        lines += [f"{key} = {_toml_str(value)}" for key, value in sorted(env.items())]
    return "\n".join(lines) + "\n"


_HEADER_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def merge_toml(path: Path, table: str) -> None:
    """Replace the `[mcp_servers.studio]` tables (and their sub-tables) of a TOML file with
    `table`, or append it. Text-level, so everything else stays byte for byte."""
    text = path.read_text() if path.exists() else ""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML ({exc}); fix it first") from None
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        header = _HEADER_RE.match(line)
        if header:
            name = header.group(1).replace('"', "").replace("'", "").replace(" ", "")
            skipping = name == f"mcp_servers.{SERVER_NAME}" or name.startswith(
                f"mcp_servers.{SERVER_NAME}."
            )
        if not skipping:
            kept.append(line)
    rest = "".join(kept)
    if SERVER_NAME in (tomllib.loads(rest).get("mcp_servers") or {}):
        raise InvalidInput(
            f"{path} defines mcp_servers.{SERVER_NAME} inline; remove that entry and run again"
        )
    rest = rest.rstrip("\n")
    merged = (rest + "\n\n" if rest else "") + table
    tomllib.loads(merged)  # never write a file the client could not read
    write_atomic(path, merged)


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string
