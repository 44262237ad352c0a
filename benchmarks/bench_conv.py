"""``ConvNet`` against the ``nn.Sequential`` of the same conv layers a user would write instead.

The Atari stack (4 input frames, 32/64/64 channels, kernels 8/4/3, strides 4/2/1, ELU) on a
batch of ``[256, 4, 84, 84]``, one thread, no grad. The baseline is an ``nn.Sequential`` holding
the very same conv and activation modules followed by ``nn.Flatten(-3)``, so the two compute the
same thing with the same weights; what the ratio measures is ``ConvNet``'s own work (checking the
input's dims and flattening the batch dims). Two more rows, for reference and without a budget:
a batch of one image (where that overhead is the largest share) and two batch dims ``[8, 32]``
(the flatten-and-restore path, against the Sequential on the same images already flat).

Budget (issue 11): at most 1.1x the Sequential on ``[256, 4, 84, 84]``.

One call takes tens of milliseconds, so the two are timed in alternating single calls (the
order swapped every pair) and the ratio is the median of the per-pair ratios: load from other
processes then hits both sides of a pair alike, where medians of separate blocks of calls drift.

    python benchmarks/bench_conv.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import ConvNet, SquashDims  # noqa: E402

BUDGET = 1.1
ATARI = {"num_cells": [32, 64, 64], "kernel_sizes": [8, 4, 3], "strides": [4, 2, 1]}


def same_layers_sequential(net: ConvNet) -> nn.Sequential:
    """The conv and activation modules of ``net`` (shared, not copied), then a flatten."""
    return nn.Sequential(*[module for module in net if not isinstance(module, SquashDims)], nn.Flatten(-3))


def timing(images: int, quick: bool) -> dict:
    if images == 1:
        return {"number": 50 if quick else 200, "repeats": 7 if quick else 21}
    return {"pairs": 9 if quick else 41}


def paired(baseline: Callable[[], object], candidate: Callable[[], object], *,
           pairs: int) -> tuple[float, float, float]:
    """(baseline µs, candidate µs, ratio): medians over ``pairs`` alternating single calls, the ratio
    the median of the per-pair ratios."""
    baseline(), candidate()  # warm-up
    base_times, cand_times, ratios = [], [], []
    for i in range(pairs):
        order = (baseline, candidate) if i % 2 == 0 else (candidate, baseline)
        took = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - start
        base_times.append(took[baseline])
        cand_times.append(took[candidate])
        ratios.append(took[candidate] / took[baseline])
    return statistics.median(base_times) * 1e6, statistics.median(cand_times) * 1e6, statistics.median(ratios)


def cases(quick: bool) -> tuple[list, list]:
    torch.manual_seed(0)
    net = ConvNet(in_features=4, **ATARI)
    plain = same_layers_sequential(net)
    budgeted, reference = [], []
    with torch.no_grad():
        x = torch.randn(256, 4, 84, 84)
        torch.testing.assert_close(net(x), plain(x))
        budgeted.append(("ConvNet vs Sequential, [256, 4, 84, 84]",
                         *paired(lambda: plain(x), lambda: net(x), **timing(256, quick))))
        one = torch.randn(1, 4, 84, 84)
        reference.append(("ConvNet vs Sequential, [1, 4, 84, 84]",
                          *compare(lambda: plain(one), lambda: net(one), **timing(1, quick))))
        nested = torch.randn(8, 32, 4, 84, 84)
        flat = nested.flatten(0, 1)
        reference.append(("ConvNet [8, 32, ...] vs Sequential [256, ...]",
                          *paired(lambda: plain(flat), lambda: net(nested), **timing(256, quick))))
    return budgeted, reference


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    budgeted, reference = cases(quick)
    ok = print_table("ConvNet vs nn.Sequential of the same conv layers (one thread)", budgeted, budget=BUDGET)
    print_table("For reference (no budget)", reference)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
