"""What a person can do from the page: send a message, dispatch a task, kick or peek at an
agent. Each is the CLI's own broker operation (`studio send`, `studio tasks add -a`, `studio
kick`, `studio peek`) under the CLI's identity `<node>.cli`, so the broker and the target
node's control policy decide exactly as they would for the terminal, and their error
messages reach the page unchanged.

Forms are pydantic models: the page's JSON is checked for shape here, and for meaning (agent
names, task ids, sizes) by the broker.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from broker import agents, control, messages, tasks
from broker.connection import Broker
from broker.errors import InvalidInput
from broker.models import Importance
from broker.names import AgentId, parse_task_id, task_id

MAX_TEXT = 1024 * 1024  # the broker enforces the real caps (max_body_bytes, MAX_DESCRIPTION)


class SendForm(BaseModel):
    to: str = Field(max_length=200)
    body: str = Field(max_length=MAX_TEXT)
    subject: str = Field(default="", max_length=MAX_TEXT)
    importance: Importance = Importance.normal

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say who to send to: an agent id NODE.NAME or a unique name")
        return value.strip()


class DispatchForm(BaseModel):
    title: str = Field(max_length=MAX_TEXT)
    description: str = Field(default="", max_length=MAX_TEXT)
    assignee: str = Field(default="", max_length=200)
    priority: int = 0
    # "T-1, T-3" as typed, or a list.
    depends_on: str | list[str] = ""

    def dependencies(self) -> list[str]:
        items = self.depends_on
        if isinstance(items, str):
            items = [p for p in re.split(r"[\s,]+", items) if p]
        return [task_id(parse_task_id(p)) for p in items]


class KickForm(BaseModel):
    agent: str = Field(max_length=200)
    text: str = Field(default="", max_length=control.MAX_PROMPT_CHARS)


class Actions:
    """The page's actions over the dashboard's one broker connection."""

    def __init__(self, broker: Broker, me: AgentId) -> None:
        self.broker = broker
        self.me = me

    async def send(self, form: SendForm) -> dict[str, Any]:
        message = await messages.send(
            self.broker,
            self.me,
            form.to,
            form.body,
            subject=form.subject,
            importance=form.importance,
        )
        return {"ok": True, "id": message.id, "to": message.to, "text": f"sent to {message.to}"}

    async def dispatch(self, form: DispatchForm) -> dict[str, Any]:
        task = await tasks.create(
            self.broker,
            self.me,
            form.title,
            description=form.description,
            assignee=form.assignee.strip() or None,
            priority=form.priority,
            depends_on=form.dependencies(),
        )
        text = (
            f"{task.id} dispatched to {task.assignee}"
            if task.assignee
            else f"{task.id} added (open: anyone can claim it)"
        )
        return {"ok": True, "id": task.id, "text": text}

    async def kick(self, form: KickForm) -> dict[str, Any]:
        target = await agents.resolve(self.broker, form.agent)
        reply = await control.kick(
            self.broker,
            target.node,
            control.KickRequest(requested_by=str(self.me), agent=str(target), text=form.text),
        )
        if reply.delivered:
            text = f"{target}: typed"
        elif reply.state == "idle":
            text = f"{target}: not typed: it is idle with no unread mail (give a text to type)"
        else:
            text = f"{target}: not typed: it is {reply.state}; busy agents learn of mail from hooks"
        return {"ok": reply.delivered, "agent": str(target), "state": reply.state, "text": text}

    async def peek(self, agent: str, lines: int = 40) -> dict[str, Any]:
        if not 1 <= lines <= control.MAX_PEEK_LINES:
            raise InvalidInput(f"lines must be between 1 and {control.MAX_PEEK_LINES}")
        target = await agents.resolve(self.broker, agent)
        reply = await control.peek(
            self.broker, target.node, control.PeekRequest(agent=str(target), lines=lines)
        )
        return {"ok": True, "agent": str(target), "state": reply.state, "text": reply.text}
