"""Statistics and /proc readings shared by the benchmark scripts (run as `python bench/X.py`,
which puts this folder on sys.path)."""

from __future__ import annotations

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
