"""The OpenAI Responses API (`POST /v1/responses`, SSE) as the real Codex CLI consumes it.

Codex (0.171) sends an `input` list of items (developer/user messages, its own
`function_call`s and their `function_call_output`s) and the `tools` it offers. MCP tools come
grouped in a `namespace` tool (`{"type": "namespace", "name": "mcp__studio", "tools":
[{"name": "check_inbox"}]}`): the `Turn` lists them by the full name hooks also see,
`mcp__studio__check_inbox`, and a call names them back as `namespace` + short `name`.

A reply is streamed as the events Codex reads: `response.created`, `response.output_item.added`,
`response.output_text.delta` (text only), `response.output_item.done` and `response.completed`
with usage; a `Hold` keeps the stream open between the first two. A `Fail` is a plain HTTP
error, which ends the turn at once only because `cli_codex.prepare` turns the provider's
retries off (Codex shows a 5xx as "We're currently experiencing high demand...").
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

from tests.agents.model_script import Call, Fail, Hold, Say, Script, Turn, text_of

Json = dict[str, Any]
_OUTPUTS = ("function_call_output", "custom_tool_call_output")


def _tools(body: Json) -> dict[str, tuple[str | None, str]]:
    """Offered tools by full name, each with how a call names it: (namespace, name)."""
    tools: dict[str, tuple[str | None, str]] = {}
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace":
            for sub in tool.get("tools", []):
                tools[f"{tool['name']}__{sub['name']}"] = (tool["name"], sub["name"])
        elif "name" in tool:
            tools[tool["name"]] = (None, tool["name"])
    return tools


def to_turn(body: Json) -> Turn:
    items: list[Json] = [item for item in body.get("input", []) if isinstance(item, dict)]
    texts = [body.get("instructions") or ""]
    last_user, after_user = "", 0
    for i, item in enumerate(items):
        if item.get("type", "message") == "message":
            texts.append(text_of(item.get("content")))
            if item.get("role") == "user":
                last_user, after_user = texts[-1], i + 1
        elif item.get("type") in _OUTPUTS:
            texts.append(text_of(item.get("output")))
    results = [text_of(it.get("output")) for it in items[after_user:] if it.get("type") in _OUTPUTS]
    return Turn(
        provider="responses",
        body=body,
        tools=list(_tools(body)),
        text="\n".join(t for t in texts if t),
        last_user=last_user,
        tool_results=results,
        last_is_tool_result=bool(items) and items[-1].get("type") in _OUTPUTS,
    )


def _shaped(text: str, body: Json) -> str:
    """Side requests demand JSON (the session title: `{"title": ...}`); wrap plain text."""
    fmt = (body.get("text") or {}).get("format") or {}
    required = (fmt.get("schema") or {}).get("required") or []
    if fmt.get("type") != "json_schema" or len(required) != 1:
        return text
    try:
        json.loads(text)
        return text
    except ValueError:
        return json.dumps({required[0]: text})


def _item(reply: Say | Call, turn: Turn) -> Json:
    if isinstance(reply, Say):
        part = {"type": "output_text", "text": _shaped(reply.text, turn.body), "annotations": []}
        return {
            "type": "message",
            "role": "assistant",
            "id": f"msg_{uuid.uuid4().hex}",
            "status": "completed",
            "content": [part],
        }
    full = turn.tool_named(reply.tool) or reply.tool
    namespace, name = _tools(turn.body).get(full, (None, full))
    item = {
        "type": "function_call",
        "id": f"fc_{uuid.uuid4().hex}",
        "status": "completed",
        "call_id": f"call_{uuid.uuid4().hex}",
        "name": name,
        "arguments": json.dumps(reply.arguments),
    }
    if namespace:
        item["namespace"] = namespace
    return item


def _sse(event: Json) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def _stream(reply: Say | Call | Hold, turn: Turn) -> AsyncIterator[bytes]:
    response = {
        "id": f"resp_{uuid.uuid4().hex}",
        "object": "response",
        "model": turn.body.get("model", "fake"),
        "status": "in_progress",
        "output": [],
    }
    yield _sse({"type": "response.created", "response": response})
    if isinstance(reply, Hold):
        await asyncio.sleep(reply.seconds)
        reply = reply.then
    item = _item(reply, turn)
    started = {**item, "status": "in_progress"} | ({"content": []} if "content" in item else {})
    yield _sse({"type": "response.output_item.added", "output_index": 0, "item": started})
    if "content" in item:
        delta = item["content"][0]["text"]
        yield _sse(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
            }
        )
    yield _sse({"type": "response.output_item.done", "output_index": 0, "item": item})
    tokens = max(1, len(turn.text) // 4)
    usage = {
        "input_tokens": tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": tokens + 10,
    }
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    yield _sse({"type": "response.completed", "response": done})


def routes(script: Script) -> list[Route]:
    async def responses(request: Request) -> Response:
        turn = to_turn(await request.json())
        reply = await asyncio.to_thread(script.reply, turn)
        if isinstance(reply, Fail):
            error = {"message": reply.message, "type": "server_error", "code": None}
            return JSONResponse({"error": error}, status_code=reply.status)
        return StreamingResponse(_stream(reply, turn), media_type="text/event-stream")

    return [Route("/v1/responses", responses, methods=["POST"])]
