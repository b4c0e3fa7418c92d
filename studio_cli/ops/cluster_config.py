"""nats-server configs for an N-node JetStream cluster on several machines.

One plan (`cluster.json`) yields every file a deployment needs, all in one directory:
`nats-<node>.conf` per server, the shared `auth.conf` (see auth.py), each node's seed under
`creds/`, and a `studio-<node>.toml` per node (client settings: every cluster URL, team,
node, credentials, CA). Paths inside the files point at `install_dir`, where the operator
copies them on each host (default /etc/studio), so the generated directory can be reviewed
before anything is installed.

Rule enforced here: nothing listens beyond loopback without credentials. Client ports then
require an nkey, route ports a route password, and monitoring stays on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from pathlib import Path

from pydantic import BaseModel, Field

from broker.errors import InvalidInput
from broker.files import read_model, write_atomic
from broker.names import validate_name
from broker.settings import is_loopback
from studio_cli.ops import auth
from studio_cli.ops.server import NodeSpec, render_config
from studio_cli.ops.tls import CA_CERT, server_tls_block

PLAN_FILE = "cluster.json"
DEFAULT_INSTALL_DIR = "/etc/studio"
DEFAULT_STORE_ROOT = "/var/lib/studio/nats"


class ClusterNode(BaseModel):
    name: str
    # The address clients and peer servers use to reach this server (IP or DNS name).
    host: str
    port: int = 4222
    cluster_port: int = 6222
    monitor_port: int = 8222


class ClusterPlan(BaseModel):
    team: str
    cluster_name: str = "studio"
    nodes: list[ClusterNode]
    auth: bool = True
    # Directory holding ca.pem and <node>.pem / <node>-key.pem on each host; None: no TLS.
    tls_dir: str | None = None
    install_dir: str = DEFAULT_INSTALL_DIR
    store_root: str = DEFAULT_STORE_ROOT
    route_user: str = "route"
    route_password: str = Field(default_factory=lambda: secrets.token_urlsafe(24))

    def node(self, name: str) -> ClusterNode:
        for node in self.nodes:
            if node.name == name:
                return node
        raise InvalidInput(f"no node {name!r} in the plan; nodes: {self.node_names}")

    @property
    def node_names(self) -> str:
        return ", ".join(n.name for n in self.nodes)

    def client_urls(self, local: str | None = None) -> list[str]:
        """Every server's URL; `local`'s own server first (clients prefer the first)."""
        scheme = "tls" if self.tls_dir else "nats"
        ordered = sorted(self.nodes, key=lambda n: n.name != local)
        return [f"{scheme}://{_hostport(n.host, n.port)}" for n in ordered]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def plan_cluster(
    nodes: list[str],
    *,
    team: str,
    hosts: dict[str, str] | None = None,
    port: int = 4222,
    cluster_port: int = 6222,
    monitor_port: int = 8222,
    ports: dict[str, tuple[int, int, int]] | None = None,
    use_auth: bool = True,
    tls_dir: str | None = None,
    install_dir: str = DEFAULT_INSTALL_DIR,
    store_root: str = DEFAULT_STORE_ROOT,
    route_password: str | None = None,
) -> ClusterPlan:
    """Validate and build the plan. A node's host defaults to its name (a DNS name).
    `ports` overrides (client, cluster, monitor) per node, for several servers on one host."""
    validate_name(team, "team name")
    if not nodes:
        raise InvalidInput("give at least one node: --nodes a,b,c")
    for name in nodes:
        validate_name(name, "node name")
    if len(set(nodes)) != len(nodes):
        raise InvalidInput(f"node names must be unique: {', '.join(nodes)}")
    hosts = dict(hosts or {})
    unknown = sorted(set(hosts) - set(nodes))
    if unknown:
        raise InvalidInput(f"--host-of names nodes not in --nodes: {', '.join(unknown)}")
    planned = []
    for name in nodes:
        client, route, monitor = (ports or {}).get(name, (port, cluster_port, monitor_port))
        planned.append(
            ClusterNode(
                name=name,
                host=hosts.get(name, name),
                port=client,
                cluster_port=route,
                monitor_port=monitor,
            )
        )
    exposed = [n for n in planned if not is_loopback(n.host)]
    if exposed and not use_auth:
        listed = ", ".join(f"{n.name}={n.host}" for n in exposed)
        raise InvalidInput(
            f"refusing to write configs without credentials for servers reachable beyond "
            f"loopback ({listed}): anyone on that network could read and forge every "
            "message. Drop --no-auth (each node then gets its own nkey), or use loopback "
            "addresses only"
        )
    seen: dict[tuple[str, int], str] = {}
    for node in planned:
        for p in (node.port, node.cluster_port):
            where = (node.host, p)
            if where in seen and seen[where] != node.name:
                raise InvalidInput(
                    f"nodes {seen[where]} and {node.name} would both listen on "
                    f"{_hostport(*where)}: give them different hosts or ports"
                )
            seen[where] = node.name
    for node in planned:
        if len({node.port, node.cluster_port, node.monitor_port}) != 3:
            raise InvalidInput(f"{node.name}: client, cluster and monitor ports must differ")
    return ClusterPlan(
        team=team,
        nodes=planned,
        auth=use_auth,
        tls_dir=tls_dir,
        install_dir=install_dir,
        store_root=store_root,
        **({"route_password": route_password} if route_password else {}),
    )


def node_spec(plan: ClusterPlan, name: str) -> NodeSpec:
    """The NodeSpec (see server.py) of one server of the plan."""
    node = plan.node(name)
    cluster = len(plan.nodes) > 1
    route_auth = f"{plan.route_user}:{plan.route_password}@" if plan.auth else ""
    routes = [f"nats-route://{route_auth}{_hostport(n.host, n.cluster_port)}" for n in plan.nodes]
    listen = node.host if _is_ip(node.host) or node.host == "localhost" else "0.0.0.0"
    extra = [
        f'client_advertise: "{_hostport(node.host, node.port)}"',
        # A peer or client behind a cut link leaves a half-open TCP connection that would
        # stall for minutes; with pings every 5 s, 3 unanswered close it, and routes are
        # redialed (every second) so the cluster heals as soon as the link is back.
        'ping_interval: "5s"',
        "ping_max: 3",
    ]
    if plan.auth:
        extra.append(f'include "{auth.AUTH_CONF}"')
    if plan.tls_dir:
        extra.append(server_tls_block(plan.tls_dir, node.name))
    cluster_extra = [f'advertise: "{_hostport(node.host, node.cluster_port)}"']
    if plan.auth:
        cluster_extra.append(
            "authorization {\n"
            f"  user: {json.dumps(plan.route_user)}\n"
            f"  password: {json.dumps(plan.route_password)}\n"
            "  timeout: 5\n"
            "}"
        )
    if plan.tls_dir:
        cluster_extra.append(server_tls_block(plan.tls_dir, node.name, verify=True))
    return NodeSpec(
        name=node.name,
        store_dir=Path(plan.store_root) / node.name,
        host=node.host,
        listen_host=listen,
        port=node.port,
        monitor_port=node.monitor_port,
        cluster_port=node.cluster_port if cluster else None,
        routes=routes if cluster else [],
        cluster_name=plan.cluster_name,
        extra="\n".join(extra),
        cluster_extra="\n".join(cluster_extra) if cluster else "",
    )


def render_node(plan: ClusterPlan, name: str) -> str:
    return render_config(node_spec(plan, name))


def client_settings(plan: ClusterPlan, user: str, local_dir: Path | None = None) -> str:
    """`studio.toml` for a node (or the admin): what its CLI, gateway and daemon connect
    with. Settings read it from $STUDIO_CONFIG or $STUDIO_HOME/studio.toml. Paths point at
    `install_dir`, or at `local_dir` for files that stay where they were generated (the
    admin's seed never leaves that machine)."""
    install = local_dir or Path(plan.install_dir)
    lines = [
        f"# studio client settings for {user} (generated by `studio broker cluster-config`)",
        f"nats_url = {json.dumps(plan.client_urls(local=user))}",
        f"team = {json.dumps(plan.team)}",
    ]
    if user != auth.ADMIN:
        lines.append(f"node = {json.dumps(user)}")
    if plan.auth:
        seed = install / auth.seed_path(Path("."), user)
        lines.append(f"creds = {json.dumps(str(seed))}")
    if plan.tls_dir:
        tls_dir = local_dir / "tls" if local_dir else Path(plan.tls_dir)
        lines.append(f"tls_ca = {json.dumps(str(tls_dir / CA_CERT))}")
    return "\n".join(lines) + "\n"


def load_plan(out_dir: Path) -> ClusterPlan | None:
    return read_model(out_dir / PLAN_FILE, ClusterPlan)


def write_cluster(plan: ClusterPlan, out_dir: Path) -> list[Path]:
    """Write every file of the plan into `out_dir` (credentials of nodes already there are
    kept, so re-running after a change does not lock anyone out)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_atomic(out_dir / PLAN_FILE, plan.model_dump_json(indent=2) + "\n", 0o600)]
    users = [auth.ADMIN, *(n.name for n in plan.nodes)] if plan.auth else []
    for user in users:
        _, seed = auth.add_user(
            out_dir, plan.team, user, role="admin" if user == auth.ADMIN else "node"
        )
        written.append(seed)
    if plan.auth:
        written += [out_dir / auth.AUTH_JSON, out_dir / auth.AUTH_CONF]
    for node in plan.nodes:
        written.append(
            write_atomic(out_dir / f"nats-{node.name}.conf", render_node(plan, node.name), 0o600)
        )
    for user in users or [n.name for n in plan.nodes]:
        local = out_dir.resolve() if user == auth.ADMIN else None
        text = client_settings(plan, user, local_dir=local)
        written.append(write_atomic(out_dir / f"studio-{user}.toml", text, 0o644))
    return written


def add_client_settings(out_dir: Path, user: str) -> Path | None:
    """After `add-node`: the new node's studio.toml, when a cluster plan is there."""
    plan = load_plan(out_dir)
    if plan is None:
        return None
    return write_atomic(out_dir / f"studio-{user}.toml", client_settings(plan, user), 0o644)
