"""The command-line shell every benchmark shares: the same options, SIGTERM unwinding like
Ctrl-C (so servers and daemons get stopped), and the output contract (a table, then the JSON
object as the last line)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType

from broker.logs import configure_logging


def parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run (smoke test)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--log-level", default="warning", help="structlog level (stderr)")
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (a test timeout, `kill`) unwinds like Ctrl-C while this block runs."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_async(
    args: argparse.Namespace,
    measure: Callable[[argparse.Namespace], Awaitable[dict]],
    table: Callable[[dict], str],
) -> int:
    """The usual main: logging as asked, `measure` under SIGTERM unwinding, then `finish`."""
    configure_logging(level=args.log_level)
    with sigterm_unwinds():
        result = asyncio.run(measure(args))
    return finish(result, table, args)


def finish(result: dict, table: Callable[[dict], str], args: argparse.Namespace) -> int:
    if not args.json_only:
        print(table(result))
    print(json.dumps(result))
    return 1 if args.strict and not result["all_targets_met"] else 0
