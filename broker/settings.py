"""One settings object for every studio process: env vars over an optional TOML file over defaults.

Precedence: explicit overrides (CLI flags) > `STUDIO_*` env > `studio.toml` > defaults. The TOML
file is `$STUDIO_CONFIG`, else `$STUDIO_HOME/studio.toml`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from broker.errors import InvalidInput
from broker.names import AgentId, validate_name

ENV_FIELDS = {
    "STUDIO_NATS_URL": "nats_url",
    "STUDIO_TEAM": "team",
    "STUDIO_NODE": "node",
    "STUDIO_AGENT_ID": "agent_id",
    "STUDIO_CREDS": "creds",
    "STUDIO_HOME": "home",
    "STUDIO_REPLICAS": "replicas",
    "STUDIO_MAX_BODY_BYTES": "max_body_bytes",
    "STUDIO_TLS_CA": "tls_ca",
    "STUDIO_ACK_WAIT_S": "ack_wait_s",
    "STUDIO_TMUX_SOCKET": "tmux_socket",
}


def default_node() -> str:
    """This machine's hostname turned into a valid node name."""
    raw = socket.gethostname().split(".")[0].lower()
    name = re.sub(r"[^a-z0-9-]", "-", raw).strip("-")[:32] or "node"
    return name if name[0].isalnum() else f"n{name}"[:32]


class Settings(BaseModel):
    nats_url: list[str] = Field(default_factory=list)
    team: str = "main"
    node: str = Field(default_factory=default_node)
    agent_id: str | None = None
    creds: str | None = None
    tls_ca: str | None = None
    home: Path = Field(default_factory=lambda: Path.home() / ".studio")
    # None: 1 on a single server, 3 when the broker reports a cluster.
    replicas: int | None = None
    max_body_bytes: int = 64 * 1024
    inbox_max_age_days: float = 30.0
    inbox_max_msgs_per_subject: int = 1_000_000
    # Each node's inbox stream holds at most this much; past it, new mail is refused. The
    # broker reserves it per node (and per replica), so it is kept modest.
    inbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    duplicate_window_s: float = 120.0
    events_max_age_s: float = 24 * 3600.0
    events_max_msgs: int = 100_000
    heartbeat_s: float = 5.0
    request_timeout_s: float = 5.0
    # How long a publish is retried (same Nats-Msg-Id) to ride out a leader failover.
    publish_retry_s: float = 20.0
    # How long a fetched, unacknowledged message waits before it is delivered again.
    ack_wait_s: float = Field(default=30.0, gt=0, le=3600)
    # Node daemon: private tmux socket (tests), wake cooldown, how often git state is read.
    tmux_socket: str | None = None
    wake_cooldown_s: float = 5.0
    awareness_interval_s: float = 3.0
    # An agent of another node whose presence has been gone this long (its node crashed or
    # was cut off) gets its claimed tasks returned to open by any live daemon.
    orphan_grace_s: float = 120.0
    # Variables every agent window gets on this node, over the daemon's own environment
    # (e.g. ANTHROPIC_BASE_URL, OPENAI_API_KEY); `studio spawn --env` adds per agent.
    agent_env: dict[str, str] = Field(default_factory=dict)
    # What other nodes of the team may ask this node's daemon (node_agent/policy.py):
    # "agents" (known agent CLIs, stop, kick), "all" (also shells and command lines), "none".
    remote_control: Literal["none", "agents", "all"] = "agents"
    # Other nodes may read this node's agent screens (which can show printed mail).
    remote_peek: bool = True

    @field_validator("nats_url", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> list[str]:
        if isinstance(value, str):
            return [u.strip() for u in value.split(",") if u.strip()]
        return value

    @field_validator("team")
    @classmethod
    def _team(cls, value: str) -> str:
        return validate_name(value, "team name")

    @field_validator("node")
    @classmethod
    def _node(cls, value: str) -> str:
        return validate_name(value, "node name")

    @field_validator("agent_id")
    @classmethod
    def _agent(cls, value: str | None) -> str | None:
        return str(AgentId.parse(value)) if value else None

    @field_validator("max_body_bytes")
    @classmethod
    def _cap(cls, value: int) -> int:
        if not 1 <= value <= 1024 * 1024:
            raise ValueError("max_body_bytes must be between 1 and 1048576")
        return value

    @property
    def broker_dir(self) -> Path:
        return self.home / "broker"

    @property
    def local_creds(self) -> Path:
        """The embedded broker's one user: made at its first start, readable only here."""
        return self.broker_dir / "local.nk"

    def credentials(self) -> str | None:
        """STUDIO_CREDS, else (with this home's embedded broker) the local credentials."""
        if self.creds:
            return self.creds
        if not self.nats_url and self.local_creds.exists():
            return str(self.local_creds)
        return None

    @property
    def embedded_record(self) -> Path:
        """Written by the embedded broker on start: its URL and credentials."""
        return self.broker_dir / "broker.json"

    def servers(self) -> list[str]:
        """The URLs to connect to: configured ones, else this home's embedded broker."""
        if self.nats_url:
            return self.nats_url
        try:
            record = json.loads(self.embedded_record.read_text())
        except (OSError, ValueError):
            raise InvalidInput(
                f"no broker configured: set STUDIO_NATS_URL, or start one with "
                f"`studio up` / `studio broker serve` (STUDIO_HOME={self.home})"
            ) from None
        return [record["url"]]


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from env and the TOML file; raise InvalidInput with the bad field named."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    home = Path(overrides.get("home") or env.get("STUDIO_HOME") or Path.home() / ".studio")
    config_file = Path(env.get("STUDIO_CONFIG") or home / "studio.toml")
    if config_file.is_file():
        try:
            values.update(tomllib.loads(config_file.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"cannot parse {config_file}: {exc}") from None
    for var, field in ENV_FIELDS.items():
        if env.get(var):
            values[field] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("home", home)
    try:
        return Settings(**values)
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else None
        if first:
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(f"bad setting {field}: {first['msg']}") from None
        raise InvalidInput(str(exc)) from None


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (a listener there is unreachable from others)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def studio_executable() -> str:
    """The `studio` command of this installation (the one beside this interpreter), which
    services, agent windows and hooks run."""
    beside = Path(sys.executable).parent / "studio"
    return str(beside) if beside.exists() else shutil.which("studio") or "studio"
