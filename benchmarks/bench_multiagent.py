"""Multi-agent networks against one network of the same sizes on 8x the batch.

Eight agents with their own parameters (``share_params=False``), batch 256: all agents are
evaluated in one batched call (``torch.vmap`` over the stacked parameters: batched matrix
products for the MLP, grouped convolutions for the ConvNet), so a multi-agent network should
cost about what one network costs on the 8 * 256 inputs it computes, the same arithmetic:

- ``MultiAgentMLP`` (32 inputs per agent, two hidden layers of 256, 16 outputs), decentralised
  (each agent reads its own 32 features) and centralised (each reads all 8 * 32), against
  ``MLP`` of the same sizes on ``[2048, in]``.
- ``MultiAgentConvNet`` (3 x 32 x 32 images, torchrl's defaults: three layers of 32 channels,
  kernels 5, strides 2), decentralised and centralised (channels 3 * 8), against ``ConvNet`` of
  the same sizes on ``[2048, C, 32, 32]``.

Budget (issue 11): at most 1.5x, each ratio measured in one run (interleaved, medians of
many repeats; one thread).

    python benchmarks/bench_multiagent.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import MLP, ConvNet, MultiAgentConvNet, MultiAgentMLP  # noqa: E402

AGENTS, BATCH = 8, 256
IN, OUT, CELLS = 32, 16, [256, 256]
CHANNELS, SIZE = 3, 32
BUDGET = 1.5


def mlp_cases(quick: bool) -> list[tuple[str, float, float, float]]:
    kwargs = {"number": 5 if quick else 20, "repeats": 5 if quick else 21}
    rows = []
    for centralized in (False, True):
        torch.manual_seed(0)
        n_in = IN * AGENTS if centralized else IN
        single = MLP(in_features=n_in, out_features=OUT, num_cells=CELLS)
        multi = MultiAgentMLP(IN, OUT, AGENTS, centralized=centralized, share_params=False, num_cells=CELLS)
        x_single = torch.randn(BATCH * AGENTS, n_in)
        x_multi = torch.randn(BATCH, AGENTS, IN)
        layout = "centralised" if centralized else "decentralised"
        rows.append((f"MultiAgentMLP {layout}, 8 agents, batch 256",
                     *compare(lambda: single(x_single), lambda: multi(x_multi), **kwargs)))
    return rows


def conv_cases(quick: bool) -> list[tuple[str, float, float, float]]:
    kwargs = {"number": 1 if quick else 2, "repeats": 3 if quick else 7}
    rows = []
    for centralized in (False, True):
        torch.manual_seed(0)
        channels = CHANNELS * AGENTS if centralized else CHANNELS
        single = ConvNet(in_features=channels, kernel_sizes=5, strides=2)
        multi = MultiAgentConvNet(AGENTS, centralized, False, in_features=CHANNELS)
        x_single = torch.randn(BATCH * AGENTS, channels, SIZE, SIZE)
        x_multi = torch.randn(BATCH, AGENTS, CHANNELS, SIZE, SIZE)
        layout = "centralised" if centralized else "decentralised"
        rows.append((f"MultiAgentConvNet {layout}, 8 agents, batch 256",
                     *compare(lambda: single(x_single), lambda: multi(x_multi), **kwargs)))
    return rows


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    ok = True
    with torch.no_grad():
        ok &= print_table("MultiAgentMLP (own parameters) vs one MLP on 8x the batch (one thread)",
                          mlp_cases(quick), budget=BUDGET)
        ok &= print_table("MultiAgentConvNet (own parameters) vs one ConvNet on 8x the batch (one thread)",
                          conv_cases(quick), budget=BUDGET)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
