"""``python -m tests.fuzz``: fuzz the rldsl entry points for a while and store what fails.

Run from the repository root::

    python -m tests.fuzz --minutes 30 --seed 1 --out /tmp/rldsl-fuzz

prints the counts (cases, crashes, hangs over the time limit, runs over the memory cap) and
writes each failing input, minimised, to ``OUT/NNN-short-name.rlm``, with ``OUT/report.txt`` (each
signature, its count, a reproducer and the traceback) and ``OUT/summary.json``. With
``--save-regressions`` each new signature is also added to ``tests/fuzz/regressions/``. The exit
status is 1 when anything failed, else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .campaign import REGRESSIONS_DIR, fuzz
from .harness import MEMORY_LIMIT, TIME_LIMIT, Worker


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default: 10)")
    parser.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the mutations (default: 0)")
    parser.add_argument("--out", type=Path, default=None, help="write failing inputs and the report here")
    parser.add_argument("--save-regressions", action="store_true",
                        help="also add each new signature to tests/fuzz/regressions/")
    parser.add_argument("--cli-every", type=int, default=25, help="run the CLI on every N-th case (0: never)")
    parser.add_argument("--compile-cli-every", type=int, default=500,
                        help="make every N-th CLI run `rldsl compile` (a fresh torch import; 0: never)")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds before a case is a hang")
    parser.add_argument("--memory-mb", type=int, default=MEMORY_LIMIT // 2**20, help="address-space cap per process")
    parser.add_argument("--minimise-seconds", type=float, default=20.0, help="time to minimise each new crash")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    worker = Worker(time_limit=args.time_limit, memory_limit=args.memory_mb * 2**20)
    try:
        summary = fuzz(seconds=args.minutes * 60, seed=args.seed, out_dir=args.out, max_cases=args.cases,
                       worker=worker, cli_every=args.cli_every, compile_cli_every=args.compile_cli_every,
                       minimise_seconds=args.minimise_seconds,
                       regressions_dir=REGRESSIONS_DIR if args.save_regressions else None,
                       log=lambda line: print(line, flush=True))
    finally:
        worker.close()
    print(summary.line())
    print(f"cases: {summary.cases}, crashes: {summary.crashes}, hangs > {args.time_limit:g} s: {summary.hangs}, "
          f"over {args.memory_mb} MiB: {summary.over_memory}")
    for signature, finding in sorted(summary.findings.items(), key=lambda item: -item[1].count):
        print(f"  x{finding.count:<5} {signature}" + (f"  -> {finding.path}" if finding.path else ""))
    if args.out:
        print(f"report: {args.out / 'report.txt'}")
    return 1 if summary.findings else 0


if __name__ == "__main__":
    sys.exit(main())
