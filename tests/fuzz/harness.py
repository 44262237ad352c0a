"""Running one input through every entry point, and classifying what happened.

:func:`run_stages` (in-process) takes the bytes of a `.rlm` file through, in order:

``check``        ``rldsl.check(path)``: the file API (reads and decodes the bytes, as the CLI does)
``check-text``   ``rldsl.check(text, name=...)``: the text API, when the bytes are UTF-8
``render``       ``Report.render()`` plain and coloured, and ``Report.to_json()``
``fmt``          ``rldsl.lang.printer.format_source``; a formatted text must format to itself
``graph``        ``rldsl.lang.graph.key_flow_dot(report)``, for a report without errors
``compile``      ``rldsl.compile(text, device="meta")`` for a report without errors ...
``forward``      ... and one forward pass of every module (``rldsl.compiler.summary.run_once``)
``compile-cpu``  the same on CPU when the model has at most :data:`CPU_PARAMETER_LIMIT` parameters
``forward-cpu``

and gives an :class:`Outcome` (with the CPU seconds it took): ``ok`` (checked clean, and everything ran), ``diagnostic`` (the
model has errors, reported as diagnostics), ``refused`` (it checked clean but compile refused it
with a clear ``CompileError``: not a crash, but a gap between check and compile worth reporting),
``crash`` (any other exception, a ``CompileError`` that calls itself a bug, or a broken
invariant: raw control characters in rendered diagnostics, a formatter that is not idempotent),
``hang`` (over the CPU-time limit) or
``over-memory`` (``MemoryError`` under the memory cap, or torch's allocator failing).

:class:`Worker` runs cases in a separate Python process under ``RLIMIT_AS`` (2 GiB by default)
and a time limit (10 s of CPU time by default, ``SIGPROF``; killed after 40 s of wall time if it
is stuck without using CPU): a hang or a memory blow-up is reported and the process replaced,
never taking the caller down. :func:`run_cli` runs the ``rldsl`` command on an input
in a subprocess under the same limits (exit status 0/1/2 and no "internal error" or traceback).
:func:`minimise` shrinks a failing input by deleting lines, then tokens (delta debugging).
"""

from __future__ import annotations

import base64
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import attrs

__all__ = [
    "CPU_PARAMETER_LIMIT", "FAILURES", "MEMORY_LIMIT", "Outcome", "TIME_LIMIT", "Worker", "minimise",
    "run_cli", "run_stages", "sandbox",
]  # fmt: skip

ROOT = Path(__file__).resolve().parents[2]
RLDSL_DIR = ROOT / "rldsl"

#: CPU seconds a case may run before it is a hang (CPU time, not wall time, so that a loaded
#: machine does not turn slow cases into hangs; a case blocked without using CPU is killed after
#: :data:`WALL_FACTOR` times the limit of wall time).
TIME_LIMIT = 10.0
WALL_FACTOR = 3.0
#: Bytes of address space a worker may use (RLIMIT_AS).
MEMORY_LIMIT = 2 * 1024**3
#: Models up to this many parameters are also compiled and run on CPU (real allocations).
CPU_PARAMETER_LIMIT = 5_000_000

#: Outcomes that are bugs.
FAILURES = ("crash", "hang", "over-memory")

#: The name the input has in diagnostics and on disk (in the worker's sandbox folder).
INPUT_NAME = "fuzz.rlm"


@attrs.frozen
class Outcome:
    """What one input did. ``signature`` identifies a bug (the same bug, the same signature):
    the stage, the exception type and the innermost rldsl frame; ``detail`` is the message and
    traceback; ``codes`` the diagnostic codes of the check."""

    status: str
    stage: str = ""
    signature: str = ""
    detail: str = ""
    codes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in FAILURES

    def to_dict(self) -> dict:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Outcome:
        return cls(**{**data, "codes": tuple(data.get("codes", ()))})


class CaseTimeout(BaseException):
    """Raised in the worker when a case runs past the time limit (a BaseException, so that no
    ``except Exception`` inside rldsl swallows it)."""


class InvariantViolation(Exception):
    """Raised by the harness when an output breaks a promise without an exception in rldsl."""


# ---------------------------------------------------------------------------------------------
# Signatures


def _rldsl_frame(tb: TracebackType | None) -> str:
    """The innermost frame of ``tb`` inside the rldsl package, as ``rldsl/lang/x.py:function``
    (no line number: signatures must survive edits), else the innermost frame of all."""
    frames = traceback.extract_tb(tb)
    ours = [frame for frame in frames
            if RLDSL_DIR in Path(frame.filename).parents and frame.name not in _PASS_THROUGH]
    if ours:
        names = [ours[-1].name]
        for frame in reversed(ours[:-1]):  # a comprehension or lambda: name the function it is in
            if not names[0].startswith("<"):
                break
            names.insert(0, frame.name)
        return f"{Path(ours[-1].filename).relative_to(ROOT)}:{'.'.join(names)}"
    outside = [frame for frame in frames if frame.name != "_on_alarm"]
    if outside:
        return f"{Path(outside[-1].filename).name}:{outside[-1].name}"
    return "?"


#: Frames that only pass calls on (torch function hooks): never the place of a bug.
_PASS_THROUGH = frozenset({"__torch_function__", "__torch_dispatch__"})


def _signature(stage: str, error: BaseException) -> str:
    """``stage: Type @ rldsl/file.py:function``, and ``<- Cause @ ...`` for a wrapped error."""
    kind = "hang" if isinstance(error, CaseTimeout) else type(error).__name__
    if isinstance(error, InvariantViolation):
        return f"{stage}: invariant: {error}"
    signature = f"{stage}: {kind} @ {_rldsl_frame(error.__traceback__)}"
    cause = error.__cause__
    if cause is not None:
        where = _rldsl_frame(cause.__traceback__)
        signature += f" <- {type(cause).__name__}" + (f" @ {where}" if where != "?" else "")
    return signature


def _detail(error: BaseException) -> str:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text[-6000:]


def _is_allocation_failure(error: BaseException) -> bool:
    """``MemoryError``, or torch's allocator refusing (a RuntimeError naming the allocation)."""
    if isinstance(error, MemoryError):
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in message or "DefaultCPUAllocator" in message)


# ---------------------------------------------------------------------------------------------
# The stages

#: Characters a rendered diagnostic must never contain raw: C0 controls but newline, DEL, C1.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _render(report: object) -> None:
    """Render a report every way the CLI does; plain text must hold no raw control character."""
    plain = report.render(color=False)
    report.render(color=True)
    json.loads(report.to_json())
    match = _UNSAFE.search(plain)
    if match:
        raise InvariantViolation(f"raw control character {match.group()!r} in rendered diagnostics")


def _format(text: str) -> None:
    """Format the text; a formatted text must format to itself."""
    from rldsl.lang.printer import format_source
    from rldsl.lang.source import SourceFile

    formatted, errors = format_source(SourceFile(INPUT_NAME, text))
    if formatted is None:
        if not errors:
            raise InvariantViolation("format_source returned no text and no errors")
        return
    again, errors = format_source(SourceFile(INPUT_NAME, formatted))
    if again != formatted:
        raise InvariantViolation("fmt is not idempotent" if not errors else "fmt output has syntax errors")
    import rldsl

    if rldsl.to_source(text, name=INPUT_NAME) != formatted:
        raise InvariantViolation("rldsl.to_source differs from format_source")


def _compile_and_run(text: str, device: str) -> int:
    """Compile on ``device`` and run every module once; the parameter count of the program."""
    import rldsl
    from rldsl.compiler.summary import parameter_count, run_once

    program = rldsl.compile(text, name=INPUT_NAME, device=device)
    run_once(program)
    return sum(parameter_count(module) for module in program.values())


def _probe_hang() -> None:
    while True:  # busy: the CPU-time alarm interrupts it
        pass


def _probe_block() -> None:
    while True:  # idle: only the parent's wall-clock limit ends it
        time.sleep(0.05)


def _probe_memory() -> None:
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    block = bytearray((limit if limit > 0 else MEMORY_LIMIT) + 256 * 1024**2)  # just past the cap: fails at once
    raise AssertionError(f"allocated {len(block)} bytes: no memory cap")


#: Inputs that test the harness itself (mutation never makes them): they run past the time
#: limit (busy, or blocked), allocate past the memory cap, or end the worker process.
PROBES: dict[bytes, Callable[[], None]] = {
    b"#!fuzz-probe:hang\n": _probe_hang,
    b"#!fuzz-probe:block\n": _probe_block,
    b"#!fuzz-probe:memory\n": _probe_memory,
    b"#!fuzz-probe:exit\n": lambda: os._exit(3),
}


#: Words in a CompileError that say it is rldsl's fault, not the model's: then it is a crash.
_BUG_MARKERS = ("internal error", "is a bug", "Traceback")


class _Stages:
    """The stages of one case, run in order; ``stage`` names the one running."""

    def __init__(self, data: bytes, folder: Path) -> None:
        self.data, self.folder = data, folder
        self.stage = "check"
        self.codes: tuple[str, ...] = ()
        self.refusal = ""

    def run(self) -> str:
        import rldsl
        from rldsl.lang.graph import key_flow_dot

        if self.data in PROBES:
            PROBES[self.data]()
        path = self.folder / INPUT_NAME
        path.write_bytes(self.data)
        report = rldsl.check(path)
        text = _decoded(self.data)
        if text is not None:
            self.stage = "check-text"
            report = rldsl.check(text, name=INPUT_NAME)
        self.codes = tuple(d.code for d in report.diagnostics)
        self.stage = "render"
        _render(report)
        if text is not None:
            self.stage = "fmt"
            _format(text)
        if not report.ok or text is None:
            return "diagnostic"
        self.stage = "graph"
        key_flow_dot(report)
        return self._compile(text)

    def _compile(self, text: str) -> str:
        from rldsl.compiler import CompileError

        self.stage = "compile"
        try:
            parameters = _compile_and_run(text, "meta")
        except CompileError as error:
            if not str(error).strip() or any(marker in str(error) for marker in _BUG_MARKERS):
                raise
            self.refusal = f"{type(error).__name__}: {error}"
            return "refused"
        if parameters <= CPU_PARAMETER_LIMIT:
            self.stage = "compile-cpu"
            _compile_and_run(text, "cpu")
        return "ok"


def run_stages(data: bytes, folder: Path) -> Outcome:
    """Run one input through every stage in this process (``folder``: where the input file is
    written and relative includes resolve; the caller's working directory should be it)."""
    started = time.process_time()
    stages = _Stages(data, folder)
    try:
        status = stages.run()
    except CaseTimeout as error:
        return _failure("hang", stages, error, started)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 -- any exception is a finding
        return _failure("over-memory" if _is_allocation_failure(error) else "crash", stages, error, started)
    return Outcome(status, "compile" if stages.refusal else "", "", stages.refusal, stages.codes,
                   time.process_time() - started)


def _failure(status: str, stages: _Stages, error: BaseException, started: float) -> Outcome:
    stage = stages.stage
    if any(f.name == "run_once" for f in traceback.extract_tb(error.__traceback__)):
        stage = "forward-cpu" if stage == "compile-cpu" else "forward"
    return Outcome(status, stage, _signature(stage, error), _detail(error), stages.codes,
                   time.process_time() - started)


# ---------------------------------------------------------------------------------------------
# Limits and the sandbox folder


def sandbox() -> Path:
    """A fresh folder to run cases in, holding `specs.rlm` (what `examples/multiagent/policy.rlm`
    includes) so that includes of the examples resolve."""
    folder = Path(tempfile.mkdtemp(prefix="rldsl-fuzz-"))
    (folder / "specs.rlm").write_bytes((ROOT / "examples" / "multiagent" / "specs.rlm").read_bytes())
    return folder


def _limit_memory(limit: int) -> None:
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


# ---------------------------------------------------------------------------------------------
# The worker process


def _warm_up(folder: Path) -> None:
    """Import everything and compile one example, so that the first case is not charged for it."""
    import torch

    torch.set_num_threads(1)
    run_stages((ROOT / "examples" / "pendulum_sac.rlm").read_bytes(), folder)


def _on_alarm(signum: int, frame: object) -> None:
    raise CaseTimeout("over the time limit")


def serve(request_fd: int, response_fd: int, folder: str, memory: int, seconds: float, warm_up: bool) -> None:
    """The worker's loop: read a case (a JSON line with base64 bytes) from ``request_fd``, run it,
    write its :class:`Outcome` as a JSON line to ``response_fd``."""
    os.chdir(folder)
    if warm_up:
        _warm_up(Path(folder))
    _limit_memory(memory)
    signal.signal(signal.SIGPROF, _on_alarm)
    requests = os.fdopen(request_fd, "rb")
    responses = os.fdopen(response_fd, "wb")
    responses.write(b'{"ready": true}\n')
    responses.flush()
    for line in requests:
        data = base64.b64decode(json.loads(line)["data"])
        signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            outcome = run_stages(data, Path(folder))
            signal.setitimer(signal.ITIMER_PROF, 0)
        except CaseTimeout:  # the alarm went off just as the case ended
            outcome = Outcome("hang", "?", "hang: at the end of the case", seconds=seconds)
        responses.write(json.dumps(outcome.to_dict()).encode() + b"\n")
        responses.flush()


_WORKER_CODE = ("import sys; from tests.fuzz.harness import serve; "
                "serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), "
                "sys.argv[6] == 'warm')")


class Worker:
    """A Python process that runs cases under a memory cap and a time limit, restarted after a
    hang, a crash of the process itself, a memory failure, or ``cases_per_process`` cases."""

    def __init__(self, *, time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT,
                 cases_per_process: int = 2000, start_timeout: float = 120.0, warm_up: bool = True) -> None:
        self.time_limit, self.memory_limit, self.warm_up = time_limit, memory_limit, warm_up
        self.cases_per_process, self.start_timeout = cases_per_process, start_timeout
        self.folder = sandbox()
        self._process: subprocess.Popen | None = None
        self._buffer = b""
        self._eof = False
        self._served = 0
        self.restarts = 0

    # -- process management

    def _start(self) -> None:
        request_read, self._request = os.pipe()
        self._response, response_write = os.pipe()
        log = open(self.folder / "worker.log", "ab")
        self._process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, str(request_read), str(response_write), str(self.folder),
             str(self.memory_limit), str(self.time_limit), "warm" if self.warm_up else "cold"],
            cwd=ROOT, env=_child_environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            pass_fds=(request_read, response_write), start_new_session=True,
        )
        log.close()
        os.close(request_read)
        os.close(response_write)
        self._buffer, self._served = b"", 0
        if self._read_line(self.start_timeout) is None:
            self.stop()
            raise RuntimeError(f"the fuzz worker did not start; see {self.folder / 'worker.log'}")

    def stop(self) -> None:
        """End the worker process (if any)."""
        if self._process is None:
            return
        for fd in (self._request, self._response):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._process.wait()
        self._process = None
        self.restarts += 1

    def close(self) -> None:
        """End the worker process and remove its sandbox folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _read_line(self, timeout: float) -> bytes | None:
        """One line from the worker, or None on timeout or end of file (``self._eof`` tells which)."""
        deadline = time.monotonic() + timeout
        self._eof = False
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._response], [], [], left)[0]:
                return None
            chunk = os.read(self._response, 1 << 16)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    # -- cases

    def run(self, data: bytes) -> Outcome:
        """Run one input through :func:`run_stages` in the worker process."""
        if self._process is None or self._served >= self.cases_per_process:
            self.stop()
            self._start()
        started = time.perf_counter()
        try:
            os.write(self._request, json.dumps({"data": base64.b64encode(data).decode()}).encode() + b"\n")
        except BrokenPipeError:
            pass
        self._served += 1
        line = self._read_line(self.time_limit * WALL_FACTOR + 10)
        if line is not None:
            outcome = Outcome.from_dict(json.loads(line))
            if outcome.status in ("hang", "over-memory") or outcome.signature.startswith(("check: RecursionError",)):
                self.stop()  # its state may be broken: start afresh
            return outcome
        return self._lost(time.perf_counter() - started)

    def _lost(self, seconds: float) -> Outcome:
        """The worker did not answer: stuck outside Python (killed), or dead."""
        process = self._process
        code = None
        if process is not None and self._eof:
            try:
                code = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        if code is None:
            return Outcome("hang", "?", "hang: killed after no answer (stuck outside Python code)",
                           f"no answer in {seconds:.1f} s", seconds=seconds)
        if code == -signal.SIGKILL:
            return Outcome("over-memory", "?", "worker killed by SIGKILL (out of memory?)", "", seconds=seconds)
        log = (self.folder / "worker.log").read_text(errors="replace")[-4000:]
        return Outcome("crash", "?", f"worker died with exit status {code}", log, seconds=seconds)


# ---------------------------------------------------------------------------------------------
# The command line


#: The CLI commands :func:`run_cli` knows, each with the arguments before the file name.
CLI_COMMANDS = {
    "check": ["check"],
    "check-json": ["check", "--format", "json", "--print-types"],
    "check-color": ["check", "--color", "always"],
    "fmt": ["fmt", "--check"],
    "graph": ["graph"],
    "compile": ["compile"],
}

_INTERNAL = re.compile(r"internal error: (\w+)")


def _limit_process(memory_limit: int, cpu_seconds: int) -> None:
    _limit_memory(memory_limit)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def run_cli(data: bytes, command: str, folder: Path, *, time_limit: float = TIME_LIMIT,
            memory_limit: int = MEMORY_LIMIT) -> Outcome:
    """Run ``rldsl COMMAND fuzz.rlm`` on ``data`` in a subprocess (in ``folder``, under the
    memory cap and a CPU-time limit): a crash when the exit status is not 0, 1 or 2, or standard
    error holds "internal error" or a traceback."""
    path = folder / INPUT_NAME
    path.write_bytes(data)
    stage = f"cli-{command}"
    started = time.perf_counter()
    cpu = int(time_limit) + (10 if command == "compile" else 3)  # a fresh process imports (torch) first
    wall = cpu * WALL_FACTOR + 10
    try:
        result = subprocess.run([sys.executable, "-m", "rldsl", *CLI_COMMANDS[command], INPUT_NAME], cwd=folder,
                                env=_child_environment(), stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=wall, preexec_fn=lambda: _limit_process(memory_limit, cpu))
    except subprocess.TimeoutExpired:
        return Outcome("hang", stage, f"{stage}: hang (wall)", f"over {wall:.0f} s of wall time", seconds=wall)
    seconds = time.perf_counter() - started
    if result.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return Outcome("hang", stage, f"{stage}: hang", f"over {cpu} s of CPU time", seconds=seconds)
    err = result.stderr.decode("utf-8", "replace")
    detail = f"exit status {result.returncode}\n{err[-4000:]}"
    internal = _INTERNAL.search(err)
    if "MemoryError" in err or "can't allocate memory" in err:
        return Outcome("over-memory", stage, f"{stage}: over-memory", detail, seconds=seconds)
    if internal or "Traceback" in err:
        kind = internal.group(1) if internal else err.strip().rsplit("\n", 1)[-1].split(":", 1)[0]
        return Outcome("crash", stage, f"{stage}: internal error {kind}", detail, seconds=seconds)
    if result.returncode not in (0, 1, 2):
        return Outcome("crash", stage, f"{stage}: exit status {result.returncode}", detail, seconds=seconds)
    return Outcome("ok" if result.returncode == 0 else "diagnostic", stage, seconds=seconds)


# ---------------------------------------------------------------------------------------------
# Minimising


def _ddmin(units: list, still_fails: Callable[[list], bool], out_of_budget: Callable[[], bool]) -> list:
    """Delta debugging by complements: drop ever smaller chunks of ``units`` while the result
    still fails."""
    chunks = 2
    while len(units) >= 2 and not out_of_budget():
        size = -(-len(units) // chunks)
        for start in range(0, len(units), size):
            candidate = units[:start] + units[start + size:]
            if out_of_budget():
                return units
            if candidate and still_fails(candidate):
                units, chunks = candidate, max(chunks - 1, 2)
                break
        else:
            if chunks >= len(units):
                break
            chunks = min(chunks * 2, len(units))
    return units


def minimise(data: bytes, still_fails: Callable[[bytes], bool], *, budget_seconds: float = 30.0) -> bytes:
    """A smaller input that still fails: lines deleted, then tokens. Bytes that are not UTF-8
    survive (surrogate escapes)."""
    deadline = time.monotonic() + budget_seconds

    def out_of_budget() -> bool:
        return time.monotonic() > deadline

    def join(units: Sequence[str]) -> bytes:
        return "".join(units).encode("utf-8", "surrogateescape")

    text = data.decode("utf-8", "surrogateescape")
    lines = _ddmin(re.findall(r"[^\n]*\n|[^\n]+$", text), lambda u: still_fails(join(u)), out_of_budget)
    tokens = _ddmin(_token_units("".join(lines)), lambda u: still_fails(join(u)), out_of_budget)
    return join(tokens)


def _token_units(text: str) -> list[str]:
    """Tokens, each with the whitespace after it (so that deleting tokens keeps words apart)."""
    from .mutate import tokenize

    units: list[str] = []
    for kind, piece in tokenize(text):
        if kind == "ws" and units:
            units[-1] += piece
        else:
            units.append(piece)
    return units
