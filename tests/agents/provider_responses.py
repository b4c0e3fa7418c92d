"""The OpenAI Responses API (`POST /v1/responses`, SSE) as the real Codex CLI consumes it.

Codex sends `instructions`, an `input` list of items (messages, its own `function_call`s and
their `function_call_output`s) and the `tools` it offers; MCP tools arrive either as plain
`function` tools or grouped under a `namespace` tool (`mcp__studio__` + `check_inbox`). The
request becomes a provider-neutral `Turn`; the `Script`'s reply is streamed back as the events
Codex reads: `response.created`, `response.output_item.added/done`, `response.output_text.delta`
or a `function_call` item, and `response.completed` with usage (without it Codex treats the
stream as cut and retries). A `Fail` is a plain HTTP error; Codex gives up at once only when its
provider's retries are off (`cli_codex.prepare` sets `request_max_retries = 0`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.agents.model_script import Call, Fail, Hold, Say, Script, Turn

_TOOL_OUTPUTS = ("function_call_output", "custom_tool_call_output", "mcp_tool_call_output")


def _tools(body: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    """Offered tools by full name (`mcp__studio__check_inbox`, as hooks see it), each with how
    a call names it: (namespace, name) for a namespaced tool, (None, name) for a plain one."""
    tools: dict[str, tuple[str | None, str]] = {}
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace":  # {"name": "mcp__studio", "tools": [{"name": ...}]}
            for sub in tool.get("tools", []):
                tools[f"{tool['name']}__{sub['name']}"] = (tool["name"], sub["name"])
        elif "name" in tool:
            tools[tool["name"]] = (None, tool["name"])
    return tools


def _text(value: Any) -> str:
    """The text of a message's `content` or a tool output: a string or a list of parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(part.get("text", "")) for part in value if isinstance(part, dict))
    if isinstance(value, dict):  # {"content": ..., "success": ...} in some versions
        return _text(value.get("content", ""))
    return ""


def to_turn(body: dict[str, Any]) -> Turn:
    items = [item for item in body.get("input", []) if isinstance(item, dict)]
    texts = [body.get("instructions") or ""]
    last_user, last_user_at = "", -1
    for i, item in enumerate(items):
        if item.get("type", "message") == "message":
            texts.append(_text(item.get("content")))
            if item.get("role") == "user":
                last_user, last_user_at = texts[-1], i
        elif item.get("type") in _TOOL_OUTPUTS:
            texts.append(_text(item.get("output")))
    results = [_text(item.get("output")) for item in items[last_user_at + 1 :]]
    results = [r for r, item in zip(results, items[last_user_at + 1 :]) if item.get("type") in _TOOL_OUTPUTS]
    return Turn(
        provider="responses",
        body=body,
        tools=list(_tools(body)),
        text="\n".join(t for t in texts if t),
        last_user=last_user,
        tool_results=results,
        last_is_tool_result=bool(items) and items[-1].get("type") in _TOOL_OUTPUTS,
    )


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _item(reply: Say | Call, turn: Turn) -> dict[str, Any]:
    if isinstance(reply, Say):
        content = [{"type": "output_text", "text": reply.text, "annotations": []}]
        return {"type": "message", "role": "assistant", "id": f"msg_{uuid.uuid4().hex}",
                "status": "completed", "content": content}  # fmt: skip
    full = turn.tool_named(reply.tool) or reply.tool
    namespace, name = _tools(turn.body).get(full, (None, full))
    item = {"type": "function_call", "id": f"fc_{uuid.uuid4().hex}", "status": "completed",
            "call_id": f"call_{uuid.uuid4().hex}", "name": name,
            "arguments": json.dumps(reply.arguments)}  # fmt: skip
    if namespace:
        item["namespace"] = namespace
    return item


async def _events(reply: Say | Call | Hold, turn: Turn) -> AsyncIterator[bytes]:
    response = {"id": f"resp_{uuid.uuid4().hex}", "object": "response", "status": "in_progress",
                "model": turn.body.get("model", "fake"), "output": []}  # fmt: skip
    yield _sse({"type": "response.created", "response": response})
    if isinstance(reply, Hold):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    item = _item(reply, turn)
    started = {**item, "status": "in_progress"}
    if item["type"] == "message":
        started["content"] = []
    yield _sse({"type": "response.output_item.added", "output_index": 0, "item": started})
    if isinstance(reply, Say):
        yield _sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                    "content_index": 0, "delta": reply.text})  # fmt: skip
    yield _sse({"type": "response.output_item.done", "output_index": 0, "item": item})
    usage = {"input_tokens": max(1, len(turn.text) // 4), "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0}}  # fmt: skip
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    yield _sse({"type": "response.completed", "response": done})


def routes(script: Script) -> list[Route]:
    async def responses(request: Request) -> Response:
        turn = to_turn(await request.json())
        reply = await asyncio.to_thread(script.reply, turn)
        if isinstance(reply, Fail):
            error = {"message": reply.message, "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=reply.status)
        return StreamingResponse(_events(reply, turn), media_type="text/event-stream")

    return [Route("/v1/responses", responses, methods=["POST"])]
