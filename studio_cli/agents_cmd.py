"""`studio spawn`, `studio stop`, `studio kick`, `studio peek`: agent sessions on any node,
through that node's daemon (the control service). And `studio register NAME`: an identity
for a person or script, made on purpose (`--as NAME` refuses names nobody registered, so a
typo never becomes an agent)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio_cli import agent_env
from studio_cli.context import add_identity_option, as_name, settings_from
from studio_cli.output import join_text

if TYPE_CHECKING:
    from broker import control
    from broker.settings import Settings

# broker.control.MAX_PEEK_LINES, spelled out so the parser does not import the broker.
MAX_PEEK_LINES = 500


def register(subparsers: argparse._SubParsersAction) -> None:
    spawn = subparsers.add_parser(
        "spawn",
        help="start an agent session in a tmux window on any node",
        description="Ask a node's daemon to start an agent in a new window of its tmux session "
        "studio-<team>, with the studio MCP server and hooks configured. Its id is NODE.NAME.",
    )
    spawn.add_argument("name", metavar="NAME", help="agent name: lowercase letters, digits, '-'")
    spawn.add_argument("--node", dest="spawn_node", metavar="N", help="node (default: this one)")
    spawn.add_argument(
        "--agent",
        default="claude",
        metavar="KIND|CMD",
        help="claude (default), codex, opencode, shell, or a command line",
    )
    spawn.add_argument("--cwd", help="working directory (default: here; the node's home remotely)")
    spawn.add_argument(
        "--worktree", action="store_true", help="its own git worktree .worktrees/NAME"
    )
    spawn.add_argument("--prompt", default="", help="its first instruction (sent to its inbox)")
    spawn.add_argument("--role", default="", help="what it does, e.g. backend, reviewer")
    agent_env.add_env_option(spawn)
    add_identity_option(spawn)
    spawn.set_defaults(func=spawn_command)

    stop = subparsers.add_parser(
        "stop",
        help="stop an agent (asks it to wrap up; --force closes at once)",
        description="Stop an agent's session: by default it is asked to wrap up and its window "
        "is closed once idle (up to --timeout seconds). Its inbox stays; its tasks reopen.",
    )
    stop.add_argument("agent", metavar="ID", help="NODE.NAME or a name unique in the team")
    stop.add_argument("--force", action="store_true", help="close the window at once")
    stop.add_argument("--timeout", type=float, default=30.0, help="graceful wait (default 30 s)")
    add_identity_option(stop)
    stop.set_defaults(func=stop_command)

    kick = subparsers.add_parser(
        "kick",
        help="wake an idle agent (or type TEXT into its prompt); busy agents are never typed into",
    )
    kick.add_argument("agent", metavar="ID")
    kick.add_argument("text", nargs="*", metavar="TEXT", help="what to type (default: mail note)")
    add_identity_option(kick)
    kick.set_defaults(func=kick_command)

    peek = subparsers.add_parser("peek", help="show the last lines of an agent's screen")
    peek.add_argument("agent", metavar="ID")
    peek.add_argument("--lines", type=int, default=40, help="how many lines (default 40)")
    peek.set_defaults(func=peek_command)

    register_ = subparsers.add_parser(
        "register",
        help="make a new agent identity NAME (an inbox) for `--as NAME`",
        description="Register NODE.NAME (default node: this one), so that commands can act as "
        "it with `--as NAME`. Safe to repeat. Agents started by `studio up`/`spawn` and "
        "your default identity (<node>.cli) need no registering.",
    )
    register_.add_argument("name", metavar="NAME", help="NAME or NODE.NAME")
    register_.add_argument("--role", default="", help="what it does, e.g. reviewer")
    register_.set_defaults(func=register_command)


async def register_command(args: argparse.Namespace) -> int:
    from broker import agents
    from broker.models import AgentKind
    from studio_cli.client import open_broker
    from studio_cli.context import cli_identity

    settings = settings_from(args)
    agent = cli_identity(settings, args.name)
    async with open_broker(settings) as broker:
        known = await agents.is_registered(broker, agent)
        if not known:
            await agents.register(broker, agent, kind=AgentKind.other, role=args.role)
    print(f"{agent} was registered already" if known else f"registered {agent}")
    return 0


def spawn_command(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    from broker import control
    from broker.errors import InvalidInput
    from broker.names import validate_name
    from studio_cli.programs import parse_program

    settings = settings_from(args)
    validate_name(args.name, "agent name")
    node = validate_name(args.spawn_node or settings.node, "node name")
    local = node == settings.node
    # Installed programs can only be checked here; a remote daemon reports its own.
    program = parse_program(args.agent, check=local)
    cwd = args.cwd or (os.getcwd() if local else "")
    if cwd and local:
        cwd = str(Path(cwd).expanduser().resolve())
        if not Path(cwd).is_dir():
            raise InvalidInput(f"--cwd {cwd!r} is not a directory")
    request = control.SpawnRequest(
        name=args.name,
        kind=program.kind,
        command=program.command,
        cwd=cwd,
        prompt=args.prompt,
        worktree=args.worktree,
        role=args.role,
        env=agent_env.for_window(args, local=local),
    )
    return _spawn(settings, as_name(args), node, request, program.label)


async def _spawn(
    settings: Settings, as_name_: str | None, node: str, request: control.SpawnRequest, label: str
) -> int:
    from broker import control
    from studio_cli.client import acting_as, open_broker

    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name_)
        request.requested_by = str(me)
        reply = await control.spawn(broker, node, request)
    print(f"started {reply.agent} ({label}) in {reply.tmux_target}, cwd {reply.cwd}")
    return 0


async def stop_command(args: argparse.Namespace) -> int:
    from broker import agents, control
    from broker.errors import InvalidInput
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    if not 0 <= args.timeout <= 600:
        raise InvalidInput("--timeout must be between 0 and 600 seconds")
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        target = await agents.resolve(broker, args.agent)
        if not args.force:
            print(f"asking {target} to wrap up (up to {args.timeout:.0f}s; --force skips this)…")
        await control.stop(
            broker,
            target.node,
            control.StopRequest(
                requested_by=str(me), agent=str(target), force=args.force, timeout_s=args.timeout
            ),
        )
    print(f"stopped {target}")
    return 0


async def kick_command(args: argparse.Namespace) -> int:
    from broker import agents, control
    from studio_cli.client import acting_as, open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        target = await agents.resolve(broker, args.agent)
        reply = await control.kick(
            broker,
            target.node,
            control.KickRequest(requested_by=str(me), agent=str(target), text=join_text(args.text)),
        )
    if reply.delivered:
        print(f"{target}: typed")
        return 0
    if reply.state == "idle":
        print(f"{target}: not typed: it is idle with no unread mail (give TEXT to type)")
    else:
        print(f"{target}: not typed: it is {reply.state}; busy agents learn of mail from hooks")
    return 3


async def peek_command(args: argparse.Namespace) -> int:
    from broker import agents, control
    from broker.errors import InvalidInput
    from studio_cli.client import open_broker

    settings = settings_from(args)
    if not 1 <= args.lines <= MAX_PEEK_LINES:
        raise InvalidInput(f"--lines must be between 1 and {MAX_PEEK_LINES}")
    async with open_broker(settings) as broker:
        target = await agents.resolve(broker, args.agent)
        reply = await control.peek(
            broker, target.node, control.PeekRequest(agent=str(target), lines=args.lines)
        )
    print(f"── {target} ({reply.state}) ──")
    print(reply.text)
    return 0
