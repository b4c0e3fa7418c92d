"""The gateway's state for one process: the broker connection and who is calling.

Who calls comes from, in order:
1. the HTTP request, when serving streamable HTTP for a whole node: the URL path
   `/agents/<name>/mcp` or the `X-Studio-Agent` header names the agent;
2. the process, when the daemon spawned the session with `STUDIO_AGENT_ID`;
3. a `register(name)` call made earlier in this (stdio) session.

The identity is resolved per call and registered lazily on first use, so starting a gateway
writes nothing to the broker and a session that never calls a tool leaves no trace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from mcp.server.mcpserver import Context

from broker import agents
from broker.connection import Broker, connect
from broker.errors import BrokerUnavailable, InvalidInput, StudioError
from broker.models import AgentKind
from broker.names import AgentId, is_full_id, validate_name
from broker.settings import Settings


class Channel(Protocol):
    """Pushes inbox messages to the session as they arrive (mcp_gateway.channels)."""

    def attach(self, session: Any) -> None: ...

    async def run(self) -> None: ...

    async def close(self) -> None: ...


AGENT_HEADER = "x-studio-agent"
AGENT_PATH_PARAM = "agent"
# How long a tool call waits for a connection attempt in flight before reporting the broker down.
CONNECT_WAIT_S = 3.0

# Substrings of the MCP client's name (clientInfo.name) that tell which CLI runs the session.
_CLIENT_KINDS = (
    ("claude", AgentKind.claude),
    ("codex", AgentKind.codex),
    ("opencode", AgentKind.opencode),
)


class IdentityRequired(StudioError):
    """The tool acts as an agent, and this session has not said which one."""


@dataclass
class Gateway:
    settings: Settings
    # The broker connection; None until the first connect succeeds (see `ready`).
    connection: Broker | None = None
    # Whether this gateway opened the connection (and so closes it).
    owns_connection: bool = True
    # The stdio session's agent (from STUDIO_AGENT_ID or register); unused over HTTP.
    identity: AgentId | None = None
    # True when the identity came from the environment: register() cannot replace it.
    identity_fixed: bool = False
    # Set whenever `identity` is set, so background work (channels) can wait for one.
    identity_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # Pushes inbox messages as Claude Code channel notifications, when enabled.
    channel: Channel | None = None
    # The node daemon has been told this session's tools are listed (see node_link).
    told_daemon: bool = False
    _attempt: asyncio.Future[Broker] | None = None

    @classmethod
    def create(cls, settings: Settings, connection: Broker | None = None) -> Gateway:
        gateway = cls(settings=settings, connection=connection, owns_connection=connection is None)
        if settings.agent_id:
            gateway.adopt(AgentId.parse(settings.agent_id), fixed=True)
        return gateway

    @classmethod
    def of(cls, ctx: Context) -> Gateway:
        """The gateway behind a tool call (what the server lifespan yielded)."""
        return cast(Gateway, ctx.request_context.lifespan_context)

    @property
    def broker(self) -> Broker:
        if self.connection is None:
            raise BrokerUnavailable("not connected to the studio broker yet; retry in a moment")
        return self.connection

    async def ready(self) -> Broker:
        """The broker connection, connecting on first need. The gateway starts (and answers
        tools/list) without the broker, so a broker started after the session still works.
        One attempt runs at a time and callers share it; a call waits for it at most
        CONNECT_WAIT_S, so a dead broker costs a tool call seconds, not the connect timeout."""
        if self.connection is not None:
            return self.connection
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.ensure_future(self._connect())
            self._attempt.add_done_callback(_retrieve)
        try:
            return await asyncio.wait_for(asyncio.shield(self._attempt), CONNECT_WAIT_S)
        except TimeoutError:
            raise BrokerUnavailable(
                f"cannot reach the broker at {', '.join(self.settings.servers())} (still "
                "trying). Is it running? (`studio up` or `studio broker serve`; `studio doctor` "
                "checks)"
            ) from None

    async def _connect(self) -> Broker:
        self.connection = await connect(self.settings, name=f"studio-mcp {self.settings.node}")
        return self.connection

    async def close(self) -> None:
        if self._attempt is not None and not self._attempt.done():
            self._attempt.cancel()
        if self.channel is not None:
            await self.channel.close()
        if self.connection is not None and self.owns_connection:
            await self.connection.close()

    async def resolve(self, ref: str) -> AgentId:
        """An agent reference (bare name or full id) as a registered id (agents.resolve)."""
        return await agents.resolve(self.broker, ref)

    def adopt(self, agent: AgentId, *, fixed: bool = False) -> None:
        self.identity = agent
        self.identity_fixed = fixed
        self.identity_ready.set()

    def caller(self, ctx: Context) -> AgentId | None:
        """Who makes this call, or None when nobody said yet."""
        request = ctx.request_context.request
        if request is not None:
            return identity_from_request(request, self.settings.node)
        return self.identity

    async def me(self, ctx: Context) -> AgentId:
        """The caller's id, registered (so it has an inbox); else a ToolError-worthy error."""
        agent = self.caller(ctx)
        if agent is None:
            if ctx.request_context.request is not None:
                raise IdentityRequired(
                    "this HTTP connection names no agent: connect to /agents/<name>/mcp "
                    f"or send the header X-Studio-Agent: <name> (node {self.settings.node!r})"
                )
            raise IdentityRequired(
                "you have no studio identity yet: call register(name) first, with a short "
                "name for yourself such as 'backend' or 'reviewer'"
            )
        await self.ensure_registered(agent, ctx.request_context.session)
        return agent

    async def claimable(self, ctx: Context, name: str) -> AgentId:
        """The id `register(name)` may claim for this caller. A stdio session may rename
        itself; an identity set at start (STUDIO_AGENT_ID, the HTTP URL or header) is fixed."""
        agent = agent_on_node(name, self.settings.node)
        current = self.caller(ctx)
        over_http = ctx.request_context.request is not None
        if current is None and over_http:
            await self.me(ctx)  # raises: over HTTP the identity comes from the URL or header
        if current is not None and current != agent and (self.identity_fixed or over_http):
            raise InvalidInput(
                f"this session is {current} (set when it was started) and cannot become "
                f"{agent}; use register('{current.name}') to update role or summary"
            )
        return agent

    async def ensure_registered(self, agent: AgentId, session: Any = None) -> None:
        """Register on first use (with the kind of CLI the session says it is)."""
        if not await agents.is_registered(self.broker, agent):
            kind = client_kind(session) if session is not None else AgentKind.other
            await agents.register(self.broker, agent, kind=kind)


def _retrieve(attempt: asyncio.Future) -> None:
    """Mark a failed attempt's error as seen (callers that timed out never await it)."""
    if not attempt.cancelled():
        attempt.exception()


def identity_from_request(request: Any, node: str) -> AgentId | None:
    """The agent an HTTP request speaks for: URL path first, then the header."""
    value = (getattr(request, "path_params", None) or {}).get(AGENT_PATH_PARAM)
    if value is None:
        value = request.headers.get(AGENT_HEADER)
    if not value:
        return None
    return agent_on_node(value.strip(), node)


def agent_on_node(value: str, node: str) -> AgentId:
    """`name` or `<node>.name` as an agent of this node; a gateway speaks only for its node."""
    if is_full_id(value):
        agent = AgentId.parse(value)
        if agent.node != node:
            raise InvalidInput(
                f"{value!r} belongs to node {agent.node!r}, but this gateway serves node "
                f"{node!r}: use that node's gateway, or a bare name here"
            )
        return agent
    return AgentId(node, validate_name(value, "agent name"))


def client_kind(session: Any) -> AgentKind:
    """Which CLI runs the session, from the name it gave in `initialize` (when it gave one)."""
    params = session.client_params
    name = (params.client_info.name if params else "").lower()
    for needle, kind in _CLIENT_KINDS:
        if needle in name:
            return kind
    return AgentKind.other
