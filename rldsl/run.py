"""``rldsl run FILE --env ID``: roll a model's policy out in a gymnasium env and print its returns.

``FILE`` is a `.rlm` model (checked, then compiled with ``--seed``) or a `.rlmz` artifact (a
trained policy saved with ``Program.save`` / ``rldsl.save``, verified and loaded as
:func:`rldsl.load` loads it). The policy is the declaration ``--policy NAME``, by default the
model's one ``actor`` declaration.

Before anything is built, the policy's keys are held to the env's spaces (as the checker reads
them, without torch for a `.rlm` file): every key the policy reads must be an observation of the
env with the same kind of spec and shape (floats of any width: they are cast), ``is_init``, or
state the policy carries from step to step; the ``action`` it writes must be what the env's action
space takes (one-hot or index for a Discrete space). A mismatch is reported like a diagnostic,
pointing at the policy's declaration, with every differing key and a hint, and exits 1.

Then :mod:`rldsl.rollout` runs it: ``--episodes N`` whole episodes or ``--steps N`` steps, under
``--seed`` (torch's generator and ``env.reset(seed=...)``, so two runs print the same returns) and
``--exploration`` (``deterministic``, the default, or ``random``: sampled actions, exploration
noise). A progress bar (tqdm) runs on standard error on a terminal; the return of each episode and
a summary (mean, std, min, max, steps) go to standard output. ``--video out.mp4`` records the
episodes (``rldsl[video]``: pygame to draw gymnasium's classic-control envs, imageio with ffmpeg
to write the file); ``--render human`` shows them in a window.

Like ``check`` and ``compile``, ``run`` never imports a module named by the model or the artifact:
the env id is looked up in gymnasium's registry (an id with a ``:`` is refused), and envs of one's
own are registered with ``--import-envs MODULE``. Exit status: 0 rolled out, 1 check errors, a
policy that does not fit the env, or a rollout that failed; 2 usage error, a file or env that
cannot be read, a missing optional dependency.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from rldsl.cli_reading import import_envs, load_root, read_limits
from rldsl.cli_run import EXPLORATIONS, VIDEO_EXTRA, add_run_parser
from rldsl.errors import RldslError
from rldsl.lang import ast
from rldsl.lang import types as T
from rldsl.lang.ir import ModuleNode

if TYPE_CHECKING:
    from rldsl.lang.envs import EnvSpecs
    from rldsl.lang.report import Report
    from rldsl.lang.source import SourceFile, Span

__all__ = ["EXPLORATIONS", "RunError", "add_run_parser", "fit_env", "run_command"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
#: The keys an env writes that are not observations (they come with the step, not before acting).
_STEP_KEYS = ("action", "reward", "done", "terminated", "truncated")

Path = tuple[str, ...]


class RunError(RldslError):
    """A run that cannot go on: ``message``, a ``help`` line, and the exit status."""

    def __init__(self, message: str, help: str = "", status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.help = help
        self.status = status


# ---------------------------------------------------------------------------------------------
# the command line


def run_command(args: argparse.Namespace) -> int:
    """``rldsl run``: returns the exit status."""
    try:
        return _run(args)
    except RunError as error:
        _say(error.message, error.help)
        return error.status


def _say(message: str, help: str = "") -> None:
    """``rldsl: MESSAGE`` (and a help line) on standard error, control characters escaped."""
    from rldsl.lang.render import escape_controls

    print(f"rldsl: {escape_controls(message)}", file=sys.stderr)
    if help:
        print(f"  = help: {escape_controls(help)}", file=sys.stderr)


def _loading_torch() -> None:
    """Say ``rldsl: loading torch…`` when torch is about to be imported: it takes seconds in a
    fresh process, which would look like a hang (:mod:`rldsl.cli_torch`)."""
    from rldsl.cli_torch import announce_torch_import

    announce_torch_import()


def _run(args: argparse.Namespace) -> int:
    render = _render_mode(args)
    problem = import_envs(args)
    if problem:
        raise RunError(problem)
    env = _env_specs(args.env)
    if args.file.endswith(".rlmz"):
        _loading_torch()
        model = _load_artifact(args)
    else:
        model = _check_model(args)
        if model is None:
            return EXIT_PROBLEMS
    name = choose_policy(model.declarations, model.report, args.policy)
    keys = policy_keys(model.report, name, model.declarations)
    fit = fit_env(keys, env, writers=key_writers(model.report))
    if fit.problems:
        print(render_misfit(keys, fit, args.env, model.sources, others=runnable(model.report, env, exclude=name)),
              file=sys.stderr)
        return EXIT_PROBLEMS
    for warning in fit.warnings:
        _say(f"warning: {warning}")
    program = model.program
    if program is None:
        _loading_torch()
        program = _compile(model.report, args)
    return _roll_out(args, program, name, fit, render)


# ---------------------------------------------------------------------------------------------
# the model and the env


@attrs.frozen(slots=True)
class Model:
    """A checked model: its declarations (with their keywords), its report, its source files, and
    the compiled program when it came from an artifact."""

    declarations: tuple[ast.Decl, ...]
    report: Report
    sources: Mapping[str, SourceFile]
    program: Any = None


def _env_specs(env_id: str) -> EnvSpecs:
    """The env's keys and specs, as the checker reads them (its registry entry only)."""
    from rldsl.lang.envs import EnvError, env_specs

    try:
        return env_specs(env_id)
    except EnvError as error:
        raise RunError(f"--env: {error.message}", error.help) from None


def _categorical_specs(env_id: str) -> EnvSpecs:
    from rldsl.lang.envs import env_specs

    return env_specs(env_id, True)


def _check_model(args: argparse.Namespace) -> Model | None:
    """Read and check a .rlm file; prints its diagnostics and returns None when it has errors."""
    from rldsl.lang.check import check_program
    from rldsl.lang.render import render_text

    program, problem = load_root(args.file, read_limits(args))
    if program is None:
        raise RunError(problem)
    report = check_program(program, dtype=args.dtype)
    if report.errors:
        print(render_text(report.diagnostics, report.sources), file=sys.stdout)
        return None
    return Model(tuple(program.declarations()), report, program.sources)


def _load_artifact(args: argparse.Namespace) -> Model:
    """Verify and load a .rlmz artifact, and check its stored source (as loading did) for its declarations."""
    from rldsl.compiler import CompileError
    from rldsl.compiler.artifact import ArtifactError, inspect_artifact
    from rldsl.lang.check import check_program
    from rldsl.lang.includes import load_members

    try:
        contents, program = inspect_artifact(args.file, device=args.device)
    except (ArtifactError, CompileError) as error:
        raise RunError(str(error)) from None
    members = {name: text.encode("utf-8") for name, text in contents.sources.items()}
    loaded = load_members(members, contents.manifest["root"])
    report = check_program(loaded, dtype=contents.manifest["options"]["dtype"])
    return Model(tuple(loaded.declarations()), report, loaded.sources, program)


def _compile(report: Report, args: argparse.Namespace) -> Any:
    from rldsl.compiler import CompileError, compile_report
    from rldsl.compiler.program import ModelSource

    try:
        return compile_report(report, device=args.device or "cpu", seed=args.seed, dtype=args.dtype,
                              source=ModelSource.of_report(report, args.file))
    except CompileError as error:
        raise RunError(str(error), status=EXIT_PROBLEMS if error.report is not None else EXIT_USAGE) from None


# ---------------------------------------------------------------------------------------------
# which declaration is the policy


def _module_decls(declarations: Iterable[ast.Decl]) -> list[ast.ModuleDecl]:
    return [decl for decl in declarations if isinstance(decl, ast.ModuleDecl)]


def _action_writers(report: Report) -> list[str]:
    """The declarations that write ``action``, in order."""
    return key_writers(report).get(("action",), [])


def key_writers(report: Report) -> dict[Path, list[str]]:
    """The declarations that write each key, in order."""
    writers: dict[Path, list[str]] = {}
    for name, node in report.modules.items():
        if isinstance(node, ModuleNode):
            for ref in node.writes:
                writers.setdefault(ref.path, []).append(name)
    return writers


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) if names else "none"


def choose_policy(declarations: Sequence[ast.Decl], report: Report, requested: str | None) -> str:
    """The name of the declaration to roll out: ``requested``, or the model's one ``actor``
    declaration. Raises :class:`RunError` listing the candidates when there is no such one."""
    from rldsl.lang.values import suggest

    modules = _module_decls(declarations)
    compiled = [decl.name.value for decl in modules if isinstance(report.modules.get(decl.name.value), ModuleNode)]
    candidates = list(dict.fromkeys([decl.name.value for decl in modules if decl.role is ast.Role.ACTOR]
                                    + _action_writers(report)))
    if requested is not None:
        if requested in compiled:
            return requested
        guess = suggest(requested, compiled)
        hint = f"did you mean `{guess}`?" if guess else f"declarations that write `action`: {_listed(candidates)}"
        raise RunError(f"--policy: the model declares no module `{requested}`", hint)
    actors = [decl.name.value for decl in modules if decl.role is ast.Role.ACTOR]
    if len(actors) == 1:
        return actors[0]
    what = "no `actor` declaration" if not actors else f"{len(actors)} `actor` declarations ({_listed(actors)})"
    raise RunError(f"the model has {what}, so which one to roll out is not clear",
                   f"name it with --policy NAME; declarations that write `action`: {_listed(candidates)}")


# ---------------------------------------------------------------------------------------------
# the policy's keys against the env's spaces


@attrs.frozen(slots=True)
class PolicyKeys:
    """What a declaration reads (required, and read only when present) and writes, each key with
    its checked spec (None when the checker gave it none), and where it is declared."""

    name: str
    reads: tuple[tuple[Path, Any], ...]
    optional: tuple[tuple[Path, Any], ...]
    writes: tuple[tuple[Path, Any], ...]
    span: Span | None


def policy_keys(report: Report, name: str, declarations: Iterable[ast.Decl] = ()) -> PolicyKeys:
    """The keys of declaration ``name`` of a checked model, with their specs."""
    node = report.modules[name]
    specs = {info.path: info.spec for info in report.keys}
    span = next((decl.name.span for decl in _module_decls(declarations) if decl.name.value == name), None)

    def typed(refs: Iterable[Any]) -> tuple[tuple[Path, Any], ...]:
        return tuple((ref.path, specs.get(ref.path)) for ref in refs)

    return PolicyKeys(name, typed(node.reads), typed(node.optional_reads), typed(node.writes), span)


@attrs.frozen(slots=True)
class Fit:
    """How a policy's keys meet an env: the observations it reads (paths), whether it reads
    ``is_init``, the state it carries (read path, written path), the action key, and the
    problems (the policy cannot run) and warnings found."""

    observations: tuple[Path, ...] = ()
    is_init: Path | None = None
    carried: tuple[tuple[Path, Path], ...] = ()
    action: Path = ("action",)
    problems: tuple[tuple[str, str], ...] = ()  # (key, what is wrong)
    warnings: tuple[str, ...] = ()


def _dotted(path: Path) -> str:
    return ".".join(path)


def _observations(env: EnvSpecs) -> dict[Path, Any]:
    """Every observation key of the env (nested entries and their composites too) with its spec."""
    found: dict[Path, Any] = {}
    for key, spec in env.entries:
        if key not in _STEP_KEYS:
            found.update(T.leaves(spec, (key,)))
    return found


def _spec_difference(mine: Any, theirs: Any) -> str | None:
    """Why a policy's spec of a key cannot hold the env's values (kind, size, shape), or None.
    Floats of any width fit each other (values are cast); bounds are not compared here."""
    if T.is_unknown(mine, theirs):
        return None
    if T.domain(mine) != T.domain(theirs) or (T.domain(theirs) != "continuous" and type(mine) is not type(theirs)):
        return f"{T.with_article(T.class_name(mine))} spec, the env's is {T.with_article(T.class_name(theirs))}"
    if T.domain(theirs) == "discrete" and isinstance(theirs, (T.Unbounded, T.Bounded)) and mine.dtype != theirs.dtype:
        return f"dtype {mine.dtype}, the env's is {theirs.dtype}"
    if not T.shapes_equal(mine.shape, theirs.shape):
        return f"shape {T.shape_text(mine.shape)}, the env's is {T.shape_text(theirs.shape)}"
    for size in ("n", "nvec"):
        if getattr(mine, size, None) != getattr(theirs, size, None):
            return f"{size} {getattr(mine, size)}, the env's is {getattr(theirs, size)}"
    if isinstance(theirs, T.Composite):
        for name, entry in mine.entries:
            other = theirs.get(name)
            why = f"no entry `{name}`" if other is None else _spec_difference(entry, other)
            if why is not None:
                return f"`{name}`: {why}" if other is not None else f"the env's has {why}"
    return None


def _best_difference(mine: Any, encodings: Sequence[Any]) -> str | None:
    """None when ``mine`` fits the env's spec under any of its encodings (one-hot or index), else
    why it does not fit the first."""
    reasons = [_spec_difference(mine, theirs) for theirs in encodings]
    return None if any(reason is None for reason in reasons) else reasons[0]


def _spec(spec: Any) -> str:
    return "an unknown spec" if spec is None or T.is_unknown(spec) else T.spec_text(spec)


def fit_env(keys: PolicyKeys, env: EnvSpecs, categorical: EnvSpecs | None = None,
            writers: Mapping[Path, Sequence[str]] | None = None) -> Fit:
    """Hold a policy's keys to an env's (``categorical``: the env's specs with index encoding;
    read from the registry when not given): what to feed it, and why it cannot run. ``writers``
    names the declarations that write each key, for the message about a key the env does not give."""
    categorical = categorical or _categorical_specs(env.env_id)
    observed, indexed = _observations(env), _observations(categorical)
    written = {path for path, _ in keys.writes}
    problems: list[tuple[str, str]] = []
    observations: list[Path] = []
    carried: list[tuple[Path, Path]] = []
    is_init = None
    for path, spec in (*keys.reads, *keys.optional):
        required = (path, spec) in keys.reads
        if path in observed:
            why = _best_difference(spec, [observed[path], indexed.get(path, observed[path])]) if required else None
            if why is not None:
                problems.append((_dotted(path), f"the policy reads {_spec(spec)}, `{env.env_id}` gives "
                                                f"{_spec(observed[path])} ({why})"))
            observations.append(path)
        elif path == ("is_init",):
            is_init = path
        elif ("next", *path) in written or path in written:
            carried.append((path, ("next", *path) if ("next", *path) in written else path))
        elif required:
            given = _listed([_dotted(p) for p in observed if len(p) == 1 or p[:-1] in observed])
            by = [name for name in (writers or {}).get(path, ()) if name != keys.name]
            written_by = f"; it is written by {_listed(by)}, which the policy does not run" if by else ""
            problems.append((_dotted(path), f"the policy reads it, but `{env.env_id}` does not give it (its "
                                            f"observations: {given}){written_by}"))
    warnings: list[str] = []
    action = dict(keys.writes).get(("action",), None) if ("action",) in written else None
    if ("action",) not in written:
        problems.append(("action", f"the policy does not write it, and `{env.env_id}` acts on it (the policy writes "
                                   f"{_listed([_dotted(p) for p, _ in keys.writes])})"))
    else:
        theirs = env.get("action")
        why = _best_difference(action, [theirs, categorical.get("action")])
        if why is not None:
            problems.append(("action", f"the policy writes {_spec(action)}, `{env.env_id}` takes {_spec(theirs)} "
                                       f"({why})"))
        elif isinstance(theirs, T.Bounded) and T.domain(theirs) == "continuous":
            warnings.extend(_bounds_warning(action, theirs, env.env_id))
    return Fit(tuple(observations), is_init, tuple(carried), ("action",), tuple(problems), tuple(warnings))


def _bounds_warning(mine: Any, theirs: Any, env_id: str) -> list[str]:
    """A warning when the policy's actions are not known to lie in the env's action box."""
    if T.is_unknown(mine):
        return []
    if isinstance(mine, T.Bounded) and T.box_contains(theirs, mine) is not False:
        return []
    where = f"in [{T.bound_text(mine.low)}, {T.bound_text(mine.high)}]" if isinstance(mine, T.Bounded) else \
        "unbounded"
    return [f"the policy's actions are {where}, but `{env_id}` takes actions in [{T.bound_text(theirs.low)}, "
            f"{T.bound_text(theirs.high)}]: the env may clip or refuse them (declare the action with the env's "
            "bounds and `safe=true`, or squash it with TanhModule)"]


def runnable(report: Report, env: EnvSpecs, exclude: str = "") -> list[str]:
    """The declarations, other than ``exclude``, that write ``action`` and fit the env."""
    categorical = _categorical_specs(env.env_id)
    return [name for name in _action_writers(report)
            if name != exclude and not fit_env(policy_keys(report, name), env, categorical).problems]


def render_misfit(keys: PolicyKeys, fit: Fit, env_id: str, sources: Mapping[str, SourceFile],
                  others: Sequence[str] = ()) -> str:
    """The problems of a policy in an env, shown as a diagnostic: the policy's declaration with a
    caret under its name, one line per key that does not fit, and what to do."""
    from rldsl.lang.render import escape_controls

    lines = [f"error: policy `{keys.name}` does not fit env `{env_id}`"]
    span = keys.span
    source = sources.get(span.file) if span is not None else None
    if span is not None:
        lines.append(f" --> {span.file}:{span.line}:{span.column}")
    if source is not None:
        number = str(span.line)
        pad = " " * len(number)
        width = max(1, (span.end_column - span.column) if span.end_line == span.line else 1)
        lines += [f"{pad} |", f"{number} | {source.line_text(span.line)}",
                  f"{pad} | {' ' * (span.column - 1)}{'^' * width} rolled out in {env_id}"]
    pad = " " * (len(str(span.line)) if span is not None else 1)
    lines.append(f"{pad} |")
    lines += [f"{pad} = `{key}`: {what}" for key, what in fit.problems]
    if others:
        hint = f"roll out a declaration that fits `{env_id}`: " + ", ".join(f"`--policy {n}`" for n in others)
    else:
        hint = (f"run it in an env whose spaces these keys fit, or take the keys from the env in the model "
                f"(`env e = gym(\"{env_id}\")`, `key observation : e.observation`) and `rldsl check` it")
    lines.append(f"{pad} = help: {hint}")
    return escape_controls("\n".join(lines), keep="\n")


# ---------------------------------------------------------------------------------------------
# rendering and recording


def _render_mode(args: argparse.Namespace) -> str | None:
    """The env's render mode the options ask for; checks that what it needs is installed."""
    if args.video and args.render == "human":
        raise RunError("--video records rgb_array frames; it cannot be used with --render human",
                       "leave out --render (--video implies --render rgb_array)")
    if args.render == "rgb_array" and not args.video:
        raise RunError("--render rgb_array draws frames for a video: give --video OUT.mp4 too",
                       "or use --render human to watch the episodes in a window")
    render = "rgb_array" if args.video else args.render
    if args.video:
        missing = [name for module, name in (("imageio", "imageio"), ("imageio_ffmpeg", "imageio-ffmpeg"))
                   if importlib.util.find_spec(module) is None]
        if missing:
            raise RunError(f"--video needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                           "not installed", f"install the video extra: {VIDEO_EXTRA}")
        folder = os.path.dirname(os.path.abspath(args.video))
        if not os.path.isdir(folder):
            raise RunError(f"--video: the folder `{folder}` does not exist")
    return render


class _Recorder:
    """Frames appended to a video file as they come (never all held in memory)."""

    def __init__(self, path: str, fps: float) -> None:
        import imageio.v2 as imageio

        self.path = path
        try:
            self.writer = imageio.get_writer(path, fps=fps, macro_block_size=2, ffmpeg_log_level="error")
        except Exception as error:  # noqa: BLE001 (imageio raises many types for a path or codec it cannot use)
            raise RunError(f"--video: cannot write `{path}` ({type(error).__name__}: {error})",
                           "name an .mp4 file in a folder you can write") from None
        self.frames = 0

    def add(self, frame: Any) -> None:
        if frame is None:
            raise RunError("--video: the env drew no frame: it does not support render_mode=\"rgb_array\"",
                           status=EXIT_PROBLEMS)
        self.writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        self.writer.close()


def _make_env(env_id: str, render: str | None, max_episode_steps: int | None) -> Any:
    """The env, made from its registry entry (the id was looked up there already)."""
    import gymnasium

    options: dict[str, Any] = {}
    if render is not None:
        options["render_mode"] = render
    if max_episode_steps is not None:
        options["max_episode_steps"] = max_episode_steps
    try:
        return gymnasium.make(env_id, **options)
    except gymnasium.error.DependencyNotInstalled as error:
        raise RunError(f"gymnasium cannot make `{env_id}` with render mode {render}: {_first_line(error)}",
                       f"install the video extra: {VIDEO_EXTRA}") from None
    except Exception as error:  # noqa: BLE001 (the env's own constructor: any failure is reported, not a crash)
        raise RunError(f"gymnasium cannot make `{env_id}`: {type(error).__name__}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# ---------------------------------------------------------------------------------------------
# the rollout and what it prints


def _progress(args: argparse.Namespace, total: int, unit: str) -> Any:
    """A tqdm bar on standard error (None when off, or when tqdm is missing: the run goes on without one)."""
    if args.progress == "never":
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    disable = None if args.progress == "auto" else False  # None: tqdm shows it on a terminal only
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=disable, leave=False, dynamic_ncols=True,
                desc="rolling out")


def _feed(program: Any, name: str, fit: Fit) -> Any:
    from rldsl.rollout import Feed

    def key(path: Path) -> object:
        return path[0] if len(path) == 1 else path

    return Feed(observations=tuple((path, program.spec(key(path))) for path in fit.observations),
                action=fit.action, action_spec=program.spec(key(fit.action)),
                is_init=None if fit.is_init is None else (fit.is_init, program.spec(key(fit.is_init))),
                carried=tuple((read, written, program.spec(key(read))) for read, written in fit.carried))


def episode_line(episode: Any) -> str:
    """``episode 1: return -1234.56, 200 steps`` (and a note when ``--steps`` cut it short)."""
    cut = "" if episode.finished else " (cut short by --steps)"
    return f"episode {episode.number}: return {episode.total_reward:.2f}, {episode.steps} steps{cut}"


def summary_line(episodes: Sequence[Any]) -> str:
    """The returns' mean, standard deviation (of the episodes run), min and max, and the steps."""
    returns = [episode.total_reward for episode in episodes]
    steps = sum(episode.steps for episode in episodes)
    count = len(episodes)
    if not returns:
        return f"0 episodes, {steps} steps"
    std = statistics.pstdev(returns) if count > 1 else 0.0
    return (f"{count} episode{'s' if count != 1 else ''}, {steps} steps: return mean {statistics.fmean(returns):.2f}, "
            f"std {std:.2f}, min {min(returns):.2f}, max {max(returns):.2f}")


def _roll_out(args: argparse.Namespace, program: Any, name: str, fit: Fit, render: str | None) -> int:
    from rldsl.rollout import rollout

    env = _make_env(args.env, render, args.max_episode_steps)
    episodes, steps = (args.episodes or 1, None) if args.steps is None else (None, args.steps)
    bar = _progress(args, episodes or steps, "episode" if episodes else "step")
    recorder = _Recorder(args.video, env.metadata.get("render_fps") or 30) if args.video else None
    done: list[Any] = []
    write: Callable[[str], None] = print if bar is None else (lambda line: bar.write(line, file=sys.stdout))

    def on_episode(episode: Any) -> None:
        done.append(episode)
        write(episode_line(episode))
        if bar is not None and episodes:
            bar.update(1)

    what = f"{episodes} episode{'s' if episodes != 1 else ''}" if episodes else f"{steps} steps"
    print(f"rolling out `{name}` in {args.env}: {what}, seed {args.seed}, exploration {args.exploration}")
    status = EXIT_OK
    try:
        rollout(program[name], _feed(program, name, fit), env, episodes=episodes, steps=steps, seed=args.seed,
                exploration=args.exploration, device=program.device,
                on_step=(lambda: bar.update(1)) if bar is not None and steps else None, on_episode=on_episode,
                on_frame=recorder.add if recorder is not None else None)
    except KeyboardInterrupt:
        status = 130
    except RunError:
        raise
    except Exception as error:  # noqa: BLE001 (the env or the policy failed on a value: report it, no traceback)
        raise _rollout_error(error, args.env, len(done)) from None
    finally:
        if bar is not None:
            bar.close()
        if recorder is not None:
            recorder.close()
        env.close()
    print(summary_line(done))
    if recorder is not None:
        print(f"wrote {args.video} ({recorder.frames} frames)")
    return status


def _rollout_error(error: BaseException, env_id: str, episodes: int) -> RunError:
    """What to say when the rollout raised: a missing renderer is the install's (exit 2), any
    other failure the env's or the policy's (exit 1)."""
    import gymnasium

    if isinstance(error, gymnasium.error.DependencyNotInstalled):
        return RunError(f"rendering `{env_id}` needs a library that is not installed: {_first_line(error)}",
                        f"install the video extra: {VIDEO_EXTRA}")
    return RunError(f"the rollout stopped after {episodes} episode(s): {type(error).__name__}: {_first_line(error)}",
                    "the policy's keys fit the env's spaces; the env or the policy refused a value at run time",
                    status=EXIT_PROBLEMS)
