"""`studio status [--json] [--watch]`: the team at a glance.

The JSON form is a stable contract (documented in README.md, "status --json"): fields are only
ever added, `version` changes if one is removed or changes meaning.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from studio_cli.context import add_identity_option, as_name, cli_identity, settings_from

if TYPE_CHECKING:
    # Imported where used: `studio --help` builds every parser and must not load these.
    import argparse

    from broker.connection import Broker
    from broker.models import AgentInfo, Task
    from broker.settings import Settings

SCHEMA_VERSION = 1
RECENT_EVENTS = 10
RECENT_DONE = 5
# The terminal view stays a glance at any team size: rows beyond these are summarised
# (`--all` lists everything; `--json` always carries everything).
AGENT_ROWS = 30
TASK_ROWS = 30
STATE_STYLE = {
    "idle": "green",
    "busy": "yellow",
    "waiting_input": "magenta",
    "starting": "cyan",
    "offline": "dim",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser(
        "status",
        help="agents, tasks, locks and recent events of the team",
        description="Agents (node, state, role, task, branch, unread, summary), tasks by "
        "status, file locks and recent events. --json prints the documented schema.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable (see README)")
    status.add_argument("--watch", action="store_true", help="redraw live until Ctrl-C")
    status.add_argument(
        "--interval", type=float, default=1.0, help="seconds between redraws (default 1)"
    )
    status.add_argument(
        "--events", type=int, default=RECENT_EVENTS, help=f"recent events (default {RECENT_EVENTS})"
    )
    status.add_argument(
        "--all",
        action="store_true",
        help=f"list every agent and task (by default: up to {AGENT_ROWS} agents, other nodes "
        f"and offline agents summarised, and up to {TASK_ROWS} unfinished tasks)",
    )
    add_identity_option(status)
    status.set_defaults(func=status_command)


async def status_command(args: argparse.Namespace) -> int:
    import asyncio

    from broker.errors import InvalidInput
    from studio_cli.client import open_broker
    from studio_cli.output import raw_stdout, safe_data

    settings = settings_from(args)
    if not 0.2 <= args.interval <= 3600:
        raise InvalidInput("--interval must be between 0.2 and 3600 seconds")
    if not 0 <= args.events <= 200:
        raise InvalidInput("--events must be between 0 and 200")
    async with open_broker(settings, name="studio-status") as broker:
        if not args.watch:
            data = await snapshot(broker, settings, as_name(args), args.events)
            if args.json:
                print(json.dumps(data, indent=2))
            else:
                from rich.console import Console

                Console(file=raw_stdout()).print(render(safe_data(data), every=args.all))
            return 0
        if args.json:
            while True:
                data = await snapshot(broker, settings, as_name(args), args.events)
                print(json.dumps(data), flush=True)
                await asyncio.sleep(args.interval)
        from rich.console import Console
        from rich.live import Live

        data = await snapshot(broker, settings, as_name(args), args.events)
        console = Console(file=raw_stdout())
        if not console.is_terminal:  # a pipe or a file: one full view per interval
            while True:
                console.print(render(safe_data(data), every=args.all))
                raw_stdout().flush()
                await asyncio.sleep(args.interval)
                data = await snapshot(broker, settings, as_name(args), args.events)
        with Live(
            render(safe_data(data), every=args.all),
            console=console,
            auto_refresh=False,
            screen=False,
        ) as live:
            while True:
                await asyncio.sleep(args.interval)
                data = await snapshot(broker, settings, as_name(args), args.events)
                live.update(render(safe_data(data), every=args.all), refresh=True)


async def _unread(broker: Broker, agent: AgentInfo) -> int | None:
    """None when the count is not this node's to read (another node's cursor: its own
    credentials refuse it, and asking costs a request per agent of the team), or cannot be
    read (no cursor yet)."""
    from broker import messages
    from broker.names import AgentId

    if agent.node != broker.settings.node:
        return None
    try:
        return await messages.unread_count(broker, AgentId.parse(agent.id))
    except Exception:
        return None


async def _daemon_running(broker: Broker, team: list[AgentInfo]) -> bool | None:
    """Whether this node's daemon answers, asked only when it matters: this node has agents
    and none of them is live (then "offline" needs its reason). None: not asked."""
    from broker.models import AgentState

    own = [a for a in team if a.node == broker.settings.node and a.kind != "other"]
    if not own or any(a.state != AgentState.offline for a in own):
        return None
    from studio_cli.services import daemon_answers

    return await daemon_answers(broker, broker.settings.node) is not None


async def snapshot(
    broker: Broker, settings: Settings, as_name_: str | None = None, n_events: int = RECENT_EVENTS
) -> dict[str, Any]:
    """Everything `status` shows, as the documented JSON document."""
    import asyncio

    from broker import events, leases, presence, tasks
    from broker.models import TaskStatus

    team, board, held, recent = await asyncio.gather(
        presence.list_agents(broker),
        tasks.list_tasks(broker),
        leases.list_leases(broker),
        events.recent(broker, limit=n_events) if n_events else _nothing(),
    )
    unread, daemon = await asyncio.gather(
        asyncio.gather(*(_unread(broker, a) for a in team)), _daemon_running(broker, team)
    )
    me = str(cli_identity(settings, as_name_))
    holding: dict[str, list[str]] = {}
    for task in board:
        if task.assignee and task.status in tasks.STARTED:
            holding.setdefault(task.assignee, []).append(task.id)
    counts = Counter(t.status.value for t in board)
    return {
        "version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "team": settings.team,
        "node": settings.node,
        "me": me,
        "broker": {"servers": settings.servers(), "embedded": not settings.nats_url},
        # false: this node's agents are all offline because its daemon does not answer.
        "daemon_running": daemon,
        "agents": [
            _agent_json(a, holding.get(a.id, []), n) for a, n in zip(team, unread, strict=True)
        ],
        "tasks": {
            "counts": {s.value: counts.get(s.value, 0) for s in TaskStatus},
            "items": [_task_json(t) for t in board],
        },
        "leases": [lease.model_dump(mode="json") for lease in held],
        "events": [e.model_dump(mode="json") for e in recent],
    }


async def _nothing() -> list:
    return []


def _agent_json(a: AgentInfo, held: list[str], unread: int | None) -> dict[str, Any]:
    from broker.models import AgentState

    offline = a.state == AgentState.offline
    return {
        "id": a.id,
        "node": a.node,
        "name": a.id.split(".", 1)[1],
        "state": a.state.value,
        "state_detail": a.state_detail,
        "kind": a.kind.value,
        "role": a.role,
        "summary": a.summary,
        "task": a.task,
        "tasks": held,
        "cwd": a.cwd,
        "repo": a.repo,
        "branch": a.branch,
        "changed_files": a.changed_files,
        "tmux_target": a.tmux_target,
        "unread": unread,
        "last_heartbeat": None if offline else a.last_heartbeat.isoformat(),
    }


def _task_json(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "status": t.status.value,
        "assignee": t.assignee,
        "created_by": t.created_by,
        "priority": t.priority,
        "depends_on": t.depends_on,
        "labels": t.labels,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
    }


def render(data: dict[str, Any], *, every: bool = False) -> Any:
    """The snapshot as rich renderables (tables), for a terminal: a glance that stays short
    at any team size unless `every`."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from broker.models import FINISHED
    from studio_cli.output import clock

    header = Text.assemble(
        ("studio ", "bold"),
        f"team {data['team']} · node {data['node']} · you {data['me']} · broker ",
        ", ".join(data["broker"]["servers"]),
        (f" · {datetime.fromisoformat(data['generated_at']):%H:%M:%S}Z", "dim"),
    )
    parts: list[Any] = [header]

    agents_table = Table(title="Agents", title_justify="left", expand=False, box=None)
    for column in ("agent", "state", "kind", "role", "task", "branch", "unread", "summary"):
        agents_table.add_column(column, overflow="fold")
    listed, summaries = _agent_rows(data, every)
    for a in listed:
        changed = len(a["changed_files"])
        branch = a["branch"] + (f" · {changed} changed" if changed else "")
        agents_table.add_row(
            a["id"],
            Text(a["state"], style=STATE_STYLE.get(a["state"], ""))
            + (Text(f" ({a['state_detail']})", style="dim") if a.get("state_detail") else ""),
            a["kind"],
            a["role"],
            ", ".join(a["tasks"]) or (a["task"] or ""),
            branch,
            "-" if a["unread"] is None else str(a["unread"]),
            a["summary"],
        )
    for summary in summaries:
        agents_table.add_row(Text(summary, style="dim"))
    parts.append(agents_table if data["agents"] else Text("Agents: none registered yet"))
    if data.get("daemon_running") is False:
        parts.append(
            Text(
                f"This node's daemon ({data['node']}) is not running, so its agents show "
                "offline: `studio up` starts it (its log: STUDIO_HOME/logs).",
                style="yellow",
            )
        )

    counts = data["tasks"]["counts"]
    summary = " · ".join(f"{n} {s}" for s, n in counts.items() if n) or "none yet"
    tasks_table = Table(title=f"Tasks: {summary}", title_justify="left", expand=False, box=None)
    for column in ("id", "status", "assignee", "title"):
        tasks_table.add_column(column, overflow="fold")
    unfinished = [t for t in data["tasks"]["items"] if t["status"] not in FINISHED]
    finished = [t for t in data["tasks"]["items"] if t["status"] in FINISHED]
    finished.sort(key=lambda t: t["updated_at"])
    shown = unfinished if every else unfinished[:TASK_ROWS]
    for t in shown + finished[-RECENT_DONE:]:
        tasks_table.add_row(t["id"], t["status"], t["assignee"] or "", t["title"])
    if len(shown) < len(unfinished):
        more = len(unfinished) - len(shown)
        tasks_table.add_row(
            Text(f"… {more} more unfinished (`studio tasks list`, or `status --all`)", "dim")
        )
    parts.append(tasks_table if data["tasks"]["items"] else Text(f"Tasks: {summary}"))

    if data["leases"]:
        locks = Table(title="Locks", title_justify="left", expand=False, box=None)
        for column in ("path", "holder", "mode", "until", "reason"):
            locks.add_column(column, overflow="fold")
        for lease in data["leases"]:
            for h in lease["holders"]:
                locks.add_row(
                    lease["path"],
                    h["agent"],
                    "exclusive" if h["exclusive"] else "shared",
                    clock(datetime.fromisoformat(h["expires_at"])),
                    h["reason"],
                )
        parts.append(locks)

    if data["events"]:
        lines = [Text("Recent events", style="italic")]
        for e in data["events"]:
            extra = ", ".join(f"{k}={v}" for k, v in e["data"].items() if v not in (None, "", []))
            who = " ".join(x for x in (e["agent"], e["task"]) if x)
            line = f"  {clock(datetime.fromisoformat(e['created_at']))} {e['kind']} {who}"
            lines.append(Text(line + (f" ({extra})" if extra else ""), style="dim"))
        parts.extend(lines)
    return Group(*_spaced(parts))


def _agent_rows(data: dict[str, Any], every: bool) -> tuple[list[dict], list[str]]:
    """(agents listed one per row, summary lines). This node's live agents come first; with
    more than AGENT_ROWS in all, other nodes shrink to a line each, and offline agents (old
    CLI identities, agents long gone) to one line, so a glance stays a glance."""
    agents = data["agents"]
    if every or len(agents) <= AGENT_ROWS:
        return agents, []
    here = data["node"]
    live = [a for a in agents if a["state"] != "offline"]
    offline = [a for a in agents if a["state"] == "offline"]
    listed = [a for a in live if a["node"] == here][:AGENT_ROWS]
    summaries = []
    others: dict[str, Counter] = {}
    for a in live:
        if a["node"] != here:
            others.setdefault(a["node"], Counter())[a["state"]] += 1
    for node, states in sorted(others.items()):
        detail = ", ".join(f"{n} {state}" for state, n in states.most_common())
        summaries.append(f"{node}: {sum(states.values())} agents ({detail})")
    hidden = len([a for a in live if a["node"] == here]) - len(listed)
    if hidden:
        summaries.append(f"{here}: {hidden} more agents")
    if offline:
        names = ", ".join(a["id"] for a in offline[:5])
        extra = f" and {len(offline) - 5} more" if len(offline) > 5 else ""
        summaries.append(f"offline: {names}{extra}")
    return listed, [*summaries, "(`studio status --all` lists every agent)"]


def _spaced(parts: list[Any]) -> list[Any]:
    from rich.text import Text

    spaced: list[Any] = []
    for part in parts:
        if spaced and not (isinstance(part, Text) and part.plain.startswith("  ")):
            spaced.append(Text(""))
        spaced.append(part)
    return spaced
