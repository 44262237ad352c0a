"""The fuzz suite: mutated examples through check, render, fmt, graph, compile and one forward
pass (in a worker process under a memory cap and a time limit), the CLI on a sample, every
regression input, and the harness's own limits.

Fast by default (a bounded number of cases); ``python -m pytest tests/fuzz -m slow`` runs the long
campaign, for ``RLDSL_FUZZ_SECONDS`` seconds (default 600) from ``RLDSL_FUZZ_SEED`` (default 0),
writing what fails to ``RLDSL_FUZZ_OUT`` (default: a temporary folder).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given

from .campaign import cli_command_of, fuzz, regression_files
from .harness import CLI_COMMANDS, PROBES, Outcome, Worker, minimise, run_cli, run_stages
from .mutate import Mutator, example_texts, mutated_inputs, tokenize

#: Cases of the fast seeded run.
FAST_CASES = 150
SEED = int(os.environ.get("RLDSL_FUZZ_SEED", "0"))


@pytest.fixture(scope="module")
def worker() -> Worker:
    with Worker() as running:
        yield running


def _explain(outcome: Outcome, data: bytes) -> str:
    return f"{outcome.status}: {outcome.signature}\ninput: {data[:400]!r}\n{outcome.detail}"


# ---------------------------------------------------------------------------------------------
# The mutator


def test_tokenizer_is_lossless_on_every_example() -> None:
    for name, text in example_texts():
        assert "".join(piece for _, piece in tokenize(text)) == text, name


def test_mutations_are_reproducible_from_the_seed() -> None:
    first = [Mutator.from_examples().mutate(random.Random(seed)) for seed in range(40)]
    again = [Mutator.from_examples().mutate(random.Random(seed)) for seed in range(40)]
    assert first == again
    assert len({case.data for case in first}) > 30  # and they differ from each other
    assert all(case.data not in PROBES for case in first)


def test_mutations_cover_the_hostile_inputs() -> None:
    """Over a few thousand cases, every operator runs, and the hostile kinds of input appear."""
    rng, mutator = random.Random(5), Mutator.from_examples()
    cases = [mutator.mutate(rng) for _ in range(3000)]
    operators = {name for case in cases for name in case.operators}
    assert {"set_argument", "extreme_number", "insert_unicode", "insert_nul", "deep_nesting", "splice",
            "line_endings", "byte_order_mark", "dim_squarings", "bad_utf8"} <= operators
    blob = b"\n".join(case.data for case in cases)
    for marker in (b"\x00", b"\r\n", "\ufeff".encode(), b"\x1b[", str(10**400).encode(), b"(" * 100):
        assert marker in blob, marker


@given(case=mutated_inputs())
def test_hypothesis_drives_the_mutator(case) -> None:
    assert isinstance(case.data, bytes) and case.operators


# ---------------------------------------------------------------------------------------------
# The harness


def test_examples_are_ok_or_diagnostics(worker: Worker) -> None:
    outcomes = {name: worker.run(text.encode()) for name, text in example_texts()}
    assert outcomes["pendulum_sac.rlm"].status == "ok"
    assert outcomes["errors/obsevation.rlm"].status == "diagnostic"
    assert outcomes["errors/obsevation.rlm"].codes == ("E0301",)
    failures = {name: o.signature for name, o in outcomes.items() if o.failed}
    assert not failures


def test_exceptions_are_classified_by_stage_and_frame(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An exception from rldsl is a crash named by stage, type and innermost rldsl frame; a
    MemoryError is over-memory."""
    import rldsl.lang.graph

    def broken(report: object) -> str:
        raise KeyError("boom")

    monkeypatch.chdir(tmp_path)
    text = b"key observation : f32[3]\nactor a = Actor(MLP(out_features=2))\n"
    monkeypatch.setattr(rldsl.lang.graph, "key_flow_dot", broken)
    outcome = run_stages(text, tmp_path)
    assert outcome.status == "crash" and outcome.stage == "graph"
    assert outcome.signature.startswith("graph: KeyError @ ") and "KeyError: 'boom'" in outcome.detail

    def out_of_memory(report: object) -> str:
        raise MemoryError

    monkeypatch.setattr(rldsl.lang.graph, "key_flow_dot", out_of_memory)
    assert run_stages(text, tmp_path).status == "over-memory"


def test_worker_survives_hangs_memory_blowups_and_deaths() -> None:
    """The probes spin past the time limit, allocate past the memory cap and end the process:
    each is reported, and the next case runs in a fresh worker."""
    with Worker(time_limit=1.0, warm_up=False) as cold:
        hang = cold.run(b"#!fuzz-probe:hang\n")
        memory = cold.run(b"#!fuzz-probe:memory\n")
        death = cold.run(b"#!fuzz-probe:exit\n")
        after = cold.run(b"#!fuzz-probe:hang\n")
    assert hang.status == "hang" and hang.stage == "check"
    assert memory.status == "over-memory" and "MemoryError" in memory.signature
    assert death.status == "crash" and "exit status 3" in death.signature
    assert after.status == "hang"
    assert cold.restarts >= 3


@pytest.mark.slow
def test_worker_kills_a_case_blocked_without_using_cpu() -> None:
    with Worker(time_limit=1.0, warm_up=False) as cold:
        blocked = cold.run(b"#!fuzz-probe:block\n")
        assert blocked.status == "hang" and "stuck" in blocked.signature
        assert cold.run(b"#!fuzz-probe:hang\n").status == "hang"  # and a fresh worker takes over


def test_minimise_keeps_the_failure_and_drops_the_rest() -> None:
    data = b"key a : f32[3]\nkey b : f32[4]\nmodule m = MLP(out_features=BAD) : a -> c\nkey d : f32[5]\n"
    smaller = minimise(data, lambda candidate: b"BAD" in candidate and b"MLP" in candidate)
    assert b"BAD" in smaller and b"MLP" in smaller and len(smaller) < 20


# ---------------------------------------------------------------------------------------------
# Fuzzing


def test_seeded_mutations_do_not_crash(worker: Worker) -> None:
    summary = fuzz(seconds=120, max_cases=FAST_CASES, seed=SEED, worker=worker, cli_every=40,
                   compile_cli_every=0, minimise_seconds=5)
    assert summary.cases == FAST_CASES
    assert summary.statuses["ok"] > 5  # mutants do reach compile and the forward pass
    assert not summary.findings, summary.report()


@given(case=mutated_inputs(max_operators=2))
def test_hypothesis_mutants_do_not_crash(worker: Worker, case) -> None:
    outcome = worker.run(case.data)
    assert not outcome.failed, _explain(outcome, case.data)


@pytest.mark.parametrize("command", sorted(CLI_COMMANDS))
def test_cli_on_a_mutant(worker: Worker, command: str) -> None:
    """Each CLI command on one mutant of a clean example: exit 0/1/2, no internal error."""
    mutator = Mutator([("pendulum_sac.rlm", dict(example_texts())["pendulum_sac.rlm"])])
    case = mutator.mutate(random.Random(SEED + sorted(CLI_COMMANDS).index(command)), max_operators=1)
    outcome = run_cli(case.data, command, worker.folder)
    assert not outcome.failed, _explain(outcome, case.data)


@pytest.mark.parametrize("path", regression_files(), ids=lambda path: path.name)
def test_regression_input_does_not_crash(worker: Worker, path: Path) -> None:
    """Every input the fuzzer ever crashed rldsl with, through the harness and the CLI."""
    data = path.read_bytes()
    outcome = worker.run(data)
    assert not outcome.failed, _explain(outcome, data)
    cli = run_cli(data, cli_command_of(path) or "check", worker.folder)
    assert not cli.failed, _explain(cli, data)


@pytest.mark.slow
def test_long_fuzz_run(tmp_path: Path) -> None:
    seconds = float(os.environ.get("RLDSL_FUZZ_SECONDS", "600"))
    out = Path(os.environ.get("RLDSL_FUZZ_OUT", tmp_path))
    summary = fuzz(seconds=seconds, seed=SEED, out_dir=out, log=print)
    assert not summary.findings, summary.report()
