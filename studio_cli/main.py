"""`studio` entry point: parses arguments, dispatches to one module per command group, and turns
every expected failure into a one-line error with a non-zero exit (never a traceback)."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

from broker.errors import StudioError
from broker.logs import configure_logging
from studio_cli import broker_cmd, install_cmd, mcp_cmd

# Each module adds its subcommands with `register(subparsers)`; each parser sets `func`.
COMMAND_MODULES = [broker_cmd, mcp_cmd, install_cmd]


def build_parser() -> argparse.ArgumentParser:
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
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
