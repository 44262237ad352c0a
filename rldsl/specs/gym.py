"""Gymnasium interop: spaces to specs and back, an env's specs, and values across the boundary.

The mapping follows torchrl 0.14's GymEnv, with these deliberate choices:

* `Box` -> `Bounded` with per-element bounds; a box whose every bound is infinite or the
  dtype's extreme (including uint8 images in ``[0, 255]``) -> `Unbounded`. Scalar boxes get
  shape ``(1,)``.
* `Discrete(n, start)` -> `OneHot(n, int64)` or `Categorical(n)`: specs hold 0-based indices;
  `start` stays on the space and the boundary helpers apply it (`action_to_env` adds it,
  `observation_from_env(..., space=...)` subtracts it). `MultiDiscrete` likewise.
* `Tuple` -> one spec with a new leading dim when all parts convert to equal specs, else a
  `Composite` keyed ``"0"``, ``"1"``, ... (rldsl has no lazily stacked spec).
* `Dict` -> `Composite`; ``state_as_observation=True`` renames a top-level ``"state"`` key to
  ``"observation"`` (as GymEnv does for observations); `env_specs` turns it on.

gymnasium adds about 20 ms to ``import rldsl.specs`` once torch is loaded (measured), so it
is imported here directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from tensordict import TensorDict, TensorDictBase

from rldsl._checks import require_bool
from rldsl.lang.values import suggest
from rldsl.specs._base import TensorSpec
from rldsl.specs.composite import Composite
from rldsl.specs.continuous import Bounded, Unbounded
from rldsl.specs.discrete import Binary, Categorical, MultiCategorical, MultiOneHot, OneHot

_SUPPORTED = "Box, Discrete, MultiDiscrete, MultiBinary, Dict and Tuple"
_INDEX_SPECS = (OneHot, MultiOneHot, Categorical, MultiCategorical)
# torch (2.13, CPU) cannot compare or clamp these, so no Bounded spec can check them.
_UNCOMPARABLE = (torch.uint16, torch.uint32, torch.uint64)


# --- dtypes ---------------------------------------------------------------------------------------
def torch_dtype(np_dtype: Any) -> torch.dtype:
    """The torch dtype of a numpy dtype (``np.uint8`` -> ``torch.uint8``)."""
    try:
        return torch.from_numpy(np.empty(0, dtype=np_dtype)).dtype
    except TypeError:
        raise TypeError(f"numpy dtype {np.dtype(np_dtype)} has no torch equivalent") from None


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """The numpy dtype of a torch dtype (``torch.float32`` -> ``float32``)."""
    try:
        return torch.empty(0, dtype=dtype).numpy().dtype
    except TypeError:
        raise TypeError(f"{dtype} has no numpy equivalent, so no gymnasium space; cast the spec with "
                        f"spec.to(torch.float32)") from None


def _dtype_extremes(dtype: np.dtype) -> tuple[Any, Any]:
    if dtype == np.bool_:
        return False, True
    info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
    return info.min, info.max


def _spans_dtype(low: np.ndarray, high: np.ndarray, dtype: np.dtype) -> bool:
    """True when every bound is infinite or its dtype's extreme (the box is the whole dtype)."""
    smallest, largest = _dtype_extremes(dtype)
    return bool(np.all((low == -np.inf) | (low == smallest)) and np.all((high == np.inf) | (high == largest)))


# --- space -> spec --------------------------------------------------------------------------------
def space_to_spec(space: Any, *, categorical_action_encoding: bool = False, device: Any = None,
                  state_as_observation: bool = False) -> TensorSpec:
    """The rldsl spec of a gymnasium space, mapped as torchrl's GymEnv does (see the module doc).

    `categorical_action_encoding` turns Discrete/MultiDiscrete into index specs instead of
    one-hot ones. `state_as_observation` renames a top-level Dict key ``"state"`` to
    ``"observation"`` when the Dict has no ``"observation"`` key.

    >>> from gymnasium import spaces
    >>> space_to_spec(spaces.Discrete(3))
    OneHot(n=3, shape=(3,), dtype=torch.int64, device=cpu)
    >>> space_to_spec(spaces.Box(-2.0, 2.0, (1,))).high
    tensor([2.])
    """
    require_bool(categorical_action_encoding, "`categorical_action_encoding`", expected="a bool")
    spec = _convert(space, categorical_action_encoding, device)
    if state_as_observation and isinstance(spec, Composite):
        spec = _state_renamed(spec)
    return spec


def _convert(space: Any, categorical: bool, device: Any) -> TensorSpec:
    if isinstance(space, spaces.Box):
        return _box_to_spec(space, device)
    if isinstance(space, spaces.Discrete):
        return _discrete_to_spec(space, categorical, device)
    if isinstance(space, spaces.MultiDiscrete):
        return _multi_discrete_to_spec(space, categorical, device)
    if isinstance(space, spaces.MultiBinary):
        return Binary(space.shape[-1], shape=space.shape, device=device, dtype=torch.int8)
    if isinstance(space, spaces.Dict):
        return _dict_to_spec(space, categorical, device)
    if isinstance(space, spaces.Tuple):
        return _tuple_to_spec(space, categorical, device)
    if isinstance(space, spaces.Space):
        raise TypeError(f"space_to_spec: {type(space).__name__} spaces ({space!r}) have no rldsl spec; "
                        f"supported spaces are {_SUPPORTED}")
    raise TypeError(f"`space` must be a gymnasium.spaces.Space ({_SUPPORTED}), got {type(space).__name__}")


def _box_to_spec(space: spaces.Box, device: Any) -> TensorSpec:
    """Bounded per element, or Unbounded when the box is the whole dtype; shape () -> (1,)."""
    shape = space.shape or (1,)
    dtype = torch_dtype(space.dtype)
    low, high = space.low.reshape(shape), space.high.reshape(shape)
    if _spans_dtype(low, high, space.dtype):
        return Unbounded(shape, device=device, dtype=dtype)
    if dtype is torch.bool:
        raise TypeError(f"space_to_spec: {space!r} fixes some bool entries, which no rldsl spec describes; "
                        f"use Box(0, 1, shape, bool) (-> Unbounded bool) or MultiBinary")
    if dtype in _UNCOMPARABLE:
        raise TypeError(f"space_to_spec: {space!r} has bounds in {space.dtype}, which torch cannot compare, so a "
                        f"Bounded spec cannot check them; use a signed dtype (for observations, wrap the env in "
                        f"gymnasium.wrappers.DtypeObservation(env, np.int64))")
    return Bounded(torch.from_numpy(low.copy()), torch.from_numpy(high.copy()), shape, device, dtype)


def _discrete_to_spec(space: spaces.Discrete, categorical: bool, device: Any) -> TensorSpec:
    """0-based indices: the space's `start` is applied by the boundary helpers."""
    if categorical:
        return Categorical(int(space.n), device=device, dtype=torch_dtype(space.dtype))
    return OneHot(int(space.n), device=device, dtype=torch.int64)


def _multi_discrete_to_spec(space: spaces.MultiDiscrete, categorical: bool, device: Any) -> TensorSpec:
    """Equal cardinalities -> Categorical/OneHot with the nvec's shape, else Multi* specs."""
    nvec = space.nvec
    if nvec.size == 0:
        raise ValueError(f"space_to_spec: {space!r} has no variables, so it has no spec")
    shape = nvec.shape
    if bool((nvec == nvec.flat[0]).all()):
        n = int(nvec.flat[0])
        if categorical:
            return Categorical(n, shape=shape, device=device, dtype=torch_dtype(space.dtype))
        return OneHot(n, shape=(*shape, n), device=device, dtype=torch.int64)
    if categorical:
        return MultiCategorical(torch.from_numpy(nvec.astype(np.int64)), device=device,
                                dtype=torch_dtype(space.dtype))
    rows = nvec.reshape(-1, shape[-1])
    if not bool((rows == rows[0]).all()):
        raise TypeError(f"space_to_spec: {space!r} has rows with different cardinalities, which a MultiOneHot "
                        f"spec cannot hold; pass categorical_action_encoding=True (-> MultiCategorical)")
    row = rows[0].tolist()
    return MultiOneHot(row, shape=(*shape[:-1], sum(row)), device=device, dtype=torch.int64)


def _dict_to_spec(space: spaces.Dict, categorical: bool, device: Any) -> Composite:
    entries = {}
    for key, subspace in space.spaces.items():
        if not isinstance(key, str):
            raise TypeError(f"space_to_spec: Dict key {key!r} is not a string; spec keys must be strings")
        entries[key] = _convert(subspace, categorical, device)
    return Composite(entries, device=device)


def _tuple_to_spec(space: spaces.Tuple, categorical: bool, device: Any) -> TensorSpec:
    """Equal parts -> one spec stacked on a new leading dim; otherwise Composite "0", "1", ..."""
    parts = [_convert(subspace, categorical, device) for subspace in space.spaces]
    if parts and all(part == parts[0] for part in parts[1:]):
        return parts[0].expand(len(parts), *parts[0].shape)
    return Composite({str(i): part for i, part in enumerate(parts)}, device=device)


def _state_renamed(spec: Composite) -> Composite:
    """The composite with its "state" entry called "observation" (kept in place), if it has none."""
    if "state" not in spec or "observation" in spec:
        return spec
    entries = {("observation" if key == "state" else key): entry for key, entry in spec.items()}
    return Composite(entries, shape=spec.shape, device=spec.device)


# --- spec -> space --------------------------------------------------------------------------------
def spec_to_space(spec: TensorSpec) -> spaces.Space:
    """The gymnasium space holding the same values as `spec`, where one exists.

    Masks are dropped (gymnasium takes them in ``sample(mask=...)``); index specs give
    0-based spaces.

    >>> from rldsl.specs import Bounded, OneHot
    >>> spec_to_space(OneHot(4))
    Discrete(4)
    >>> spec_to_space(Bounded(-1.0, 1.0, shape=(2,)))
    Box(-1.0, 1.0, (2,), float32)
    """
    if isinstance(spec, Composite):
        return _composite_to_space(spec)
    if isinstance(spec, Binary):
        return spaces.MultiBinary(list(spec.shape) if spec.ndim > 1 else spec.shape[-1])
    if isinstance(spec, (MultiCategorical, MultiOneHot)):
        return _multi_to_space(spec)
    if isinstance(spec, (Categorical, OneHot)):
        return _index_to_space(spec)
    if isinstance(spec, Bounded):
        dtype = numpy_dtype(spec.dtype)
        return spaces.Box(spec.low.cpu().numpy(), spec.high.cpu().numpy(), tuple(spec.shape), dtype)
    if isinstance(spec, Unbounded):
        return _unbounded_to_space(spec)
    raise TypeError(f"`spec` must be an rldsl spec with a gymnasium equivalent "
                    f"(Bounded, Unbounded, OneHot, Categorical, Binary, MultiOneHot, MultiCategorical, Composite), "
                    f"got {type(spec).__name__}")


def _unbounded_to_space(spec: Unbounded) -> spaces.Box:
    """The whole dtype as a Box: ±inf for floats, the dtype's extremes for ints and bool."""
    dtype = numpy_dtype(spec.dtype)
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"spec_to_space: complex {spec!r} has no gymnasium space; "
                        f"split it into real and imaginary parts")
    if dtype == np.bool_:
        return spaces.Box(0, 1, tuple(spec.shape), dtype)
    low, high = (-np.inf, np.inf) if np.issubdtype(dtype, np.floating) else _dtype_extremes(dtype)
    return spaces.Box(low, high, tuple(spec.shape), dtype)


def _index_to_space(spec: Categorical | OneHot) -> spaces.Space:
    """One index -> Discrete; an array of indices -> MultiDiscrete; bool Categorical -> bool Box."""
    if isinstance(spec, Categorical) and spec.dtype is torch.bool:
        return spaces.Box(0, 1, tuple(spec.shape), np.bool_)
    dtype = numpy_dtype(spec.dtype) if isinstance(spec, Categorical) else np.int64
    index_shape = spec.shape if isinstance(spec, Categorical) else spec.shape[:-1]
    if not index_shape:
        return spaces.Discrete(spec.n, dtype=dtype)
    return spaces.MultiDiscrete(np.full(tuple(index_shape), spec.n), dtype=dtype)


def _multi_to_space(spec: MultiCategorical | MultiOneHot) -> spaces.MultiDiscrete:
    if isinstance(spec, MultiCategorical):
        return spaces.MultiDiscrete(spec.nvec.cpu().numpy(), dtype=numpy_dtype(spec.dtype))
    lead = tuple(spec.shape[:-1])
    return spaces.MultiDiscrete(np.broadcast_to(np.array(spec.nvec), (*lead, len(spec.nvec))).copy())


def _composite_to_space(spec: Composite) -> spaces.Dict:
    if spec.ndim:
        raise TypeError(f"spec_to_space: a Composite with batch shape {tuple(spec.shape)} has no gymnasium space; "
                        f"convert one element (spec[0]) instead")
    missing = [key for key, entry in spec.items() if entry is None]
    if missing:
        raise TypeError(f"spec_to_space: Composite entries {missing} have no spec (None); set them before converting")
    return spaces.Dict({key: spec_to_space(entry) for key, entry in spec.items()})


# --- an env's specs -------------------------------------------------------------------------------
class EnvSpecs(NamedTuple):
    """The specs of a gymnasium env, keyed as torchrl's GymEnv keys them, and its spaces."""

    observation: Composite
    action: TensorSpec
    reward: Unbounded
    done: Categorical
    observation_space: spaces.Space
    action_space: spaces.Space


def env_specs(env_or_id: Any, *, categorical_action_encoding: bool = False, device: Any = None) -> EnvSpecs:
    """The observation, action, reward and done specs of a gymnasium env (or env id).

    An id is made with ``gymnasium.make`` (no rendering), read and closed; an env instance
    is read and left open. Non-Dict observations sit under the key ``"observation"``.

    >>> specs = env_specs("CartPole-v1")
    >>> specs.action
    OneHot(n=2, shape=(2,), dtype=torch.int64, device=cpu)
    >>> list(specs.observation.keys())
    ['observation']
    """
    if isinstance(env_or_id, str):
        env = _make_env(env_or_id)
        try:
            return _read_specs(env, categorical_action_encoding, device)
        finally:
            env.close()
    if isinstance(env_or_id, gymnasium.vector.VectorEnv):
        raise TypeError("env_specs takes a single env, not a VectorEnv; convert "
                        "env.single_observation_space / env.single_action_space with space_to_spec and "
                        "expand the specs by env.num_envs")
    if not (isinstance(getattr(env_or_id, "observation_space", None), spaces.Space)
            and isinstance(getattr(env_or_id, "action_space", None), spaces.Space)):
        raise TypeError(f"`env_or_id` must be a gymnasium env id such as 'CartPole-v1' or a gymnasium env, "
                        f"got {type(env_or_id).__name__}")
    return _read_specs(env_or_id, categorical_action_encoding, device)


def _make_env(env_id: str) -> Any:
    """``gymnasium.make(env_id)``; an unknown or retired id becomes a ValueError with suggestions."""
    try:
        return gymnasium.make(env_id)
    except (gymnasium.error.UnregisteredEnv, gymnasium.error.DeprecatedEnv) as err:
        close = suggest(env_id, gymnasium.envs.registry.keys())
        hint = (f"Did you mean {close!r}?" if close is not None
                else "List the registered ids with gymnasium.envs.registry.keys().")
        raise ValueError(f"`env_or_id` {env_id!r} cannot be made (gymnasium says: {err}). {hint}") from None


def _read_specs(env: Any, categorical: bool, device: Any) -> EnvSpecs:
    obs_space, action_space = env.observation_space, env.action_space
    observation = space_to_spec(obs_space, categorical_action_encoding=categorical, device=device,
                                state_as_observation=True)
    if not isinstance(obs_space, spaces.Dict):
        observation = Composite(observation=observation, device=device)
    return EnvSpecs(
        observation=observation,
        action=space_to_spec(action_space, categorical_action_encoding=categorical, device=device),
        reward=Unbounded((1,), device=device, dtype=torch.float32),
        done=Categorical(2, shape=(1,), device=device, dtype=torch.bool),
        observation_space=obs_space,
        action_space=action_space,
    )


# --- values across the boundary -------------------------------------------------------------------
def action_to_env(spec: TensorSpec, action: Any, space: spaces.Space) -> Any:
    """The action as ``env.step`` takes it: numpy, one-hot -> indices, the space's `start` added.

    Leading batch dims of `action` are kept in front of the space's shape.

    >>> import torch
    >>> from gymnasium import spaces
    >>> int(action_to_env(OneHot(3), torch.tensor([0, 0, 1]), spaces.Discrete(3, start=1)))
    3
    """
    if isinstance(space, spaces.Dict):
        return _dict_to_env(spec, action, space)
    if isinstance(space, spaces.Tuple):
        return tuple(_to_env_parts(spec, action, space))
    if isinstance(spec, Composite) or not isinstance(action, torch.Tensor):
        raise TypeError(f"action_to_env: `action` for {space!r} must be a torch.Tensor of a leaf spec, got "
                        f"{type(action).__name__} for a {type(spec).__name__} spec")
    batch = action.shape[: action.ndim - spec.ndim]
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return _indices_to_env(spec, action, space, batch)
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        array = action.detach().cpu().numpy().astype(space.dtype, copy=False)
        return array.reshape((*batch, *space.shape))
    raise TypeError(f"action_to_env: {type(space).__name__} spaces are not supported; supported are {_SUPPORTED}")


def _indices_to_env(spec: TensorSpec, action: torch.Tensor, space: spaces.Space, batch: torch.Size) -> Any:
    if not isinstance(spec, _INDEX_SPECS):
        raise TypeError(f"action_to_env: {space!r} needs a OneHot, MultiOneHot, Categorical or MultiCategorical "
                        f"spec, got {type(spec).__name__}")
    index = spec.to_categorical(action) if isinstance(spec, (OneHot, MultiOneHot)) else action
    array = index.detach().cpu().numpy().reshape((*batch, *space.shape)) + space.start
    return array.astype(space.dtype)[()]


def _dict_to_env(spec: TensorSpec, action: Any, space: spaces.Dict) -> dict[str, Any]:
    if not isinstance(spec, Composite) or not isinstance(action, (Mapping, TensorDictBase)):
        raise TypeError(f"action_to_env: a Dict space needs a Composite spec and a TensorDict action, got a "
                        f"{type(spec).__name__} spec and a {type(action).__name__}")
    result = {}
    for key, subspace in space.spaces.items():
        name = _spec_key(spec, key, action)
        result[key] = action_to_env(spec[name], action[name], subspace)
    return result


def _to_env_parts(spec: TensorSpec, action: Any, space: spaces.Tuple) -> list[Any]:
    """Tuple actions: per key "0", "1", ... of a Composite, or per slice of a stacked spec."""
    if isinstance(spec, Composite) and not spec.ndim:
        return [action_to_env(spec[str(i)], action[str(i)], sub) for i, sub in enumerate(space.spaces)]
    if not isinstance(action, (torch.Tensor, TensorDictBase)):
        raise TypeError(f"action_to_env: `action` for {space!r} must be a tensor or TensorDict stacked on the "
                        f"Tuple's dim, got {type(action).__name__}")
    dim = _value_ndim(action) - spec.ndim
    return [action_to_env(spec[i], part, sub) for i, (part, sub) in enumerate(zip(action.unbind(dim), space.spaces))]


def observation_from_env(spec: TensorSpec, value: Any, space: spaces.Space | None = None) -> Any:
    """An env's observation (numpy, number, tuple or dict) as a tensor or TensorDict of `spec`.

    Pass `space` when a Discrete/MultiDiscrete part has a non-zero `start` (it is subtracted);
    a ``"state"`` entry is read into a spec's ``"observation"``, and a non-dict value into the
    ``"observation"`` entry of `env_specs`' composite.

    >>> import torch
    >>> from gymnasium import spaces
    >>> observation_from_env(OneHot(3, dtype=torch.int64), 4, spaces.Discrete(3, start=2))
    tensor([0, 0, 1])
    """
    if isinstance(spec, Composite):
        return _composite_from_env(spec, value, space)
    return spec.encode(_env_array(value, space))


def _env_array(value: Any, space: spaces.Space | None) -> Any:
    """The value as one array, tuples stacked and index offsets (`start`) removed."""
    if isinstance(value, (tuple, list)):
        return np.stack([_env_array(part, sub) for part, sub in zip(value, _parts_of(space, value))])
    if not isinstance(value, torch.Tensor):
        value = np.asarray(value)
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        value = value - space.start
    return value


def _composite_from_env(spec: Composite, value: Any, space: spaces.Space | None) -> TensorDictBase:
    if isinstance(value, (Mapping, TensorDictBase)):
        entries = {}
        for key, item in value.items():
            name = _spec_key(spec, key, value)
            subspace = space[key] if isinstance(space, spaces.Dict) else None
            entries[name] = observation_from_env(spec[name], item, subspace)
        return TensorDict(entries, batch_size=spec.shape, device=spec.device)
    if list(spec.keys()) == ["observation"]:
        return TensorDict({"observation": observation_from_env(spec["observation"], value, space)},
                          batch_size=spec.shape, device=spec.device)
    if isinstance(value, (tuple, list)):
        parts = list(enumerate(zip(value, _parts_of(space, value))))
        if spec.ndim:
            return torch.stack([observation_from_env(spec[i], part, sub) for i, (part, sub) in parts])
        entries = {str(i): observation_from_env(spec[str(i)], part, sub) for i, (part, sub) in parts}
        return TensorDict(entries, batch_size=spec.shape, device=spec.device)
    raise TypeError(f"observation_from_env: a Composite spec needs a dict or tuple value, got {type(value).__name__}")


def _parts_of(space: spaces.Space | None, value: Any) -> list[spaces.Space | None]:
    """The subspaces of a Tuple space, or one `None` per part when the space is not given."""
    return list(space.spaces) if isinstance(space, spaces.Tuple) else [None] * len(value)


def _spec_key(spec: Composite, key: Any, value: Any) -> str:
    """The spec entry for an env key: itself, or "observation" for a renamed "state"."""
    if key in spec:
        return key
    if key == "state" and "observation" in spec and "observation" not in value:
        return "observation"
    raise KeyError(f"env key {key!r} has no entry in the spec (entries: {', '.join(map(repr, spec.keys()))})")


def _value_ndim(value: Any) -> int:
    return value.batch_dims if isinstance(value, TensorDictBase) else value.ndim
