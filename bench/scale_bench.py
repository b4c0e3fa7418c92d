"""Scale benchmark: what a team of 10, 100 and 1,000 agents costs the broker, and whether every
operation stays flat as it grows.

A real 3-node nats-server cluster on loopback, with the server's default limits. For each size,
a team of its own: `agents / 20` simulated nodes of 20 agents each, each on a connection of its
own. Up to FULL_NODES of them run the daemon's own loops (`heartbeat_loop`, `awareness_loop`,
and the live mail subscription `_on_mail`), with no tmux: the agents are busy, so no wake types
anywhere. The others replay a daemon's broker traffic lean, at the wire: the same registrations,
heartbeats (`presence.node_alive` every heartbeat_s, agents' records as lifecycle.heartbeat
writes them), live mail subscription and presence watch
(the ordered consumer a roster keeps), with callbacks that drop what arrives. Fifty Python
daemons in one process on two cores would measure this machine's CPU, not the broker; on its
own machine a daemon applies its team's 200 heartbeats/s at 1,000 agents in a few ms of CPU.
A probe acts as an agent through the real MCP gateway, served in process to the SDK's own
client, and through the broker functions the gateway and CLI call. Measured at each size:

- per operation p50/p99: `send_message` (tool, to a full id), a round trip (send, then the
  recipient's fetch and confirmed ack), the unread count, `whoami`, `list_agents` and
  `studio_status` (time and result bytes), broadcast, and a 20-claimer race for one task;
- in the background (nothing but the daemons running, for BACKGROUND_S): broker messages/s in
  (all three servers' `in_msgs`: client and route traffic, i.e. replication and Raft), of which
  from clients (`/connz`), server CPU and RSS, and the consumers on the team's streams.

Targets (1,000 agents vs 10, same run): every per-operation p50 ≤ 1.5× (broadcast excepted: it
stores one copy per agent, so its target is its own: ≤ 1 s at 1,000), background broker
messages/s per agent ≤ 1.2×, consumers ≤ agents + a small constant per process.

All of it shares this machine's cores: absolute latencies include the contention of 50
simulated daemons and three servers; the ratios between sizes are what count.
Usage: `python bench/scale_bench.py [--quick] [--sizes 10,100,1000] [--json-only]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import harness
from figures import percentile, proc_cpu_s, proc_status_mb, ratio
from mcp import Client
from nats.js import api

from broker import agents, messages, presence, tasks
from broker.connection import Broker, checked_subscribe, connect
from broker.errors import TaskConflict
from broker.models import AgentInfo, AgentKind, AgentState
from broker.names import AgentId
from broker.provision import ensure_node_inbox, ensure_team
from broker.settings import load_settings
from mcp_gateway.server import build_server
from node_agent import daemon
from node_agent.state import LocalAgent, Node, Source

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the rigs live with the tests
from tests.cluster import LocalCluster

PER_NODE = 20
FULL_NODES = 5
BACKGROUND_S = 20.0
SAMPLES = 40
BROADCASTS = 3
RACES = 5
CLAIMERS = 20
SETTLE_S = 8.0


async def measure(args: Any) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [10, 100, 1000]
    if args.quick:
        sizes = [10, 40]
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        cluster = LocalCluster.create(Path(tmp) / "cluster", size=3)
        cluster.start()
        try:
            runs = {}
            for size in sizes:
                runs[str(size)] = await one_size(cluster, Path(tmp), size, args.quick)
                print(f"# {size} agents: {json.dumps(runs[str(size)])}", flush=True)
        finally:
            cluster.stop()
    return summarise(runs, sizes)


class Team:
    """One size's simulated team: its nodes' daemons, and the probe's connections."""

    def __init__(self, cluster: LocalCluster, home: Path, name: str) -> None:
        self.cluster, self.home, self.name = cluster, home, name
        self.brokers: list[Broker] = []
        self.loops: list[asyncio.Task] = []

    async def connect(self, node: str, **extra: Any) -> Broker:
        settings = load_settings(
            env={},
            nats_url=",".join(self.cluster.urls),
            team=self.name,
            node=node,
            home=self.home,
            **extra,
        )
        broker = await connect(settings, name=f"scale-{node}")
        if not self.brokers:
            await ensure_team(broker)
        self.brokers.append(broker)
        return broker

    async def start_node(self, index: int, count: int) -> list[AgentId]:
        """A node daemon's broker work for `count` agents: the daemon's own loops, or for
        nodes past FULL_NODES the same traffic replayed lean."""
        name = f"n{index}"
        broker = await self.connect(name)
        await ensure_node_inbox(broker, name)
        ids = [AgentId(name, f"a{i}") for i in range(count)]
        for agent in ids:  # one at a time, as a daemon spawns them
            await agents.register(broker, agent, AgentKind.claude)
        if index < FULL_NODES:
            await self._full_daemon(broker, ids)
        else:
            await self._lean_daemon(broker, ids)
        return ids

    async def _lean_daemon(self, broker: Broker, ids: list[AgentId]) -> None:
        async def drop(msg: Any) -> None:
            return None

        name = broker.settings.node
        await checked_subscribe(broker, broker.names.node_inbox_subjects(name), cb=drop)
        await broker.js.subscribe(
            f"$KV.{broker.names.agents_bucket}.>",
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
            inactive_threshold=5.0,
            cb=drop,
        )

        async def heartbeats() -> None:
            """The node's key every heartbeat; its busy agents' records, which do not
            change, when a third of their TTL is gone (as lifecycle.heartbeat does)."""
            written = 0.0
            while True:
                await presence.node_alive(broker)
                if time.monotonic() - written >= presence.RECORD_TTL_S / 3:
                    written = time.monotonic()
                    for agent in ids:
                        info = AgentInfo(
                            id=str(agent),
                            node=name,
                            state=AgentState.busy,
                            kind=AgentKind.claude,
                            managed=True,
                        )
                        await presence.heartbeat(broker, info)
                await asyncio.sleep(broker.settings.heartbeat_s)

        self.loops.append(asyncio.create_task(heartbeats()))

    async def _full_daemon(self, broker: Broker, ids: list[AgentId]) -> None:
        name = broker.settings.node
        node = Node(broker.settings, broker, tmux=None)  # type: ignore[arg-type]
        for agent in ids:
            node.agents[str(agent)] = LocalAgent(
                id=agent,
                kind=AgentKind.claude,
                pane_id="%0",
                window_id="@0",
                cwd="",
                state=AgentState.busy,
                source=Source.hook,
            )

        async def on_mail(msg: Any) -> None:
            await daemon._on_mail(node, msg)

        await checked_subscribe(broker, broker.names.node_inbox_subjects(name), cb=on_mail)
        self.loops += [
            asyncio.create_task(daemon.heartbeat_loop(node)),
            asyncio.create_task(daemon.awareness_loop(node)),
        ]

    async def close(self) -> None:
        for task in self.loops:
            task.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        for broker in reversed(self.brokers):
            with contextlib.suppress(Exception):
                await broker.close()

    async def drop(self, admin: Broker) -> None:
        """Delete the team's streams, so the next size starts on an idle cluster."""
        for info in await team_streams(admin, self.name):
            with contextlib.suppress(Exception):
                await admin.js.delete_stream(info.config.name or "")


async def one_size(cluster: LocalCluster, tmp: Path, size: int, quick: bool) -> dict[str, Any]:
    team = Team(cluster, tmp / f"home-{size}", f"scale{size}")
    admin = await team.connect("admin")
    try:
        nodes = max(1, size // PER_NODE)
        started = time.monotonic()
        ids = [
            a
            for batch in await asyncio.gather(
                *(team.start_node(i, min(PER_NODE, size)) for i in range(nodes))
            )
            for a in batch
        ]
        await until_all_present(admin, len(ids))
        setup_s = time.monotonic() - started
        await asyncio.sleep(SETTLE_S)  # first heartbeats, first awareness rounds
        background = await measure_background(team, admin, len(ids), nodes, quick)
        operations = await measure_operations(team, ids, quick)
        consumers = await count_consumers(admin, team.name)
        return {
            "agents": len(ids),
            "nodes": nodes,
            "setup_s": round(setup_s, 1),
            **background,
            **operations,
            "consumers_after": consumers,
        }
    finally:
        await team.close()
        cleanup = await connect(admin.settings, name="scale-cleanup")
        await team.drop(cleanup)
        await cleanup.close()


async def until_all_present(broker: Broker, count: int, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while len(await presence.live(broker)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(await presence.live(broker))} of {count} present")
        await asyncio.sleep(0.5)


def varz(cluster: LocalCluster) -> list[dict[str, Any]]:
    return [json.loads(node.monitor("/varz")) for node in cluster.nodes]


def client_msgs_in(cluster: LocalCluster) -> int:
    """Messages clients published, summed over the servers (routes excluded)."""
    total = 0
    for node in cluster.nodes:
        for conn in json.loads(node.monitor("/connz?limit=4096")).get("connections") or []:
            total += conn.get("in_msgs", 0)
    return total


async def measure_background(
    team: Team, admin: Broker, count: int, nodes: int, quick: bool
) -> dict[str, Any]:
    cluster = team.cluster
    window = BACKGROUND_S / 4 if quick else BACKGROUND_S
    pids = [n.pid for n in cluster.nodes if n.pid]
    before, cpu_before, t0 = varz(cluster), [proc_cpu_s(p)[0] for p in pids], time.monotonic()
    clients_before = client_msgs_in(cluster)
    await asyncio.sleep(window)
    after, cpu_after, elapsed = varz(cluster), [proc_cpu_s(p)[0] for p in pids], time.monotonic()
    clients = client_msgs_in(cluster) - clients_before
    elapsed -= t0
    msgs_in = sum(a["in_msgs"] - b["in_msgs"] for a, b in zip(after, before, strict=True))
    cpu = sum(a - b for a, b in zip(cpu_after, cpu_before, strict=True)) / elapsed
    live = len(await presence.live(admin))
    consumers = await count_consumers(admin, team.name)
    return {
        "background_msgs_per_s": round(msgs_in / elapsed, 1),
        "background_msgs_per_s_per_agent": round(msgs_in / elapsed / count, 3),
        "background_client_msgs_per_s_per_agent": round(clients / elapsed / count, 3),
        "server_cpu_pct_sum": round(100 * cpu, 1),
        "server_rss_mb": [proc_status_mb(p) for p in pids],
        "live_agents": live,
        "consumers": consumers,
        # The probe's and admin's processes count too: a watch per bucket each lists.
        "processes": nodes + 2,
    }


async def team_streams(broker: Broker, team: str) -> list[api.StreamInfo]:
    """The streams of `team` (inboxes and KV buckets): its name is one token of theirs."""
    found = await broker.js.streams_info()
    return [i for i in found if team.upper() in (i.config.name or "").upper().split("_")]


async def count_consumers(broker: Broker, team: str) -> int:
    return sum(info.state.consumer_count for info in await team_streams(broker, team))


async def measure_operations(team: Team, ids: list[AgentId], quick: bool) -> dict[str, Any]:
    samples = SAMPLES // 4 if quick else SAMPLES
    me = AgentId("probe", "p1")
    probe = await team.connect("probe", agent_id=str(me))
    await ensure_node_inbox(probe, "probe")
    await agents.register(probe, me, AgentKind.claude)
    server = build_server(probe.settings, broker=probe)
    timings: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    targets = [ids[(i * 7919) % len(ids)] for i in range(samples)]

    async def timed(name: str, op: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        result = await op()
        timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return result

    async with Client(server) as client:

        async def tool(name: str, **arguments: Any) -> int:
            result = await client.call_tool(name, arguments)
            if result.is_error:
                raise RuntimeError(f"{name}: {result.content}")
            text = "".join(getattr(c, "text", "") for c in result.content)
            return len(text.encode()) + len(json.dumps(result.structured_content or {}))

        for _ in range(3):  # warm: first calls load the tool schemas and open the watches
            await tool("whoami")
            await tool("list_agents")
            await tool("studio_status")
        for i, target in enumerate(targets):
            body = f"m{i}"
            await timed("send", lambda t=target, b=body: tool("send_message", to=str(t), body=b))
            await timed("round_trip", lambda t=target: round_trip(probe, me, t))
            await timed("unread", lambda t=target: messages.unread_count(probe, t))
            await timed("whoami", lambda: tool("whoami"))
            sizes["list_agents"] = await timed("list_agents", lambda: tool("list_agents"))
            sizes["studio_status"] = await timed("studio_status", lambda: tool("studio_status"))
        for _ in range(BROADCASTS):
            copies = await timed("broadcast", lambda: messages.broadcast(probe, me, "heads-up"))
            assert len(copies) == len(ids), "a broadcast reaches every agent"
        for _ in range(RACES):
            await timed("claim_race", lambda: claim_race(probe, me, ids))
    return {
        "ops_ms": {
            name: {"p50": round(percentile(v, 50), 2), "p99": round(percentile(v, 99), 2)}
            for name, v in timings.items()
        },
        "result_bytes": sizes,
    }


async def round_trip(probe: Broker, me: AgentId, to: AgentId) -> None:
    """A message there and read: the recipient's fetch waits for it, its ack is confirmed."""
    sent = await messages.send(probe, me, str(to), "ping")
    while True:
        for delivery in await messages.fetch(probe, to, limit=100, wait_s=2):
            await delivery.ack()
            if delivery.message.id == sent.id:
                return


async def claim_race(probe: Broker, me: AgentId, ids: list[AgentId]) -> None:
    task = await tasks.create(probe, me, "race")
    claimers = ids[:CLAIMERS]

    async def claim(agent: AgentId) -> bool:
        try:
            await tasks.claim(probe, agent, task.id)
            return True
        except TaskConflict:
            return False

    won = await asyncio.gather(*(claim(a) for a in claimers))
    assert sum(won) == 1, f"exactly one claimer wins, not {sum(won)}"


def summarise(runs: dict[str, dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    small, large = runs[str(sizes[0])], runs[str(sizes[-1])]
    op_ratios = {
        name: ratio(large["ops_ms"][name]["p50"], small["ops_ms"][name]["p50"])
        for name in small["ops_ms"]
    }
    flat = {name: r for name, r in op_ratios.items() if name != "broadcast"}
    per_agent = ratio(
        large["background_msgs_per_s_per_agent"], small["background_msgs_per_s_per_agent"]
    )
    consumer_slack = large["consumers_after"] - large["agents"]
    checks = {
        "ops_p50_within_1_5x": all(r <= 1.5 for r in flat.values()),
        "broadcast_to_largest_within_1s": large["ops_ms"]["broadcast"]["p50"] <= 1000
        or large["agents"] < 1000,
        "background_per_agent_within_1_2x": per_agent <= 1.2,
        # Per process: a watch on presence and on the registry (daemon and probe), a leases
        # and tasks watch where a process read those; the probe's inbox cursor.
        "consumers_within_agents_plus_4_per_process": consumer_slack <= 4 * large["processes"],
        "every_agent_present": all(r["live_agents"] >= r["agents"] for r in runs.values()),
    }
    return {
        "bench": "scale",
        "sizes": sizes,
        "runs": runs,
        "p50_ratio_largest_vs_smallest": op_ratios,
        "background_per_agent_ratio": per_agent,
        "consumers_beyond_agents": consumer_slack,
        "targets": checks,
        "all_targets_met": all(checks.values()),
        "cpus": os.cpu_count(),
    }


def table(result: dict[str, Any]) -> str:
    sizes = result["sizes"]
    runs = [result["runs"][str(s)] for s in sizes]
    lines = ["agents".ljust(26) + "".join(f"{s:>12}" for s in sizes)]

    def row(label: str, values: list[Any]) -> None:
        lines.append(label.ljust(26) + "".join(f"{v:>12}" for v in values))

    for name in runs[0]["ops_ms"]:
        row(
            f"{name} p50/p99 ms",
            [f"{r['ops_ms'][name]['p50']}/{r['ops_ms'][name]['p99']}" for r in runs],
        )
    row("list_agents bytes", [r["result_bytes"]["list_agents"] for r in runs])
    row("studio_status bytes", [r["result_bytes"]["studio_status"] for r in runs])
    row("bg msgs/s", [r["background_msgs_per_s"] for r in runs])
    row("bg msgs/s per agent", [r["background_msgs_per_s_per_agent"] for r in runs])
    row("  of which clients'", [r["background_client_msgs_per_s_per_agent"] for r in runs])
    row("server CPU % (sum of 3)", [r["server_cpu_pct_sum"] for r in runs])
    row("server RSS MB (max)", [max(r["server_rss_mb"]) for r in runs])
    row("consumers", [r["consumers_after"] for r in runs])
    row("live agents", [r["live_agents"] for r in runs])
    lines.append(f"p50 ratios {sizes[-1]} vs {sizes[0]}: {result['p50_ratio_largest_vs_smallest']}")
    lines.append(f"targets: {result['targets']}")
    return "\n".join(lines)


def main() -> int:
    parser = harness.parser(__doc__ or "")
    parser.add_argument("--sizes", help="comma-separated team sizes (default 10,100,1000)")
    return harness.run_async(parser.parse_args(), measure, table)


if __name__ == "__main__":
    raise SystemExit(main())
