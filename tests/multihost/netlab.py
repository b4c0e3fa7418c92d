"""Three (or more) "hosts" on one machine: network namespaces joined by a bridge.

Layout: a bridge namespace holds `br0`; each host namespace gets a veth pair whose outer end
sits on the bridge, and whose inner end (`eth0`) carries the host's address in 10.231.0.0/24.
The root namespace gets no address and no route, so test traffic never leaves the lab, and
taking a host's outer veth end down partitions exactly that host.

Servers run inside their host's namespace (`ip netns exec`); their monitoring port listens on
that namespace's loopback, reached from a thread that has joined the namespace (setns applies
to the calling thread only, so the rest of the test process stays where it was).

Used by tests/multihost and bench/cluster_bench.py. Needs root and `ip` (iproute2).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from studio_cli.ops import cluster_config
from studio_cli.ops.server import ServerProcess
from tests.cluster import LocalCluster

T = TypeVar("T")
SUBNET = "10.231.0"
CLONE_NEWNET = 0x40000000
REPO = Path(__file__).resolve().parents[2]


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here (None when they can)."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs these tests as root)"
    if not shutil.which("ip"):
        return "`ip` (iproute2) is not installed"
    probe = f"stprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh thread that has joined `netns` (sockets it opens live there)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass
class NetLab:
    """The namespaces and links; `destroy` removes everything `create` made."""

    hosts: list[str]
    prefix: str = field(default_factory=lambda: f"st{os.getpid()}")
    addresses: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}-br"

    def netns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def _veth(self, host: str) -> str:
        return f"v{self.hosts.index(host)}"

    def create(self) -> NetLab:
        try:
            _ip("netns", "add", self.bridge_ns)
            self.created.append(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "set", "lo", "up")
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            for i, host in enumerate(self.hosts):
                ns, veth = self.netns(host), self._veth(host)
                _ip("netns", "add", ns)
                self.created.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", self.bridge_ns, "link", "add", veth, "type", "veth",
                    "peer", "name", "eth0", "netns", ns)  # fmt: skip
                _ip("-n", self.bridge_ns, "link", "set", veth, "master", "br0")
                _ip("-n", self.bridge_ns, "link", "set", veth, "up")
                address = f"{SUBNET}.{11 + i}"
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                self.addresses[host] = address
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        """Deleting a namespace removes its veth ends and the bridge with it."""
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created.clear()

    def set_link(self, host: str, up: bool) -> None:
        """Cable in or out: the host keeps its address, but no frame crosses the bridge."""
        _ip("-n", self.bridge_ns, "link", "set", self._veth(host), "up" if up else "down")

    def exec_prefix(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns(host)]


@dataclass
class NetnsServer(ServerProcess):
    """A nats-server started inside a host's namespace."""

    netns: str = ""

    def command(self) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *super().command()]

    def monitor(self, path: str) -> bytes:
        return in_netns(self.netns, lambda: ServerProcess.monitor(self, path))

    def restart(self, timeout: float = 30.0) -> None:
        self.spawn()
        self.wait_ready(timeout)


@dataclass
class Deployment:
    """A cluster made with `studio broker cluster-config`, one server per lab host."""

    lab: NetLab
    directory: Path
    plan: cluster_config.ClusterPlan
    cluster: LocalCluster

    @property
    def team(self) -> str:
        return self.plan.team

    def server(self, host: str) -> NetnsServer:
        return self.cluster.node(host)  # type: ignore[return-value]

    def client_settings(self, user: str, **overrides: Any) -> dict[str, Any]:
        """Settings for an agent process: the user's generated studio.toml, plus overrides."""
        values: dict[str, Any] = {"config": str(self.directory / f"studio-{user}.toml")}
        values.update(overrides)
        return values

    def stream_leader(self, stream: str) -> str | None:
        """Which server leads `stream`, from any live server's monitoring endpoint."""
        for node in self.cluster.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            try:
                data = json.loads(node.monitor("/jsz?streams=true&accounts=true"))
            except (OSError, ValueError):
                continue
            for account in data.get("account_details", []):
                for info in account.get("stream_detail", []):
                    if info.get("name") == stream:
                        return (info.get("cluster") or {}).get("leader")
        return None


def deploy(
    lab: NetLab,
    directory: Path,
    *,
    team: str,
    tls: bool = False,
    port_base: int = 4222,
) -> Deployment:
    """Write configs with the real CLI, then start one server per host in its namespace."""
    from studio_cli.main import main as studio

    argv = ["--team", team, "broker", "cluster-config", "--nodes", ",".join(lab.hosts)]
    for host in lab.hosts:
        argv += ["--host-of", f"{host}={lab.addresses[host]}"]
    argv += [
        "--out", str(directory),
        "--install-dir", str(directory),
        "--store-root", str(directory / "store"),
        "--port", str(port_base),
        "--cluster-port", str(port_base + 2000),
        "--monitor-port", str(port_base + 4000),
    ]  # fmt: skip
    if tls:
        argv.append("--tls")
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        status = studio(argv)
    if status != 0:
        raise RuntimeError(f"studio {' '.join(argv)} failed: {report.getvalue()}")
    plan = cluster_config.load_plan(directory)
    assert plan is not None
    nodes = [
        NetnsServer(
            spec=cluster_config.node_spec(plan, host),
            config_path=directory / f"nats-{host}.conf",
            log_path=directory / f"nats-{host}.log",
            netns=lab.netns(host),
        )
        for host in lab.hosts
    ]
    cluster = LocalCluster(nodes)  # type: ignore[arg-type]
    deployment = Deployment(lab=lab, directory=directory, plan=plan, cluster=cluster)
    try:
        cluster.start(timeout=30)
        provision(deployment)
    except BaseException:
        cluster.stop()
        raise
    return deployment


def provision(deployment: Deployment) -> None:
    """What the operator does once with the admin credentials (`studio broker provision`):
    the team's streams and every node's inbox, from the first host."""
    from broker.connection import connect
    from broker.provision import ensure_node_inbox, ensure_team
    from broker.settings import load_settings

    settings = load_settings(
        env={"STUDIO_CONFIG": str(deployment.directory / "studio-admin.toml")},
        home=deployment.directory / "admin-home",
    )

    async def run() -> None:
        broker = await connect(settings, name="provision")
        await ensure_team(broker)
        try:
            for host in deployment.lab.hosts:
                await ensure_node_inbox(broker, host)
        finally:
            await broker.close()

    in_netns(deployment.lab.netns(deployment.lab.hosts[0]), lambda: asyncio.run(run()))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


class RemoteError(Exception):
    """An operation failed in an agent process; `type` names the exception class there."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class AgentProc:
    """The test side of tests/multihost/agent_proc.py: one client process on one lab host."""

    def __init__(self, host: str, process: Any) -> None:
        self.host = host
        self.process = process
        self._ids = iter(range(1, 1 << 62))
        self._waiting: dict[int, Any] = {}
        self._reader: Any = None

    @classmethod
    async def start(
        cls, lab: NetLab, host: str, settings: dict[str, Any], log: Path, start_s: float = 30.0
    ) -> AgentProc:
        """Start the process in `host`'s namespace; its stderr (logs) goes to `log`."""
        with log.open("ab") as err:
            process = await asyncio.create_subprocess_exec(
                *lab.exec_prefix(host), sys.executable, "-m", "tests.multihost.agent_proc",
                json.dumps(settings),
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                limit=64 * 1024 * 1024, start_new_session=True,
            )  # fmt: skip
        proc = cls(host, process)
        try:
            line = await asyncio.wait_for(process.stdout.readline(), start_s)
            hello = json.loads(line or b'{"ready": false, "error": "exited"}')
        except BaseException:
            await proc.close()
            raise
        if not hello.get("ready"):
            await proc.close()
            raise RemoteError("ConnectFailed", f"{hello.get('error')} {_tail(log)}")
        proc._reader = asyncio.create_task(proc._read())
        return proc

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            answer = json.loads(line)
            future = self._waiting.pop(answer["id"], None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RemoteError("Exited", f"agent process on {self.host}"))

    async def call(self, op: str, limit_s: float = 60.0, **args: Any) -> Any:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        line = json.dumps({"id": request_id, "op": op, "args": args}) + "\n"
        self.process.stdin.write(line.encode())
        await self.process.stdin.drain()
        answer = await asyncio.wait_for(future, limit_s)
        if not answer["ok"]:
            raise RemoteError(answer["type"], answer["error"])
        return answer["result"]

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
