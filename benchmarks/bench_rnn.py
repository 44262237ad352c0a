"""``LSTMModule`` / ``GRUModule`` against the bare torch layers on the same data.

Two budgets (issue 12), each case measured in one run, interleaved, the median of many repeats
(``_timing.compare``), one thread:

- recurrent mode over 64 steps (a loss replaying trajectories): ``LSTMModule`` on a ``[B, 64]``
  tensordict against one ``nn.LSTM`` call on the same ``[B, 64, F]`` input and first states, at
  most 1.2x; batch 1 and 32, forward only (``torch.no_grad``) and forward + backward. The module
  adds reading and writing the entries, taking the first step's stored states and placing the
  final states at the last step.
- single-step (sequential) mode at batch 1 (a policy acting in one environment): the module on a
  ``[1]`` tensordict against one ``nn.LSTMCell`` step on the same tensors, at most 2x (also
  ``GRUModule`` against ``nn.GRUCell``). The module adds the entries, the ``is_init`` check and
  the state layout ``[*B, layers, hidden]``.

Both sides keep their outputs alive until the next call, as a training loop or a rollout does
(the tensordict holds the module's; the bare layer's are kept in a dict): dropping them at once
would let the allocator hand the same memory back hot, which no real loop gets.

glibc's heap thresholds are fixed for the run (``_timing.steady_allocator``): with its default,
moving thresholds, memory freed by one call goes back to the OS and faults in again on the next
depending on what was freed before, so that the same ``nn.LSTM`` backward at batch 32 took 2.4 or
3.9 ms in the same process, with 0 or 500 page faults per call. ``--default-allocator`` keeps
glibc's default, to see that.

A last table, without budget, shows recurrent mode with resets inside the rows (the trajectories
are split, padded and packed) against the same ``nn.LSTM`` call without them.

    python benchmarks/bench_rnn.py [--quick] [--default-allocator]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tensordict import TensorDict
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table, steady_allocator  # noqa: E402

from rldsl.modules import GRUModule, LSTMModule, set_recurrent_mode  # noqa: E402

RECURRENT_BUDGET = 1.2
STEP_BUDGET = 2.0
FEATURES, HIDDEN, STEPS = 16, 64, 64
BATCHES = (1, 32)


def trajectories(batch: int, resets: bool) -> TensorDict:
    """``[batch, STEPS]`` steps with stored zero states and a ``"next"`` entry, as a replay buffer
    gives them to a loss; with ``resets``, a new trajectory every 16 steps."""
    is_init = torch.zeros(batch, STEPS, 1, dtype=torch.bool)
    is_init[:, 0] = True
    if resets:
        is_init[:, ::16] = True
    following = TensorDict(reward=torch.zeros(batch, STEPS, 1), done=torch.zeros(batch, STEPS, 1, dtype=torch.bool),
                           batch_size=[batch, STEPS])
    return TensorDict(obs=torch.randn(batch, STEPS, FEATURES), is_init=is_init,
                      recurrent_state_h=torch.zeros(batch, STEPS, 1, HIDDEN),
                      recurrent_state_c=torch.zeros(batch, STEPS, 1, HIDDEN), next=following, batch_size=[batch, STEPS])


KEPT: dict[str, object] = {}


def keep(outputs: object) -> object:
    """Hold the bare layer's outputs until the next call (as the tensordict holds the module's)."""
    KEPT["outputs"] = outputs
    return outputs


def backward(output: torch.Tensor) -> None:
    output.sum().backward()


def recurrent_cases(quick: bool, resets: bool) -> list[tuple[str, float, float, float]]:
    torch.manual_seed(0)
    module = LSTMModule(FEATURES, HIDDEN, in_key="obs", out_key="features")
    rows = []
    for batch in BATCHES:
        data = trajectories(batch, resets)
        x = data["obs"]
        first = (data["recurrent_state_h"][:, 0].transpose(0, 1).contiguous(),
                 data["recurrent_state_c"][:, 0].transpose(0, 1).contiguous())
        kwargs = {"number": 5 if quick else 20, "repeats": 7 if quick else 21}
        label = "with resets" if resets else "64 steps"
        with set_recurrent_mode(True):
            if not resets:
                torch.testing.assert_close(module(data)["features"], module.lstm(x, first)[0])
            with torch.no_grad():
                rows.append((f"recurrent {label}, batch {batch}, forward",
                             *compare(lambda: keep(module.lstm(x, first)), lambda: module(data), **kwargs)))
            rows.append((f"recurrent {label}, batch {batch}, fwd+bwd",
                         *compare(lambda: backward(keep(module.lstm(x, first))[0]),
                                  lambda: backward(module(data)["features"]), **kwargs)))
    return rows


def step_cases(quick: bool) -> list[tuple[str, float, float, float]]:
    torch.manual_seed(0)
    rows = []
    kwargs = {"number": 200 if quick else 1000, "repeats": 11 if quick else 41}
    x = torch.randn(1, FEATURES)
    for module, cell, states in (
        (LSTMModule(FEATURES, HIDDEN, in_key="obs", out_key="features"), nn.LSTMCell(FEATURES, HIDDEN),
         ("recurrent_state_h", "recurrent_state_c")),
        (GRUModule(FEATURES, HIDDEN, in_key="obs", out_key="features"), nn.GRUCell(FEATURES, HIDDEN),
         ("recurrent_state",)),
    ):
        rnn = module.rnn
        cell.load_state_dict({name[:-3]: value for name, value in rnn.state_dict().items()})  # weight_ih_l0 -> weight_ih
        stored = {key: torch.randn(1, 1, HIDDEN) for key in states}
        data = TensorDict(obs=x, is_init=torch.zeros(1, 1, dtype=torch.bool), **stored, batch_size=[1])
        hx = tuple(stored[key][:, 0] for key in states)
        hx = hx if len(hx) > 1 else hx[0]
        with torch.no_grad():
            expected = cell(x, hx)
            torch.testing.assert_close(module(data)["features"], expected[0] if isinstance(expected, tuple) else expected)
            rows.append((f"{type(module).__name__} step, batch 1",
                         *compare(lambda: keep(cell(x, hx)), lambda: module(data), **kwargs)))
    return rows


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    steady = "--default-allocator" not in argv and steady_allocator()
    print(f"glibc heap thresholds: {'fixed (steady_allocator)' if steady else 'the C library default'}")
    torch.set_num_threads(1)
    ok = print_table("LSTMModule, recurrent mode, vs one nn.LSTM call on the same data (one thread)",
                     recurrent_cases(quick, resets=False), budget=RECURRENT_BUDGET)
    ok &= print_table("Single step at batch 1 vs one nn.LSTMCell / nn.GRUCell step (one thread)",
                      step_cases(quick), budget=STEP_BUDGET)
    print_table("LSTMModule, recurrent mode with a reset every 16 steps, vs nn.LSTM without (no budget)",
                recurrent_cases(quick, resets=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
