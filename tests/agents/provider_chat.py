"""OpenAI chat completions (`POST /v1/chat/completions`, SSE), the wire format OpenCode speaks
through `@ai-sdk/openai-compatible`.

OpenCode names an MCP tool `<server>_<tool>` (`studio_check_inbox`). It retries an API error
whose status is 408, 409, 429 or >= 500 (or whose message looks transient: "rate limit",
"overloaded", "server error", "timeout"...) up to 5 times with backoff from 2 s, so a `Fail`
is sent as a plain 4xx: the turn ends at once with the error shown.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.agents.model_script import Call, Fail, Hold, Say, Script, Turn, text_of

_ids = itertools.count(1)
_RETRIED = {408, 409, 429}


def read_turn(body: dict[str, Any]) -> Turn:
    messages: list[dict[str, Any]] = body.get("messages") or []
    tools = [t["function"]["name"] for t in body.get("tools") or [] if "function" in t]
    last_user_at = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    after = messages[last_user_at + 1 :]
    return Turn(
        provider="chat",
        body=body,
        tools=tools,
        text="\n".join(text_of(m.get("content")) for m in messages),
        last_user=text_of(messages[last_user_at].get("content")) if last_user_at >= 0 else "",
        tool_results=[text_of(m.get("content")) for m in after if m.get("role") == "tool"],
        last_is_tool_result=bool(messages) and messages[-1].get("role") == "tool",
    )


def _chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None) -> str:
    data: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if delta is None:
        data["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    return f"data: {json.dumps(data)}\n\n"


async def _stream(turn: Turn, model: str, reply: Say | Call | Hold) -> AsyncIterator[str]:
    yield _chunk(model, {"role": "assistant", "content": ""})
    if isinstance(reply, Hold):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    if isinstance(reply, Say):
        yield _chunk(model, {"content": reply.text})
        yield _chunk(model, {}, "stop")
    else:
        name = turn.tool_named(reply.tool) or reply.tool
        call = {
            "index": 0,
            "id": f"call_{next(_ids)}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(reply.arguments)},
        }
        yield _chunk(model, {"tool_calls": [call]})
        yield _chunk(model, {}, "tool_calls")
    yield _chunk(model, None)
    yield "data: [DONE]\n\n"


def _failure(fail: Fail) -> Response:
    status = fail.status if 400 <= fail.status < 500 and fail.status not in _RETRIED else 400
    error = {"message": fail.message, "type": "invalid_request_error"}
    return JSONResponse({"error": error}, status_code=status)


def routes(script: Script) -> list[Route]:
    async def completions(request: Request) -> Response:
        body = await request.json()
        turn = read_turn(body)
        reply = await run_in_threadpool(script.reply, turn)
        if isinstance(reply, Fail):
            return _failure(reply)
        return StreamingResponse(
            _stream(turn, str(body.get("model", "fake")), reply),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    return [Route("/v1/chat/completions", completions, methods=["POST"])]
