"""MCP gateway memory benchmark: what each agent's gateway costs in memory, one stdio process
per agent (`studio mcp`) against one HTTP gateway for the whole node (`studio mcp --http`),
and what the HTTP one costs in tool-call latency.

One embedded nats-server, one team, N agents registered on node n1 (n1.a0 ... n1.a<N-1>).
Two phases, one after the other (so neither set of processes shares pages with the other
while memory is read):

- stdio: N `studio mcp` processes (STUDIO_AGENT_ID=n1.aI), each driven by gateway_bench's
  hand-written newline-delimited JSON-RPC client: initialize, whoami, a few send_message;
- http: one `studio mcp --http` (token from $STUDIO_HOME/mcp-token, as made at first start),
  N sessions from the MCP SDK's streamable-HTTP client, each naming its agent by URL path
  (`/agents/aI/mcp`, even I) or by the X-Studio-Agent header (`/mcp`, odd I); whoami must
  answer with that agent, then the same calls.

Memory, read from /proc with every session still open: VmRSS, and from smaps_rollup Pss
(shared pages split among the processes mapping them: the fair total) and Private_Clean +
Private_Dirty ("USS": what stopping the process would give back). For HTTP, also the
server's idle reading before any session, so the per-session increment shows.

Latency of `send_message` (to the next agent), per transport: (a) sequential, round-robin
over the N sessions; (b) concurrent, all N sessions calling at once, round after round.
Also the CPU per call spent in the gateway process(es) and in this process (the clients;
the SDK's HTTP client is heavier than the raw stdio one, and it shares the same cores).

Targets (this bench's own): the HTTP gateway's PSS per agent is at most a quarter of a stdio
gateway's, and its sequential send p50 at most twice stdio's.

Output: a table, then as the LAST line one JSON object. Usage:
`python bench/gateway_memory_bench.py [--agents N] [--rounds R] [--quick] [--json-only]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import harness
import httpx2
from figures import percentile, proc_cpu_s, ratio
from gateway_bench import STUDIO, RawClient
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from broker import agents
from broker.connection import connect
from broker.names import AgentId
from broker.provision import ensure_node_inbox, ensure_team
from broker.settings import load_settings
from mcp_gateway.gateway import AGENT_HEADER
from studio_cli.ops.server import free_port, single_node

TEAM, NODE = "bench", "n1"
WARM_CALLS = 3  # send_message calls per session before anything is timed
START_PARALLEL = 4  # stdio gateways started at once (each imports the SDK: CPU-bound)
PSS_RATIO_TARGET, SEQ_P50_RATIO_TARGET = 0.25, 2.0

Call = Callable[[int, str], Awaitable[str]]  # (session index, tool) -> result text


# --- /proc ---------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid and every process below it (a gateway that forks would count its children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """rss (VmRSS), and pss / uss from smaps_rollup (absent where it cannot be read)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
    with contextlib.suppress(OSError):
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            fields[key] = int(rest.split()[0])
        out["pss"] = fields["Pss"]
        out["uss"] = fields["Private_Clean"] + fields["Private_Dirty"]
    return out


def tree_memory_mb(pids: list[int]) -> dict[str, float]:
    """Summed rss/pss/uss in MB over these processes and their descendants."""
    total: dict[str, int] = {}
    readable = {"pss": True, "uss": True}
    for pid in {p for root in pids for p in descendants(root)}:
        reading = memory_kb(pid)
        for key in ("rss", "pss", "uss"):
            if key in reading:
                total[key] = total.get(key, 0) + reading[key]
            elif key in readable:
                readable[key] = False
    return {k: round(v / 1024, 1) for k, v in total.items() if k == "rss" or readable.get(k, False)}


def per(total: dict[str, float], n: int) -> dict[str, float]:
    return {k: round(v / n, 2) for k, v in total.items()}


def cpu_s(pids: list[int]) -> float:
    return sum(proc_cpu_s(p)[0] for root in pids for p in descendants(root))


def self_cpu_s() -> float:
    return time.process_time()


# --- processes -----------------------------------------------------------------------------


def clean_env(home: Path, nats_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_NATS_URL=nats_url, STUDIO_TEAM=TEAM, STUDIO_NODE=NODE, STUDIO_HOME=str(home))
    env.update(extra)
    return env


async def spawn(
    argv: list[str], env: dict[str, str], log: Path, procs: list[asyncio.subprocess.Process]
) -> asyncio.subprocess.Process:
    """A child in its own process group (stopped by `stop_all`, whatever happens here)."""
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
            limit=8 * 1024 * 1024,
            start_new_session=True,
        )
    procs.append(process)
    return process


def _signal_group(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def stop_all(procs: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM each child's group, SIGKILL what is left after 5 s; reap them all."""
    for process in procs:
        if process.returncode is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for process in procs:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(process.wait(), max(0.1, deadline - time.monotonic()))
        if process.returncode is None:
            _signal_group(process, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
        # SIGKILL the group even after the leader left: no grandchild outlives the bench
        _signal_group(process, signal.SIGKILL)


async def wait_for_port(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    for _ in range(600):
        if process.returncode is not None:
            text = await asyncio.to_thread(log.read_text)
            raise RuntimeError(f"the HTTP gateway exited: {text[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("the HTTP gateway did not open its port within 30 s")


# --- measuring -----------------------------------------------------------------------------


async def exercise(call: Call, n: int, rounds: int) -> dict[str, Any]:
    """whoami on every session (it must name the right agent), warm-up sends, then the timed
    sequential and concurrent send_message series."""
    for i in range(n):
        who = await call(i, "whoami")
        if not re.match(rf"You are {NODE}\.a{i}\b", who):
            raise RuntimeError(f"session {i} is not n1.a{i}: {who[:200]!r}")
    for _ in range(WARM_CALLS):
        await asyncio.gather(*(call(i, "send_message") for i in range(n)))

    async def timed(i: int, samples: list[float]) -> None:
        started = time.perf_counter_ns()
        await call(i, "send_message")
        samples.append((time.perf_counter_ns() - started) / 1e6)

    seq: list[float] = []
    conc: list[float] = []
    for _ in range(rounds):
        for i in range(n):
            await timed(i, seq)
    for _ in range(rounds):
        await asyncio.gather(*(timed(i, conc) for i in range(n)))
    return {"seq": seq, "conc": conc}


def latency(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "n": len(samples),
    }


def message(i: int, n: int) -> dict[str, Any]:
    return {"to": f"a{(i + 1) % n}", "body": f"memory bench message from a{i}"}


async def stdio_phase(
    home: Path, nats_url: str, n: int, rounds: int, procs: list[asyncio.subprocess.Process]
) -> dict[str, Any]:
    gate = asyncio.Semaphore(START_PARALLEL)

    async def start(i: int) -> RawClient:
        async with gate:
            env = clean_env(home, nats_url, STUDIO_AGENT_ID=f"{NODE}.a{i}")
            client = RawClient(await spawn([STUDIO, "mcp"], env, home / f"stdio-a{i}.log", procs))
            await client.initialize()
            return client

    started = time.perf_counter()
    clients = await asyncio.gather(*(start(i) for i in range(n)))
    start_all_s = time.perf_counter() - started
    pids = [c.process.pid for c in clients]

    async def call(i: int, tool: str) -> str:
        args = message(i, n) if tool == "send_message" else {}
        result = await clients[i].call(tool, args)
        return str(result["content"][0]["text"])

    cpu0, self0 = cpu_s(pids), self_cpu_s()
    series = await exercise(call, n, rounds)
    cpu1, self1 = cpu_s(pids), self_cpu_s()
    total = tree_memory_mb(pids)
    each = [tree_memory_mb([p]) for p in pids]
    for client in clients:
        await client.close()
    calls = len(series["seq"]) + len(series["conc"])
    return {
        "total": total,
        "per_agent": per(total, n),
        "process_rss_mb_min": min(e["rss"] for e in each),
        "process_rss_mb_max": max(e["rss"] for e in each),
        "start_all_s": round(start_all_s, 2),
        "seq": latency(series["seq"]),
        "conc": latency(series["conc"]),
        "gateway_cpu_ms_per_call": round((cpu1 - cpu0) * 1000 / calls, 3),
        "client_cpu_ms_per_call": round((self1 - self0) * 1000 / calls, 3),
    }


async def http_phase(
    home: Path, nats_url: str, n: int, rounds: int, procs: list[asyncio.subprocess.Process]
) -> dict[str, Any]:
    port = free_port()
    log = home / "http.log"
    server = await spawn(
        [STUDIO, "mcp", "--http", "--port", str(port)], clean_env(home, nats_url), log, procs
    )
    await wait_for_port(server, port, log)
    token = (home / "mcp-token").read_text().strip()
    await asyncio.sleep(1.0)  # the lifespan's broker connect settles
    idle = tree_memory_mb([server.pid])
    base = f"http://127.0.0.1:{port}"
    async with contextlib.AsyncExitStack() as stack:
        sessions: list[Client] = []
        started = time.perf_counter()
        for i in range(n):
            headers = {"Authorization": f"Bearer {token}"}
            if i % 2:
                url = f"{base}/mcp"
                headers[AGENT_HEADER] = f"a{i}"
            else:
                url = f"{base}/agents/a{i}/mcp"
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers))
            client = Client(streamable_http_client(url, http_client=http))
            sessions.append(await stack.enter_async_context(client))
        open_all_s = time.perf_counter() - started

        async def call(i: int, tool: str) -> str:
            args = message(i, n) if tool == "send_message" else {}
            result = await sessions[i].call_tool(tool, args)
            text = str(getattr(result.content[0], "text", ""))
            if result.is_error:
                raise RuntimeError(f"{tool} over HTTP as a{i}: {text}")
            return text

        cpu0, self0 = cpu_s([server.pid]), self_cpu_s()
        series = await exercise(call, n, rounds)
        cpu1, self1 = cpu_s([server.pid]), self_cpu_s()
        total = tree_memory_mb([server.pid])
    calls = len(series["seq"]) + len(series["conc"])
    return {
        "idle": idle,
        "total": total,
        "per_agent": per(total, n),
        "per_session_increment": {
            k: round((total[k] - idle[k]) / n, 2) for k in total if k in idle
        },
        "open_all_s": round(open_all_s, 2),
        "seq": latency(series["seq"]),
        "conc": latency(series["conc"]),
        "gateway_cpu_ms_per_call": round((cpu1 - cpu0) * 1000 / calls, 3),
        "client_cpu_ms_per_call": round((self1 - self0) * 1000 / calls, 3),
    }


async def run(args: Any) -> dict[str, Any]:
    n = 4 if args.quick else args.agents
    rounds = 3 if args.quick else args.rounds
    home = Path(tempfile.mkdtemp(prefix="gateway-memory-bench-"))
    procs: list[asyncio.subprocess.Process] = []
    server = single_node(home / "nats", name="bench")
    try:
        server.start()
        settings = load_settings(env={}, nats_url=server.spec.url, team=TEAM, node=NODE, home=home)
        broker = await connect(settings)
        try:
            await ensure_team(broker)
            await ensure_node_inbox(broker, NODE)
            for i in range(n):
                await agents.register(broker, AgentId(NODE, f"a{i}"))
            stdio = await stdio_phase(home, server.spec.url, n, rounds, procs)
            await stop_all(procs)
            procs.clear()
            http = await http_phase(home, server.spec.url, n, rounds, procs)
        finally:
            await broker.close()
    finally:
        try:
            await stop_all(procs)
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
    return summary(n, rounds, stdio, http)


def summary(n: int, rounds: int, stdio: dict[str, Any], http: dict[str, Any]) -> dict[str, Any]:
    ratios = {
        f"per_agent_{k}": ratio(http["per_agent"][k], stdio["per_agent"][k])
        for k in ("rss", "pss", "uss")
        if k in http["per_agent"] and k in stdio["per_agent"]
    }
    for mode in ("seq", "conc"):
        for q in ("p50_ms", "p99_ms"):
            ratios[f"{mode}_{q}"] = ratio(http[mode][q], stdio[mode][q])
    memory_key = "pss" if "per_agent_pss" in ratios else "rss"
    targets = {
        f"http_per_agent_{memory_key}_le_{PSS_RATIO_TARGET}x_stdio": ratios[
            f"per_agent_{memory_key}"
        ]
        <= PSS_RATIO_TARGET,
        f"http_seq_p50_le_{SEQ_P50_RATIO_TARGET}x_stdio": ratios["seq_p50_ms"]
        <= SEQ_P50_RATIO_TARGET,
    }
    return {
        "bench": "gateway_memory",
        "agents": n,
        "rounds": rounds,
        "calls_per_mode": n * rounds,
        "cpus": os.cpu_count(),
        "stdio": stdio,
        "http": http,
        "ratios_http_over_stdio": ratios,
        "targets_met": targets,
        "all_targets_met": all(targets.values()),
    }


def table(r: dict[str, Any]) -> str:
    s, h, n = r["stdio"], r["http"], r["agents"]
    keys = [k for k in ("rss", "pss", "uss") if k in s["total"] and k in h["total"]]
    lines = [
        f"MCP gateway memory and latency: {n} agents, {r['cpus']} CPUs, "
        f"{r['calls_per_mode']} send_message calls per mode",
        "",
        f"{'memory, MB':34}" + "".join(f"{k.upper():>9}" for k in keys),
        "-" * (34 + 9 * len(keys)),
    ]

    def row(name: str, values: dict[str, float]) -> None:
        lines.append(f"{name:34}" + "".join(f"{values[k]:9.1f}" for k in keys))

    row(f"stdio: {n} processes, total", s["total"])
    row("stdio: per agent", s["per_agent"])
    row("http: one process, idle", h["idle"])
    row(f"http: one process, {n} sessions", h["total"])
    row("http: per agent", h["per_agent"])
    row("http: increment per session", h["per_session_increment"])
    lines += [
        f"(stdio process RSS {s['process_rss_mb_min']:.1f}-{s['process_rss_mb_max']:.1f} MB; "
        f"PSS splits shared pages, USS = private pages only)",
        "",
        f"{'send_message latency, ms':34}{'p50':>9}{'p99':>9}{'n':>6}",
        "-" * 58,
    ]
    for name, t in (("stdio", s), ("http", h)):
        for mode, label in (("seq", "sequential"), ("conc", f"{n} concurrent")):
            lat = t[mode]
            lines.append(
                f"{f'{name}, {label}':34}{lat['p50_ms']:9.3f}{lat['p99_ms']:9.3f}{lat['n']:6d}"
            )
    lines += [
        "",
        f"CPU per call, ms: gateway stdio {s['gateway_cpu_ms_per_call']:.3f} / http "
        f"{h['gateway_cpu_ms_per_call']:.3f}; clients (this process) stdio "
        f"{s['client_cpu_ms_per_call']:.3f} / http {h['client_cpu_ms_per_call']:.3f}",
        f"start {n} stdio gateways: {s['start_all_s']:.2f} s; open {n} HTTP sessions: "
        f"{h['open_all_s']:.2f} s",
        "http/stdio: " + ", ".join(f"{k}={v}" for k, v in r["ratios_http_over_stdio"].items()),
        "targets: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in r["targets_met"].items()),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = harness.parser(__doc__ or "")
    parser.add_argument("--agents", type=int, default=20, help="agents (sessions) per transport")
    parser.add_argument(
        "--rounds", type=int, default=15, help="timed rounds per mode (each: one call per agent)"
    )
    return harness.run_async(parser.parse_args(), run, table)


if __name__ == "__main__":
    sys.exit(main())
