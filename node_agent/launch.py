"""How an agent's window is started: its environment and command line. Each agent CLI's own
configuration (MCP server, hooks or plugin, permissions) is in `node_agent.clis`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from broker.control import NOT_INHERITED, SpawnRequest
from broker.names import AgentId
from broker.settings import Settings, studio_executable
from node_agent import clis


@dataclass(frozen=True)
class Launch:
    command: str
    env: dict[str, str]


def studio_env(settings: Settings, agent: AgentId) -> dict[str, str]:
    """What an agent's gateway and hooks need to reach this node's broker and daemon. These
    go into the CLI's MCP configuration too, so they never include a secret's value (the
    credentials are a path to a 0600 file)."""
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


def window_env(settings: Settings, agent: AgentId, request: SpawnRequest) -> dict[str, str]:
    """The daemon's environment (that of whoever ran `studio up`), then the node's
    `agent_env`, then the request's own, then studio's. Passed to tmux explicitly, because a
    tmux server that was already running would otherwise give the window its own."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in NOT_INHERITED and not name.startswith("STUDIO_")
    }
    return {**inherited, **settings.agent_env, **request.env, **studio_env(settings, agent)}


def prepare(settings: Settings, agent: AgentId, request: SpawnRequest, cwd: str) -> Launch:
    """Write the CLI's per-session files (0600, in a 0700 directory) and build its command."""
    directory = settings.home / "agents" / agent.token
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    env = window_env(settings, agent, request)
    session = clis.Session(
        directory=directory,
        cwd=Path(cwd),
        studio=studio_executable(),
        studio_env=studio_env(settings, agent),
        program=request.command,
    )
    command, extra = clis.command_for(request.kind, session)
    return Launch(command, {**env, **extra})
