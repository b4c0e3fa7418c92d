"""The Anthropic Messages wire format, for the real Claude Code CLI.

Claude calls `POST /v1/messages?beta=true` with `"stream": true` and reads server-sent events:
message_start, then per content block content_block_start / _delta / _stop (text_delta for
text, input_json_delta for a tool_use's input), then message_delta with the stop reason and
message_stop. Each request is reduced to a `Turn`, the `Script` picks the reply, and this
module renders it.

A `Fail` is an HTTP error in Anthropic's error JSON shape. Claude Code 2.1.197 retries
408/409/429/5xx 10 times with backoff (about 3 minutes) before the turn ends; the header
`x-should-retry: false` stops that for every status except a 529 `overloaded_error`, which
only CLAUDE_CODE_MAX_RETRIES=0 stops (`cli_claude.prepare` sets it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.agents.model_script import Call, Fail, Hold, Say, Script, Turn

_ids = itertools.count(1)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _texts(content: Any) -> list[str]:
    """Every text in a message content (a string or a list of blocks), tool results included."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            out.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            out.extend(_texts(block.get("content")))
        elif block.get("type") == "tool_use":
            out.append(json.dumps(block.get("input", {})))
    return out


def _is_tool_results(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    )


def to_turn(body: dict[str, Any]) -> Turn:
    messages: list[dict[str, Any]] = body.get("messages", [])
    text = _texts(body.get("system"))
    for message in messages:
        text.extend(_texts(message.get("content")))
    last_user, tool_results = "", []
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        if _is_tool_results(message):
            tool_results[:0] = _texts(message["content"])
        else:
            last_user = "\n".join(_texts(message.get("content")))
            break
    # Claude appends `system`-role messages (agent lists, reminders) after the conversation.
    last = next((m for m in reversed(messages) if m.get("role") != "system"), {})
    return Turn(
        provider="anthropic",
        body=body,
        tools=[t["name"] for t in body.get("tools", []) if "name" in t],
        text="\n".join(text),
        last_user=last_user,
        tool_results=tool_results,
        last_is_tool_result=last.get("role") == "user" and _is_tool_results(last),
    )


def _content(turn: Turn, reply: Say | Call) -> tuple[dict[str, Any], str]:
    """(the content block, its stop reason)."""
    if isinstance(reply, Say):
        return {"type": "text", "text": reply.text}, "end_turn"
    name = turn.tool_named(reply.tool) or reply.tool
    block = {"type": "tool_use", "id": f"toolu_fake{next(_ids):06d}", "name": name}
    return {**block, "input": reply.arguments}, "tool_use"


def _message(model: str, content: list[dict[str, Any]], stop: str | None) -> dict[str, Any]:
    return {
        "id": f"msg_fake{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


async def _stream(turn: Turn, reply: Say | Call | Hold, model: str) -> AsyncIterator[bytes]:
    yield _event("message_start", {"message": _message(model, [], None)})
    if isinstance(reply, Hold):
        end = asyncio.get_running_loop().time() + reply.seconds
        while (left := end - asyncio.get_running_loop().time()) > 0:
            yield _event("ping", {})
            await asyncio.sleep(min(left, 1.0))
        reply = reply.then
    block, stop = _content(turn, reply)
    if block["type"] == "text":
        yield _event("content_block_start", {"index": 0, "content_block": {**block, "text": ""}})
        delta = {"type": "text_delta", "text": block["text"]}
    else:
        yield _event("content_block_start", {"index": 0, "content_block": {**block, "input": {}}})
        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
    yield _event("content_block_delta", {"index": 0, "delta": delta})
    yield _event("content_block_stop", {"index": 0})
    delta_end = {"stop_reason": stop, "stop_sequence": None}
    yield _event("message_delta", {"delta": delta_end, "usage": {"output_tokens": 5}})
    yield _event("message_stop", {})


def _error(fail: Fail) -> Response:
    kind = _ERROR_TYPES.get(fail.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": fail.message}}
    return JSONResponse(body, status_code=fail.status, headers={"x-should-retry": "false"})


async def _messages(request: Request, script: Script) -> Response:
    body = await request.json()
    turn = to_turn(body)
    reply = await asyncio.to_thread(script.reply, turn)
    if isinstance(reply, Fail):
        return _error(reply)
    model = body.get("model", "claude-fake")
    if body.get("stream"):
        return StreamingResponse(
            _stream(turn, reply, model),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    if isinstance(reply, Hold):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    block, stop = _content(turn, reply)
    return JSONResponse(_message(model, [block], stop))


async def _count_tokens(request: Request) -> Response:
    body = await request.json()
    return JSONResponse({"input_tokens": max(1, len(to_turn(body).text) // 4)})


def routes(script: Script) -> list[Route]:
    async def messages(request: Request) -> Response:
        return await _messages(request, script)

    return [
        Route("/v1/messages/count_tokens", _count_tokens, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
    ]
