"""How every tool answers: concise text for the model, the same facts as structured content,
a one-line mail footer, and every expected failure as a tool error that says what to do.

`tool(server)` registers a tool function with that behaviour, so each tool body stays a few
lines over a broker operation.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from broker import messages
from broker.errors import StudioError
from mcp_gateway.gateway import Gateway

log = structlog.get_logger(__name__)

ToolFn = Callable[..., Awaitable[CallToolResult]]


def reply(text: str, data: BaseModel | dict[str, Any] | None = None) -> CallToolResult:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return CallToolResult(content=[TextContent(text=text)], structured_content=data)


def mail_footer(unread: int) -> str:
    noun = "message" if unread == 1 else "messages"
    return f"📬 {unread} unread {noun} — call check_inbox"


async def unread_of(gateway: Gateway, ctx: Context) -> int | None:
    """The caller's unread count, None when there is no registered caller. Never raises: the
    footer is a courtesy, and a failure here must not fail the tool it decorates."""
    try:
        agent = gateway.caller(ctx)
        broker = gateway.connection
        if agent is None or broker is None or str(agent) not in broker.known_agents:
            return None
        return await messages.unread_count(broker, agent)
    except Exception as exc:
        log.debug("unread_count_skipped", error=str(exc))
        return None


def _cancel(task: asyncio.Future | None) -> None:
    if task is not None and not task.done():
        task.cancel()


def _footed(text: str, unread: int | None) -> str:
    return f"{text}\n{mail_footer(unread)}" if unread else text


def tool(
    server: MCPServer,
    *,
    read_only: bool = False,
    idempotent: bool = False,
    reports_unread: bool = False,
) -> Callable[[ToolFn], ToolFn]:
    """Register `fn` as a tool: its docstring is the description the model reads, StudioError
    becomes a ToolError (isError), a dead broker says so plainly, and every result ends with
    the mail footer when the caller has unread messages.

    The unread count is read while the tool runs, so the footer adds no round trip. A tool
    that knows the count after its own work (check_inbox) reports it as structured `unread`
    (`reports_unread=True`: then nothing is read for it). The tool function takes
    `ctx: Context` and returns a CallToolResult."""

    def decorate(fn: ToolFn) -> ToolFn:
        @functools.wraps(fn)
        async def run(*args: Any, **kwargs: Any) -> CallToolResult:
            ctx: Context = kwargs["ctx"]
            gateway = Gateway.of(ctx)
            counting = None if reports_unread else asyncio.ensure_future(unread_of(gateway, ctx))
            try:
                await gateway.ready()
                result = await fn(*args, **kwargs)
            except StudioError as exc:
                unread = await (counting or unread_of(gateway, ctx))
                raise ToolError(_footed(str(exc), unread)) from None
            except (nats.errors.Error, TimeoutError, ConnectionError) as exc:
                _cancel(counting)
                log.warning("broker_call_failed", tool=fn.__name__, error=repr(exc))
                raise ToolError(
                    "the studio broker did not answer; retry in a moment "
                    "(`studio doctor` checks the broker and this node)"
                ) from None
            except BaseException:
                _cancel(counting)
                raise
            reported = (result.structured_content or {}).get("unread")
            if isinstance(reported, int):
                _cancel(counting)
                unread = reported
            else:
                unread = await (counting or unread_of(gateway, ctx))
            if unread:
                result.content.append(TextContent(text=mail_footer(unread)))
            return result

        server.add_tool(
            run,
            name=fn.__name__,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                read_only_hint=read_only,
                destructive_hint=False,
                idempotent_hint=idempotent or read_only,
                open_world_hint=False,
            ),
        )
        return run

    return decorate


_VALIDATION_HEAD = re.compile(r"\d+ validation errors? for \w+Arguments\n")
_DOCS_LINE = re.compile(r"\n +For further information visit \S+")


def tidy_error(text: str) -> str:
    """pydantic's report without its docs links, announced as what it is: bad arguments."""
    tidied = _DOCS_LINE.sub("", _VALIDATION_HEAD.sub("invalid arguments:\n", text))
    if tidied != text:
        tidied += "\nFix these arguments (see the tool's input schema) and call again."
    return tidied


async def tidy_errors(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: argument validation fails inside the SDK, before any tool body runs;
    this makes those error results as readable as the tools' own."""
    result = await call_next(ctx)
    if ctx.method == "tools/call" and isinstance(result, dict) and result.get("isError"):
        for block in result.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "text":
                block["text"] = tidy_error(block["text"])
    return result
