"""`studio broker serve`: the embedded broker (loopback only, data under STUDIO_HOME)."""

from __future__ import annotations

import argparse
import os
import signal
import threading

import structlog

from broker.errors import BrokerUnavailable
from broker.server import single_node, write_embedded_record
from studio_cli.context import settings_from

log = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("broker", help="run or configure the NATS broker")
    sub = group.add_subparsers(dest="broker_command", metavar="SUBCOMMAND")
    serve = sub.add_parser(
        "serve",
        help="run an embedded nats-server with JetStream on loopback (data in STUDIO_HOME)",
    )
    serve.add_argument("--port", type=int, default=0, help="client port (default: a free one)")
    serve.set_defaults(func=serve_command)
    group.set_defaults(func=lambda args: group.print_help() or 2)


def serve_command(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    server = single_node(
        settings.broker_dir, name=f"{settings.node}-embedded", port=args.port or None
    )
    record = settings.embedded_record
    if record.exists():
        raise BrokerUnavailable(
            f"a broker record exists at {record}; is one already running? "
            "(`studio down` stops it, or delete the file if it is stale)"
        )
    server.start()
    write_embedded_record(record, server.spec.url, server.pid or 0, wrapper_pid=os.getpid())
    print(f"broker ready at {server.spec.url} (data in {settings.broker_dir}); Ctrl-C stops it")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set() and server.process and server.process.poll() is None:
            stop.wait(0.5)
    finally:
        server.stop()
        record.unlink(missing_ok=True)
        log.info("broker_stopped")
    return 0
