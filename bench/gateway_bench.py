"""MCP gateway benchmark: what a tool call costs an agent, next to what it cannot go below.

A stdio gateway (`studio mcp`, as Claude Code or Codex start it) is driven by a minimal JSON-RPC
client written here by hand: newline-delimited JSON on the subprocess's pipes, `initialize`,
`notifications/initialized`, then `tools/call`. In the same run, against the same fresh
embedded nats-server, interleaved in small alternating blocks (so drift on a shared box hits
every series alike):

- tool_send / tool_check: `send_message` (to a bare name, as a model writes it) and
  `check_inbox` returning that one message, through the gateway (with `wait_s`, so a message
  the stream stored a moment before the consumer saw it is waited for, not missed);
- broker_send / broker_check: the same broker operations called in process (`messages.send`;
  `messages.fetch` + confirmed ack) — the work the tool wraps;
- noop_tool: a tool that does nothing, served by the same SDK over stdio the same way — the
  floor the SDK and the pipes set.

Also: gateway start → first `tools/list` answer (median of several cold starts), and the
gateway's RSS after all calls (at least 1,000).

Output: a table, then as the LAST line one JSON object. Usage:
`python bench/gateway_bench.py [--calls N] [--json-only]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from figures import percentile, proc_status_mb

from broker import agents, messages
from broker.connection import Broker, connect
from broker.logs import configure_logging
from broker.names import AgentId
from broker.provision import ensure_team
from broker.settings import load_settings
from studio_cli.ops.server import single_node

log = structlog.get_logger("gateway_bench")

STUDIO = str(Path(sys.executable).parent / "studio")
TEAM, NODE = "bench", "n1"
BLOCK = 50
STARTS = 5
NOOP_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("noop", log_level="WARNING")


@server.tool()
async def noop() -> str:
    return "ok"


server.run("stdio")
"""


class RawClient:
    """Newline-delimited JSON-RPC over a subprocess's stdin/stdout, nothing else."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.next_id = 0

    @classmethod
    async def spawn(cls, command: list[str], env: dict[str, str]) -> RawClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **env},
            limit=8 * 1024 * 1024,
        )
        return cls(process)

    async def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        await self.process.stdin.drain()

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        await self._write({"id": self.next_id, "method": method, "params": params})
        assert self.process.stdout
        while True:
            reply = json.loads(await self.process.stdout.readline())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply["result"]

    async def initialize(self) -> None:
        await self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "gateway-bench", "version": "1"},
            },
        )
        await self._write({"method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": tool, "arguments": arguments})
        if result.get("isError"):
            raise RuntimeError(f"{tool}: {result['content'][0]['text']}")
        return result

    async def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def timed(samples: list[float], op) -> None:
    started = time.perf_counter_ns()
    await op()
    samples.append((time.perf_counter_ns() - started) / 1e6)


async def startup_s(env: dict[str, str]) -> float:
    """Process start → first tools/list answer, the way a client sees it."""
    started = time.perf_counter()
    client = await RawClient.spawn([STUDIO, "mcp"], env)
    await client.initialize()
    tools = await client.request("tools/list", {})
    elapsed = time.perf_counter() - started
    assert len(tools["tools"]) >= 24
    await client.close()
    return elapsed


async def run(calls: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    server = single_node(home / "nats", name="bench")
    server.start()
    try:
        settings = load_settings(env={}, nats_url=server.spec.url, team=TEAM, node=NODE, home=home)
        broker = await connect(settings)
        await ensure_team(broker)
        env = {
            "STUDIO_NATS_URL": server.spec.url,
            "STUDIO_TEAM": TEAM,
            "STUDIO_NODE": NODE,
            "STUDIO_HOME": str(home),
            "STUDIO_AGENT_ID": f"{NODE}.gw",
        }
        for name in ("gw", "peer", "direct"):
            await agents.register(broker, AgentId(NODE, name))
        starts = [await startup_s(env) for _ in range(STARTS)]
        result = await measure(broker, env, calls)
        result["startup_s"] = round(sorted(starts)[len(starts) // 2], 3)
        result["startup_all_s"] = [round(s, 3) for s in starts]
        await broker.close()
        return result
    finally:
        server.stop()


async def measure(broker: Broker, env: dict[str, str], calls: int) -> dict[str, Any]:
    gateway = await RawClient.spawn([STUDIO, "mcp"], env)
    noop = await RawClient.spawn([sys.executable, "-c", NOOP_SERVER], {})
    await gateway.initialize()
    await noop.initialize()
    me = AgentId(NODE, "direct")
    series: dict[str, list[float]] = {
        k: [] for k in ("tool_send", "tool_check", "noop", "b_send", "b_check")
    }

    async def tool_send() -> None:
        await gateway.call("send_message", {"to": "gw", "body": "bench message"})

    async def tool_check() -> None:
        result = await gateway.call("check_inbox", {"limit": 1, "wait_s": 1})
        assert "bench message" in result["content"][0]["text"]

    async def noop_call() -> None:
        await noop.call("noop", {})

    async def broker_send() -> None:
        await messages.send(broker, me, "direct", "bench message")

    async def broker_check() -> None:
        got = await messages.fetch(broker, me, limit=1, wait_s=1)
        await asyncio.gather(*(d.raw.ack_sync() for d in got))
        assert got

    # warm-up: connections, caches, the JIT-free parts of CPython alike
    for _ in range(20):
        await tool_send()
        await tool_check()
        await noop_call()
        await broker_send()
        await broker_check()
    gateway_calls = 40
    for _ in range(max(1, calls // BLOCK)):
        for _ in range(BLOCK):
            await timed(series["tool_send"], tool_send)
            await timed(series["tool_check"], tool_check)
        gateway_calls += 2 * BLOCK
        for _ in range(BLOCK):
            await timed(series["noop"], noop_call)
        for _ in range(BLOCK):
            await timed(series["b_send"], broker_send)
            await timed(series["b_check"], broker_check)
    rss = proc_status_mb(gateway.process.pid)
    noop_rss = proc_status_mb(noop.process.pid)
    await gateway.close()
    await noop.close()

    def p(name: str, q: float) -> float:
        return round(percentile(series[name], q), 3)

    return {
        "tool_send_p50_ms": p("tool_send", 50),
        "tool_send_p99_ms": p("tool_send", 99),
        "tool_check_p50_ms": p("tool_check", 50),
        "tool_check_p99_ms": p("tool_check", 99),
        "broker_send_p50_ms": p("b_send", 50),
        "broker_check_p50_ms": p("b_check", 50),
        "noop_tool_p50_ms": p("noop", 50),
        "noop_tool_p99_ms": p("noop", 99),
        "gateway_overhead_send_ms": round(p("tool_send", 50) - p("noop", 50), 3),
        "gateway_overhead_check_ms": round(p("tool_check", 50) - p("noop", 50), 3),
        "rss_mb": round(rss, 1),
        "noop_rss_mb": round(noop_rss, 1),
        "gateway_calls": gateway_calls,
        "samples_per_series": len(series["noop"]),
    }


def targets(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "tool_p50_le_2ms": max(r["tool_send_p50_ms"], r["tool_check_p50_ms"]) <= 2.0,
        "tool_within_1ms_of_noop": max(
            r["gateway_overhead_send_ms"], r["gateway_overhead_check_ms"]
        )
        <= 1.0,
        "startup_le_1_5s": r["startup_s"] <= 1.5,
        "rss_le_80mb": r["rss_mb"] <= 80,
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        ("send_message via gateway", r["tool_send_p50_ms"], r["tool_send_p99_ms"]),
        ("check_inbox via gateway", r["tool_check_p50_ms"], r["tool_check_p99_ms"]),
        ("no-op tool, same SDK (floor)", r["noop_tool_p50_ms"], r["noop_tool_p99_ms"]),
        ("messages.send in process", r["broker_send_p50_ms"], None),
        ("fetch + ack in process", r["broker_check_p50_ms"], None),
    ]
    lines = [f"{'operation':34} {'p50 ms':>8} {'p99 ms':>8}", "-" * 52]
    for name, p50, p99 in rows:
        lines.append(f"{name:34} {p50:8.3f} {'' if p99 is None else f'{p99:8.3f}':>8}")
    lines += [
        "-" * 52,
        f"gateway start → first tools/list: {r['startup_s']:.3f} s (median of {STARTS})",
        f"gateway RSS after {r['gateway_calls']} calls: {r['rss_mb']:.1f} MB "
        f"(the no-op SDK server: {r['noop_rss_mb']:.1f} MB)",
        "targets: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in targets(r).items()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per series")
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    configure_logging("warning")
    result = asyncio.run(run(args.calls))
    result["targets_met"] = targets(result)
    if not args.json_only:
        print(table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
