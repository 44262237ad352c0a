"""``NoisyLinear`` forward under the ``RANDOM`` exploration type against the same math by hand.

The hand-written layer is a plain ``nn.Module`` holding the same six tensors and computing
``F.linear(x, w_mu + w_sigma * w_eps, b_mu + b_sigma * b_eps)``: ``nn.Linear``'s product plus
the noise ops, with no exploration-type check. rldsl's layer adds that check (one context
lookup per call) and nothing else. Cases, one thread: layers 64 -> 64 (the call overhead
dominates) and 512 -> 512 (the arithmetic dominates), batch 1 and 256, forward only
(``torch.no_grad``) and forward + backward (what a training step pays).

Budget (issue 11): at most 1.5x the hand-written layer, in every case. The ratio is measured
in one run, interleaved, the median of many repeats (``_timing.compare``).

    python benchmarks/bench_noisy.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import ExplorationType, NoisyLinear, set_exploration_type  # noqa: E402

BUDGET = 1.5
SIZES = ((64, 64), (512, 512))
BATCHES = (1, 256)


class HandNoisyLinear(nn.Module):
    """``nn.Linear`` with the factorised-noise weights written out: the baseline."""

    def __init__(self, layer: NoisyLinear) -> None:
        super().__init__()
        self.w_mu, self.w_sigma = nn.Parameter(layer.weight_mu.detach().clone()), \
            nn.Parameter(layer.weight_sigma.detach().clone())
        self.b_mu, self.b_sigma = nn.Parameter(layer.bias_mu.detach().clone()), \
            nn.Parameter(layer.bias_sigma.detach().clone())
        self.register_buffer("w_eps", layer.weight_epsilon.clone())
        self.register_buffer("b_eps", layer.bias_epsilon.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [*B, in_features] -> [*B, out_features]`` with the noisy weights."""
        return F.linear(x, self.w_mu + self.w_sigma * self.w_eps, self.b_mu + self.b_sigma * self.b_eps)


def timing(batch: int, fan: int, quick: bool) -> dict:
    small = batch == 1 and fan <= 64
    if small:
        return {"number": 100 if quick else 400, "repeats": 11 if quick else 41}
    return {"number": 10 if quick else 40, "repeats": 7 if quick else 31}


def forward_backward(layer: nn.Module, x: torch.Tensor) -> None:
    layer(x).sum().backward()


def cases(quick: bool) -> list[tuple[str, float, float, float]]:
    rows = []
    for fan_in, fan_out in SIZES:
        torch.manual_seed(0)
        noisy = NoisyLinear(fan_in, fan_out)
        hand = HandNoisyLinear(noisy)
        for batch in BATCHES:
            x = torch.randn(batch, fan_in)
            kwargs = timing(batch, fan_in, quick)
            with set_exploration_type(ExplorationType.RANDOM):
                torch.testing.assert_close(noisy(x), hand(x))
                with torch.no_grad():
                    rows.append((f"forward {fan_in}->{fan_out}, batch {batch}",
                                 *compare(lambda: hand(x), lambda: noisy(x), **kwargs)))
                rows.append((f"forward+backward {fan_in}->{fan_out}, batch {batch}",
                             *compare(lambda: forward_backward(hand, x), lambda: forward_backward(noisy, x),
                                      **kwargs)))
    return rows


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    ok = print_table("NoisyLinear (RANDOM) vs nn.Linear + the noise ops by hand (one thread)", cases(quick),
                     budget=BUDGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
