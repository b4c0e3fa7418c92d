"""`studio` entry point: parses arguments, dispatches to one module per command group, and turns
every expected failure into a one-line error with a non-zero exit (never a traceback)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from studio_cli import broker_cmd, install_cmd, mcp_cmd, node_cmd

    # Each module adds its subcommands with `register(subparsers)`; each parser sets `func`.
    command_modules = [broker_cmd, mcp_cmd, install_cmd, node_cmd]
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Many coding agents on many machines working as one team.",
    )
    parser.add_argument("--log-level", default="warning", help="debug, info, warning (default)")
    parser.add_argument("--home", help="studio home directory (env STUDIO_HOME, default ~/.studio)")
    parser.add_argument("--team", help="team name (env STUDIO_TEAM, default 'main')")
    parser.add_argument(
        "--node", help="this machine's node name (env STUDIO_NODE, default hostname)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hook"]:
        # Hooks run on every tool use: this path loads only the standard library.
        from node_agent.hook_client import run

        return run(argv[1:])
    import asyncio
    import inspect

    from broker.errors import StudioError
    from broker.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level)
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except StudioError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
