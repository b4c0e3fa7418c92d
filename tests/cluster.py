"""Test and benchmark rigs for nats-server: an N-node JetStream cluster on loopback ports, and
the crash a failover test wants. They build on the product's ServerProcess (studio_cli.ops)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import structlog

from broker.errors import BrokerUnavailable
from studio_cli.ops.server import NodeSpec, ServerProcess

log = structlog.get_logger(__name__)


def distinct_ports(count: int) -> list[int]:
    """`count` free loopback ports, different from each other: all held open while chosen."""
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in held:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in held]


def crash(server: ServerProcess) -> None:
    """SIGKILL, no clean JetStream shutdown: what a failover test wants."""
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait(5)


@dataclass
class LocalCluster:
    """An N-node JetStream cluster on loopback ports, each node in its own directory."""

    nodes: list[ServerProcess]

    @classmethod
    def create(cls, base_dir: Path, size: int = 3) -> LocalCluster:
        specs = [
            NodeSpec(name=f"n{i + 1}", store_dir=base_dir / f"n{i + 1}" / "jetstream")
            for i in range(size)
        ]
        # Three ports per node, all distinct: one free port asked for at a time may come back
        # twice (each is released before the next is asked for), and a node then cannot bind.
        ports = iter(distinct_ports(3 * size))
        for spec in specs:
            spec.port, spec.monitor_port, spec.cluster_port = next(ports), next(ports), next(ports)
        routes = [s.route_url for s in specs]
        nodes = []
        for spec in specs:
            spec.routes = routes
            node_dir = base_dir / spec.name
            node_dir.mkdir(parents=True, exist_ok=True)
            nodes.append(ServerProcess(spec, node_dir / "nats.conf", node_dir / "nats.log"))
        return cls(nodes)

    @property
    def urls(self) -> list[str]:
        return [n.spec.url for n in self.nodes]

    def node(self, name: str) -> ServerProcess:
        return next(n for n in self.nodes if n.spec.name == name)

    def start(self, timeout: float = 30.0) -> None:
        """Start every node and wait for a meta leader; a node that fails takes the others
        down with it (nothing outlives a failed start)."""
        try:
            for node in self.nodes:
                node.spawn()
            for node in self.nodes:
                node.wait_ready(timeout)
            self.wait_meta_leader(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("nats_cluster_started", urls=self.urls)

    def wait_meta_leader(self, timeout: float = 30.0) -> str:
        """Healthy nodes can still lack a JetStream meta leader for a moment, and until one is
        elected every stream API call times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is None or node.process.poll() is not None:
                    continue
                try:
                    meta = json.loads(node.monitor("/jsz")).get("meta_cluster", {})
                except (urllib.error.URLError, OSError, ValueError):
                    continue
                # Also wait until the leader sees every live peer as current: before that,
                # creating an R3 stream fails with "no suitable peers for placement".
                live = sum(1 for n in self.nodes if n.process and n.process.poll() is None)
                peers = [r for r in meta.get("replicas") or [] if r.get("current")]
                if meta.get("leader") and len(peers) >= live - 1:
                    return meta["leader"]
            time.sleep(0.1)
        raise BrokerUnavailable(f"no JetStream meta leader after {timeout:.0f}s")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
