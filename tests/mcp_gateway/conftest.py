"""Gateway fixtures: in-process MCP clients (the real SDK client and server, a real broker),
one gateway per agent, all on the test's own team."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import pytest
from mcp import Client

from broker.connection import Broker
from mcp_gateway.server import build_server

ClientFactory = Callable[..., Awaitable[Client]]


class ContextHost:
    """Enters async contexts in one task of its own and exits them there too. anyio task
    groups (inside the SDK client and the gateway) must close in the task that opened them,
    and pytest-asyncio sets a fixture up and tears it down in different tasks."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with AsyncExitStack() as stack:
            while (item := await self.queue.get()) is not None:
                context, future = item
                try:
                    future.set_result(await stack.enter_async_context(context))
                except Exception as exc:
                    future.set_exception(exc)

    async def enter(self, context: AbstractAsyncContextManager) -> Any:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((context, future))
        return await future

    async def close(self) -> None:
        await self.queue.put(None)
        await self.task


@pytest.fixture
async def context_host() -> AsyncIterator[ContextHost]:
    host = ContextHost()
    yield host
    await host.close()


@pytest.fixture
async def gateway_client(broker_factory, context_host) -> ClientFactory:
    """`await gateway_client("n1.alice")` → a connected client whose gateway acts as that agent
    (as if the daemon set STUDIO_AGENT_ID); no argument → a session that must register."""

    async def make(agent_id: str | None = None, **overrides: Any) -> Client:
        broker: Broker = await broker_factory(agent_id=agent_id, **overrides)
        server = build_server(broker.settings, broker=broker)
        return await context_host.enter(Client(server))

    return make
