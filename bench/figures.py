"""Statistics and /proc readings shared by the benchmark scripts (run as `python bench/X.py`,
which puts this folder on sys.path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in percent (0.0 for no values): simple, and exact enough at
    the thousands of samples the benchmarks take."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


def proc_status_mb(pid: int | str = "self", key: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status in MB (0.0 where it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def proc_threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of a process so far: its own, and its own plus that of
    the children it has waited for (the `tmux` and `git` commands it runs)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own, children = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        tick = os.sysconf("SC_CLK_TCK")
        return own / tick, (own + children) / tick
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def rotations(names: list[str], rounds: int) -> Iterator[list[str]]:
    """Each round runs every variant once, the first one rotating, so none always goes first
    (nor always runs on the warmest cache)."""
    for i in range(rounds):
        shift = i % len(names)
        yield names[shift:] + names[:shift]
