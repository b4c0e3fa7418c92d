"""The real agent CLIs under studio: how long mail takes to reach the model.

For each CLI (Claude Code, Codex, OpenCode from the pinned npm versions) in a studio tmux
window, talking to the fake model server on 127.0.0.1 that answers at once:

- idle: from `send` to the message's token inside a model request (a tool result of the
  check_inbox call the wake pointer led to);
- busy: from the end of a model turn that was running when the mail came, to the token in
  the model's next request (the Stop hook, or the OpenCode plugin, hands it over);
- floor: from a prompt typed straight into the same CLI (tmux send-keys) to that prompt in a
  model request, i.e. what the CLI itself takes for one turn start, measured in the same run.

Targets: idle p50 <= 1.5 s; busy p50 <= 1 s after the turn ends. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

# The rig (fake model server, CLI homes, the daemon harness) is the end-to-end tests' own.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from figures import percentile

from broker.connection import connect
from broker.models import AgentKind
from broker.provision import ensure_team
from broker.settings import load_settings
from studio_cli.ops.server import single_node
from tests.agents.conftest import Team, pointer, saw
from tests.agents.installed import CLIS
from tests.agents.model_script import Hold, Say
from tests.agents.model_server import serve
from tests.node_agent.conftest import Studio

IDLE_TARGET_S, BUSY_TARGET_S = 1.5, 1.0
HOLD_S = 2.0


def tool_result_has(token: str):
    return lambda turn: any(token in r for r in turn.tool_results)


async def measure(kind: AgentKind, team: Team, idle_n: int, busy_n: int) -> dict:
    agent = await team.spawn(kind, f"bench-{kind.value}")
    await agent.wait_state("idle", within=90)
    warmup = f"WARMUP-{kind.value}"  # the model's log is shared by every CLI of the run
    await agent.send(warmup)
    await agent.wait_turn(tool_result_has(warmup), within=90)
    idle, busy, floor = [], [], []
    for i in range(idle_n):
        await agent.wait_state("idle", within=30)
        await asyncio.sleep(1.2)  # past the wake cooldown
        token = f"IDLE-{kind.value}-{i}"
        sent = time.monotonic()
        await agent.send(token)
        turn = await agent.wait_turn(tool_result_has(token), within=30)
        idle.append(turn.at - sent)
    for i in range(busy_n):
        await agent.wait_state("idle", within=30)
        await asyncio.sleep(1.2)
        team.script.queue(Hold(HOLD_S, Say("long turn done")))
        started = time.monotonic()
        await agent.send(f"START-{kind.value}-{i}")
        first = await agent.wait_turn(lambda t, since=started: pointer(t) and t.at > since)
        await asyncio.sleep(0.3)
        token = f"BUSY-{kind.value}-{i}"
        await agent.send(token)
        late = await agent.wait_turn(saw(token), within=30)
        busy.append(max(0.0, late.at - (first.at + HOLD_S)))
    for i in range(idle_n):
        await agent.wait_state("idle", within=30)
        await asyncio.sleep(1.2)
        token = f"TYPED-{kind.value}-{i}"
        typed = time.monotonic()
        agent.keys("-l", token)
        await asyncio.sleep(0.6)  # some CLIs take Enter right after text as part of a paste
        agent.keys("Enter")
        turn = await agent.wait_turn(saw(token), within=30)
        floor.append(turn.at - typed - 0.6)
    return {
        "idle_p50_s": percentile(idle, 50),
        "idle_p99_s": percentile(idle, 99),
        "busy_p50_s": percentile(busy, 50),
        "busy_p99_s": percentile(busy, 99),
        "typed_floor_p50_s": percentile(floor, 50),
        "typed_floor_p99_s": percentile(floor, 99),
        "samples": {"idle": len(idle), "busy": len(busy), "floor": len(floor)},
        "idle_samples_s": [round(x, 3) for x in idle],
    }


async def run(args) -> dict:
    idle_n, busy_n = (3, 2) if args.quick else (10, 5)
    kinds = [AgentKind(k) for k in args.cli]
    results = {}
    with tempfile.TemporaryDirectory(prefix="agents-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        server = single_node(root / "nats")
        server.start()
        studio = Studio([server.spec.url], root, "bench", f"studio-bench-{os.getpid()}")
        try:
            settings = load_settings(
                env={}, nats_url=server.spec.url, team="bench", node="lead", home=root / "c"
            )
            studio.broker = await connect(settings)
            await ensure_team(studio.broker)
            await studio.start_daemon("n1")
            with serve() as (base_url, script):
                team = Team(studio, base_url, script, root)
                for kind in kinds:
                    if not (CLIS / kind.value).exists():
                        results[kind.value] = {"skipped": f"not installed in {CLIS}"}
                        continue
                    results[kind.value] = await measure(kind, team, idle_n, busy_n)
        finally:
            studio.stop()
            if studio.broker is not None:
                await studio.broker.close()
            server.stop()
    measured = [r for r in results.values() if "idle_p50_s" in r]
    met = bool(measured) and all(
        r["idle_p50_s"] <= IDLE_TARGET_S and r["busy_p50_s"] <= BUSY_TARGET_S for r in measured
    )
    return {
        "bench": "agents",
        "targets": {"idle_p50_s": IDLE_TARGET_S, "busy_p50_s": BUSY_TARGET_S},
        "clis": results,
        "all_targets_met": met,
    }


def table(result: dict) -> str:
    rows = ["cli        idle p50/p99 s   busy p50/p99 s   typed-prompt floor p50/p99 s"]
    for name, r in result["clis"].items():
        if "skipped" in r:
            rows.append(f"{name:10} skipped: {r['skipped']}")
            continue
        rows.append(
            f"{name:10} {r['idle_p50_s']:5.2f} / {r['idle_p99_s']:5.2f}   "
            f"{r['busy_p50_s']:5.2f} / {r['busy_p99_s']:5.2f}   "
            f"{r['typed_floor_p50_s']:5.2f} / {r['typed_floor_p99_s']:5.2f}"
        )
    rows.append(f"targets: idle p50 <= {IDLE_TARGET_S} s, busy p50 <= {BUSY_TARGET_S} s")
    return "\n".join(rows)


def main() -> int:
    parser = harness.parser(__doc__ or "")
    parser.add_argument(
        "--cli", nargs="+", default=["claude", "codex", "opencode"], help="which CLIs"
    )
    return harness.run_async(parser.parse_args(), run, table)


if __name__ == "__main__":
    sys.exit(main())
