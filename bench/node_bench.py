"""Node daemon benchmark: how fast an idle agent learns of new mail, what a hook costs an agent
on every tool use, and how much memory the daemon needs for 20 agents.

Everything is real: a fresh embedded nats-server in a temp dir, a `studio node run` daemon
subprocess on a private tmux socket, agents spawned through the node control service
(`broker.control.spawn`), and hooks run as the processes Claude Code would start.

The agent is a tiny stdlib program (kind `other`) that shows `agent> `, reads a line in the
terminal's normal (cooked) mode, logs the time it got the line and prints the prompt again. It
never calls a tool, so a pasted pointer starts no turn and the mail stays unread; after each
sample the bench reads and acks the agent's inbox itself (as that agent), so the next sample
starts clean (the daemon wakes only agents with unread mail). `wake_cooldown_s` is set to
0.3 s in the daemon's studio.toml so samples can follow each other quickly, yet longer than a
sample's unread window (~170 ms), so the daemon's 5 s mail sweep cannot paste a second pointer
for mail the bench has not drained yet (any duplicate paste counted is then a real one); each
sample waits out the cooldown before it sends.

What is measured:
- wake: `messages.send` from another agent → the pointer on the idle agent's screen. "Visible"
  is when tmux receives the pasted text echoed by the pane's terminal (`tmux pipe-pane -O` to a
  file the bench polls every ~1 ms): the same moment tmux draws it. "Line received" is when the
  program's `readline` returned (the daemon presses Enter 150 ms after the paste), from the
  program's own log; both use CLOCK_MONOTONIC, shared by every process on the machine.
- hook: process start → exit of `studio hook PostToolUse` (the console script) and of the form
  injected at spawn (`hook_command`, i.e. `python -S node_agent/hook_client.py`), with
  STUDIO_AGENT_ID naming a live agent of the daemon, so each call round-trips over its unix
  socket; next to `python -S -c pass` (the interpreter floor) and `python -c pass`, in
  interleaved rounds of the same run. Timed with no unread mail (the common case) and with
  unread mail already announced (the daemon then also peeks at the inbox).
- mail during the cooldown: a second message sent 100 ms after a wake, when the cooldown
  refuses to type; how long until its pointer shows (informative, no target).
- daemon memory (VmRSS, VmHWM from /proc) with 0, 2 and 20 agents running, after a few
  heartbeats; the daemon's CPU use while 20 idle agents run; wake latency again at 20 agents.

Output: a table, then as the LAST line one JSON object.
Usage: `python bench/node_bench.py [--quick] [--json-only] [--strict]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import harness
import structlog
from figures import percentile, proc_cpu_s, proc_status_mb, proc_threads, rotations
from node_rig import (
    HEARTBEAT_S,
    NODE,
    STUDIO,
    TEAM,
    WAKE_COOLDOWN_S,
    Rig,
    Tail,
    agent_state,
    drain,
    make_rig,
    spawn_tiny,
    wait_ready,
    wait_states,
)

from broker import agents, control, messages
from broker.connection import connect
from broker.logs import configure_logging
from broker.names import AgentId
from broker.provision import ensure_team
from broker.settings import load_settings
from node_agent.clis.session import hook_command
from studio_cli.ops.server import single_node

log = structlog.get_logger("node_bench")

SENDER = AgentId("lead", "sender")
WAKER, HOOKED = AgentId(NODE, "waker"), AgentId(NODE, "hooked")
POINTER = b"[studio]"  # every pointer the daemon pastes into a non-shell agent starts so
SAMPLE_TIMEOUT_S = 5.0
COOLDOWN_TIMEOUT_S = 12.0  # the daemon's mail sweep runs every 5 s
HOOK_EVENT = "PostToolUse"
HOOK_INPUT = json.dumps(
    {"hook_event_name": HOOK_EVENT, "tool_name": "Bash", "tool_input": {"command": "ls"}}
).encode()

# Targets from the issue.
WAKE_P50_MAX_MS = 300.0
HOOK_P50_MAX_MS = 50.0
RSS_MAX_MB = 100.0


@dataclass(frozen=True)
class Plan:
    """Sample sizes. The full plan takes about a minute on 2 cores."""

    wake_samples: int = 50
    cooldown_samples: int = 3
    hook_rounds: int = 60
    hook_unread_rounds: int = 30
    agents: int = 20
    loaded_wake_samples: int = 10
    heartbeats: int = 3
    cpu_window_s: float = 3.0


QUICK = Plan(
    wake_samples=12,
    cooldown_samples=1,
    hook_rounds=15,
    hook_unread_rounds=8,
    loaded_wake_samples=4,
    heartbeats=2,
    cpu_window_s=1.5,
)


# ---------------------------------------------------------------- wake latency


def watch(rig: Rig, name: str) -> tuple[Tail, Tail]:
    """The agent's screen output (piped by tmux to a file from now on) and its line log."""
    if name not in rig.watched:
        screen, lines = Tail(rig.tmp / f"{name}.screen"), Tail(rig.tmp / f"{name}.lines")
        rig.watched[name] = (screen, lines)
        command = f"exec cat >> {shlex.quote(str(screen.path))}"
        done = rig.tmux("pipe-pane", "-O", "-t", rig.panes[name], command)
        if done.returncode != 0:
            raise RuntimeError(f"tmux pipe-pane failed: {done.stderr}")
    return rig.watched[name]


@dataclass
class WakeRun:
    send_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)
    line_ms: list[float] = field(default_factory=list)
    missed: int = 0
    extra_pastes: int = 0


async def wake_samples(rig: Rig, agent: AgentId, samples: int) -> WakeRun:
    """Send, wait for the pointer on screen and for the line in the program, drain; the next
    send waits out the wake cooldown plus a random 20-220 ms (so samples do not phase-lock
    with the daemon's 250 ms monitor tick)."""
    screen, lines = watch(rig, agent.name)
    run = WakeRun()
    screen.skip()
    pasted_before = screen.read_all().count(POINTER)
    not_before = 0.0
    for i in range(samples):
        await asyncio.sleep(max(0.0, not_before - time.monotonic()))
        screen.skip()
        lines.skip()
        t0 = time.monotonic()
        await messages.send(rig.broker, SENDER, str(agent), f"wake sample {i}")
        run.send_ms.append((time.monotonic() - t0) * 1000)
        seen_at, _ = await screen.wait_for(POINTER, SAMPLE_TIMEOUT_S)
        line_at, got = await lines.wait_for(b"\n", SAMPLE_TIMEOUT_S if seen_at else 0.5)
        if seen_at is None or line_at is None:
            run.missed += 1
            log.warning("wake_missed", sample=i, visible=seen_at is not None)
        else:
            run.visible_ms.append((seen_at - t0) * 1000)
            run.line_ms.append((float(got.split()[0]) - t0) * 1000)
        await drain(rig.broker, agent)
        not_before = (seen_at or time.monotonic()) + WAKE_COOLDOWN_S + random.uniform(0.02, 0.22)
    await asyncio.sleep(0.3)  # let a late duplicate paste show up before counting
    pasted = screen.read_all().count(POINTER) - pasted_before
    run.extra_pastes = max(0, pasted - (samples - run.missed))
    return run


async def cooldown_samples(rig: Rig, agent: AgentId, samples: int) -> list[float]:
    """Mail that lands while the agent's wake cooldown runs: wake it (message A), drain, send
    message B 100 ms after A's pointer appeared, time B's pointer. Nothing on arrival retries
    a wake the cooldown refused, so B waits for the daemon's periodic mail sweep."""
    screen, lines = watch(rig, agent.name)
    found: list[float] = []
    for i in range(samples):
        await asyncio.sleep(WAKE_COOLDOWN_S + random.uniform(0.02, 0.5))
        screen.skip()
        await messages.send(rig.broker, SENDER, str(agent), f"cooldown sample {i}, first")
        first_at, _ = await screen.wait_for(POINTER, SAMPLE_TIMEOUT_S)
        await drain(rig.broker, agent)
        await asyncio.sleep(max(0.0, (first_at or 0.0) + 0.1 - time.monotonic()))
        screen.skip()
        t0 = time.monotonic()
        await messages.send(rig.broker, SENDER, str(agent), f"cooldown sample {i}, second")
        seen_at, _ = await screen.wait_for(POINTER, COOLDOWN_TIMEOUT_S)
        if first_at is not None and seen_at is not None:
            found.append((seen_at - t0) * 1000)
        await lines.wait_for(b"\n", 1.0)
        await drain(rig.broker, agent)
    return found


# ---------------------------------------------------------------- hook invocation


def hook_env() -> dict[str, str]:
    return {"STUDIO_AGENT_ID": str(HOOKED), "STUDIO_TEAM": TEAM}


def time_process(argv: list[str], env: dict[str, str]) -> tuple[float, str, int]:
    """Wall ms from start to exit of one process fed the hook's JSON on stdin."""
    start = time.perf_counter()
    done = subprocess.run(argv, input=HOOK_INPUT, env=env, capture_output=True)
    took = (time.perf_counter() - start) * 1000
    return took, done.stdout.decode(errors="replace"), done.returncode


def hook_variants() -> dict[str, list[str]]:
    return {
        "hook_fast": shlex.split(hook_command(HOOK_EVENT)),
        "hook_cli": [STUDIO, "hook", HOOK_EVENT],
        "python_floor": [sys.executable, "-S", "-c", "pass"],
        "python_site_floor": [sys.executable, "-c", "pass"],
    }


async def time_rounds(
    variants: dict[str, list[str]], env: dict[str, str], rounds: int
) -> dict[str, list[float]]:
    """Interleaved rounds; each process runs in a worker thread so the bench's own NATS
    connection keeps being served meanwhile."""
    for argv in variants.values():  # warm the page cache
        for _ in range(3):
            await asyncio.to_thread(time_process, argv, env)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for order in rotations(list(variants), rounds):
        for name in order:
            took, _, code = await asyncio.to_thread(time_process, variants[name], env)
            if code != 0:
                raise RuntimeError(f"{name} exited {code}")
            times[name].append(took)
    return times


async def hook_phase(rig: Rig, plan: Plan) -> dict:
    env = {**rig.env, **hook_env()}
    variants = hook_variants()
    await drain(rig.broker, HOOKED)
    quiet = await time_rounds(variants, env, plan.hook_rounds)
    # The calls really reached the daemon: PostToolUse marks the agent busy ...
    state_after = await agent_state(rig, HOOKED.name)
    # ... and a hook run after mail arrives puts it in front of the model, once per message.
    checks = {}
    for name in ("hook_fast", "hook_cli"):
        await messages.send(rig.broker, SENDER, str(HOOKED), f"hook check for {name}")
        _, out, _ = await asyncio.to_thread(time_process, variants[name], env)
        checks[name] = "additionalContext" in out and "new message" in out
    with_mail = {k: variants[k] for k in ("hook_fast", "hook_cli")}
    unread = await time_rounds(with_mail, env, plan.hook_unread_rounds)
    await drain(rig.broker, HOOKED)
    return {
        "quiet": quiet,
        "unread": unread,
        "state_after": state_after,
        "checks": checks,
        "fast_command": hook_command(HOOK_EVENT),
    }


# ---------------------------------------------------------------- memory and load


async def fleet_phase(rig: Rig, plan: Plan) -> dict:
    """Spawn up to `plan.agents`, let heartbeats pass, read memory and CPU, wake again."""
    names = [f"a{i:02d}" for i in range(plan.agents - len(rig.panes))]
    spawn_ms = [await spawn_tiny(rig, name) for name in names]
    await wait_states(rig, names, {"idle"})
    managed = len((await control.list_managed(rig.broker, NODE)).agents)
    await asyncio.sleep(plan.heartbeats * HEARTBEAT_S + 0.2)
    rss, hwm = proc_status_mb(rig.pid, "VmRSS"), proc_status_mb(rig.pid, "VmHWM")
    (own0, all0), t0 = proc_cpu_s(rig.pid), time.monotonic()
    await asyncio.sleep(plan.cpu_window_s)
    (own1, all1), window = proc_cpu_s(rig.pid), time.monotonic() - t0
    loaded = await wake_samples(rig, WAKER, plan.loaded_wake_samples)
    return {
        "managed": managed,
        "spawn_ms": spawn_ms,
        "rss": rss,
        "hwm": hwm,
        "threads": proc_threads(rig.pid),
        "cpu_pct": (own1 - own0) / window * 100,
        "cpu_pct_children": (all1 - all0) / window * 100,
        "loaded": loaded,
    }


# ---------------------------------------------------------------- the run


async def measure(rig: Rig, plan: Plan) -> dict:
    settings = load_settings(
        env={}, nats_url=rig.server.spec.url, team=TEAM, node="lead", home=rig.tmp / "client"
    )
    rig.broker = await connect(settings, name="node-bench")
    await ensure_team(rig.broker)
    try:
        await agents.register(rig.broker, SENDER)
        started = time.monotonic()
        rig.start_daemon()
        ready_s = await wait_ready(rig)
        log.info("daemon_ready", seconds=round(time.monotonic() - started, 2))
        await asyncio.sleep(HEARTBEAT_S)
        rss_0 = proc_status_mb(rig.pid, "VmRSS")
        first_spawns = [await spawn_tiny(rig, a.name) for a in (WAKER, HOOKED)]
        await wait_states(rig, [WAKER.name, HOOKED.name], {"idle"})
        log.info("phase", name="wake latency, 2 agents")
        wake = await wake_samples(rig, WAKER, plan.wake_samples)
        log.info("phase", name="mail during the wake cooldown")
        in_cooldown = await cooldown_samples(rig, WAKER, plan.cooldown_samples)
        log.info("phase", name="hook invocation")
        hooks = await hook_phase(rig, plan)
        rss_2 = proc_status_mb(rig.pid, "VmRSS")
        log.info("phase", name=f"{plan.agents} agents")
        fleet = await fleet_phase(rig, plan)
        fleet["spawn_ms"] = first_spawns + fleet["spawn_ms"]
        if rig.daemon is not None and rig.daemon.poll() is not None:
            raise RuntimeError(f"daemon died during the run:\n{rig.daemon_log_tail()}")
        return summarize(plan, ready_s, rss_0, rss_2, wake, in_cooldown, hooks, fleet, rig)
    finally:
        await rig.broker.close()


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def summarize(
    plan: Plan,
    ready_s: float,
    rss_0: float,
    rss_2: float,
    wake: WakeRun,
    in_cooldown: list[float],
    hooks: dict,
    fleet: dict,
    rig: Rig,
) -> dict:
    quiet, unread = hooks["quiet"], hooks["unread"]
    loaded: WakeRun = fleet["loaded"]
    r: dict = {
        "wake_p50_ms": ms(wake.visible_ms, 50),
        "wake_p99_ms": ms(wake.visible_ms, 99),
        "wake_line_p50_ms": ms(wake.line_ms, 50),
        "wake_line_p99_ms": ms(wake.line_ms, 99),
        "wake_send_p50_ms": ms(wake.send_ms, 50),
        "wake_samples": len(wake.visible_ms),
        "wake_missed": wake.missed,
        "wake_extra_pastes": wake.extra_pastes,
        "wake_in_cooldown_p50_ms": ms(in_cooldown, 50),
        "wake_in_cooldown_max_ms": ms(in_cooldown, 100),
        "wake_in_cooldown_samples": len(in_cooldown),
        "hook_p50_ms": ms(quiet["hook_fast"], 50),
        "hook_p99_ms": ms(quiet["hook_fast"], 99),
        "hook_cli_p50_ms": ms(quiet["hook_cli"], 50),
        "hook_cli_p99_ms": ms(quiet["hook_cli"], 99),
        # Paired per round (same moment, same machine load): what the hook adds to the bare
        # interpreter start, which drifts less with other work on the box than either number.
        "hook_over_floor_p50_ms": ms(
            [h - f for h, f in zip(quiet["hook_fast"], quiet["python_floor"], strict=True)], 50
        ),
        "python_floor_ms": ms(quiet["python_floor"], 50),
        "python_site_floor_ms": ms(quiet["python_site_floor"], 50),
        "hook_unread_p50_ms": ms(unread["hook_fast"], 50),
        "hook_cli_unread_p50_ms": ms(unread["hook_cli"], 50),
        "hook_rounds": plan.hook_rounds,
        "hook_fast_command": hooks["fast_command"],
        "hook_reached_daemon": hooks["state_after"] == "busy" and all(hooks["checks"].values()),
        "hook_checks": hooks["checks"],
        "daemon_rss_mb_0_agents": rss_0,
        "daemon_rss_mb_2_agents": rss_2,
        "daemon_rss_mb_20_agents": fleet["rss"],
        "daemon_rss_peak_mb": fleet["hwm"],
        "daemon_threads_20_agents": fleet["threads"],
        "daemon_cpu_pct_20_agents": round(fleet["cpu_pct"], 1),
        "daemon_cpu_pct_with_children_20_agents": round(fleet["cpu_pct_children"], 1),
        "agents_managed": fleet["managed"],
        "spawn_p50_ms": ms(fleet["spawn_ms"], 50),
        "spawn_max_ms": ms(fleet["spawn_ms"], 100),
        "wake_p50_ms_20_agents": ms(loaded.visible_ms, 50),
        "wake_max_ms_20_agents": ms(loaded.visible_ms, 100),
        "wake_missed_20_agents": loaded.missed,
        "daemon_ready_s": round(ready_s, 2),
        "server_rss_mb": proc_status_mb(rig.server.pid or 0, "VmRSS"),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    r["targets_met"] = {
        "wake_p50": r["wake_samples"] > 0 and r["wake_p50_ms"] <= WAKE_P50_MAX_MS,
        "hook_p50": r["hook_reached_daemon"] and r["hook_p50_ms"] <= HOOK_P50_MAX_MS,
        "daemon_rss_20_agents": 0 < r["daemon_rss_mb_20_agents"] <= RSS_MAX_MB,
    }
    r["all_targets_met"] = all(r["targets_met"].values())
    return r


def table(r: dict) -> str:
    def row(label: str, value: str, target: str = "") -> str:
        return f"{label:<54} {value:>17}  {target}"

    def pair(a: str, b: str) -> str:
        return f"{r[a]:.1f} / {r[b]:.1f}"

    lines = [
        f"studio node daemon, real tmux + nats-server; {r['cpus']} CPUs, "
        f"load average {r['load_avg_1m']} at the end",
        row("metric", "value", "target"),
        row(
            f"wake → pointer visible, p50 / p99 ms (n={r['wake_samples']})",
            pair("wake_p50_ms", "wake_p99_ms"),
            f"p50 ≤ {WAKE_P50_MAX_MS:.0f} ms",
        ),
        row(
            "wake → line read by program (Enter +150 ms)",
            pair("wake_line_p50_ms", "wake_line_p99_ms"),
        ),
        row("  of which send (stored, acked), p50 ms", f"{r['wake_send_p50_ms']:.1f}"),
        row("  missed / duplicate pastes", f"{r['wake_missed']} / {r['wake_extra_pastes']}"),
        row(
            f"wake at {r['agents_managed']} agents, p50 / max ms",
            pair("wake_p50_ms_20_agents", "wake_max_ms_20_agents"),
        ),
        row(
            f"mail in {WAKE_COOLDOWN_S} s cooldown, p50 / max ms "
            f"(n={r['wake_in_cooldown_samples']})",
            pair("wake_in_cooldown_p50_ms", "wake_in_cooldown_max_ms"),
        ),
        row(
            "hook, injected `python -S hook_client.py` p50/p99",
            pair("hook_p50_ms", "hook_p99_ms"),
            f"p50 ≤ {HOOK_P50_MAX_MS:.0f} ms",
        ),
        row(
            "hook, `studio hook` console script p50/p99", pair("hook_cli_p50_ms", "hook_cli_p99_ms")
        ),
        row(
            "  injected hook minus floor, paired per round, p50 ms",
            f"{r['hook_over_floor_p50_ms']:.1f}",
        ),
        row(
            "  floor: `python -S -c pass` / `python -c pass`",
            pair("python_floor_ms", "python_site_floor_ms"),
        ),
        row(
            "  with unread mail (daemon peeks): fast / cli",
            pair("hook_unread_p50_ms", "hook_cli_unread_p50_ms"),
        ),
        row("  round trip to the daemon verified", str(r["hook_reached_daemon"])),
        row(
            "daemon RSS MB with 0 / 2 agents",
            pair("daemon_rss_mb_0_agents", "daemon_rss_mb_2_agents"),
        ),
        row(
            f"daemon RSS MB with {r['agents_managed']} agents (peak)",
            f"{r['daemon_rss_mb_20_agents']:.1f} ({r['daemon_rss_peak_mb']:.1f})",
            f"≤ {RSS_MAX_MB:.0f} MB",
        ),
        row(
            f"daemon CPU %, own / + tmux, git children ({r['agents_managed']} agents)",
            pair("daemon_cpu_pct_20_agents", "daemon_cpu_pct_with_children_20_agents"),
        ),
        row("daemon threads", str(r["daemon_threads_20_agents"])),
        row("spawn request p50 / max ms", pair("spawn_p50_ms", "spawn_max_ms")),
        row(
            "daemon start → ready s; nats-server RSS MB",
            f"{r['daemon_ready_s']} ; {r['server_rss_mb']}",
        ),
        "targets: "
        + ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in r["targets_met"].items()),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = harness.parser(__doc__)
    parser.add_argument("--daemon-log", type=Path, help="keep a copy of the daemon's log here")
    return parser.parse_args(argv)


def run(plan: Plan, daemon_log: Path | None = None) -> dict:
    """Fresh server, daemon and tmux server in a temp dir; always stopped, even on failure."""
    with tempfile.TemporaryDirectory(prefix="studio-node-bench-") as tmp:
        server = single_node(Path(tmp) / "server")
        rig = make_rig(Path(tmp), server)
        started = time.monotonic()
        try:
            server.start()
            result = asyncio.run(measure(rig, plan))
        except Exception:
            tail = rig.daemon_log_tail()
            if tail:
                print(f"--- daemon log (tail) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            try:
                rig.stop()
                if daemon_log is not None and rig.daemon_log.exists():
                    shutil.copyfile(rig.daemon_log, daemon_log)
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
            result = run(QUICK if args.quick else Plan(), args.daemon_log)
    except KeyboardInterrupt:
        log.warning("bench_interrupted")
        return 130
    return harness.finish(result, table, args)


if __name__ == "__main__":
    sys.exit(main())
