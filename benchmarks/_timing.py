"""Timing helpers shared by the benchmarks: medians of many repeats, ratios in one run."""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import sys
import timeit
from collections.abc import Callable

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_ABOVE = 32 << 20  # glibc's largest mmap threshold on 64-bit
_TRIM_ABOVE = 1 << 30


def median_us(fn: Callable[[], object], *, number: int = 200, repeats: int = 41) -> float:
    """Median over `repeats` of the mean time of `number` calls, in microseconds."""
    fn()  # warm-up: first-call allocations and dispatch caches
    samples = [timeit.timeit(fn, number=number) / number for _ in range(repeats)]
    return statistics.median(samples) * 1e6


def steady_allocator() -> bool:
    """Fix glibc's heap thresholds for this process, so that memory freed by one call is reused by
    the next instead of going back to the OS and faulting in again (True when set; other C
    libraries are left alone).

    By default glibc moves its mmap and trim thresholds as blocks are freed, so whether a call of
    the same code pays for hundreds of page faults depends on what the process freed before: a
    row's ratio then drifts within one run (one ``nn.LSTM`` backward, timed alone, went from 8 to 15
    ms). PyTorch's CPU tuning guide advises a caching allocator (tcmalloc, jemalloc) for the same
    reason; fixed thresholds give both sides of a comparison the same steady heap.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_ABOVE)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_ABOVE))


def compare(baseline: Callable[[], object], candidate: Callable[[], object], *, number: int = 200,
            repeats: int = 41) -> tuple[float, float, float]:
    """(baseline µs, candidate µs, ratio): medians of ``5 * repeats`` samples of each, a sample the
    mean of ``number`` calls, taken in pairs one right after the other (which side goes first
    alternates); the ratio is the median of the pairs' ratios, so that drift and bursts of load
    on a shared machine hit both sides of a pair alike."""
    baseline(), candidate()  # warm-up: first-call allocations and dispatch caches
    base_runs, cand_runs, ratios = [], [], []
    for pair in range(5 * repeats):
        if pair % 2:
            cand = timeit.timeit(candidate, number=number)
            base = timeit.timeit(baseline, number=number)
        else:
            base = timeit.timeit(baseline, number=number)
            cand = timeit.timeit(candidate, number=number)
        base_runs.append(base / number * 1e6)
        cand_runs.append(cand / number * 1e6)
        ratios.append(cand / base)
    return statistics.median(base_runs), statistics.median(cand_runs), statistics.median(ratios)


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
