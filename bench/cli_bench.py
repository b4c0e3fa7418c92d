"""What a person waits for at the terminal: the wall time of `studio --help` and of `studio
send` (start-up, a connection, one stored message), each run as a fresh process the way a
shell runs it, against `python -c pass` in the same run, so a loaded machine shows as a slow
baseline rather than a slow CLI.

The three commands are interleaved round by round against a single nats-server started here
(the team provisioned once, as `studio up` would), so drift in machine load hits all three.

Targets (p50, when the machine is quiet): `studio --help` <= 0.3 s, `studio send` <= 0.6 s.
Last line: JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from figures import percentile

from studio_cli.ops.server import single_node

STUDIO = str(Path(sys.executable).with_name("studio"))
HELP_TARGET_S, SEND_TARGET_S = 0.3, 0.6


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def stats(samples: list[float]) -> dict:
    return {
        "p50_s": round(percentile(samples, 50), 4),
        "p99_s": round(percentile(samples, 99), 4),
        "n": len(samples),
    }


async def run(args) -> dict:
    rounds = 5 if args.quick else 40
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        server = single_node(Path(tmp) / "nats")
        server.start()
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
            env.update(
                STUDIO_HOME=str(Path(tmp) / "home"),
                STUDIO_NATS_URL=server.spec.url,
                STUDIO_TEAM="bench",
                STUDIO_NODE="n1",
            )
            commands = {
                "python_pass": [sys.executable, "-c", "pass"],
                "studio_help": [STUDIO, "--help"],
                "studio_send": [STUDIO, "send", "n1.cli", "benchmark", "message"],
            }
            timed([STUDIO, "broker", "provision", "--nodes", "n1"], env)
            timed([STUDIO, "inbox"], env)  # registers n1.cli
            for argv in commands.values():  # warm the page cache and .pyc files
                timed(argv, env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, argv in commands.items():
                    samples[name].append(timed(argv, env))
        finally:
            server.stop()
    result: dict = {"bench": "cli", "rounds": rounds, "cpus": os.cpu_count()}
    for name, values in samples.items():
        result[name] = stats(values)
    base = result["python_pass"]["p50_s"]
    result["help_over_python_s"] = round(result["studio_help"]["p50_s"] - base, 4)
    result["send_over_python_s"] = round(result["studio_send"]["p50_s"] - base, 4)
    result["targets"] = {"studio_help_p50_s": HELP_TARGET_S, "studio_send_p50_s": SEND_TARGET_S}
    result["all_targets_met"] = (
        result["studio_help"]["p50_s"] <= HELP_TARGET_S
        and result["studio_send"]["p50_s"] <= SEND_TARGET_S
    )
    return result


def table(r: dict) -> str:
    lines = [f"CLI wall time, {r['rounds']} interleaved rounds, {r['cpus']} CPUs", ""]
    lines.append(f"{'command':<16} {'p50 s':>8} {'p99 s':>8}")
    for name in ("python_pass", "studio_help", "studio_send"):
        lines.append(f"{name:<16} {r[name]['p50_s']:>8.3f} {r[name]['p99_s']:>8.3f}")
    lines.append("")
    lines.append(
        f"over `python -c pass`: --help +{r['help_over_python_s']:.3f} s, "
        f"send +{r['send_over_python_s']:.3f} s"
    )
    lines.append(
        f"targets: --help <= {HELP_TARGET_S} s, send <= {SEND_TARGET_S} s (p50): "
        + ("met" if r["all_targets_met"] else "MISSED")
    )
    return "\n".join(lines)


def main() -> int:
    return harness.run_async(harness.parser(__doc__ or "").parse_args(), run, table)


if __name__ == "__main__":
    sys.exit(main())
