"""The dashboard's HTTP side: the page, its live stream (server-sent events), the JSON
actions, all behind the token gate (auth.py).

One Starlette app per process over one Feed and one Actions: a page opens `/api/stream`,
gets a snapshot event and then batches of patches; it never asks again unless told to
(`resync`, after falling too far behind) or its connection drops (EventSource reconnects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from broker.errors import StudioError
from studio_cli.dashboard.actions import Actions, DispatchForm, KickForm, SendForm
from studio_cli.dashboard.auth import TokenGate
from studio_cli.dashboard.feed import Feed

log = structlog.get_logger(__name__)
STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0
NO_STORE = {"cache-control": "no-store"}
M = TypeVar("M", bound=BaseModel)


def build_app(
    feed: Feed, actions: Actions, *, token: str, port: int, loopback: bool, secure: bool
) -> ASGIApp:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=NO_STORE)

    async def state(request: Request) -> Response:
        await feed.ready.wait()
        return JSONResponse(feed.state.snapshot(), headers=NO_STORE)

    async def stream(request: Request) -> Response:
        await feed.ready.wait()
        subscriber, snapshot = feed.subscribe()

        async def events() -> Any:
            try:
                yield _sse("snapshot", snapshot)
                while True:
                    batch = await subscriber.next_batch(KEEPALIVE_S)
                    if batch is None:
                        yield ": keepalive\n\n"
                        continue
                    if any(p.get("t") == "resync" for p in batch):
                        yield _sse("resync", {})
                        return
                    yield _sse("patches", batch)
            finally:
                feed.unsubscribe(subscriber)

        headers = {**NO_STORE, "x-accel-buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def agent_events(request: Request) -> Response:
        agent = request.path_params["agent"]
        return JSONResponse({"events": feed.state.agent_events(agent)}, headers=NO_STORE)

    async def peek(request: Request) -> Response:
        try:
            lines = int(request.query_params.get("lines", "40"))
        except ValueError:
            return _error("lines must be a number")
        return await _run(actions.peek(request.path_params["agent"], lines))

    async def send(request: Request) -> Response:
        form = await _form(request, SendForm)
        return form if isinstance(form, Response) else await _run(actions.send(form))

    async def dispatch(request: Request) -> Response:
        form = await _form(request, DispatchForm)
        return form if isinstance(form, Response) else await _run(actions.dispatch(form))

    async def kick(request: Request) -> Response:
        form = await _form(request, KickForm)
        return form if isinstance(form, Response) else await _run(actions.kick(form))

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/state", state),
            Route("/api/stream", stream),
            Route("/api/agents/{agent}/events", agent_events),
            Route("/api/agents/{agent}/peek", peek),
            Route("/api/send", send, methods=["POST"]),
            Route("/api/dispatch", dispatch, methods=["POST"]),
            Route("/api/kick", kick, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    return TokenGate(app, token, port=port, loopback=loopback, secure=secure)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _form(request: Request, model: type[M]) -> M | Response:
    try:
        return model.model_validate(await request.json())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        return _error(f"invalid {where}: {first['msg']}")
    except ValueError:
        return _error("the request body is not JSON")


async def _run(action: Any) -> Response:
    """An action's result, or its error as the CLI would word it (status 400)."""
    try:
        return JSONResponse(await action, headers=NO_STORE)
    except StudioError as exc:
        return _error(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        return _error(f"invalid {'.'.join(str(p) for p in first['loc']) or 'input'}: "
                      f"{first['msg']}")  # fmt: skip
    except Exception as exc:
        log.warning("dashboard_action_failed", error=str(exc), kind=type(exc).__name__)
        return _error(f"unexpected error: {type(exc).__name__}: {exc}", status=500)


def _error(message: str, status: int = 400) -> Response:
    return JSONResponse({"ok": False, "error": message}, status_code=status, headers=NO_STORE)
