"""One fake model server on 127.0.0.1 that speaks all three providers' streaming APIs:

- Anthropic Messages (`POST /v1/messages`, SSE) for Claude Code;
- OpenAI Responses (`POST /v1/responses`, SSE) for Codex;
- OpenAI chat completions (`POST /v1/chat/completions`, SSE) for OpenCode.

It runs uvicorn in a thread of the test process, so a test can script replies and read the
request log directly.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.agents import provider_anthropic, provider_chat, provider_responses
from tests.agents.model_script import Script


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _anything(request: Request) -> Response:
    """HEAD / and other probes the CLIs make: answer, never 404 into an error path."""
    return Response(status_code=200)


def app(script: Script) -> Starlette:
    routes = [
        *provider_anthropic.routes(script),
        *provider_responses.routes(script),
        *provider_chat.routes(script),
        Route("/{path:path}", _anything, methods=["GET", "HEAD", "POST"]),
    ]
    return Starlette(routes=routes)


@contextmanager
def serve(script: Script | None = None) -> Iterator[tuple[str, Script]]:
    """(base URL, script) while the server runs, e.g. `http://127.0.0.1:PORT`."""
    script = script or Script()
    port = _free_port()
    config = uvicorn.Config(
        app(script), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake model server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", script
    finally:
        server.should_exit = True
        thread.join(5)
