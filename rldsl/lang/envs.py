"""Specs from a gymnasium environment, as static types, without torch.

``env pendulum = gym("Pendulum-v1")`` asks gymnasium for the env's spaces and maps them to
:mod:`rldsl.lang.types` by the rules :mod:`rldsl.specs.gym` follows at run time (torchrl's
GymEnv rules, with rldsl's documented choices):

* ``Box`` -> ``Bounded`` with per-element bounds; a box whose every bound is infinite or the
  dtype's extreme (uint8 images in ``[0, 255]`` included) -> ``Unbounded``; shape ``()`` -> ``[1]``.
* ``Discrete(n)`` -> ``onehot(n, dtype=i64)``, or ``categorical(n)`` with
  ``categorical_action_encoding=true``.
* ``MultiDiscrete`` with equal sizes -> ``onehot``/``categorical`` with the nvec's shape; with
  different sizes -> ``multionehot`` (i64) / ``multicategorical``.
* ``MultiBinary`` -> ``binary`` (i8); ``Dict`` -> a composite (a top-level ``state`` entry of the
  observation is called ``observation`` when there is none); ``Tuple`` -> one spec with a new
  leading dim when every part is the same, else a composite keyed ``"0"``, ``"1"``, ...

The env provides the keys a torchrl env writes: the observation (``observation``, or each entry
of a Dict observation), ``action``, ``reward`` (``f32[1]``), and ``done``, ``terminated`` and
``truncated`` (``categorical(2, dtype=bool, shape=[1])``). Results are cached for the life of the
process only; nothing is written to disk.

An id is looked up in gymnasium's registry and nowhere else: ``gymnasium.make`` would import the
module named before a ``:`` (``"mypkg.envs:Env-v0"``), so such an id, or any id that is not
registered, is refused before gymnasium sees it, and the env is made from its registered spec.
Envs of one's own are registered by importing the modules that register them, which only the
caller can ask for (:func:`import_env_modules`, ``--import-envs`` on the command line), never a
model file.

>>> specs = env_specs("Pendulum-v1")
>>> from rldsl.lang.types import spec_text
>>> spec_text(specs.get("action"))
'f32[1] in [-2.0, 2.0]'
"""

from __future__ import annotations

import difflib
import functools
import importlib
import re
import warnings
from collections.abc import Iterable
from typing import Any

import attrs

from rldsl.errors import RldslError
from rldsl.lang import types as T

__all__ = ["EnvError", "EnvSpecs", "env_specs", "import_env_modules", "ENV_OPTIONS"]

#: Options of ``gym(...)`` that rldsl reads itself (every other keyword goes to ``gymnasium.make``).
ENV_OPTIONS = ("categorical_action_encoding",)

_NUMPY_DTYPES = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
                 "int32": "i32", "int64": "i64", "uint8": "u8", "bool": "bool"}  # fmt: skip
_DONE = T.Categorical(2, (1,), "bool")


@attrs.frozen(slots=True)
class EnvSpecs:
    """The keys an env provides and their specs, in the order a tensordict of it lists them."""

    env_id: str
    entries: tuple  # tuple[tuple[str, Spec], ...]

    def get(self, name: str) -> T.Spec | None:
        for key, spec in self.entries:
            if key == name:
                return spec
        return None

    def names(self) -> list[str]:
        return [key for key, _ in self.entries]


class EnvError(RldslError):
    """An env that cannot be made or described; ``help`` says what to do about it."""

    def __init__(self, message: str, help: str) -> None:
        super().__init__(message)
        self.message = message
        self.help = help


def env_specs(env_id: str, categorical_action_encoding: bool = False, options: tuple = ()) -> EnvSpecs:
    """The keys and specs of a gymnasium env; ``options`` are ``(name, value)`` pairs passed to
    ``gymnasium.make``. Raises :class:`EnvError` when the env cannot be made or described."""
    return _cached(env_id, bool(categorical_action_encoding), tuple(options))


@functools.lru_cache(maxsize=64)
def _cached(env_id: str, categorical: bool, options: tuple) -> EnvSpecs:
    observation_space, action_space = _spaces(env_id, dict(options))
    try:
        if _is(observation_space, "Dict"):
            observation = _convert(observation_space, categorical)
            assert isinstance(observation, T.Composite)
            entries = [("observation" if key == "state" and observation.get("observation") is None else key, spec)
                       for key, spec in observation.entries]
        else:
            entries = [("observation", _convert(observation_space, categorical))]
        entries.append(("action", _convert(action_space, categorical)))
    except _Unsupported as problem:
        raise EnvError(f"the spaces of `{env_id}` have no rldsl spec: {problem}", _SUPPORTED_HELP) from None
    entries += [("reward", T.Unbounded((1,), "f32")), ("done", _DONE), ("terminated", _DONE), ("truncated", _DONE)]
    return EnvSpecs(env_id, tuple(entries))


_SUPPORTED_HELP = ("rldsl maps Box, Discrete, MultiDiscrete, MultiBinary, Dict and Tuple spaces; declare the keys "
                   "with `key NAME : SPEC` instead")


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_REGISTER_HELP = ("register the env from Python and use its registered id: `rldsl.check(..., env_modules=[\"mypkg.envs\"])` "
                  "or `rldsl check --import-envs mypkg.envs` imports the module that registers it")


def import_env_modules(names: Iterable[str]) -> None:
    """Import the modules that register the caller's own gymnasium envs (``gymnasium.register``
    runs when they are imported), so that models can name those envs by id. This is the only way
    rldsl imports a module for an env, and only the caller names them, never a model file.

    Raises ``ValueError`` for a name that is not a dotted module name and ``ImportError`` when a
    module cannot be imported.

    >>> import_env_modules(["gymnasium.envs.classic_control"])
    """
    for name in names:
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
            raise ValueError(f"env module names are dotted Python module names such as `mypkg.envs`, got {name!r}")
        importlib.import_module(name)


def _registered(env_id: str) -> Any:
    """The registered spec of ``env_id``; anything else is refused before gymnasium sees the id."""
    import gymnasium

    registry = gymnasium.envs.registry
    spec = registry.get(env_id) if ":" not in env_id else None
    if spec is not None:
        return spec
    if ":" in env_id:
        raise EnvError(f"`{env_id}` names a Python module to import; rldsl never imports code named by a model",
                       _REGISTER_HELP)
    close = [name for name in difflib.get_close_matches(env_id, list(registry.keys()), n=3, cutoff=0.75)]
    hint = ("did you mean " + " or ".join(f'`"{name}"`' for name in close) + "?") if close else _REGISTER_HELP
    raise EnvError(f"gymnasium has no registered env `{env_id}`", hint)


def _spaces(env_id: str, options: dict[str, Any]) -> tuple[Any, Any]:
    """Make the env from its registered spec (no rendering, no env checker), read its two spaces
    and close it."""
    import gymnasium

    spec = _registered(env_id)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gymnasium.make(spec, disable_env_checker=True, **options)
    except gymnasium.error.DependencyNotInstalled as problem:
        raise EnvError(f"gymnasium cannot make `{env_id}`: {_first_line(problem)}",
                       "install what the env needs, or declare its keys with `key NAME : SPEC`") from None
    except gymnasium.error.Error as problem:
        raise EnvError(f"gymnasium cannot make `{env_id}`: {_first_line(problem)}",
                       "check the options given to `gym(...)`; they are passed to `gymnasium.make`") from None
    except Exception as problem:  # the env's own constructor failed: bad options, a missing library, ...
        raise EnvError(f"gymnasium cannot make `{env_id}`: {_first_line(problem)}",
                       "check the options given to `gym(...)`; they are passed to `gymnasium.make`") from None
    try:
        return env.observation_space, env.action_space
    finally:
        try:
            env.close()
        except Exception:  # closing is best effort: the spaces are read already
            pass


def _first_line(problem: BaseException) -> str:
    text = str(problem).strip() or type(problem).__name__
    return text.splitlines()[0]


class _Unsupported(RldslError):
    """A space without a static spec."""


def _is(space: Any, name: str) -> bool:
    from gymnasium import spaces

    return isinstance(space, getattr(spaces, name))


def _convert(space: Any, categorical: bool) -> T.Spec:
    for name, convert in _CONVERTERS:
        if _is(space, name):
            return convert(space, categorical)
    raise _Unsupported(f"{type(space).__name__} spaces ({space!r}) are not supported")


def _dtype(np_dtype: Any) -> str:
    name = str(getattr(np_dtype, "name", np_dtype))
    if name not in _NUMPY_DTYPES:
        raise _Unsupported(f"dtype {name} has no rldsl dtype")
    return _NUMPY_DTYPES[name]


def _floats(array: Any) -> list[float]:
    """Bounds as Python floats, each written as its own dtype prints it (float32 ``0.41887903``
    stays ``0.41887903``, not its float64 expansion), so that bounds copied from a printed space
    compare equal."""
    flat = array.reshape(-1)
    if flat.dtype.kind == "f" and flat.dtype.itemsize < 8:
        return [float(str(v)) for v in flat]
    return [float(v) for v in flat.tolist()]


def _box(space: Any, categorical: bool) -> T.Spec:
    import numpy as np

    shape = tuple(int(d) for d in space.shape) or (1,)
    dtype = _dtype(space.dtype)
    low, high = np.asarray(space.low).reshape(shape), np.asarray(space.high).reshape(shape)
    if dtype == "bool":
        smallest, largest = False, True
    elif space.dtype.kind == "f":
        smallest, largest = np.finfo(space.dtype).min, np.finfo(space.dtype).max
    else:
        smallest, largest = np.iinfo(space.dtype).min, np.iinfo(space.dtype).max
    whole = bool(np.all((low == -np.inf) | (low == smallest)) and np.all((high == np.inf) | (high == largest)))
    if whole:
        return T.Unbounded(shape, dtype)
    if dtype == "bool":
        raise _Unsupported(f"{space!r} fixes some bool entries")
    return T.Bounded(shape, dtype, T.simplify_bound(_floats(low)), T.simplify_bound(_floats(high)))


def _discrete(space: Any, categorical: bool) -> T.Spec:
    n = int(space.n)
    if categorical:
        return T.Categorical(n, (), _dtype(space.dtype))
    return T.OneHot(n, (n,), "i64")


def _multi_discrete(space: Any, categorical: bool) -> T.Spec:
    nvec = space.nvec
    if nvec.size == 0:
        raise _Unsupported(f"{space!r} has no variables")
    shape = tuple(int(d) for d in nvec.shape)
    if bool((nvec == nvec.flat[0]).all()):
        n = int(nvec.flat[0])
        if categorical:
            return T.Categorical(n, shape, _dtype(space.dtype))
        return T.OneHot(n, (*shape, n), "i64")
    if categorical:
        return T.MultiCategorical(tuple(int(v) for v in nvec.reshape(-1)), shape, _dtype(space.dtype))
    rows = nvec.reshape(-1, shape[-1])
    if not bool((rows == rows[0]).all()):
        raise _Unsupported(f"{space!r} has rows of different sizes (use categorical_action_encoding=true)")
    row = tuple(int(v) for v in rows[0])
    return T.MultiOneHot(row, (*shape[:-1], sum(row)), "i64")


def _multi_binary(space: Any, categorical: bool) -> T.Spec:
    shape = tuple(int(d) for d in space.shape)
    return T.Binary(shape[-1], shape, "i8")


def _dict(space: Any, categorical: bool) -> T.Spec:
    entries = []
    for key, subspace in space.spaces.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise _Unsupported(f"Dict key {key!r} is not a name")
        entries.append((key, _convert(subspace, categorical)))
    return T.Composite(tuple(entries))


def _tuple(space: Any, categorical: bool) -> T.Spec:
    parts = [_convert(subspace, categorical) for subspace in space.spaces]
    if parts and all(part == parts[0] for part in parts[1:]):
        return _stacked(parts[0], len(parts))
    return T.Composite(tuple((str(i), part) for i, part in enumerate(parts)))


def _stacked(spec: T.Spec, count: int) -> T.Spec:
    """``spec`` with a new leading dim of ``count`` (bounds repeated per element)."""
    shape = (count, *spec.shape)
    if isinstance(spec, T.Composite):
        return T.Composite(tuple((key, _stacked(entry, count)) for key, entry in spec.entries), shape)
    if isinstance(spec, T.Bounded):
        low = spec.low * count if isinstance(spec.low, tuple) else spec.low
        high = spec.high * count if isinstance(spec.high, tuple) else spec.high
        return attrs.evolve(spec, shape=shape, low=low, high=high)
    if getattr(spec, "mask", None) is not None:
        spec = attrs.evolve(spec, mask=spec.mask * count)
    return attrs.evolve(spec, shape=shape)


_CONVERTERS = (("Box", _box), ("Discrete", _discrete), ("MultiDiscrete", _multi_discrete),
               ("MultiBinary", _multi_binary), ("Dict", _dict), ("Tuple", _tuple))  # fmt: skip
