"""`rldsl check` budgets (issue 4), as medians:

* cold, as a new process (`python -m rldsl check FILE`): under 0.3 s for an example without an
  `env` declaration, under 0.6 s for one that asks gymnasium for an env's spaces; torch is never
  imported. Measured as an installed rldsl runs: with its bytecode cached, as `pip install` leaves
  it (a private `PYTHONPYCACHEPREFIX`, warmed by a first run). With `PYTHONDONTWRITEBYTECODE` set,
  as on some CI machines, every run compiles rldsl's sources again; that figure is printed too, for
  information;
* a generated model of 2,000 declarations (read, parsed and checked in one process): under 1 s;
* cost grows linearly: 500, 1,000, 2,000 and 4,000 declarations, with the ratio of each time to
  the previous one (about 2 for linear growth) and the time per declaration.

    python benchmarks/bench_check.py            # everything (about a minute)
    python benchmarks/bench_check.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COLD_NO_ENV = ["qvalue_actor.rlm", "distributional_qvalue_actor.rlm"]
COLD_ENV = ["pendulum_sac.rlm", "cartpole_dqn.rlm"]
BUDGET_NO_ENV, BUDGET_ENV, BUDGET_2000 = 0.3, 0.6, 1.0
SIZES = (500, 1000, 2000, 4000)


def generated_model(declarations: int) -> str:
    """A clean model of ``declarations`` declarations: groups of keys, a probabilistic actor, a
    Q-value actor explored epsilon-greedily and a critic, each group with its own keys."""
    lines = ["dim n_actions = 4", "dim hidden = 64"]
    group = 0
    while len(lines) < declarations:
        g = group
        lines += [
            f"key obs_{g} : f32[{g % 7 + 2}]",
            f"key act_{g} : f32[2] in [[-1.0, 0.0], [1.0, 2.0]]",
            f"module body_{g} = MLP(out_features=2 * act_{g}.shape[-1], num_cells=[hidden, hidden])\n"
            f"    >> NormalParamExtractor(scale_mapping=\"biased_softplus_1.0\") : obs_{g} -> p_{g}.loc, p_{g}.scale",
            f"actor pol_{g} = ProbabilisticActor(body_{g}, in=[p_{g}.loc, p_{g}.scale], out=[act_{g}],\n"
            f"    dist=TanhNormal(low=act_{g}.low, high=act_{g}.high), spec=act_{g}, return_log_prob=true)",
            f"key choice_{g} : onehot(n_actions, dtype=i64)",
            f"actor q_{g} = QValueActor(MLP(out_features=n_actions, num_cells=[32]), in=[obs_{g}], spec=choice_{g},\n"
            f"    action_key=choice_{g}, action_value_key=qv_{g}.action_value,"
            f" chosen_action_value_key=qv_{g}.chosen_action_value)",
            f"explore greedy_{g} = EGreedyModule(q_{g}, spec=choice_{g}, action_key=choice_{g}, eps_end=0.05)",
            f"value critic_{g} = ValueOperator(MLP(out_features=1), in=[obs_{g}, act_{g}], "
            f"out=[val_{g}.state_action_value])",
        ]
        group += 1
    return "\n".join(lines[:declarations]) + "\n"


def process_environment(bytecode_folder: str | None) -> dict[str, str]:
    """This process's environment, with bytecode written to and read from ``bytecode_folder``
    (as an installed package has it), or never written when ``bytecode_folder`` is None."""
    environment = dict(os.environ)
    if bytecode_folder is None:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment.pop("PYTHONPYCACHEPREFIX", None)
    else:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = bytecode_folder
    return environment


def cold_seconds(path: Path, runs: int, environment: dict[str, str]) -> float:
    """Median wall time of ``python -m rldsl check PATH`` in a new process."""
    command = [sys.executable, "-m", "rldsl", "check", str(path)]
    # warms the OS file cache and, with a bytecode folder, writes the bytecode
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=environment)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=environment)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def torch_stays_out(path: Path) -> bool:
    script = ("import sys\nfrom rldsl.cli import main\nmain(['check', sys.argv[1]])\n"
              "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[-1] == "False"


def in_process_seconds(path: Path, runs: int) -> tuple[float, float]:
    """Median (total, check only) seconds to read, parse and check ``path`` in this process."""
    from rldsl.lang.check import check_program
    from rldsl.lang.includes import load_program

    result = check_program(load_program(path))  # warm-up; the model must be clean
    assert not result.diagnostics, [(d.code, d.span.line, d.message) for d in result.diagnostics[:3]]
    totals, checks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        program = load_program(path)
        parsed = time.perf_counter()
        check_program(program)
        end = time.perf_counter()
        totals.append(end - start)
        checks.append(end - parsed)
    return statistics.median(totals), statistics.median(checks)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="fewer repeats")
    args = options.parse_args()
    cold_runs, warm_runs = (7, 3) if args.quick else (21, 5)
    ok = True

    bytecode_folder = tempfile.TemporaryDirectory()
    installed = process_environment(bytecode_folder.name)
    uncompiled = process_environment(None)
    baseline = statistics.median(
        [_timed([sys.executable, "-c", "pass"]) for _ in range(cold_runs)])
    print(f"\ncold `python -m rldsl check FILE` (median of {cold_runs}; bare `python -c pass`: {baseline:.3f} s)")
    print(f"{'file':<36} {'seconds':>8} {'budget':>7}  torch imported?  {'no bytecode s':>13}")
    for names, budget in ((COLD_NO_ENV, BUDGET_NO_ENV), (COLD_ENV, BUDGET_ENV)):
        for name in names:
            seconds = cold_seconds(EXAMPLES / name, cold_runs, installed)
            compiling = cold_seconds(EXAMPLES / name, cold_runs, uncompiled)
            clean = torch_stays_out(EXAMPLES / name)
            met = seconds < budget and clean
            ok &= met
            print(f"{name:<36} {seconds:>8.3f} {budget:>7.1f}  {'no' if clean else 'YES':<15}  {compiling:>13.3f}"
                  f"{'' if met else '   over budget'}")

    print(f"\ngenerated models, read + parse + check in one process (median of {warm_runs})")
    print(f"{'declarations':>12} {'total s':>8} {'check s':>8} {'ratio':>6} {'µs/decl':>8}")
    previous = None
    with tempfile.TemporaryDirectory() as folder:
        for size in SIZES:
            path = Path(folder) / f"generated_{size}.rlm"
            path.write_text(generated_model(size))
            total, check = in_process_seconds(path, warm_runs)
            ratio = "" if previous is None else f"{total / previous:.2f}"
            previous = total
            flag = ""
            if size == 2000 and total >= BUDGET_2000:
                flag, ok = "   over budget", False
            print(f"{size:>12} {total:>8.3f} {check:>8.3f} {ratio:>6} {total / size * 1e6:>8.0f}{flag}")
        path = Path(folder) / "generated_2000.rlm"
        cold = cold_seconds(path, max(3, cold_runs // 3), installed)
        print(f"\ncold `python -m rldsl check` of the 2,000-declaration model: {cold:.3f} s")
    print(f"\nbudgets: no env < {BUDGET_NO_ENV} s, env < {BUDGET_ENV} s, 2,000 declarations < {BUDGET_2000} s, "
          f"linear growth (ratios about 2) -> {'met' if ok else 'NOT met'}")
    bytecode_folder.cleanup()
    return 0 if ok else 1


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
