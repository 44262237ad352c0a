"""gymnasium spaces to static specs: the same answers as the runtime mapping of rldsl.specs.gym.

The runtime mapping imports torch, so it is imported inside the tests (the static one must not)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from rldsl.lang import types as T
from rldsl.lang.envs import EnvError, _convert, env_specs

SPACES = {
    "box": spaces.Box(-2.0, 2.0, (3,), np.float32),
    "box-per-element": spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 5.0], np.float32)),
    "box-scalar": spaces.Box(-1.0, 1.0, (), np.float32),
    "box-infinite": spaces.Box(-np.inf, np.inf, (4,), np.float64),
    "box-partly-infinite": spaces.Box(np.array([-1.0, -np.inf], np.float32), np.array([1.0, np.inf], np.float32)),
    "image": spaces.Box(0, 255, (8, 8, 3), np.uint8),
    "int-box": spaces.Box(0, 9, (2,), np.int64),
    "discrete": spaces.Discrete(5),
    "multi-discrete-equal": spaces.MultiDiscrete([3, 3]),
    "multi-discrete": spaces.MultiDiscrete([3, 2, 4]),
    "multi-binary": spaces.MultiBinary(6),
    "dict": spaces.Dict({"state": spaces.Box(-1.0, 1.0, (2,)), "goal": spaces.Discrete(3)}),
    "tuple-equal": spaces.Tuple([spaces.Discrete(2), spaces.Discrete(2)]),
    "tuple": spaces.Tuple([spaces.Discrete(2), spaces.Box(-1.0, 1.0, (2,))]),
}


def static_of(runtime: object) -> T.Spec:
    """The static spec that describes a runtime rldsl spec."""
    import torch

    from rldsl import specs as R

    names = {torch.float16: "f16", torch.float32: "f32", torch.float64: "f64", torch.int8: "i8", torch.int16: "i16",
             torch.int32: "i32", torch.int64: "i64", torch.uint8: "u8", torch.bool: "bool"}
    if isinstance(runtime, R.Composite):
        return T.Composite(tuple((k, static_of(v)) for k, v in runtime.items()), tuple(runtime.shape))
    shape, dtype = tuple(runtime.shape), names[runtime.dtype]
    if isinstance(runtime, R.Bounded):
        low = T.simplify_bound([float(v) for v in runtime.low.reshape(-1).tolist()])
        high = T.simplify_bound([float(v) for v in runtime.high.reshape(-1).tolist()])
        return T.Bounded(shape, dtype, low, high)
    if isinstance(runtime, R.Unbounded):
        return T.Unbounded(shape, dtype)
    if isinstance(runtime, R.Binary):
        return T.Binary(shape[-1], shape, dtype)
    if isinstance(runtime, R.MultiOneHot):
        return T.MultiOneHot(tuple(runtime.nvec), shape, dtype)
    if isinstance(runtime, R.MultiCategorical):
        return T.MultiCategorical(tuple(int(v) for v in runtime.nvec.reshape(-1).tolist()), shape, dtype)
    if isinstance(runtime, R.OneHot):
        return T.OneHot(runtime.n, shape, dtype)
    assert isinstance(runtime, R.Categorical)
    return T.Categorical(runtime.n, shape, dtype)


def same(a: T.Spec, b: T.Spec) -> bool:
    """Equal specs, bounds compared as float32 values (the runtime stores them in the spec's dtype)."""
    if isinstance(a, T.Bounded) and isinstance(b, T.Bounded):
        la, ha = T.bounds_of(a)
        lb, hb = T.bounds_of(b)
        close = all(np.float32(x) == np.float32(y) for x, y in zip(la + ha, lb + hb))
        return close and a.shape == b.shape and a.dtype == b.dtype
    if isinstance(a, T.Composite) and isinstance(b, T.Composite):
        return a.shape == b.shape and a.names() == b.names() and all(
            same(x, y) for (_, x), (_, y) in zip(a.entries, b.entries))
    return a == b


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("name", sorted(SPACES))
def test_spaces_map_as_at_run_time(name: str, categorical: bool) -> None:
    from rldsl.specs.gym import space_to_spec

    runtime = static_of(space_to_spec(SPACES[name], categorical_action_encoding=categorical))
    assert same(_convert(SPACES[name], categorical), runtime), name


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0", "Acrobot-v1"])
def test_env_keys_match_the_runtime_env_specs(env_id: str) -> None:
    from rldsl.specs.gym import env_specs as runtime_env_specs

    runtime = runtime_env_specs(env_id)
    specs = env_specs(env_id)
    assert same(specs.get("observation"), static_of(runtime.observation["observation"]))
    assert same(specs.get("action"), static_of(runtime.action))
    assert specs.get("reward") == static_of(runtime.reward)
    assert specs.get("done") == static_of(runtime.done)
    assert specs.names() == ["observation", "action", "reward", "done", "terminated", "truncated"]


def test_unsupported_spaces_and_unknown_envs() -> None:
    from rldsl.lang.envs import _Unsupported

    with pytest.raises(_Unsupported):
        _convert(spaces.Text(5), False)
    with pytest.raises(EnvError) as error:
        env_specs("NoSuchEnv-v0")
    assert "NoSuchEnv-v0" in error.value.message
