"""`studio up` and `studio down`: the whole studio on this machine in one command, and back.

`up` is idempotent: it looks at what runs (embedded broker, node daemon, agent windows) and
starts only what is missing, so running it again is how you add agents or recover a window
someone closed. `down` stops what `up` started and checks by pid that nothing is left.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio_cli import agent_env
from studio_cli.context import settings_from
from studio_cli.output import Progress

if TYPE_CHECKING:
    from broker import control
    from broker.connection import Broker
    from broker.settings import Settings
    from studio_cli.programs import Program

MAX_AGENTS = 32
# How long after spawning a window counts as "exited at once" (a wrong command).
SETTLE_S = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser(
        "up",
        help="start the studio on this machine: broker, node daemon, tmux with lead + agents",
        description="Start everything this machine needs, or whatever of it is missing: the "
        "embedded broker (unless STUDIO_NATS_URL names one), the node daemon, and a tmux "
        "session studio-<team> with a `lead` window and N agent windows, each with the studio "
        "MCP server and hooks configured. Safe to run again.",
    )
    up.add_argument(
        "--agents", type=int, default=2, metavar="N", help="agent windows besides lead (default 2)"
    )
    up.add_argument(
        "--agent",
        default="claude",
        metavar="KIND|CMD",
        help="what the agent windows run: claude (default), codex, opencode, shell, or a command "
        "line; a missing claude/codex/opencode falls back to shell",
    )
    up.add_argument(
        "--lead",
        metavar="KIND|CMD|none",
        help="what the lead window runs (default: the --agent kind, or shell for a command line)",
    )
    up.add_argument(
        "--team", default=argparse.SUPPRESS, help="team name (same as the global --team)"
    )
    up.add_argument("--cwd", help="working directory of the agents (default: current directory)")
    up.add_argument(
        "--worktree",
        action="store_true",
        help="give each agent its own git worktree (.worktrees/<name>, branch studio/<name>)",
    )
    up.add_argument("--prompt", default="", help="first instruction sent to every agent window")
    agent_env.add_env_option(up)
    up.set_defaults(func=up_command)

    down = subparsers.add_parser(
        "down",
        help="stop what `studio up` started: agents, node daemon, embedded broker",
        description="Stop the team's agent windows (their tasks go back to open), the tmux "
        "session, the node daemon and the embedded broker started by `studio up`. Messages, "
        "tasks and notes stay stored for the next `studio up`. Safe when nothing runs.",
    )
    down.add_argument(
        "--team", default=argparse.SUPPRESS, help="team name (same as the global --team)"
    )
    down.add_argument(
        "--keep-broker", action="store_true", help="leave the embedded broker running"
    )
    down.set_defaults(func=down_command)


def choose_program(value: str, notes: list[str]) -> Program:
    """`--agent`/`--lead` as a Program. A known agent CLI that is not installed falls back to
    a shell (and says so in `notes`), so the studio still runs."""
    from broker.models import AgentKind
    from studio_cli.programs import KNOWN_KINDS, Program, installed, missing_message, parse_program

    if value.strip() in KNOWN_KINDS and not installed(value.strip()):
        kind = value.strip()
        note = (
            f"{missing_message(kind)}, then `studio down && studio up`. "
            "Starting shell windows instead."
        )
        if note not in notes:
            notes.append(note)
        return Program(AgentKind.shell)
    return parse_program(value)


@dataclass
class Plan:
    settings: Settings
    env: dict[str, str]
    cwd: Path
    lead: Program | None
    worker: Program
    count: int
    prompt: str
    worktree: bool
    # Said once, before the first window starts (a fallback to shell, for instance).
    notes: list[str]
    # Every window's environment (see studio_cli.agent_env).
    window_env: dict[str, str]

    def windows(self) -> list[control.SpawnRequest]:
        from broker import control

        wanted = []
        if self.lead is not None:
            wanted.append(
                control.SpawnRequest(
                    name="lead",
                    kind=self.lead.kind,
                    command=self.lead.command,
                    cwd=str(self.cwd),
                    role="lead",
                    env=self.window_env,
                )
            )
        for i in range(1, self.count + 1):
            wanted.append(
                control.SpawnRequest(
                    name=f"agent-{i}",
                    kind=self.worker.kind,
                    command=self.worker.command,
                    cwd=str(self.cwd),
                    prompt=self.prompt,
                    worktree=self.worktree,
                    env=self.window_env,
                )
            )
        return wanted


def up_command(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from broker.errors import InvalidInput, StudioError
    from studio_cli import services
    from studio_cli.programs import KNOWN_KINDS

    settings = settings_from(args)
    if not services.tmux_installed():
        raise StudioError(
            "tmux is not installed: install it (`sudo apt-get install tmux`, `brew install "
            "tmux`), or run `make up`, which installs it"
        )
    if not 0 <= args.agents <= MAX_AGENTS:
        raise InvalidInput(f"--agents must be between 0 and {MAX_AGENTS}, got {args.agents}")
    cwd = Path(args.cwd or os.getcwd()).expanduser().resolve()
    if not cwd.is_dir():
        raise InvalidInput(f"--cwd {str(cwd)!r} is not a directory")
    notes: list[str] = []
    worker = choose_program(args.agent, notes)
    lead_value = args.lead or (args.agent if args.agent.strip() in KNOWN_KINDS else "shell")
    lead = None if lead_value.strip() == "none" else choose_program(lead_value, notes)
    plan = Plan(
        settings=settings,
        env=services.child_env(settings),
        cwd=cwd,
        lead=lead,
        worker=worker,
        count=args.agents,
        prompt=args.prompt,
        worktree=args.worktree,
        notes=notes,
        window_env=agent_env.for_window(args, local=True),
    )
    return _up(plan)


async def _up(plan: Plan) -> int:
    import asyncio

    from studio_cli import services

    settings = plan.settings
    progress = Progress()
    print(f"studio up: team {settings.team}, node {settings.node}, home {settings.home}")
    # One `up` or `down` at a time per home: two at once would start two daemons.
    async with services.exclusive(settings):
        services.check_session_free(settings)
        if not settings.nats_url and not services.running_embedded(settings):
            progress.start("broker", "starting the embedded broker…")
        state = await asyncio.to_thread(services.ensure_broker, settings, plan.env)
        if state.started:
            progress.done("broker", f"started at {state.url} (data in {settings.broker_dir})")
        elif state.embedded:
            progress.done("broker", f"running at {state.url}")
        else:
            progress.done("broker", f"using STUDIO_NATS_URL {state.url}")
        return await _up_agents(plan, progress)


async def _up_agents(plan: Plan, progress: Progress) -> int:
    import asyncio

    from broker import control
    from studio_cli import services
    from studio_cli.client import open_broker
    from studio_cli.programs import Program

    settings = plan.settings
    node = settings.node
    async with open_broker(settings, name="studio-up") as broker:
        managed = await _ensure_daemon(broker, plan, progress)
        services.claim_session(settings)
        running = {a.id: a for a in managed.agents}
        spawned = []
        for request in plan.windows():
            agent_id = f"{node}.{request.name}"
            if agent_id in running:
                current = running[agent_id]
                progress.done(
                    request.name, f"running ({current.kind.value}) in {current.tmux_target}"
                )
                continue
            for note in plan.notes:
                progress.done("note", note)
            plan.notes.clear()
            label = Program(request.kind, request.command).label
            progress.start(request.name, f"starting {label}…")
            reply = await control.spawn(broker, node, request)
            spawned.append(request.name)
            progress.done(request.name, f"started ({label}) in {reply.tmux_target}")
        if spawned:
            await asyncio.sleep(SETTLE_S)
            alive = {a.id for a in (await control.list_managed(broker, node)).agents}
            for name in spawned:
                if f"{node}.{name}" not in alive:
                    progress.done(
                        name,
                        "exited right after it started: run its command by hand in "
                        f"{plan.cwd} to see why",
                    )
    from studio_cli.dashboard import service as dashboard

    progress.done("dashboard", await asyncio.to_thread(dashboard.ensure, settings, plan.env))
    if plan.lead is not None:
        services.tmux(settings, "select-window", "-t", f"{services.session_name(settings)}:lead")
    _print_next_steps(plan)
    return 0


async def _ensure_daemon(broker: Broker, plan: Plan, progress: Progress) -> control.ListReply:
    import asyncio

    from studio_cli import services
    from studio_cli.procs import terminate

    settings = plan.settings
    pid = services.daemon_pidfile(settings).live_pid()
    managed = await services.daemon_answers(broker, settings.node)
    if managed is not None:
        whose = f"pid {pid}" if pid else "started outside studio up; `studio down` leaves it"
        progress.done("daemon", f"running ({whose})")
        return managed
    if pid:
        # Recorded but not answering: hung or half-started. Replace it.
        await asyncio.to_thread(terminate, [pid])
    progress.start("daemon", "starting the node daemon…")
    pid = services.start_daemon(settings, plan.env)
    managed = await services.wait_daemon(broker, settings, pid)
    progress.done("daemon", f"started, pid {pid} (log {services.daemon_log(settings)})")
    return managed


def _print_next_steps(plan: Plan) -> None:
    from broker.models import AgentKind
    from studio_cli import services

    attach = services.attach_command(plan.settings)
    print()
    print(f"Attach:  {attach}   (Ctrl-b n / p switches windows, Ctrl-b d detaches)")
    print("Status:  studio status   (studio status --watch redraws live)")
    print("Stop:    studio down")
    if plan.lead is not None and plan.lead.kind == AgentKind.shell and plan.count:
        print('Try, in the lead window:  studio tasks add "write a haiku" --assignee agent-1')
    elif plan.lead is not None and plan.lead.kind in (AgentKind.claude, AgentKind.codex):
        print("Talk to the lead window: it can dispatch_task, send_message and spawn_agent.")


def down_command(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    return _down(settings_from(args), keep_broker=args.keep_broker)


async def _down(settings: Settings, *, keep_broker: bool) -> int:
    from studio_cli import services

    print(f"studio down: team {settings.team}, node {settings.node}, home {settings.home}")
    async with services.exclusive(settings):
        return await _stop_all(settings, keep_broker=keep_broker)


async def _stop_all(settings: Settings, *, keep_broker: bool) -> int:
    import asyncio

    from studio_cli import services
    from studio_cli.procs import terminate

    progress = Progress()
    answered, stopped = await _stop_agents(settings, progress)
    if stopped:
        progress.done("agents", f"stopped {', '.join(stopped)}")
    from studio_cli.dashboard import service as dashboard

    progress.done("dashboard", await asyncio.to_thread(dashboard.stop, settings))
    pidfile = services.daemon_pidfile(settings)
    pid = pidfile.live_pid()
    if pid:
        await asyncio.to_thread(terminate, [pid])
        progress.done("daemon", f"stopped (pid {pid})")
    elif answered:
        progress.done("daemon", "left running (not started by studio up)")
    else:
        progress.done("daemon", "not running")
    pidfile.remove()
    if other := services.foreign_owner(settings):
        progress.done(
            "tmux",
            f"session {services.session_name(settings)} belongs to STUDIO_HOME={other}: left alone",
        )
    had_session = bool(services.session_pane_pids(settings))
    await asyncio.to_thread(services.kill_session, settings)
    if had_session:
        progress.done("tmux", f"session {services.session_name(settings)} closed")
    if settings.nats_url:
        progress.done("broker", "configured by STUDIO_NATS_URL: left alone")
    elif keep_broker:
        progress.done("broker", "left running (--keep-broker)")
    elif others := services.other_daemons(settings):
        progress.done("broker", f"left running for team(s) {', '.join(others)}")
    else:
        progress.done("broker", await asyncio.to_thread(services.stop_broker, settings))
    return 0


async def _stop_agents(settings: Settings, progress: Progress) -> tuple[bool, list[str]]:
    """Stop every agent of this node through its daemon, so each goes offline properly (its
    tasks back to open, its leases freed). Returns whether a daemon answered, and who was
    stopped. Skipped when the broker or the daemon is gone."""
    import asyncio

    from broker import control
    from broker.errors import StudioError
    from studio_cli import services
    from studio_cli.client import open_broker

    if not settings.nats_url and services.running_embedded(settings) is None:
        return False, []
    try:
        async with open_broker(settings, name="studio-down") as broker:
            managed = await services.daemon_answers(broker, settings.node)
            if managed is None:
                return False, []
            requests = [
                control.stop(
                    broker,
                    settings.node,
                    control.StopRequest(agent=a.id, force=True, timeout_s=0),
                )
                for a in managed.agents
            ]
            results = await asyncio.gather(*requests, return_exceptions=True)
    except StudioError as exc:
        progress.done("agents", f"not stopped one by one ({exc})")
        return False, []
    return True, [r.agent for r in results if isinstance(r, control.StopReply)]
