"""`studio node run` (the daemon) and `studio hook EVENT` (what agent CLIs call)."""

from __future__ import annotations

import argparse

from studio_cli.context import settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    node = subparsers.add_parser("node", help="the per-machine daemon that owns the agents' tmux")
    sub = node.add_subparsers(dest="node_command", metavar="SUBCOMMAND")
    run = sub.add_parser("run", help="run the node daemon in the foreground")
    run.add_argument("--tmux-socket", help="tmux socket name (default: tmux's default server)")
    run.set_defaults(func=run_command)
    node.set_defaults(func=lambda args: node.print_help() or 2)
    hook = subparsers.add_parser(
        "hook", help="called by Claude Code / Codex hooks; reads the hook JSON on stdin"
    )
    hook.add_argument("event", help="UserPromptSubmit, PostToolUse, Stop, Notification, ...")


def run_command(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from broker.settings import studio_executable
    from node_agent.daemon import run

    # Agent windows inherit the tmux server's PATH, not the one passed per window, and the
    # daemon starts that server: the studio command goes on this process's PATH first, so
    # shell agents (and hooks) find `studio`.
    studio_bin = os.path.dirname(studio_executable())
    if studio_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = studio_bin + os.pathsep + os.environ.get("PATH", "")
    settings = settings_from(args)
    if args.tmux_socket:
        settings.tmux_socket = args.tmux_socket
    asyncio.run(run(settings))
    return 0
