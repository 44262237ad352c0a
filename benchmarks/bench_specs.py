"""Spec hot paths against the bare torch operation a user would write instead.

`Bounded.project` is compared with `torch.clamp` (scalar bounds with scalar clamp,
per-element bounds with tensor clamp) and `Bounded.is_in` with the two comparisons
``((x >= low) & (x <= high)).all()``; one thread, batch 1 and 1024 of 6-dim actions.
Budget (issue 2): every ratio at most 1.5x.

    python benchmarks/bench_specs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.specs import Bounded, OneHot  # noqa: E402

BUDGET = 1.5


def bounded_cases(batch: int) -> list[tuple[str, float, float, float]]:
    torch.manual_seed(0)
    x = torch.randn(batch, 6) * 3
    low, high = torch.linspace(-2.0, -1.0, 6), torch.linspace(1.0, 2.0, 6)
    scalar, per_element = Bounded(-2.0, 2.0, shape=(6,)), Bounded(low, high)
    return [
        (f"project, scalar bounds, batch {batch}", *compare(lambda: torch.clamp(x, -2.0, 2.0), lambda: scalar.project(x))),
        (f"project, per-element bounds, batch {batch}", *compare(lambda: torch.clamp(x, low, high), lambda: per_element.project(x))),
        (f"is_in, scalar bounds, batch {batch}", *compare(lambda: bool(((x >= -2.0) & (x <= 2.0)).all()), lambda: scalar.is_in(x))),
        (f"is_in, per-element bounds, batch {batch}", *compare(lambda: bool(((x >= low) & (x <= high)).all()), lambda: per_element.is_in(x))),
    ]


def one_hot_cases(batch: int) -> list[tuple[str, float, float, float]]:
    scores = torch.randn(batch, 6)
    spec = OneHot(6)
    bare = lambda: torch.nn.functional.one_hot(scores.argmax(-1), 6).bool()  # noqa: E731
    return [(f"OneHot.project (argmax), batch {batch}", *compare(bare, lambda: spec.project(scores)))]


def main() -> int:
    torch.set_num_threads(1)
    rows = [row for batch in (1, 1024) for row in bounded_cases(batch)]
    ok = print_table("Bounded spec vs bare torch (one thread)", rows, budget=BUDGET)
    print_table("For reference (no budget): OneHot projection vs argmax + one_hot",
                [row for batch in (1, 1024) for row in one_hot_cases(batch)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
