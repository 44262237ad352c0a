"""A fuzzing run: mutate, run, count, deduplicate, minimise and store what fails.

:func:`fuzz` draws cases from a seeded :class:`~.mutate.Mutator` until a time or case budget is
spent, runs each in a :class:`~.harness.Worker` (memory cap, time limit), and every
``cli_every``-th case through the ``rldsl`` command too. Inputs whose outcome is new (a new set of
diagnostic codes, or a clean check) join the corpus, so that mutation reaches past the first
error. Failures are grouped by signature; the first input of each signature is minimised and
written to ``out_dir`` as ``NNN-short-name.rlm`` (and, with ``regressions_dir``, added to the
regression files if no file there has that signature yet).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import attrs

from .harness import CLI_COMMANDS, INPUT_NAME, Outcome, Worker, minimise, run_cli
from .mutate import Mutator, example_texts

__all__ = ["Finding", "Summary", "cli_command_of", "fuzz", "regression_files", "save_finding"]

REGRESSIONS_DIR = Path(__file__).resolve().parent / "regressions"

#: Largest corpus entry kept for further mutation.
_CORPUS_ENTRY_BYTES = 32 * 1024
_CORPUS_LIMIT = 3000


@attrs.define
class Finding:
    """One failure signature: how often it was hit, the first input and its minimised form."""

    outcome: Outcome
    data: bytes
    minimal: bytes
    origin: str
    operators: tuple[str, ...]
    count: int = 1
    path: Path | None = None


@attrs.define
class Summary:
    """The counts of a run and its findings by signature."""

    seed: int
    cases: int = 0
    cli_runs: int = 0
    seconds: float = 0.0
    statuses: Counter = attrs.Factory(Counter)
    stages: Counter = attrs.Factory(Counter)
    findings: dict[str, Finding] = attrs.Factory(dict)
    refusals: dict[str, bytes] = attrs.Factory(dict)  # CompileError messages after a clean check
    slowest: list[tuple[float, str, bytes]] = attrs.Factory(list)  # the slowest cases that passed

    @property
    def crashes(self) -> int:
        return self.statuses["crash"]

    @property
    def hangs(self) -> int:
        return self.statuses["hang"]

    @property
    def over_memory(self) -> int:
        return self.statuses["over-memory"]

    def line(self) -> str:
        return (f"{self.cases} cases ({self.cli_runs} CLI runs) in {self.seconds:.0f} s, seed {self.seed}: "
                f"{self.statuses['ok']} ok, {self.statuses['diagnostic']} diagnostic, {self.statuses['refused']} refused "
                f"by compile, {self.crashes} crashes, "
                f"{self.hangs} hangs > limit, {self.over_memory} over memory; {len(self.findings)} distinct signatures")

    def report(self) -> str:
        """The counts, then each signature with its count, a minimal reproducer and the detail."""
        lines = [self.line(), ""]
        for signature, finding in sorted(self.findings.items(), key=lambda item: -item[1].count):
            lines += [f"== {signature}  (x{finding.count}, from {finding.origin} via {', '.join(finding.operators)})",
                      f"   file: {finding.path}" if finding.path else "",
                      "   reproducer: " + repr(finding.minimal[:600])[1:],
                      *("   | " + line for line in finding.outcome.detail.strip().splitlines()[-12:]), ""]
        for seconds, status, data in self.slowest:
            lines += [f"== slow ({seconds:.1f} s, {status}): " + repr(data[:300])[1:], ""]
        for message, data in self.refusals.items():
            lines += [f"== checked clean, refused by compile: {message}", "   input: " + repr(data[:600])[1:], ""]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "seed": self.seed, "cases": self.cases, "cli_runs": self.cli_runs, "seconds": round(self.seconds, 1),
            "statuses": dict(self.statuses), "crashes": self.crashes, "hangs": self.hangs,
            "over_memory": self.over_memory,
            "slowest": [{"seconds": round(seconds, 2), "status": status,
                         "input": data[:4000].decode("utf-8", "backslashreplace")}
                        for seconds, status, data in self.slowest],
            "findings": [{"signature": sig, "count": f.count, "status": f.outcome.status, "stage": f.outcome.stage,
                          "file": str(f.path) if f.path else None, "origin": f.origin, "operators": list(f.operators),
                          "reproducer": f.minimal.decode("utf-8", "backslashreplace")[:2000]}
                         for sig, f in self.findings.items()],
            "refusals": [{"message": m, "input": d.decode("utf-8", "backslashreplace")[:2000]}
                         for m, d in self.refusals.items()],
        }, indent=2)


def _slug(signature: str) -> str:
    """A short file-name part for a signature: stage, exception and function."""
    words = re.findall(r"[A-Za-z0-9]+", signature.replace("rldsl/", "").replace(".py", ""))
    return "-".join(words[:6]).lower()[:60] or "crash"


def _next_number(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.glob("*.rlm") if (m := re.match(r"(\d+)-", p.name))]
    return max(numbers, default=0) + 1


def save_finding(folder: Path, signature: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/NNN-short-name.rlm`` (next free number) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_next_number(folder):03d}-{_slug(signature)}.rlm"
    path.write_bytes(data)
    return path


def regression_files(folder: Path = REGRESSIONS_DIR) -> list[Path]:
    """The regression inputs, in order."""
    return sorted(folder.glob("*.rlm"))


def cli_command_of(path: Path) -> str | None:
    """The CLI command a regression file replays: `NNN-cli-fmt-...` replays `rldsl fmt`."""
    for command in sorted(CLI_COMMANDS, key=len, reverse=True):
        if re.match(rf"\d+-cli-{command}-", path.name):
            return command
    return None


class _Run:
    """The state of one fuzzing run."""

    def __init__(self, worker: Worker, seed: int, out_dir: Path | None, *, cli_every: int, compile_cli_every: int,
                 minimise_seconds: float, regressions_dir: Path | None, log: Callable[[str], None]) -> None:
        self.worker, self.out_dir, self.log = worker, out_dir, log
        self.rng = random.Random(seed)
        self.mutator = Mutator(list(example_texts()), _clean_examples())
        self.summary = Summary(seed)
        self.cli_every, self.compile_cli_every = cli_every, compile_cli_every
        self.minimise_seconds, self.regressions_dir = minimise_seconds, regressions_dir
        self.seen_outcomes: set[tuple] = set()
        self.known_regressions = _known_signatures(regressions_dir) if regressions_dir else set()

    def step(self) -> None:
        case = self.mutator.mutate(self.rng)
        outcome = self.worker.run(case.data)
        self._record(outcome, case.data, case.origin, case.operators)
        self._feed_back(outcome, case.data)
        number = self.summary.cases
        if self.cli_every and number % self.cli_every == 0:
            command = self.rng.choice(["check", "check-json", "check-color", "fmt", "graph"])
            if self.compile_cli_every and number % self.compile_cli_every == 0 and outcome.status == "ok":
                command = "compile"
            self.summary.cli_runs += 1
            cli = run_cli(case.data, command, self.worker.folder, time_limit=self.worker.time_limit,
                          memory_limit=self.worker.memory_limit)
            self._record(cli, case.data, case.origin, case.operators, cli_command=command)

    def _record(self, outcome: Outcome, data: bytes, origin: str, operators: tuple[str, ...],
                cli_command: str | None = None) -> None:
        if cli_command is None:
            self.summary.cases += 1
            self.summary.statuses[outcome.status] += 1
        elif outcome.failed:
            self.summary.statuses[outcome.status] += 1
        if outcome.seconds > 1.0 and not outcome.failed:
            self.summary.slowest.append((outcome.seconds, outcome.status, data))
            self.summary.slowest = sorted(self.summary.slowest, key=lambda item: -item[0])[:5]
        if outcome.status == "refused":
            self.summary.refusals.setdefault(outcome.detail.splitlines()[0][:200], data)
        if not outcome.failed:
            return
        self.summary.stages[outcome.stage] += 1
        finding = self.summary.findings.get(outcome.signature)
        if finding is not None:
            finding.count += 1
            return
        self.log(f"[{self.summary.cases}] new: {outcome.signature}")
        minimal = self._minimise(outcome, data, cli_command)
        finding = Finding(outcome, data, minimal, origin, operators)
        self.summary.findings[outcome.signature] = finding
        if self.out_dir is not None:
            finding.path = save_finding(self.out_dir, outcome.signature, minimal)
        if self.regressions_dir is not None and outcome.signature not in self.known_regressions:
            finding.path = save_finding(self.regressions_dir, outcome.signature, minimal)
            self.known_regressions.add(outcome.signature)

    def _minimise(self, outcome: Outcome, data: bytes, cli_command: str | None) -> bytes:
        if self.minimise_seconds <= 0 or cli_command is not None or outcome.status != "crash":
            return data  # hangs and memory blow-ups cost seconds per try; CLI runs a process per try
        return minimise(data, lambda candidate: self.worker.run(candidate).signature == outcome.signature,
                        budget_seconds=self.minimise_seconds)

    def _feed_back(self, outcome: Outcome, data: bytes) -> None:
        """Keep inputs with a new outcome (status and set of codes) for further mutation, and
        inputs that check clean as favoured starting points."""
        if outcome.failed or len(data) > _CORPUS_ENTRY_BYTES:
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        if outcome.status in ("ok", "refused") and len(self.mutator.favoured) < _CORPUS_LIMIT:
            self.mutator.favoured.append(("corpus", text))
        key = (outcome.status, tuple(sorted(set(outcome.codes))))
        if key not in self.seen_outcomes and len(self.mutator.corpus) < _CORPUS_LIMIT:
            self.seen_outcomes.add(key)
            self.mutator.corpus.append(("corpus", text))


def _clean_examples() -> list[tuple[str, str]]:
    """The examples that check without errors (checked here: the checker never imports torch)."""
    import rldsl

    return [(name, text) for name, text in example_texts() if rldsl.check(text, name=INPUT_NAME).ok]


def _known_signatures(folder: Path) -> set[str]:
    """Signatures already covered by regression files (recorded in `signatures.json`)."""
    index = folder / "signatures.json"
    if not index.exists():
        return set()
    return set(json.loads(index.read_text()).values())


def fuzz(*, seconds: float, seed: int = 0, out_dir: Path | None = None, max_cases: int | None = None,
         worker: Worker | None = None, cli_every: int = 25, compile_cli_every: int = 500,
         minimise_seconds: float = 20.0, regressions_dir: Path | None = None,
         log: Callable[[str], None] = lambda _: None) -> Summary:
    """Fuzz for ``seconds`` (or ``max_cases`` cases, whichever ends first) from ``seed``."""
    own_worker = worker is None
    worker = worker or Worker()
    run = _Run(worker, seed, out_dir, cli_every=cli_every, compile_cli_every=compile_cli_every,
               minimise_seconds=minimise_seconds, regressions_dir=regressions_dir, log=log)
    started = time.monotonic()
    last_log = started
    try:
        while time.monotonic() - started < seconds and (max_cases is None or run.summary.cases < max_cases):
            run.step()
            if time.monotonic() - last_log > 60:
                last_log = time.monotonic()
                run.summary.seconds = last_log - started
                log(run.summary.line())
    finally:
        run.summary.seconds = time.monotonic() - started
        if own_worker:
            worker.close()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.json").write_text(run.summary.to_json())
        (out_dir / "report.txt").write_text(run.summary.report())
        for rank, (seconds, _, data) in enumerate(run.summary.slowest, 1):  # near-hangs, to look at
            (out_dir / f"slow-{rank}-{seconds:.1f}s.rlm").write_bytes(data)
    if regressions_dir is not None:
        _write_index(regressions_dir, run.summary)
    return run.summary


def _write_index(folder: Path, summary: Summary) -> None:
    """Record which signature each new regression file was saved for (`signatures.json`)."""
    index = folder / "signatures.json"
    known = json.loads(index.read_text()) if index.exists() else {}
    for signature, finding in summary.findings.items():
        if finding.path is not None and finding.path.parent == folder:
            known[finding.path.name] = signature
    folder.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps(dict(sorted(known.items())), indent=2) + "\n")

