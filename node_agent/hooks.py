"""The daemon's side of `studio hook EVENT`: turn-state from hook events, and the replies that
put mail (and file conflicts) in front of the model at its next turn boundary.

Events come from Claude Code's and Codex's hooks (the same names and payloads), from the
OpenCode plugin, and from the gateway (`mcp-ready`). Replies use the Claude-compatible hook
output format, which Codex and the plugin read too.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import structlog

from broker import leases, messages, presence
from broker.models import AgentState, Message
from broker.names import is_valid_id
from node_agent import clis, wake
from node_agent.clis import claude
from node_agent.hook_client import socket_path
from node_agent.state import LocalAgent, Node, Source

log = structlog.get_logger(__name__)

# Claude Code's edit tools, and Codex's (its PreToolUse hook has no matcher: every tool).
EDIT_TOOLS = frozenset({*claude.EDIT_TOOLS, "apply_patch"})


def _context(event: str, text: str) -> dict:
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}}


def _mail_line(new: list[Message], unread: int) -> str:
    senders = sorted({m.sender for m in new if is_valid_id(m.sender)})
    subjects = "; ".join(f"{m.sender}: {m.subject or m.body[:60]}" for m in new[:3])
    return (
        f"[studio] {len(new)} new message(s) from {', '.join(senders)} ({unread} unread in all): "
        f"{subjects}. Call the studio check_inbox tool to read them."
    )


async def _new_mail(node: Node, agent: LocalAgent) -> tuple[list[Message], int]:
    """Unread messages not yet announced to this agent (each is announced once)."""
    unread = await messages.peek_unread(node.broker, agent.id, limit=20)
    new = [m for m in unread.messages if m.id not in agent.announced]
    agent.announced.update(m.id for m in new)
    return new, unread.count


# "resumed": the OpenCode plugin saw a turn start or a permission prompt answered (it has no
# way to show hook context there, so nothing is announced for it).
TURN_START = frozenset({"UserPromptSubmit", "PostToolUse", "PreToolUse", "resumed"})
TURN_END = frozenset({"Stop"})
# A turn that ended without completing: Claude Code's StopFailure (API error), Codex's
# Interrupt (Esc), the OpenCode plugin's session error.
TURN_FAILED = frozenset({"StopFailure", "Interrupt", "turn-failed"})
PERMISSION = frozenset({"PermissionRequest", "permission"})


async def handle(node: Node, event: str, agent_id: str, payload: dict) -> dict[str, Any]:
    """Returns {"stdout": text, "exit": code} for the hook client to print."""
    agent = node.agents.get(agent_id)
    if agent is None:
        return {}
    log.debug("hook_event", agent=agent_id, hook=event)
    output: dict | None = None
    if event == "mcp-ready":
        agent.mcp_ready = True
        log.info("agent_mcp_ready", agent=agent_id)
        if agent.state == AgentState.idle:
            node.spawn(wake.wake_quietly(node, agent))
    elif event in TURN_START:
        agent.set_state(AgentState.busy, Source.hook)
        if event == "PreToolUse":
            output = await _before_edit(node, agent, payload)
        elif event != "resumed":
            new, unread = await _new_mail(node, agent)
            if new:
                output = _context(event, _mail_line(new, unread))
    elif event in TURN_END:
        output = await _on_stop(node, agent, payload)
    elif event in TURN_FAILED:
        agent.set_state(AgentState.idle, Source.hook)
        delay = agent.wake_failed(f"its last turn failed ({_failure(payload)})")
        log.warning("agent_turn_failed", agent=agent_id, backoff_s=delay)
    elif event in PERMISSION:
        agent.set_state(AgentState.waiting_input, Source.hook, "waiting for a permission answer")
    elif event == "Notification":
        kind = payload.get("notification_type") or ""
        message = str(payload.get("message", "")).lower()
        if kind == "permission_prompt" or "permission" in message:
            agent.set_state(
                AgentState.waiting_input, Source.hook, "waiting for a permission answer"
            )
        elif kind == "idle_prompt" or "waiting for your input" in message:
            agent.set_state(AgentState.idle, Source.hook)
    elif event == "SessionStart":
        agent.set_state(AgentState.idle, Source.hook)
    return {"stdout": json.dumps(output) + "\n" if output else "", "exit": 0}


def _failure(payload: dict) -> str:
    for key in ("error", "reason", "message"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value[:120]
        if isinstance(value, dict) and value.get("message"):
            return str(value["message"])[:120]
    return "API error"


async def _on_stop(node: Node, agent: LocalAgent, payload: dict) -> dict | None:
    """Keep the turn going while unread mail waits (once: respect stop_hook_active)."""
    agent.turn_completed()
    if not payload.get("stop_hook_active"):
        unread = await messages.peek_unread(node.broker, agent.id, limit=5)
        if unread.count:
            agent.announced.update(m.id for m in unread.messages)
            reason = _stop_reason(unread.count, unread.messages)
            return clis.stop_feedback(agent.kind, reason)
        agent.inbox_read()
    agent.set_state(AgentState.idle, Source.hook)
    return None


def _stop_reason(count: int, unread: list[Message]) -> str:
    preview = "\n".join(f"- {m.sender}: {m.subject or m.body[:120]}" for m in unread)
    return (
        f"[studio] You have {count} unread message(s):\n{preview}\n"
        "Call check_inbox to read them and act on them before you finish."
    )


def _edit_paths(payload: dict, cwd: str) -> list[str]:
    tool_input = payload.get("tool_input") or {}
    raw = tool_input.get("file_path") or tool_input.get("notebook_path") or tool_input.get("path")
    if not raw:
        return []
    path = Path(raw)
    if not path.is_absolute():
        path = Path(cwd) / path
    return [os.path.normpath(path)]


async def _before_edit(node: Node, agent: LocalAgent, payload: dict) -> dict | None:
    """Tell the model who else holds or is changing the file before it writes."""
    if payload.get("tool_name") not in EDIT_TOOLS:
        return None
    paths = _edit_paths(payload, agent.cwd)
    if not paths:
        return None
    root = agent.git.root or agent.cwd
    relative = [p[len(root) :].lstrip("/") if p.startswith(root + "/") else p for p in paths]
    held = leases.conflicts_for(
        await leases.list_leases(node.broker), agent.id, relative + paths, exclusive=True
    )
    exclusive = [c for c in held if c.exclusive]
    if exclusive:
        c = exclusive[0]
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": (
                    f"[studio] {c.path} is leased exclusively by {c.holder} until "
                    f"{c.expires_at:%H:%M:%S}Z ({c.reason or 'no reason given'}). "
                    f"Message {c.holder} (send_message) or pick other work."
                ),
            }
        }
    notes = [f"{c.holder} holds a shared lease on {c.path}" for c in held]
    if agent.git.repo:
        for info in (await presence.live(node.broker)).values():
            if info.id != str(agent.id) and info.repo == agent.git.repo:
                notes += [
                    f"{info.id} is also changing {p}" for p in relative if p in info.changed_files
                ]
    if not notes:
        return None
    return _context(
        "PreToolUse", "[studio] heads-up: " + "; ".join(notes) + ". Coordinate with them."
    )


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    """`EVENT AGENT [LENGTH]\n` then the payload: LENGTH bytes when given (the OpenCode
    plugin's runtime cannot half-close a socket), else everything up to end of input."""
    header = (await reader.readline()).decode(errors="replace").split()
    event, agent_id = [*header, "", ""][:2]
    if len(header) > 2 and header[2].isdigit():
        return event, agent_id, await reader.readexactly(int(header[2]))
    return event, agent_id, await reader.read()


def _fresh_socket_path(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)


async def serve(node: Node) -> asyncio.AbstractServer:
    """The unix socket hook clients talk to: one request in, one reply out."""
    path = Path(socket_path(str(node.settings.home), node.settings.team))
    await asyncio.to_thread(_fresh_socket_path, path)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reply: dict[str, Any] = {}
        try:
            event, agent_id, body = await asyncio.wait_for(_read_request(reader), timeout=2)
            try:
                payload = json.loads(body) if body.strip() else {}
            except ValueError:
                payload = {}
            reply = await handle(
                node, event, agent_id, payload if isinstance(payload, dict) else {}
            )
        except Exception as exc:  # a hook must get an answer, even a blank one
            log.warning("hook_failed", error=str(exc))
        try:
            writer.write(f"{reply.get('exit', 0)}\n{reply.get('stdout', '')}".encode())
            await writer.drain()
            writer.close()
        except OSError as exc:  # the client gave up waiting: nothing to answer
            log.info("hook_client_gone", error=str(exc))

    server = await asyncio.start_unix_server(on_client, path=str(path))
    os.chmod(path, 0o600)
    return server
