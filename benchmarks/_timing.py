"""Timing helpers shared by the benchmarks: medians of many repeats, ratios in one run."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable


def median_us(fn: Callable[[], object], *, number: int = 200, repeats: int = 41) -> float:
    """Median over `repeats` of the mean time of `number` calls, in microseconds."""
    fn()  # warm-up: first-call allocations and dispatch caches
    samples = [timeit.timeit(fn, number=number) / number for _ in range(repeats)]
    return statistics.median(samples) * 1e6


def compare(baseline: Callable[[], object], candidate: Callable[[], object], **kwargs) -> tuple[float, float, float]:
    """(baseline µs, candidate µs, ratio), measured interleaved so drift hits both alike."""
    base_runs, cand_runs = [], []
    for _ in range(5):
        base_runs.append(median_us(baseline, **kwargs))
        cand_runs.append(median_us(candidate, **kwargs))
    base, cand = statistics.median(base_runs), statistics.median(cand_runs)
    return base, cand, cand / base


def print_table(title: str, rows: list[tuple[str, float, float, float]], budget: float | None = None) -> bool:
    """Print one row per case; returns True when every ratio is within `budget`."""
    print(f"\n{title}")
    print(f"{'case':<44} {'baseline µs':>12} {'rldsl µs':>10} {'ratio':>7}")
    ok = True
    for name, base, cand, ratio in rows:
        flag = ""
        if budget is not None and ratio > budget:
            flag, ok = "  over budget", False
        print(f"{name:<44} {base:>12.2f} {cand:>10.2f} {ratio:>6.2f}x{flag}")
    if budget is not None:
        print(f"budget: at most {budget:.2f}x -> {'met' if ok else 'NOT met'}")
    return ok
