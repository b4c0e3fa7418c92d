"""`studio tasks add|list|show|claim|update|done`: the shared task board from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from studio_cli.context import add_identity_option, as_name, settings_from
from studio_cli.output import clock

if TYPE_CHECKING:
    from broker.models import Task

# broker.models.TaskStatus, spelled out: the parser is built without importing pydantic.
STATUSES = ["open", "claimed", "in_progress", "blocked", "done", "failed", "cancelled"]


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "tasks",
        help="the shared task board: add, list, show, claim, update, done",
        description="Tasks have ids T-<n>. Status moves open → claimed → in_progress → done | "
        "failed | cancelled (or blocked). Claims are atomic: of several claimers exactly one "
        "wins. Without a subcommand: the board.",
    )
    sub = group.add_subparsers(dest="tasks_command", metavar="SUBCOMMAND")

    add = sub.add_parser("add", help="put a task on the board (--assignee dispatches it)")
    add.add_argument("title", nargs="+", metavar="TITLE", help="short and imperative")
    add.add_argument("-d", "--description", default="", help="details, acceptance criteria")
    add.add_argument(
        "-a", "--assignee", metavar="AGENT", help="dispatch to this agent (it is told at once)"
    )
    add.add_argument("-p", "--priority", type=int, default=0, help="-100..100, higher first")
    add.add_argument(
        "--after",
        nargs="+",
        default=[],
        metavar="T-N",
        help="tasks that must be done before this one can start",
    )
    add.add_argument("--label", action="append", default=[], help="a label (repeatable)")
    add.add_argument("--json", action="store_true", help="print the task as JSON")
    add_identity_option(add)
    add.set_defaults(func=add_command)

    listing = sub.add_parser("list", help="the board, unfinished tasks first")
    _list_options(listing)

    show = sub.add_parser("show", help="one task in full, with its log")
    show.add_argument("task_id", metavar="T-N")
    show.add_argument("--json", action="store_true", help="print the task as JSON")
    show.set_defaults(func=show_command)

    claim = sub.add_parser("claim", help="take an open task (atomic: one claimer wins)")
    claim.add_argument("task_id", metavar="T-N")
    add_identity_option(claim)
    claim.set_defaults(func=claim_command)

    update = sub.add_parser("update", help="change a task's status and/or add a note")
    update.add_argument("task_id", metavar="T-N")
    update.add_argument("--status", choices=STATUSES, help="new status")
    update.add_argument("--note", help="a line for the task's log")
    add_identity_option(update)
    update.set_defaults(func=update_command)

    done = sub.add_parser("done", help="mark a task done (its creator is told)")
    done.add_argument("task_id", metavar="T-N")
    done.add_argument("--note", help="what changed")
    add_identity_option(done)
    done.set_defaults(func=done_command)

    _list_options(group)


def _list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", choices=STATUSES, help="only this status")
    parser.add_argument("--assignee", metavar="AGENT", help="only this agent's tasks")
    parser.add_argument("--mine", action="store_true", help="only your tasks")
    parser.add_argument("--json", action="store_true", help="JSON array of tasks")
    add_identity_option(parser)
    parser.set_defaults(func=list_command)


def task_json(task: Task) -> dict:
    return task.model_dump(mode="json")


def task_row(task: Task) -> str:
    who = f" @{task.assignee}" if task.assignee else ""
    extra = f" (after {', '.join(task.depends_on)})" if task.depends_on else ""
    prio = f" prio {task.priority}" if task.priority else ""
    return f"{task.id:<6} {task.status.value:<11} {task.title}{who}{prio}{extra}"


async def add_command(args: argparse.Namespace) -> int:
    from broker import tasks
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        task = await tasks.create(
            broker,
            me,
            " ".join(args.title),
            description=args.description,
            assignee=args.assignee,
            priority=args.priority,
            depends_on=args.after,
            labels=args.label,
        )
    if args.json:
        print(json.dumps(task_json(task)))
    elif task.assignee:
        print(f"{task.id} dispatched to {task.assignee}: {task.title}")
    else:
        print(f"{task.id} added: {task.title} (anyone can `studio tasks claim {task.id}`)")
    return 0


async def list_command(args: argparse.Namespace) -> int:
    from broker import agents, tasks
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        assignee = None
        if args.mine:
            assignee = str(await acting_as(broker, settings, as_name(args)))
        elif args.assignee:
            assignee = str(await agents.resolve(broker, args.assignee))
        found = await tasks.list_tasks(broker, status=args.status, assignee=assignee)
    if args.json:
        print(json.dumps([task_json(t) for t in found]))
        return 0
    if not found:
        print("no tasks" + (" match" if args.status or assignee else " yet: `studio tasks add`"))
        return 0
    for task in sorted(found, key=tasks.is_finished):
        print(task_row(task))
    return 0


async def show_command(args: argparse.Namespace) -> int:
    from broker import tasks
    from studio_cli.client import open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        task = await tasks.get(broker, args.task_id)
    if args.json:
        print(json.dumps(task_json(task)))
        return 0
    print(task_row(task))
    print(f"created by {task.created_by} {clock(task.created_at)}")
    print(f"updated {clock(task.updated_at)}")
    if task.labels:
        print(f"labels: {', '.join(task.labels)}")
    if task.description:
        print(task.description)
    for note in task.log:
        print(f"  {clock(note.at)} {note.by}: {note.text}")
    return 0


async def claim_command(args: argparse.Namespace) -> int:
    from broker import tasks
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        task = await tasks.claim(broker, me, args.task_id)
    print(f"{me} has {task.id}: {task.title}")
    return 0


async def update_command(args: argparse.Namespace) -> int:
    from broker.errors import InvalidInput

    if not args.status and not args.note:
        raise InvalidInput("nothing to update: give --status, --note, or both")
    return await _update(args, args.status, args.note)


async def done_command(args: argparse.Namespace) -> int:
    return await _update(args, "done", args.note)


async def _update(args: argparse.Namespace, status: str | None, note: str | None) -> int:
    from broker import tasks
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        task = await tasks.update(broker, me, args.task_id, status=status, note=note)
    print(task_row(task))
    return 0
