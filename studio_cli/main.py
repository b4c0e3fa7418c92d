"""`studio` entry point: parses arguments, dispatches to one module per command group, and turns
every expected failure into a one-line error with a non-zero exit (never a traceback)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

LOG_LEVELS = ("debug", "info", "warning")


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from studio_cli import (
        agents_cmd,
        broker_cmd,
        dashboard_cmd,
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
        dashboard_cmd,
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
    parser.add_argument(
        "--log-level",
        default="warning",
        type=str.lower,
        choices=LOG_LEVELS,
        help="debug, info, warning (default)",
    )
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
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C anywhere, imports and start-up included: the usual exit code, no traceback.
        print(file=sys.stderr)
        return 130


def not_utf8(argv: list[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python hands such bytes over as lone
    surrogates, which nothing can store or send), shown with its bad bytes escaped."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return arg.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
    return None


def _main(argv: list[str]) -> int:
    bad = not_utf8(argv)
    if bad is not None:
        print(
            f"studio: argument '{bad}' is not valid UTF-8; studio stores text as UTF-8: "
            "convert it first (e.g. `iconv -f latin1 -t utf-8`)",
            file=sys.stderr,
        )
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # Only now: `studio --help` and argument errors must not wait for these.
    import asyncio
    import inspect
    import os

    from pydantic import ValidationError

    from broker.errors import StudioError
    from broker.logs import configure_logging

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
        from studio_cli.wording import for_cli

        print(f"studio: {for_cli(str(exc))}", file=sys.stderr)
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
        if _stream_missing(exc):
            print(
                f"studio: team {args.team or os.environ.get('STUDIO_TEAM') or 'main'!r} does "
                "not exist on this broker (a stream of it is missing): check the team name "
                "(--team, STUDIO_TEAM); `studio up` or `studio broker provision` creates a team",
                file=sys.stderr,
            )
            return 1
        if args.log_level == "debug":
            raise
        print(
            f"studio: unexpected error: {type(exc).__name__}: {exc} "
            "(`--log-level debug` shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _stream_missing(exc: BaseException) -> bool:
    """A JetStream "stream not found" (10059): the team's streams were never made here."""
    return getattr(exc, "err_code", None) == 10059


if __name__ == "__main__":
    sys.exit(main())
