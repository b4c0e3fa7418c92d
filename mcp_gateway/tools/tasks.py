"""The shared task board: dispatch_task, claim_task, update_task, list_tasks, get_task."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult
from pydantic import Field

from broker import tasks
from broker.errors import InvalidInput
from mcp_gateway import render
from mcp_gateway.gateway import Gateway
from mcp_gateway.replies import reply, tool
from mcp_gateway.tools.params import AgentRef, TaskId, TaskStatusParam

Description = Annotated[str, Field(max_length=tasks.MAX_DESCRIPTION)]
Note = Annotated[str | None, Field(max_length=tasks.MAX_DESCRIPTION)]


def register_tools(server: MCPServer) -> None:
    @tool(server)
    async def dispatch_task(
        ctx: Context,
        title: Annotated[str, Field(max_length=200, description="short and imperative")],
        description: Description = "",
        assignee: AgentRef | None = None,
        priority: Annotated[int, Field(ge=-100, le=100, description="higher is more urgent")] = 0,
        depends_on: Annotated[list[TaskId], Field(max_length=50)] | None = None,
    ) -> CallToolResult:
        """Put a task on the shared board. With an assignee it is theirs at once and they get
        a message; without one, any agent can claim_task it. depends_on lists tasks that must
        be done before this one can start. You are told when it is done or failed."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        task = await tasks.create(
            gw.broker,
            me,
            title,
            description=description,
            assignee=str(await gw.resolve(assignee)) if assignee else None,
            priority=priority,
            depends_on=depends_on,
        )
        if task.assignee == str(me):
            who = f"it is yours; {render.next_step(task)}"
        elif task.assignee:
            who = f"assigned to {task.assignee} (they got a message)"
        else:
            who = render.next_step(task)
        return reply(f"Created {task.id}: {task.title} — {who}.", task)

    @tool(server)
    async def claim_task(ctx: Context, task_id: TaskId) -> CallToolResult:
        """Take an open task from the board so nobody else works on it. Exactly one of several
        agents claiming the same task wins; the others are told who has it."""
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        task = await tasks.claim(gw.broker, me, task_id)
        return reply(f"You have {task.id}: {task.title}\n{render.next_step(task)}", task)

    @tool(server)
    async def update_task(
        ctx: Context, task_id: TaskId, status: TaskStatusParam | None = None, note: Note = None
    ) -> CallToolResult:
        """Move a task along (claimed → in_progress → done | failed, or blocked / open /
        cancelled) and/or add a note to its log. Setting done or failed tells its creator;
        say what changed or what went wrong in the note."""
        if status is None and not note:
            raise InvalidInput("nothing to update: give a status, a note, or both")
        gw = Gateway.of(ctx)
        me = await gw.me(ctx)
        task = await tasks.update(gw.broker, me, task_id, status=status, note=note)
        step = render.next_step(task) if task.assignee == str(me) else ""
        return reply(f"{render.task_line(task)}" + (f"\n{step}" if step else ""), task)

    @tool(server, read_only=True)
    async def list_tasks(
        ctx: Context,
        status: TaskStatusParam | None = None,
        assignee: AgentRef | None = None,
        mine: bool = False,
    ) -> CallToolResult:
        """Show the task board, optionally only one status, one assignee, or your own tasks
        (mine=true). Unfinished tasks are listed first."""
        gw = Gateway.of(ctx)
        owner = await gw.me(ctx) if mine else None
        if assignee and owner is None:
            owner = await gw.resolve(assignee)
        found = await tasks.list_tasks(
            gw.broker, status=status, assignee=str(owner) if owner else None
        )
        found.sort(key=tasks.is_finished)
        text = render.bullet(found, render.task_line, "No tasks match.")
        if len(found) > render.MAX_LIST:
            text += "\n(filter by status or assignee to see the rest)"
        return reply(text, {"tasks": render.dumped(found), "total": len(found)})

    @tool(server, read_only=True)
    async def get_task(ctx: Context, task_id: TaskId) -> CallToolResult:
        """Show one task in full: description, dependencies, assignee and its log of notes."""
        gw = Gateway.of(ctx)
        task = await tasks.get(gw.broker, task_id)
        return reply(render.task_detail(task), task)
