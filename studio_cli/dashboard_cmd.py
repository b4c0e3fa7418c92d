"""`studio dashboard`: the live web dashboard (studio_cli/dashboard/), in the foreground.

`studio up` starts it in the background (see studio_cli/dashboard/service.py) and prints
its URL; this command is for running it by hand, on another port, or on a non-loopback
address with TLS.
"""

from __future__ import annotations

import argparse

from broker.errors import InvalidInput
from studio_cli.context import settings_from


def register(subparsers: argparse._SubParsersAction) -> None:
    from studio_cli.dashboard import DEFAULT_PORT

    dash = subparsers.add_parser(
        "dashboard",
        help="the live web dashboard: agents, overlaps, tasks, messages, notes, locks",
        description="Serve the team's live dashboard on 127.0.0.1 and print its URL (with a "
        "token, the first time; the browser then keeps a cookie). It reads the broker with "
        "this node's credentials. A non-loopback --host needs TLS (--tls-dir); an SSH tunnel "
        "to the loopback port is the simpler way in from another machine.",
    )
    dash.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    dash.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    dash.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="certificates from `studio broker tls-init` (NODE.pem, NODE-key.pem); "
        "default: the directory of STUDIO_TLS_CA",
    )
    dash.add_argument(
        "--window", type=float, default=30.0, metavar="MIN", help="message flow shown (minutes)"
    )
    dash.add_argument(
        "--as",
        dest="as_name",
        metavar="NAME",
        help="who the page's actions act as (default: <node>.cli, like the CLI)",
    )
    dash.set_defaults(func=dashboard_command)


async def dashboard_command(args: argparse.Namespace) -> int:
    from studio_cli.dashboard.server import plan_listen, serve

    settings = settings_from(args)
    if not 1 <= args.window <= 24 * 60:
        raise InvalidInput("--window must be between 1 and 1440 minutes")
    listen = plan_listen(settings, args.host, args.port, args.tls_dir)

    def ready(url: str) -> None:
        print(f"studio dashboard: {url}", flush=True)
        print("(open it in a browser; from another machine: ssh -L, see README)", flush=True)

    await serve(settings, listen, as_name=args.as_name, window_s=args.window * 60, on_ready=ready)
    return 0
