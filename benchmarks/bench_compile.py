"""`rldsl compile` budgets (issue 5), as medians:

* per call, at batch 1 and batch 1024 (or the largest power of two below that keeps one call's
  input within four million numbers and its time within 50 ms: pixel models, planners) on one CPU
  thread, in eval mode (so that a batch norm reads
  its running statistics and runs on a batch of one), every declared module of every example
  (examples/multiagent and examples/zoo included), compiled (input checks on) against the same graph without the
  compiler's input check (a graph of plain ``rldsl.modules`` objects, which the differential tests
  in ``tests/test_compile.py`` show equal to the graph built by hand), and, for pendulum_sac and
  cartpole_dqn, against the graph built by hand: at most 1.1x;
* `rldsl compile FILE` as a new process, with its time split (import, check, build, first forward).

    python benchmarks/bench_compile.py            # everything (a few minutes)
    python benchmarks/bench_compile.py --quick    # fewer repeats
    python benchmarks/bench_compile.py --batch 1024 --quick    # one table
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch
from tensordict.nn import NormalParamExtractor, TensorDictModule
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rldsl  # noqa: E402
from _timing import compare, print_table  # noqa: E402
from rldsl import modules as M  # noqa: E402
from rldsl import specs as S  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)
BUDGET = 1.1
BATCHES = (1, 1024)
MAX_INPUT_NUMBERS = 1 << 22
MAX_CALL_SECONDS = 0.05


def _call(module: nn.Module, td: object):
    def run() -> object:
        with torch.no_grad():
            return module(td.clone(False))

    return run


def _by_hand() -> dict[tuple[str, str], nn.Module]:
    """pendulum_sac's policy and cartpole_dqn's q, built by hand from rldsl.modules."""
    params = TensorDictModule(
        nn.Sequential(M.MLP(in_features=3, out_features=2, num_cells=[64, 64]), NormalParamExtractor()),
        in_keys=["observation"], out_keys=["loc", "scale"])
    policy = M.ProbabilisticActor(params, in_keys=["loc", "scale"], out_keys=["action"],
                                  spec=S.Bounded(-2.0, 2.0, shape=(1,)), distribution_class=M.TanhNormal,
                                  distribution_kwargs={"low": -2.0, "high": 2.0}, return_log_prob=True)
    q = M.QValueActor(M.MLP(in_features=4, out_features=2, num_cells=[64, 64]), in_keys=["observation"],
                      spec=S.OneHot(2, dtype=torch.int64))
    return {("pendulum_sac", "policy"): policy, ("cartpole_dqn", "q"): q}


def batch_for(program: rldsl.Program, name: str, batch: int) -> int:
    """``batch``, or the largest power of two under it whose input stays within
    ``MAX_INPUT_NUMBERS`` (a pixel model reads 28,224 numbers per frame stack) and whose call takes
    at most ``MAX_CALL_SECONDS`` (a planner tries hundreds of candidate plans per element)."""
    per_element = sum(value.numel() for value in program.spec_random_input(name, (1,)).values(True, True))
    while batch > 1 and batch * per_element > MAX_INPUT_NUMBERS:
        batch //= 2
    while batch > 1:
        call = _call(program[name], program.spec_random_input(name, (batch,)))
        call()  # warm-up
        start = time.perf_counter()
        call()
        if time.perf_counter() - start <= MAX_CALL_SECONDS:
            break
        batch //= 2
    return batch


def per_call(batch: int, number: int, repeats: int) -> bool:
    rows = []
    hand = _by_hand()
    for path in EXAMPLES:
        compiled = rldsl.compile(path)
        plain = rldsl.compile(path, check_inputs=False)
        label = path.relative_to(ROOT / "examples").with_suffix("").as_posix()
        for name in compiled:
            compiled[name].eval(), plain[name].eval()
            size = batch_for(compiled, name, batch)
            td = compiled.spec_random_input(name, (size,))
            base, cand, ratio = compare(_call(plain[name], td), _call(compiled[name], td), number=number,
                                        repeats=repeats)
            rows.append((f"{label}.{name}" + ("" if size == batch else f" (batch {size})"), base, cand, ratio))
            by_hand = hand.get((label, name))
            if by_hand is not None:
                by_hand.load_state_dict(plain[name].state_dict())
                base, cand, ratio = compare(_call(by_hand, td), _call(compiled[name], td), number=number,
                                            repeats=repeats)
                rows.append((f"{label}.{name} (by hand)", base, cand, ratio))
    return print_table(f"per call, batch {batch}, one thread: baseline = the same graph without the compiler "
                       "(or by hand)", rows, BUDGET)


def cold(files: list[str]) -> None:
    print("\n`rldsl compile FILE` as a new process:")
    for name in files:
        result = subprocess.run([sys.executable, "-m", "rldsl", "compile", str(ROOT / "examples" / name)],
                                capture_output=True, text=True, check=True)
        print(f"  {name:<28} {result.stdout.strip().splitlines()[-1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--batch", type=int, action="append", choices=BATCHES,
                        help="only this batch's table (repeatable); default: all")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ok = True
    for batch in args.batch or BATCHES:
        number, repeats = (20, 7) if args.quick else (100, 21)
        if batch > 1:
            number //= 10
        ok = per_call(batch, number, repeats) and ok
    cold(["pendulum_sac.rlm", "cartpole_dqn.rlm", "pendulum_ddpg.rlm"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
