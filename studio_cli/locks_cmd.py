"""`studio locks [lock PATHS | unlock PATHS]`: advisory file leases from a terminal.

A lease tells every agent "I am editing this"; the hooks of Claude Code sessions deny an edit
to a path someone else holds exclusively. Leases expire by themselves after their TTL.

Paths are keyed relative to the root of the git checkout, as every agent of the repository
names them: what a person types is taken relative to the current directory and converted
(broker.files.repo_relative), so `./x.py` in `src/` locks `src/x.py`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from studio_cli.context import add_identity_option, as_name, settings_from
from studio_cli.output import clock

# broker.leases.MAX_TTL_S, spelled out so the parser does not import the broker.
MAX_TTL_S = 86400


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "locks",
        help="advisory file locks: list, `locks lock PATHS`, `locks unlock PATHS`",
        description="Without a subcommand: every current lock (path, holder, mode, expiry). "
        "A path ending in '/' covers the directory below it.",
    )
    group.add_argument("--json", action="store_true", help="JSON array of leases")
    sub = group.add_subparsers(dest="locks_command", metavar="SUBCOMMAND")
    lock = sub.add_parser("lock", help="take locks on paths (all or none)")
    lock.add_argument(
        "paths", nargs="+", metavar="PATH", help="relative to here, or to the repository root"
    )
    lock.add_argument("--ttl", type=float, default=600, help="seconds until it frees itself")
    lock.add_argument("--shared", action="store_true", help="a shared (reader) lock")
    lock.add_argument("--reason", default="", help="why, shown to whoever is refused")
    add_identity_option(lock)
    lock.set_defaults(func=lock_command)
    unlock = sub.add_parser("unlock", help="release your locks on paths (--all: every one)")
    unlock.add_argument("paths", nargs="*", metavar="PATH")
    unlock.add_argument("--all", action="store_true", help="release every lock you hold")
    add_identity_option(unlock)
    unlock.set_defaults(func=unlock_command)
    group.set_defaults(func=list_command)


def lock_paths(paths: list[str]) -> list[str]:
    """The typed paths as the repository-relative keys of leases."""
    from broker.files import repo_relative

    cwd = Path.cwd()
    return [repo_relative(p, cwd) for p in paths]


async def list_command(args: argparse.Namespace) -> int:
    from broker import leases
    from studio_cli.client import open_broker

    settings = settings_from(args)
    async with open_broker(settings) as broker:
        held = await leases.list_leases(broker)
    if args.json:
        print(json.dumps([lease.model_dump(mode="json") for lease in held]))
        return 0
    if not held:
        print("no files are locked")
    for lease in held:
        for h in lease.holders:
            mode = "exclusive" if h.exclusive else "shared"
            reason = f" ({h.reason})" if h.reason else ""
            print(f"{lease.path}  {h.agent}  {mode} until {clock(h.expires_at)}{reason}")
    return 0


async def lock_command(args: argparse.Namespace) -> int:
    from broker import leases
    from broker.errors import InvalidInput
    from studio_cli.client import acting_as, open_broker

    if not 1 <= args.ttl <= MAX_TTL_S:
        raise InvalidInput(f"--ttl must be between 1 and {MAX_TTL_S} seconds, got {args.ttl:g}")
    paths = lock_paths(args.paths)
    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        taken = await leases.acquire(
            broker, me, paths, ttl_s=args.ttl, exclusive=not args.shared, reason=args.reason
        )
    print(f"{me} locked {', '.join(lease.path for lease in taken)} for {args.ttl:.0f}s")
    return 0


async def unlock_command(args: argparse.Namespace) -> int:
    from broker import leases
    from broker.errors import InvalidInput
    from studio_cli.client import acting_as, open_broker

    if not args.paths and not args.all:
        raise InvalidInput("give the paths to unlock, or --all")
    paths = None if args.all else lock_paths(args.paths)
    settings = settings_from(args)
    async with open_broker(settings) as broker:
        me = await acting_as(broker, settings, as_name(args))
        released = await leases.release(broker, me, paths)
    print(f"released {', '.join(released)}" if released else f"{me} held none of these")
    return 0
