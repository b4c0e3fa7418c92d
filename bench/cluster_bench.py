"""Cluster benchmark: cross-host latency through a 3-node R3 cluster, and failover time.

Three network namespaces play three hosts (tests/multihost/netlab.py), one nats-server in
each, deployed with `studio broker cluster-config` (per-node nkeys; `--tls` adds TLS). An
agent process on host a sends to an agent on host b, which echoes every message back:

- studio round trip: `messages.send` a→b, b's `fetch` + `ack` + `send` back, a's `fetch` +
  `ack`, all with node credentials (so the permission checks are in the path).
- raw round trip: the same shape in plain nats-py over the same servers and network: a
  JetStream publish to an R3 stream, a pull consumer `fetch(1)`, `ack`, publish back.
  Studio and raw run in alternating blocks in the same run, so drift on a shared 2-core box
  hits both alike. Stream and consumer leaders land where the cluster puts them (printed),
  which is the main source of spread between runs.
- failover: a sends one message after another to b; the server leading b's inbox stream is
  SIGKILLed; `failover_s` is the time from the kill to the completion of the first send
  started after it (every send is retried with its message id until a new leader takes it).

Output: a table, then as the LAST line one JSON object with at least
`xhost_roundtrip_p50_ms`, `raw_xhost_roundtrip_p50_ms`, `failover_s`.
Usage (root, Linux): `python bench/cluster_bench.py [--quick] [--tls] [--samples N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cluster import crash  # noqa: E402
from tests.multihost.netlab import (  # noqa: E402
    AgentProc,
    Deployment,
    NetLab,
    deploy,
    unavailable_reason,
)

BLOCK = 25


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def start(lab: NetLab, dep: Deployment, host: str, user: str, base: Path) -> AgentProc:
    settings = dep.client_settings(
        user, home=str(base / f"home-{host}-{user}"), nats_url=",".join(dep.plan.client_urls(host))
    )
    return await AgentProc.start(lab, host, settings, log=base / f"agent-{host}-{user}.log")


async def latency(dep: Deployment, base: Path, samples: int) -> dict:
    lab = dep.lab
    a, b = await asyncio.gather(start(lab, dep, "a", "a", base), start(lab, dep, "b", "b", base))
    raw_a, raw_b = await asyncio.gather(
        start(lab, dep, "a", "admin", base), start(lab, dep, "b", "admin", base)
    )
    procs = [a, b, raw_a, raw_b]
    try:
        await a.call("register", agent="a.ann")
        await b.call("register", agent="b.ben")
        await b.call("echo_start", agent="b.ben")
        await raw_a.call("raw_setup", stream="RAW_TO_B", subject="raw.to.b")
        await raw_a.call("raw_setup", stream="RAW_TO_A", subject="raw.to.a")
        await raw_b.call("raw_echo_start", inbound="RAW_TO_B", outbound="raw.to.a")
        # warm up both paths (connections, consumers, first leader lookups)
        await a.call("pingpong", agent="a.ann", peer="b.ben", count=10)
        await raw_a.call("raw_pingpong", inbound="RAW_TO_A", outbound="raw.to.b", count=10)
        studio_ms: list[float] = []
        raw_ms: list[float] = []
        while len(studio_ms) < samples:
            n = min(BLOCK, samples - len(studio_ms))
            studio_ms += await a.call("pingpong", agent="a.ann", peer="b.ben", count=n)
            raw_ms += await raw_a.call(
                "raw_pingpong", inbound="RAW_TO_A", outbound="raw.to.b", count=n
            )
        team = dep.team.upper()
        leaders = {
            name: dep.stream_leader(name)
            for name in (f"STUDIO_{team}_INBOX_A", f"STUDIO_{team}_INBOX_B", "RAW_TO_A", "RAW_TO_B")
        }
        return {"studio": studio_ms, "raw": raw_ms, "leaders": leaders}
    finally:
        for proc in procs:
            await proc.close()


async def failover(dep: Deployment, base: Path) -> dict:
    lab = dep.lab
    a, b = await asyncio.gather(start(lab, dep, "a", "a", base), start(lab, dep, "b", "b", base))
    try:
        await b.call("register", agent="b.ben2")
        await a.call("register", agent="a.ann2")
        victim = dep.stream_leader(f"STUDIO_{dep.team.upper()}_INBOX_B")
        await a.call("send_loop_start", name="fo", sender="a.ann2", to="b.ben2")
        await asyncio.sleep(1.5)
        killed_at = time.monotonic()
        crash(dep.server(victim))
        await asyncio.sleep(15)
        times = await a.call("send_loop_stop", name="fo")
        after = [end for start_, end in times if start_ >= killed_at]
        before = [t for t in times if t[1] < killed_at]
        if not after:
            raise RuntimeError("no send succeeded within 15 s of the kill")
        got = await b.call("drain", agent="b.ben2", count=len(times), idle_s=5)
        return {
            "failover_s": min(after) - killed_at,
            "killed": victim,
            "sends_before_kill": len(before),
            "sends_total": len(times),
            "received": len(got["ids"]),
            "received_unique": len(set(got["ids"])),
        }
    finally:
        for proc in (a, b):
            await proc.close()


async def run(args: argparse.Namespace) -> dict:
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cluster_bench: cannot run here: {reason}")
    samples = 100 if args.quick else args.samples
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        base = Path(tmp)
        lab = NetLab(["a", "b", "c"], prefix=f"stb{os.getpid()}").create()
        try:
            dep = deploy(lab, base / "deploy", team="bench", tls=args.tls, port_base=4222)
            try:
                measured = await latency(dep, base, samples)
                fail = await failover(dep, base)
            finally:
                dep.cluster.stop()
        finally:
            lab.destroy()
    studio_ms, raw_ms = measured["studio"], measured["raw"]
    result = {
        "xhost_roundtrip_p50_ms": round(statistics.median(studio_ms), 3),
        "xhost_roundtrip_p99_ms": round(percentile(studio_ms, 99), 3),
        "raw_xhost_roundtrip_p50_ms": round(statistics.median(raw_ms), 3),
        "raw_xhost_roundtrip_p99_ms": round(percentile(raw_ms, 99), 3),
        "overhead_ratio_p50": round(statistics.median(studio_ms) / statistics.median(raw_ms), 2),
        "samples": len(studio_ms),
        "failover_s": round(fail["failover_s"], 3),
        "failover_killed": fail["killed"],
        # A send cancelled mid-flight when the loop stopped may also have landed: only
        # acknowledged sends count as sent.
        "failover_lost": max(0, fail["sends_total"] - fail["received_unique"]),
        "failover_duplicates": fail["received"] - fail["received_unique"],
        "tls": args.tls,
        "leaders": measured["leaders"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 round trips per side")
    parser.add_argument("--samples", type=int, default=500, help="round trips per side")
    parser.add_argument("--tls", action="store_true", help="deploy with TLS required")
    args = parser.parse_args()
    from broker.logs import configure_logging

    configure_logging("warning")
    result = asyncio.run(run(args))
    print(f"{'cross-host round trip (ms)':30} {'p50':>8} {'p99':>8}")
    print(
        f"{'studio (send/fetch/ack x2)':30} {result['xhost_roundtrip_p50_ms']:8.2f} "
        f"{result['xhost_roundtrip_p99_ms']:8.2f}"
    )
    print(
        f"{'raw nats-py, same path':30} {result['raw_xhost_roundtrip_p50_ms']:8.2f} "
        f"{result['raw_xhost_roundtrip_p99_ms']:8.2f}"
    )
    print(
        f"failover: {result['failover_s']:.2f}s from SIGKILL of {result['failover_killed']} "
        f"(stream leader) to the first send that started after it; lost "
        f"{result['failover_lost']}, duplicates {result['failover_duplicates']}"
    )
    print(f"leaders: {result['leaders']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
