"""Studio broker benchmark: every studio operation next to raw nats-py doing the same work.

Why both in one run: latency on a shared 2-core box drifts with whatever else runs, so an
absolute number says little. Running studio and raw nats-py against the same fresh embedded
server, interleaved in small alternating blocks, makes the ratio (the cost the studio layer
adds) robust to that drift.

What is compared (studio → raw equivalent):
- send: `messages.send` → `js.publish` of a same-shape JSON message with a `Nats-Msg-Id`
  header, to a stream with the inbox stream's exact config and as many consumers.
- round trip: send, `messages.fetch(limit=1)`, `messages.ack` → publish, pull-consumer
  `fetch(1)`, `msg.ack_sync()` (studio's acks wait for the server's confirmation), on a
  consumer with the agent cursor's exact config.
- claim: `tasks.claim` → `kv.get` + `kv.update(last=rev)` on a bucket with the task board's
  config (claim also emits a task event: that is part of what a claim costs).
- throughput: concurrent sends in windows of in-flight requests, same window both sides.
- depth: send and round trip with `depth` (100,000) unread messages in the inbox, interleaved
  with the same operations on a near-empty inbox of the same stream.

Program output is a table, then, as the LAST line, one JSON object (see `summarize`).
Usage: `python bench/broker_bench.py [--quick] [--json-only] [--strict]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import harness
import nats
import structlog
from figures import percentile, proc_status_mb, ratio, rotations
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from broker import agents, messages, tasks
from broker.connection import Broker, connect
from broker.logs import configure_logging
from broker.models import Message
from broker.names import AgentId
from broker.provision import ensure_team
from broker.settings import load_settings
from studio_cli.ops.server import ServerProcess, single_node

log = structlog.get_logger("bench")

TEAM = "bench"
DEEP_INBOX_BYTES = 1024**3
NODE = "n1"
RAW_STREAM = "RAW_BENCH_INBOX"
RAW_PREFIX = "raw.bench.msg"
RAW_BUCKET = "raw_bench_tasks"
ALICE = AgentId(NODE, "alice")  # the sender
# One recipient per measurement, so no phase reads another phase's leftovers.
BOB = AgentId(NODE, "bob")  # send latency, near-empty inbox
CAROL = AgentId(NODE, "carol")  # round trip, near-empty inbox
DAVE = AgentId(NODE, "dave")  # throughput
ERIN = AgentId(NODE, "erin")  # the deep inbox
FAY = AgentId(NODE, "fay")  # send latency, near-empty, while erin is deep
AGENTS = (ALICE, BOB, CAROL, DAVE, ERIN, FAY)
READERS = (CAROL, ERIN)  # the inboxes that round trips read from
# A realistic agent-to-agent note: a few hundred bytes of UTF-8 text.
BODY = (
    "Renamed `broker.publish.kv_write` to take `last=` explicitly; callers in tasks.py and "
    "leases.py are updated on branch feat/cas. Please rebase before touching leases.py, and "
    "tell me if the MCP gateway still imports the old name anywhere. Tests pass locally."
)

# Targets from the issue: ratio ceilings (studio / raw, or deep / near-empty) and a floor.
SEND_VS_RAW_MAX = 1.3
ROUNDTRIP_VS_RAW_MAX = 1.3
DEPTH_VS_EMPTY_MAX = 1.2
THROUGHPUT_MIN = 5_000.0
FILL_TIMEOUT_S = 120.0
FILL_CHUNK = 2_000

# One timed operation: runs once and returns its own latency in milliseconds (so an operation
# can keep untimed setup or cleanup, like reopening a claimed task, out of its number).
Op = Callable[[], Awaitable[float]]


@dataclass(frozen=True)
class Plan:
    """Sample sizes. The full plan takes about a minute on 2 cores."""

    warmup: int = 300
    samples: int = 2_000
    block: int = 100
    claim_samples: int = 1_000
    throughput_msgs: int = 10_000
    throughput_block: int = 1_000
    window: int = 200
    depth: int = 100_000
    depth_samples: int = 2_000


QUICK = Plan(
    warmup=30,
    samples=200,
    block=50,
    claim_samples=100,
    throughput_msgs=1_000,
    throughput_block=500,
    window=100,
    depth=2_000,
    depth_samples=200,
)


@dataclass
class Rig:
    """The two clients and their targets, set up once so no sample pays for provisioning."""

    broker: Broker
    nc: NATS
    js: JetStreamContext
    kv: KeyValue
    pulls: dict[AgentId, JetStreamContext.PullSubscription] = field(default_factory=dict)
    task_id: str = ""
    raw_key: str = "task.1"
    # Studio fetches that came back empty right after the send was acknowledged.
    empty_fetches: int = 0


# ---------------------------------------------------------------- statistics and output


# ---------------------------------------------------------------- raw payloads and subjects


def raw_subject(to: AgentId, sender: AgentId) -> str:
    """Same token layout as the studio subject, on the raw stream's prefix."""
    return f"{RAW_PREFIX}.{to.node}.{to.name}.{sender.node}.{sender.name}"


def raw_filter(agent: AgentId) -> str:
    return f"{RAW_PREFIX}.{agent.node}.{agent.name}.>"


def raw_message(sender: AgentId, to: AgentId) -> tuple[str, bytes]:
    """What a hand-written client would send: a fresh id and a JSON document of the same
    fields and size as a studio Message, serialized per message (that cost is real)."""
    msg_id = secrets.token_hex(13)
    doc = {
        "id": msg_id,
        "sender": str(sender),
        "to": str(to),
        "subject": "",
        "body": BODY,
        "thread_id": msg_id,
        "reply_to": None,
        "importance": "normal",
        "broadcast": False,
        "created_at": datetime.now(UTC).isoformat(),
    }
    return msg_id, json.dumps(doc).encode()


def studio_payload(sender: AgentId, to: AgentId) -> tuple[str, bytes]:
    """A valid studio Message, for filling an inbox fast without going through `send`."""
    message = Message(sender=str(sender), to=str(to), body=BODY)
    message.thread_id = message.id
    return message.id, message.model_dump_json().encode()


# ---------------------------------------------------------------- setup


async def start_rig(server: ServerProcess, home: Path) -> Rig:
    # The deep-inbox phase stores 100,000 unread messages in one node's inbox: more than the
    # default inbox byte limit (64 MiB) allows, so this bench raises it.
    settings = load_settings(
        env={}, nats_url=server.spec.url, team=TEAM, node=NODE, home=home,
        inbox_max_bytes=DEEP_INBOX_BYTES,
    )  # fmt: skip
    broker = await connect(settings, name="bench-studio")
    await ensure_team(broker)
    nc = await nats.connect(server.spec.url, name="bench-raw")
    js = nc.jetstream(timeout=settings.request_timeout_s)
    rig = Rig(broker=broker, nc=nc, js=js, kv=await mirror_task_bucket(broker, js))
    for agent in AGENTS:
        await agents.register(broker, agent)
    await mirror_inbox(rig)
    task = await tasks.create(broker, ALICE, "benchmark claim target")
    rig.task_id = task.id
    await rig.kv.put(rig.raw_key, task.model_dump_json(exclude={"revision"}).encode())
    return rig


async def mirror_inbox(rig: Rig) -> None:
    """The raw stream and cursors copy the studio ones' configs (and count: the server matches
    every stored message against each consumer's filter), so the server does the same work
    for both sides: retention, dedupe window, storage, ack policy."""
    stream = rig.broker.names.inbox_stream(NODE)
    config = (await rig.js.stream_info(stream)).config
    await rig.js.add_stream(replace(config, name=RAW_STREAM, subjects=[f"{RAW_PREFIX}.>"]))
    for agent in AGENTS:
        info = await rig.js.consumer_info(stream, agents.inbox_consumer(agent))
        name = f"raw_{agent.token}"
        await rig.js.add_consumer(
            RAW_STREAM,
            replace(info.config, name=name, durable_name=name, filter_subject=raw_filter(agent)),
        )
    for agent in READERS:
        rig.pulls[agent] = await rig.js.pull_subscribe_bind(
            durable=f"raw_{agent.token}", stream=RAW_STREAM
        )


async def mirror_task_bucket(broker: Broker, js: JetStreamContext) -> KeyValue:
    """A raw bucket with the task board's exact stream config (history, storage, direct)."""
    config = (await js.stream_info(f"KV_{broker.names.tasks_bucket}")).config
    await js.add_stream(replace(config, name=f"KV_{RAW_BUCKET}", subjects=[f"$KV.{RAW_BUCKET}.>"]))
    return await js.key_value(RAW_BUCKET)


async def close_rig(rig: Rig) -> None:
    await rig.broker.close()
    await rig.nc.drain()


# ---------------------------------------------------------------- the timed operations


def elapsed_ms(start_ns: int) -> float:
    return (time.perf_counter_ns() - start_ns) / 1e6


def studio_send(rig: Rig, to: AgentId) -> Op:
    async def op() -> float:
        start = time.perf_counter_ns()
        await messages.send(rig.broker, ALICE, str(to), BODY)
        return elapsed_ms(start)

    return op


def raw_publish(rig: Rig, to: AgentId) -> Op:
    subject = raw_subject(to, ALICE)

    async def op() -> float:
        start = time.perf_counter_ns()
        msg_id, payload = raw_message(ALICE, to)
        await rig.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
        return elapsed_ms(start)

    return op


def studio_roundtrip(rig: Rig, reader: AgentId) -> Op:
    """Send one, read one (the oldest unread: with a deep inbox that is not the one just
    sent, which is the point), ack it. A no-wait fetch can miss a message whose send was
    just acknowledged; the sample then long-polls for it (the user would call again) and
    the miss is counted, since raw nats-py's fetch(1) waits by design."""

    async def op() -> float:
        start = time.perf_counter_ns()
        await messages.send(rig.broker, ALICE, str(reader), BODY)
        got = await messages.fetch(rig.broker, reader, limit=1, wait_s=0)
        if not got:
            rig.empty_fetches += 1
            got = await messages.fetch(rig.broker, reader, limit=1, wait_s=2)
        await messages.ack(got)
        return elapsed_ms(start)

    return op


def raw_roundtrip(rig: Rig, reader: AgentId) -> Op:
    subject = raw_subject(reader, ALICE)
    pull = rig.pulls[reader]

    async def op() -> float:
        start = time.perf_counter_ns()
        msg_id, payload = raw_message(ALICE, reader)
        await rig.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
        got = await pull.fetch(1, timeout=5)
        json.loads(got[0].data)  # the studio side parses what it reads too
        await got[0].ack_sync()
        return elapsed_ms(start)

    return op


def studio_claim(rig: Rig) -> Op:
    """Time the claim only; reopening the task afterwards (so it can be claimed again) is
    untimed cleanup."""

    async def op() -> float:
        start = time.perf_counter_ns()
        await tasks.claim(rig.broker, BOB, rig.task_id)
        took = elapsed_ms(start)
        await tasks.update(rig.broker, BOB, rig.task_id, status="open")
        return took

    return op


def raw_cas(rig: Rig) -> Op:
    """Read, decide, compare-and-set: the raw shape of a claim."""

    async def op() -> float:
        start = time.perf_counter_ns()
        entry = await rig.kv.get(rig.raw_key)
        doc = json.loads(entry.value)
        doc["status"] = "claimed" if doc["status"] == "open" else "open"
        doc["assignee"] = str(BOB)
        await rig.kv.update(rig.raw_key, json.dumps(doc).encode(), last=entry.revision)
        return elapsed_ms(start)

    return op


# ---------------------------------------------------------------- measurement drivers


async def interleave(
    ops: dict[str, Op], samples: int, block: int, warmup: int
) -> dict[str, list[float]]:
    """Run every op `samples` times in alternating blocks of `block`; returns latencies."""
    for op in ops.values():
        for _ in range(warmup):
            await op()
    results: dict[str, list[float]] = {name: [] for name in ops}
    for order in rotations(list(ops), -(-samples // block)):
        for name in order:
            for _ in range(block):
                results[name].append(await ops[name]())
    return results


async def burst(send_one: Callable[[], Awaitable[object]], count: int, window: int) -> float:
    """Seconds to complete `count` sends with up to `window` in flight."""
    start = time.perf_counter()
    for done in range(0, count, window):
        await asyncio.gather(*(send_one() for _ in range(min(window, count - done))))
    return time.perf_counter() - start


@dataclass
class Rate:
    """One side's throughput blocks: wall seconds, and this process's CPU seconds (the
    client-side cost per message, which other load on the box barely changes)."""

    messages: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.messages / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_us_per_msg(self) -> float:
        return self.cpu_s / self.messages * 1e6 if self.messages else 0.0


async def throughput(rig: Rig, plan: Plan) -> dict[str, Rate]:
    """Messages per second, studio and raw, alternating blocks of `throughput_block`."""
    subject = raw_subject(DAVE, ALICE)

    async def studio_one() -> None:
        await messages.send(rig.broker, ALICE, str(DAVE), BODY)

    async def raw_one() -> None:
        msg_id, payload = raw_message(ALICE, DAVE)
        await rig.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})

    sides = {"studio": studio_one, "raw": raw_one}
    rates = {name: Rate() for name in sides}
    for side in sides.values():
        await burst(side, plan.window * 2, plan.window)  # warm-up
    rounds = -(-plan.throughput_msgs // plan.throughput_block)
    for order in rotations(list(sides), rounds):
        for name in order:
            cpu = time.process_time()
            rates[name].wall_s += await burst(sides[name], plan.throughput_block, plan.window)
            rates[name].cpu_s += time.process_time() - cpu
            rates[name].messages += plan.throughput_block
    return rates


async def fill(js: JetStreamContext, subject: str, make: Callable[[], tuple], count: int) -> None:
    """Put `count` messages on `subject` with pipelined raw publishes: setup, not a
    measurement, so it uses the fastest path (publish_async, thousands in flight). Acks are
    collected per chunk so the fill does not inflate the process's peak RSS."""
    start = time.perf_counter()
    for done in range(0, count, FILL_CHUNK):
        acks = []
        for _ in range(min(FILL_CHUNK, count - done)):
            msg_id, payload = make()
            acks.append(await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id}))
        await asyncio.wait_for(asyncio.gather(*acks), timeout=FILL_TIMEOUT_S)
    seconds = round(time.perf_counter() - start, 1)
    log.info("inbox_filled", subject=subject, messages=count, seconds=seconds)


async def fill_deep_inboxes(rig: Rig, plan: Plan) -> int:
    """Fill erin's studio inbox and its raw twin; returns erin's unread count as the studio
    itself reports it (proof the inbox really holds them)."""
    studio_subject = rig.broker.names.msg_subject(ERIN, ALICE)
    await fill(rig.js, studio_subject, lambda: studio_payload(ALICE, ERIN), plan.depth)
    await fill(rig.js, raw_subject(ERIN, ALICE), lambda: raw_message(ALICE, ERIN), plan.depth)
    return await messages.unread_count(rig.broker, ERIN)


# ---------------------------------------------------------------- the run


async def measure(server: ServerProcess, home: Path, plan: Plan) -> dict:
    rig = await start_rig(server, home)
    try:
        return await run_phases(rig, plan, server)
    finally:
        await close_rig(rig)


async def run_phases(rig: Rig, plan: Plan, server: ServerProcess) -> dict:
    """Near-empty latencies, claim, throughput, then the deep inbox, in that order (filling
    the deep inbox last keeps the near-empty numbers near-empty)."""
    log.info("phase", name="send and round trip, near-empty inbox")
    empty_ops = {
        "send": studio_send(rig, BOB),
        "raw_publish": raw_publish(rig, BOB),
        "roundtrip": studio_roundtrip(rig, CAROL),
        "raw_roundtrip": raw_roundtrip(rig, CAROL),
    }
    lat = await interleave(empty_ops, plan.samples, plan.block, plan.warmup)
    log.info("phase", name="claim vs raw CAS")
    claim_ops = {"claim": studio_claim(rig), "raw_cas": raw_cas(rig)}
    lat |= await interleave(claim_ops, plan.claim_samples, plan.block, plan.warmup // 3)
    log.info("phase", name="throughput")
    rates = await throughput(rig, plan)
    log.info("phase", name="fill deep inboxes", depth=plan.depth)
    unread = await fill_deep_inboxes(rig, plan)
    log.info("phase", name="send and round trip, deep inbox", unread=unread)
    # Near-empty inboxes of the same (now large) stream run interleaved with the deep one,
    # so the depth ratio compares like with like under the same machine load.
    deep_ops = {
        "send_at_100k": studio_send(rig, ERIN),
        "send_empty_same_phase": studio_send(rig, FAY),
        "raw_publish_at_100k": raw_publish(rig, ERIN),
        "roundtrip_at_100k": studio_roundtrip(rig, ERIN),
        "roundtrip_empty_same_phase": studio_roundtrip(rig, CAROL),
        "raw_roundtrip_at_100k": raw_roundtrip(rig, ERIN),
    }
    deep = await interleave(deep_ops, plan.depth_samples, plan.block, plan.warmup)
    return summarize(lat | deep, rates, unread, rig, plan, server)


def latency_keys(lat: dict[str, list[float]]) -> dict[str, float]:
    """`send` → send_p50_ms, send_p99_ms; `send_at_100k` → send_p50_ms_at_100k, ..."""
    out = {}
    for name, values in lat.items():
        deep = "_at_100k" if name.endswith("_at_100k") else ""
        base = name.removesuffix(deep) if deep else name
        for q in (50, 99):
            out[f"{base}_p{q}_ms{deep}"] = round(percentile(values, q), 3)
    return out


def summarize(
    lat: dict[str, list[float]],
    rates: dict[str, Rate],
    unread: int,
    rig: Rig,
    plan: Plan,
    server: ServerProcess,
) -> dict:
    """The JSON result. Latencies in ms, rates per second, ratios studio/raw or deep/empty."""
    r: dict = latency_keys(lat)
    r["send_throughput_per_s"] = round(rates["studio"].per_s)
    r["raw_throughput_per_s"] = round(rates["raw"].per_s)
    r["send_cpu_us_per_msg"] = round(rates["studio"].cpu_us_per_msg, 1)
    r["raw_cpu_us_per_msg"] = round(rates["raw"].cpu_us_per_msg, 1)
    r["send_vs_raw"] = ratio(r["send_p50_ms"], r["raw_publish_p50_ms"])
    r["roundtrip_vs_raw"] = ratio(r["roundtrip_p50_ms"], r["raw_roundtrip_p50_ms"])
    r["claim_vs_raw"] = ratio(r["claim_p50_ms"], r["raw_cas_p50_ms"])
    r["throughput_vs_raw"] = ratio(r["send_throughput_per_s"], r["raw_throughput_per_s"])
    r["send_at_100k_vs_empty"] = ratio(r["send_p50_ms_at_100k"], r["send_empty_same_phase_p50_ms"])
    r["roundtrip_at_100k_vs_empty"] = ratio(
        r["roundtrip_p50_ms_at_100k"], r["roundtrip_empty_same_phase_p50_ms"]
    )
    r["send_at_100k_vs_prefill"] = ratio(r["send_p50_ms_at_100k"], r["send_p50_ms"])
    r["roundtrip_at_100k_vs_prefill"] = ratio(r["roundtrip_p50_ms_at_100k"], r["roundtrip_p50_ms"])
    r["send_at_100k_vs_raw"] = ratio(r["send_p50_ms_at_100k"], r["raw_publish_p50_ms_at_100k"])
    r["roundtrip_at_100k_vs_raw"] = ratio(
        r["roundtrip_p50_ms_at_100k"], r["raw_roundtrip_p50_ms_at_100k"]
    )
    r["depth"] = plan.depth
    r["depth_unread_before"] = unread
    r["roundtrip_empty_fetches"] = rig.empty_fetches
    r["samples"] = plan.samples
    r["rss_mb"] = proc_status_mb()
    r["rss_peak_mb"] = proc_status_mb(key="VmHWM")
    r["server_rss_mb"] = proc_status_mb(server.pid) if server.pid else 0.0
    # Context for the absolute numbers: other work on the box (tests, builds) shows up here.
    r["load_avg_1m"] = round(os.getloadavg()[0], 2)
    r["cpus"] = os.cpu_count()
    r["targets_met"] = targets_met(r)
    r["all_targets_met"] = all(r["targets_met"].values())
    return r


def targets_met(r: dict) -> dict[str, bool]:
    return {
        "send_vs_raw": r["send_vs_raw"] <= SEND_VS_RAW_MAX,
        "roundtrip_vs_raw": r["roundtrip_vs_raw"] <= ROUNDTRIP_VS_RAW_MAX,
        "send_throughput": r["send_throughput_per_s"] >= THROUGHPUT_MIN,
        "send_at_100k_vs_empty": r["send_at_100k_vs_empty"] <= DEPTH_VS_EMPTY_MAX,
        "roundtrip_at_100k_vs_empty": r["roundtrip_at_100k_vs_empty"] <= DEPTH_VS_EMPTY_MAX,
    }


# Table rows: label, studio p50/p99 keys, raw p50/p99 keys, ratio key, target.
ROWS = [
    ("send", "send_p50_ms", "send_p99_ms", "raw_publish_p50_ms", "raw_publish_p99_ms",
     "send_vs_raw", f"≤{SEND_VS_RAW_MAX}× raw"),
    ("round trip", "roundtrip_p50_ms", "roundtrip_p99_ms", "raw_roundtrip_p50_ms",
     "raw_roundtrip_p99_ms", "roundtrip_vs_raw", f"≤{ROUNDTRIP_VS_RAW_MAX}× raw"),
    ("claim (vs raw CAS)", "claim_p50_ms", "claim_p99_ms", "raw_cas_p50_ms", "raw_cas_p99_ms",
     "claim_vs_raw", "-"),
    ("send, deep inbox", "send_p50_ms_at_100k", "send_p99_ms_at_100k",
     "raw_publish_p50_ms_at_100k", "raw_publish_p99_ms_at_100k", "send_at_100k_vs_raw", "-"),
    ("round trip, deep inbox", "roundtrip_p50_ms_at_100k", "roundtrip_p99_ms_at_100k",
     "raw_roundtrip_p50_ms_at_100k", "raw_roundtrip_p99_ms_at_100k",
     "roundtrip_at_100k_vs_raw", "-"),
]  # fmt: skip


def table(r: dict) -> str:
    """A human-readable view of the result (the JSON line below it is the machine one)."""
    lines = [
        f"studio broker vs raw nats-py, same server; latency p50 / p99 in ms; "
        f"deep inbox = {r['depth']:,} unread",
        f"{'metric':<26} {'studio':>17} {'raw nats-py':>17} {'ratio':>7}  target",
    ]
    for label, s50, s99, r50, r99, rat, target in ROWS:
        studio, raw = f"{r[s50]:.3f} / {r[s99]:.3f}", f"{r[r50]:.3f} / {r[r99]:.3f}"
        lines.append(f"{label:<26} {studio:>17} {raw:>17} {r[rat]:>7.3f}  {target}")
    lines += [
        f"{'throughput (msg/s)':<26} {r['send_throughput_per_s']:>17,} "
        f"{r['raw_throughput_per_s']:>17,} {r['throughput_vs_raw']:>7.3f}  "
        f"≥{THROUGHPUT_MIN:,.0f}/s",
        f"{'client CPU (µs/msg)':<26} {r['send_cpu_us_per_msg']:>17} "
        f"{r['raw_cpu_us_per_msg']:>17} "
        f"{ratio(r['send_cpu_us_per_msg'], r['raw_cpu_us_per_msg']):>7.3f}",
        f"{'deep vs near-empty (p50)':<26} send {r['send_at_100k_vs_empty']:.3f}×, "
        f"round trip {r['roundtrip_at_100k_vs_empty']:.3f}× (same phase; ≤{DEPTH_VS_EMPTY_MAX}×)"
        f"; vs before the fill: {r['send_at_100k_vs_prefill']:.3f}×, "
        f"{r['roundtrip_at_100k_vs_prefill']:.3f}×",
        f"{'empty no-wait fetches':<26} {r['roundtrip_empty_fetches']} "
        "(a fetch right after an acknowledged send saw nothing)",
        f"{'memory (MB)':<26} bench RSS {r['rss_mb']} (peak {r['rss_peak_mb']}), "
        f"nats-server RSS {r['server_rss_mb']}",
        f"{'machine':<26} {r['cpus']} CPUs, load average {r['load_avg_1m']} at the end",
        "targets: "
        + ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in r["targets_met"].items()),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = harness.parser(__doc__)
    return parser.parse_args(argv)


def run(plan: Plan) -> dict:
    """Start a fresh embedded server in a temp dir, measure, always stop it."""
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        server = single_node(Path(tmp) / "server")
        try:
            server.start()
            started = time.monotonic()
            result = asyncio.run(measure(server, Path(tmp) / "home", plan))
        finally:
            server.stop()
        result["quick"] = plan is QUICK
        result["elapsed_s"] = round(time.monotonic() - started, 1)
        return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level=args.log_level)
    try:
        with harness.sigterm_unwinds():
            result = run(QUICK if args.quick else Plan())
    except KeyboardInterrupt:
        log.warning("bench_interrupted")
        return 130
    return harness.finish(result, table, args)


if __name__ == "__main__":
    sys.exit(main())
