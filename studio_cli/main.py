"""`studio` entry point: parses arguments, dispatches to one module per command group, and turns
every expected failure into a one-line error with a non-zero exit (never a traceback)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from studio_cli import (
        agents_cmd,
        broker_cmd,
        doctor_cmd,
        install_cmd,
        locks_cmd,
        mcp_cmd,
        messaging_cmd,
        node_cmd,
        status_cmd,
        tasks_cmd,
        up_cmd,
    )

    class Parser(argparse.ArgumentParser):
        """Bad arguments get one line (and where to look), not the whole usage block."""

        def error(self, message: str) -> NoReturn:
            self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")

    # Each module adds its subcommands with `register(subparsers)`; each parser sets `func`.
    # The order is the order of `studio --help`: everyday commands first.
    command_modules = [
        up_cmd,
        status_cmd,
        messaging_cmd,
        tasks_cmd,
        agents_cmd,
        locks_cmd,
        doctor_cmd,
        install_cmd,
        mcp_cmd,
        node_cmd,
        broker_cmd,
    ]
    parser = Parser(
        prog="studio",
        description="Many coding agents on many machines working as one team. "
        "Start with `studio up`, then `studio status`; README.md has the full guide.",
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
    import os

    from pydantic import ValidationError

    from broker.errors import StudioError
    from broker.logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level)
    if args.command != "mcp":  # `studio mcp` speaks JSON-RPC on stdout, nothing else
        from studio_cli.output import TerminalSafe

        sys.stdout = TerminalSafe(sys.stdout)
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except StudioError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        print(f"studio: invalid {where or 'input'}: {first['msg']}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`studio status --json | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.log_level.lower() == "debug":
            raise
        print(
            f"studio: unexpected error: {type(exc).__name__}: {exc} "
            "(`--log-level debug` shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
