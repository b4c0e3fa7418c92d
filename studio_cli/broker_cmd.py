"""`studio broker ...`: the embedded broker (`serve`, loopback only, data under STUDIO_HOME)
and the multi-host deployment: `cluster-config`, `add-node`, `remove-node`, `tls-init`,
`provision`.

The deployment modules (nkeys, cryptography) are imported by the commands that use them, so
building the parser for every other command costs nothing."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from studio_cli.context import settings_from

# ops.cluster_config.DEFAULT_INSTALL_DIR and DEFAULT_STORE_ROOT, spelled out for the parser.
DEFAULT_INSTALL_DIR = "/etc/studio"
DEFAULT_STORE_ROOT = "/var/lib/studio/nats"


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("broker", help="run or configure the NATS broker")
    sub = group.add_subparsers(dest="broker_command", metavar="SUBCOMMAND")
    serve = sub.add_parser(
        "serve",
        help="run an embedded nats-server with JetStream on loopback (data in STUDIO_HOME)",
    )
    serve.add_argument("--port", type=int, default=0, help="client port (default: a free one)")
    serve.set_defaults(func=serve_command)
    _register_deploy(sub)
    group.set_defaults(func=lambda args: group.print_help() or 2)


def _register_deploy(sub: argparse._SubParsersAction) -> None:
    cfg = sub.add_parser(
        "cluster-config",
        help="write nats-server configs, credentials and client settings for an N-node cluster",
        description="Writes into --out: nats-<node>.conf per server, auth.conf (shared by all "
        "servers), creds/ (one nkey seed per node, plus admin), studio-<node>.toml (client "
        "settings), cluster.json (the plan; re-running keeps existing keys). deploy/README.md "
        "says what to copy where.",
    )
    cfg.add_argument("--nodes", required=True, help="server node names, comma-separated")
    _host_of(cfg)
    cfg.add_argument("--out", help="output directory (default STUDIO_HOME/cluster)")
    cfg.add_argument("--port", type=int, default=4222, help="client port (default 4222)")
    cfg.add_argument("--cluster-port", type=int, default=6222, help="route port (default 6222)")
    cfg.add_argument("--monitor-port", type=int, default=8222, help="loopback monitoring port")
    cfg.add_argument(
        "--tls",
        action="store_true",
        help="require TLS (clients and routes); creates OUT/tls with a CA and server certs",
    )
    cfg.add_argument(
        "--install-dir",
        default=DEFAULT_INSTALL_DIR,
        help="where these files will live on each host; paths inside them point there "
        "(default /etc/studio)",
    )
    cfg.add_argument(
        "--store-root",
        default=DEFAULT_STORE_ROOT,
        help="JetStream data root on each host; each server uses ROOT/<node>",
    )
    cfg.add_argument(
        "--no-auth",
        action="store_true",
        help="no credentials (refused unless every address is loopback)",
    )
    cfg.set_defaults(func=cluster_config_command)

    add = sub.add_parser(
        "add-node",
        help="give a node its nkey credentials and permissions (then reload the servers)",
    )
    add.add_argument("name", help="node name")
    _auth_dir_options(add)
    add.set_defaults(func=add_node_command)

    remove = sub.add_parser(
        "remove-node",
        help="revoke a node's credentials (auth.json, auth.conf; then reload the servers)",
        description="Removes the node from auth.json, renders auth.conf again and deletes its "
        "seed. Once the servers reload auth.conf, its key is refused and its connections are "
        "closed. Its stored mail and tasks stay.",
    )
    remove.add_argument("name", help="node name")
    _auth_dir_options(remove)
    remove.set_defaults(func=remove_node_command)

    tls_cmd = sub.add_parser("tls-init", help="a private CA and a certificate per server")
    tls_cmd.add_argument("--nodes", required=True, help="server node names, comma-separated")
    _host_of(tls_cmd)
    tls_cmd.add_argument("--out", help="directory (default STUDIO_HOME/cluster/tls)")
    tls_cmd.set_defaults(func=tls_init_command)

    prov = sub.add_parser(
        "provision",
        help="create the team's streams and buckets and the nodes' inboxes (admin credentials)",
    )
    prov.add_argument("--nodes", default="", help="nodes whose inbox streams to create")
    prov.set_defaults(func=provision_command)


def _auth_dir_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", help="the cluster-config directory (default STUDIO_HOME/cluster)")
    parser.add_argument(
        "--reload-pid",
        type=int,
        action="append",
        default=[],
        metavar="PID",
        help="send SIGHUP to this local nats-server so it reloads auth.conf (repeatable)",
    )


def _host_of(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host-of",
        action="append",
        default=[],
        metavar="NODE=ADDR",
        help="address (IP or DNS name) of a node's server; default: the node name (repeatable)",
    )


def _nodes(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _hosts(pairs: list[str]) -> dict[str, str]:
    from broker.errors import InvalidInput

    hosts = {}
    for pair in pairs:
        name, sep, addr = pair.partition("=")
        if not sep or not name.strip() or not addr.strip():
            raise InvalidInput(f"--host-of {pair!r}: expected NODE=ADDR, e.g. a=10.0.0.11")
        hosts[name.strip()] = addr.strip()
    return hosts


def _deploy_dir(args: argparse.Namespace, value: str | None) -> Path:
    return Path(value) if value else settings_from(args).home / "cluster"


def cluster_config_command(args: argparse.Namespace) -> int:
    from studio_cli.ops import cluster_config, tls

    settings = settings_from(args)
    out = _deploy_dir(args, args.out)
    previous = cluster_config.load_plan(out)
    nodes, hosts = _nodes(args.nodes), _hosts(args.host_of)
    plan = cluster_config.plan_cluster(
        nodes,
        team=settings.team,
        hosts=hosts,
        port=args.port,
        cluster_port=args.cluster_port,
        monitor_port=args.monitor_port,
        use_auth=not args.no_auth,
        tls_dir=str(Path(args.install_dir) / "tls") if args.tls else None,
        install_dir=args.install_dir,
        store_root=args.store_root,
        route_password=previous.route_password if previous else None,
    )
    if args.tls:
        tls.tls_init(out / "tls", {n.name: [n.host] for n in plan.nodes})
    written = cluster_config.write_cluster(plan, out)
    print(f"wrote {len(written)} files to {out} for team {plan.team!r}:")
    for node in plan.nodes:
        print(f"  {node.name}: nats-{node.name}.conf, studio-{node.name}.toml  ({node.host})")
    print(f"client URLs: {','.join(plan.client_urls())}")
    print("next: deploy/README.md (copy files to each host, start studio-nats, provision)")
    return 0


def add_node_command(args: argparse.Namespace) -> int:
    from broker.errors import InvalidInput
    from studio_cli.ops import auth, cluster_config

    settings = settings_from(args)
    directory = _deploy_dir(args, args.dir)
    plan = cluster_config.load_plan(directory)
    if plan is None and auth.load_auth(directory) is None:
        # Without this, a mistyped --dir (or none) silently became a new admin key and an
        # auth.json for the default team, with no client settings for the node.
        raise InvalidInput(
            f"no cluster in {directory} (no cluster.json or auth.json): run `studio broker "
            "cluster-config` first, or give its output directory with --dir"
        )
    team = plan.team if plan else settings.team
    _, seed = auth.add_user(directory, team, args.name)
    toml = cluster_config.add_client_settings(directory, args.name)
    auth.reload_servers(args.reload_pid)
    print(f"node {args.name!r} of team {team!r}: seed {seed} (copy to that host only, mode 600)")
    if toml:
        print(f"client settings: {toml}")
    _after_auth_change(directory, args.reload_pid)
    print(f"then, with the admin settings: studio broker provision --nodes {args.name}")
    return 0


def remove_node_command(args: argparse.Namespace) -> int:
    from studio_cli.ops import auth

    directory = _deploy_dir(args, args.dir)
    auth.remove_user(directory, args.name)
    (directory / f"studio-{args.name}.toml").unlink(missing_ok=True)
    auth.reload_servers(args.reload_pid)
    print(f"node {args.name!r} removed: its seed is deleted and auth.conf no longer lists it")
    _after_auth_change(directory, args.reload_pid)
    return 0


def _after_auth_change(directory: Path, reloaded: list[int]) -> None:
    from studio_cli.ops import auth

    print(f"updated {directory / auth.AUTH_CONF}: copy it to every server host, then reload")
    if reloaded:
        print(f"sent SIGHUP to {', '.join(map(str, reloaded))}")
    else:
        print("  (`sudo systemctl reload studio-nats`, or `kill -HUP <nats-server pid>`)")


def tls_init_command(args: argparse.Namespace) -> int:
    from broker.errors import InvalidInput
    from studio_cli.ops import tls

    out = Path(args.out) if args.out else _deploy_dir(args, None) / "tls"
    nodes, hosts = _nodes(args.nodes), _hosts(args.host_of)
    if not nodes:
        raise InvalidInput("give at least one node: --nodes a,b,c")
    unknown = sorted(set(hosts) - set(nodes))
    if unknown:
        raise InvalidInput(f"--host-of names nodes not in --nodes: {', '.join(unknown)}")
    written = tls.tls_init(out, {n: [hosts.get(n, n)] for n in nodes})
    print(f"CA and {len(nodes)} server certificates in {out}:")
    for path in written:
        print(f"  {path.name}")
    print(f"keep {tls.CA_KEY} on this machine; clients need only {tls.CA_CERT} (STUDIO_TLS_CA)")
    return 0


async def provision_command(args: argparse.Namespace) -> int:
    from broker.connection import connect
    from broker.names import validate_name
    from broker.provision import ensure_node_inbox, ensure_team

    settings = settings_from(args)
    broker = await connect(settings, name="studio-provision")
    await ensure_team(broker)
    try:
        for node in _nodes(args.nodes):
            await ensure_node_inbox(broker, validate_name(node, "node name"))
    finally:
        await broker.close()
    inboxes = ", ".join(_nodes(args.nodes)) or "none"
    print(f"team {settings.team!r} provisioned (replicas {broker.replicas}); inboxes: {inboxes}")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    import structlog

    from broker.errors import BrokerUnavailable
    from studio_cli.ops.auth import local_authorization
    from studio_cli.ops.server import single_node, write_embedded_record

    log = structlog.get_logger(__name__)
    settings = settings_from(args)
    server = single_node(
        settings.broker_dir, name=f"{settings.node}-embedded", port=args.port or None
    )
    # Loopback is no boundary between the users of one machine: the embedded broker takes
    # only the credentials kept in this (0700) home, and has no monitoring endpoint.
    server.spec.extra = local_authorization(settings)
    server.spec.monitor_port = None
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
