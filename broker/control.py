"""Node control: request/reply on `studio.<team>.node.<node>.ctl.<verb>`.

Any host asks a node's daemon to spawn, stop, kick or peek at agents, or to list what it runs.
The request and reply models live here, next to the client function, so the daemon that serves
these subjects and every caller share one definition of the wire format.

A node with no daemon must fail fast: NATS answers a request nobody listens to with a
"no responders" status at once, which `request` turns into a StudioError naming the node.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import cast

import nats.errors
from pydantic import BaseModel, Field, ValidationError, field_validator

from broker.connection import Broker
from broker.errors import StudioError
from broker.models import AgentKind
from broker.names import validate_name

MAX_PEEK_LINES = 500
MAX_PROMPT_CHARS = 32 * 1024
MAX_ENV_CHARS = 128 * 1024
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Never handed on to an agent's window: they describe the starting process's own shell and
# tmux client, not the agent's.
NOT_INHERITED = frozenset({"TMUX", "TMUX_PANE", "PWD", "OLDPWD", "SHLVL", "_"})
# Spawning starts a program in a new tmux window; give it longer than a plain request.
SPAWN_TIMEOUT_S = 20.0


class NodeUnavailable(StudioError):
    """No daemon answers for that node (not started, crashed, or the node name is wrong)."""


class ControlFailed(StudioError):
    """The daemon answered and refused or failed; its message says why."""


class Verb(StrEnum):
    spawn = "spawn"
    stop = "stop"
    kick = "kick"
    peek = "peek"
    list = "list"


class ControlRequest(BaseModel):
    """Base of every request: who asks (an agent id, or empty for a person at a CLI)."""

    requested_by: str = ""


class ControlReply(BaseModel):
    """Base of every reply. A daemon that cannot do what was asked sets `ok=False` and a
    message the caller can act on, instead of leaving the request to time out."""

    ok: bool = True
    error: str = ""


class SpawnRequest(ControlRequest):
    name: str
    kind: AgentKind = AgentKind.claude
    # A program to run instead of the kind's default (kind `other` needs one).
    command: str = ""
    cwd: str = ""
    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    worktree: bool = False
    role: str = ""
    # Variables for the agent's window, over those of the node's daemon and its config
    # (`agent_env`): API keys and base URLs the CLI itself reads.
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not ENV_NAME.fullmatch(name) or "\0" in text:
                raise ValueError(f"bad environment variable {name!r}: use NAME=VALUE")
        if sum(len(k) + len(v) for k, v in value.items()) > MAX_ENV_CHARS:
            raise ValueError(f"environment larger than {MAX_ENV_CHARS} characters")
        return value


class SpawnReply(ControlReply):
    agent: str = ""
    tmux_target: str = ""
    cwd: str = ""


class StopRequest(ControlRequest):
    agent: str
    # Graceful by default: ask the agent to wrap up, wait until idle (up to timeout_s), close.
    force: bool = False
    timeout_s: float = Field(default=30.0, ge=0, le=600)


class StopReply(ControlReply):
    agent: str = ""
    stopped: bool = False


class KickRequest(ControlRequest):
    agent: str
    text: str = ""


class KickReply(ControlReply):
    agent: str = ""
    delivered: bool = False
    state: str = ""
    detail: str = ""


class PeekRequest(ControlRequest):
    agent: str
    lines: int = Field(default=40, ge=1, le=MAX_PEEK_LINES)


class PeekReply(ControlReply):
    agent: str = ""
    state: str = ""
    text: str = ""


class ListRequest(ControlRequest):
    pass


class ManagedAgent(BaseModel):
    id: str
    kind: AgentKind = AgentKind.other
    state: str = ""
    tmux_target: str = ""
    cwd: str = ""


class ListReply(ControlReply):
    node: str = ""
    agents: list[ManagedAgent] = Field(default_factory=list)


REQUESTS: dict[Verb, type[ControlRequest]] = {
    Verb.spawn: SpawnRequest,
    Verb.stop: StopRequest,
    Verb.kick: KickRequest,
    Verb.peek: PeekRequest,
    Verb.list: ListRequest,
}
REPLIES: dict[Verb, type[ControlReply]] = {
    Verb.spawn: SpawnReply,
    Verb.stop: StopReply,
    Verb.kick: KickReply,
    Verb.peek: PeekReply,
    Verb.list: ListReply,
}


def failure(message: str) -> bytes:
    """What a daemon sends back when it refuses a request (any verb's reply model accepts it)."""
    return ControlReply(ok=False, error=message).model_dump_json().encode()


async def request(
    broker: Broker,
    node: str,
    verb: Verb | str,
    payload: ControlRequest,
    *,
    timeout_s: float | None = None,
) -> ControlReply:
    """Send one control request to `node`'s daemon and return its parsed reply.

    Raises NodeUnavailable when nobody serves that node (at once, via no-responders) or the
    daemon does not answer in time, ControlFailed when it answers with an error.
    """
    validate_name(node, "node name")
    try:
        verb = Verb(verb)
    except ValueError:
        raise StudioError(
            f"unknown control verb {verb!r}: use one of {', '.join(v.value for v in Verb)}"
        ) from None
    if not isinstance(payload, REQUESTS[verb]):
        raise TypeError(f"{verb.value} takes a {REQUESTS[verb].__name__}")
    subject = broker.names.control_subject(node, verb.value, broker.settings.node)
    wait = timeout_s if timeout_s is not None else broker.settings.request_timeout_s
    try:
        msg = await broker.nc.request(subject, payload.model_dump_json().encode(), timeout=wait)
    except nats.errors.NoRespondersError:
        raise NodeUnavailable(
            f"no daemon for node {node!r}: nothing serves {verb.value} requests there. "
            f"Start it on that machine with `studio node run` (or `studio up`), "
            f"or check the node name with list_agents"
        ) from None
    except (TimeoutError, nats.errors.TimeoutError):
        raise NodeUnavailable(
            f"the daemon of node {node!r} did not answer {verb.value} within {wait:.0f}s; "
            "it may be overloaded or stuck (`studio doctor` on that machine checks)"
        ) from None
    try:
        reply = REPLIES[verb].model_validate_json(msg.data)
    except ValidationError:
        raise ControlFailed(
            f"node {node!r} sent a malformed {verb.value} reply; is its studio version the same?"
        ) from None
    if not reply.ok:
        raise ControlFailed(reply.error or f"node {node!r} refused {verb.value}")
    return reply


async def spawn(broker: Broker, node: str, spec: SpawnRequest) -> SpawnReply:
    return cast(
        SpawnReply, await request(broker, node, Verb.spawn, spec, timeout_s=SPAWN_TIMEOUT_S)
    )


async def stop(broker: Broker, node: str, spec: StopRequest) -> StopReply:
    wait = spec.timeout_s + broker.settings.request_timeout_s
    return cast(StopReply, await request(broker, node, Verb.stop, spec, timeout_s=wait))


async def kick(broker: Broker, node: str, spec: KickRequest) -> KickReply:
    return cast(KickReply, await request(broker, node, Verb.kick, spec))


async def peek(broker: Broker, node: str, spec: PeekRequest) -> PeekReply:
    return cast(PeekReply, await request(broker, node, Verb.peek, spec))


async def list_managed(broker: Broker, node: str) -> ListReply:
    return cast(ListReply, await request(broker, node, Verb.list, ListRequest()))
