"""The node's control service: `studio.<team>.node.<node>.ctl.<verb>` requests from any host.

Each handler parses the shared request model from broker.control and always answers, with
`ok=False` and a message the caller can act on when it cannot do what was asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from nats.aio.msg import Msg
from pydantic import ValidationError

from broker import events
from broker.connection import checked_subscribe
from broker.control import (
    REQUESTS,
    KickReply,
    KickRequest,
    ListReply,
    ManagedAgent,
    PeekReply,
    PeekRequest,
    SpawnReply,
    SpawnRequest,
    StopReply,
    StopRequest,
    Verb,
    failure,
)
from broker.errors import StudioError, UnknownAgent
from broker.names import AgentId, is_full_id
from node_agent import lifecycle, policy, tmux, wake
from node_agent.state import LocalAgent, Node

log = structlog.get_logger(__name__)


class PolicyRefused(StudioError):
    """This node's control policy does not let the requesting node do that."""


def _local(node: Node, name: str) -> LocalAgent:
    agent_id = str(AgentId.parse(name)) if is_full_id(name) else f"{node.settings.node}.{name}"
    agent = node.agents.get(agent_id)
    if agent is None:
        raise UnknownAgent(agent_id, sorted(node.agents))
    return agent


async def on_spawn(node: Node, request: SpawnRequest) -> SpawnReply:
    agent = await lifecycle.spawn(node, request)
    return SpawnReply(
        agent=str(agent.id), tmux_target=f"{node.session_name}:{agent.pane_id}", cwd=agent.cwd
    )


async def on_stop(node: Node, request: StopRequest) -> StopReply:
    agent = _local(node, request.agent)
    await lifecycle.stop(node, agent, force=request.force, timeout_s=request.timeout_s)
    return StopReply(agent=str(agent.id), stopped=True)


async def on_kick(node: Node, request: KickRequest) -> KickReply:
    agent = _local(node, request.agent)
    if request.text:
        delivered = await wake.type_text(node, agent, request.text)
    else:
        delivered = await wake.wake_if_idle(node, agent, force=True)
    detail = "" if delivered else f"not typed: agent is {agent.state.value} (or has no unread mail)"
    return KickReply(
        agent=str(agent.id), delivered=delivered, state=agent.state.value, detail=detail
    )


async def on_peek(node: Node, request: PeekRequest) -> PeekReply:
    agent = _local(node, request.agent)
    text = await asyncio.to_thread(tmux.capture, node.tmux, agent.pane_id, request.lines)
    lines = text.splitlines()[-request.lines :]
    return PeekReply(agent=str(agent.id), state=agent.state.value, text="\n".join(lines))


async def on_list(node: Node, _request: object) -> ListReply:
    return ListReply(
        node=node.settings.node,
        agents=[
            ManagedAgent(
                id=str(a.id),
                kind=a.kind,
                state=a.state.value,
                tmux_target=f"{node.session_name}:{a.pane_id}",
                cwd=a.cwd,
            )
            for a in sorted(node.agents.values(), key=lambda a: str(a.id))
        ],
    )


HANDLERS: dict[Verb, Callable[[Node, object], Awaitable[object]]] = {
    Verb.spawn: on_spawn,  # type: ignore[dict-item]
    Verb.stop: on_stop,  # type: ignore[dict-item]
    Verb.kick: on_kick,  # type: ignore[dict-item]
    Verb.peek: on_peek,  # type: ignore[dict-item]
    Verb.list: on_list,
}


async def serve(node: Node) -> None:
    """Subscribe to this node's control subjects. Each request runs as its own task, so a slow
    graceful stop never delays a peek."""
    names, me = node.broker.names, node.settings.node

    async def on_request(msg: Msg) -> None:
        parsed = names.control_requester(msg.subject, me)
        if parsed is not None:
            node.spawn(_answer(node, msg, *parsed))

    await checked_subscribe(node.broker, names.control_subject(me, "*", "*"), cb=on_request)


async def _answer(node: Node, msg: Msg, verb_text: str, requester: str) -> None:
    try:
        verb = Verb(verb_text)
        request = REQUESTS[verb].model_validate_json(msg.data or b"{}")
        request.requested_by = policy.requested_by(request, requester)
        target = getattr(request, "agent", None)
        kind = _local(node, target).kind if isinstance(target, str) else None
        refused = policy.refusal(node.settings, requester, verb, request, kind)
        if refused:
            await events.emit(node.broker, "control_refused", verb=verb.value, requester=requester)
            log.warning("control_refused", verb=verb.value, requester=requester)
            raise PolicyRefused(refused)
        reply = await HANDLERS[verb](node, request)
        data = reply.model_dump_json().encode()  # type: ignore[attr-defined]
    except ValueError as exc:
        message = (
            f"bad {verb_text} request: {exc.errors()[0]['msg']}"
            if isinstance(exc, ValidationError)
            else f"unknown verb {verb_text!r}: use one of {', '.join(v.value for v in Verb)}"
        )
        data = failure(message)
    except StudioError as exc:
        data = failure(str(exc))
    except Exception as exc:
        log.exception("control_failed", verb=verb_text)
        data = failure(f"node {node.settings.node} failed to {verb_text}: {exc}")
    if msg.reply:
        await node.broker.nc.publish(msg.reply, data)
