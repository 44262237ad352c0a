"""Gymnasium interop: space <-> spec mapping, env specs, and values crossing the env boundary."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given
from hypothesis import strategies as st
from tensordict import TensorDict

from rldsl.specs import (
    Binary,
    Bounded,
    Categorical,
    Composite,
    EnvSpecs,
    MultiCategorical,
    MultiOneHot,
    OneHot,
    Unbounded,
    action_to_env,
    env_specs,
    observation_from_env,
    space_to_spec,
    spec_to_space,
)

INF = np.inf


def same_box(a: spaces.Box, b: spaces.Box) -> bool:
    """Exact Box equality (gymnasium's `==` compares bounds with allclose)."""
    return (a.shape == b.shape and a.dtype == b.dtype
            and np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high))


def torch_dtype_of(np_dtype) -> torch.dtype:
    """The torch dtype numpy's `np_dtype` converts to."""
    return torch.from_numpy(np.empty(0, np_dtype)).dtype


# --- Box ----------------------------------------------------------------------------------------
def test_box_gives_bounded_with_per_element_bounds():
    space = spaces.Box(np.array([-1.0, 0.0, 2.0]), np.array([1.0, 5.0, 3.0]), dtype=np.float64)
    spec = space_to_spec(space)
    assert isinstance(spec, Bounded)
    assert spec.shape == (3,) and spec.dtype is torch.float64
    assert torch.equal(spec.low, torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64))
    assert torch.equal(spec.high, torch.tensor([1.0, 5.0, 3.0], dtype=torch.float64))


@pytest.mark.parametrize("np_dtype, torch_dtype", [
    (np.float16, torch.float16), (np.float32, torch.float32), (np.float64, torch.float64),
    (np.int8, torch.int8), (np.int32, torch.int32), (np.int64, torch.int64), (np.uint8, torch.uint8),
])
def test_box_dtype_is_mapped_from_numpy(np_dtype, torch_dtype):
    spec = space_to_spec(spaces.Box(0, 10, (2, 3), np_dtype))
    assert isinstance(spec, Bounded)
    assert spec.dtype is torch_dtype and spec.shape == (2, 3)
    assert spec.domain == ("continuous" if torch_dtype.is_floating_point else "discrete")


def test_box_with_all_infinite_bounds_is_unbounded():
    spec = space_to_spec(spaces.Box(-INF, INF, (4,), np.float32))
    assert type(spec).__name__ == "UnboundedContinuous"
    assert spec == Unbounded((4,), dtype=torch.float32)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int16, np.int64])
def test_box_spanning_the_dtype_extremes_is_unbounded(dtype):
    info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
    spec = space_to_spec(spaces.Box(info.min, info.max, (2,), dtype))
    assert isinstance(spec, Unbounded) and spec.dtype is torch_dtype_of(dtype)


def test_uint8_image_box_is_unbounded_uint8():
    image = spaces.Box(0, 255, (84, 84, 3), np.uint8)
    spec = space_to_spec(image)
    assert type(spec).__name__ == "UnboundedDiscrete"
    assert spec.dtype is torch.uint8 and spec.shape == (84, 84, 3)
    assert same_box(spec_to_space(spec), image)


def test_uint8_box_below_the_full_range_stays_bounded():
    spec = space_to_spec(spaces.Box(0, 100, (2,), np.uint8))
    assert isinstance(spec, Bounded) and spec.high.tolist() == [100, 100]


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.uint64])
def test_bounded_box_of_wide_unsigned_ints_is_refused_with_a_hint(dtype):
    with pytest.raises(TypeError, match=rf"{np.dtype(dtype)}, which torch cannot compare.*DtypeObservation"):
        space_to_spec(spaces.Box(0, 100, (2,), dtype))
    info = np.iinfo(dtype)
    assert space_to_spec(spaces.Box(info.min, info.max, (2,), dtype)).dtype is torch_dtype_of(dtype)



def test_partially_infinite_box_stays_bounded_with_inf_entries():
    space = env_specs("CartPole-v1").observation_space
    spec = space_to_spec(space)
    assert isinstance(spec, Bounded)
    assert torch.isinf(spec.low[1]) and torch.isinf(spec.high[3]) and spec.high[0] == pytest.approx(4.8)
    assert same_box(spec_to_space(spec), space)


def test_half_open_box_is_bounded():
    spec = space_to_spec(spaces.Box(0.0, INF, (2,), np.float32))
    assert isinstance(spec, Bounded) and spec.low.tolist() == [0.0, 0.0]
    assert spec.is_in(spec.rand((50,)))


def test_bool_box_is_unbounded_bool():
    spec = space_to_spec(spaces.Box(0, 1, (3,), np.bool_))
    assert isinstance(spec, Unbounded) and spec.dtype is torch.bool
    assert same_box(spec_to_space(spec), spaces.Box(0, 1, (3,), np.bool_))


def test_scalar_box_gets_shape_one_and_actions_go_back_to_scalars():
    space = spaces.Box(-2.0, 2.0, (), np.float32)
    spec = space_to_spec(space)
    assert spec.shape == (1,)
    action = action_to_env(spec, torch.tensor([0.5]), space)
    assert action.shape == () and space.contains(action)
    assert spec.is_in(observation_from_env(spec, np.float32(1.5), space))


# --- Discrete and MultiDiscrete ----------------------------------------------------------------
def test_discrete_is_one_hot_int64_or_categorical():
    assert space_to_spec(spaces.Discrete(4)) == OneHot(4, dtype=torch.int64)
    assert space_to_spec(spaces.Discrete(4), categorical_action_encoding=True) == Categorical(4)
    assert space_to_spec(spaces.Discrete(4, dtype=np.int32), categorical_action_encoding=True).dtype is torch.int32


@pytest.mark.parametrize("categorical", [False, True])
def test_discrete_start_is_applied_by_the_boundary_helpers(categorical):
    space = spaces.Discrete(3, start=-1)
    spec = space_to_spec(space, categorical_action_encoding=categorical)
    assert spec == space_to_spec(spaces.Discrete(3), categorical_action_encoding=categorical)
    index_2 = torch.tensor(2) if categorical else torch.tensor([0, 0, 1])
    action = action_to_env(spec, index_2, space)
    assert action == 1 and space.contains(action)
    for env_value in (-1, 0, 1):
        encoded = observation_from_env(spec, env_value, space)
        assert spec.is_in(encoded)
        assert action_to_env(spec, encoded, space) == env_value


def test_discrete_start_needs_the_space_to_be_read_back():
    spec = space_to_spec(spaces.Discrete(3, start=5))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        observation_from_env(spec, 6)
    assert observation_from_env(spec, 6, spaces.Discrete(3, start=5)).tolist() == [0, 1, 0]


def test_multi_discrete_heterogeneous_is_multi_one_hot_or_multi_categorical():
    space = spaces.MultiDiscrete([3, 4, 2])
    assert space_to_spec(space) == MultiOneHot([3, 4, 2], dtype=torch.int64)
    assert space_to_spec(space, categorical_action_encoding=True) == MultiCategorical([3, 4, 2])


def test_multi_discrete_homogeneous_is_one_hot_or_categorical_with_its_shape():
    space = spaces.MultiDiscrete([[3, 3], [3, 3], [3, 3]])
    assert space_to_spec(space) == OneHot(3, shape=(3, 2, 3), dtype=torch.int64)
    assert space_to_spec(space, categorical_action_encoding=True) == Categorical(3, shape=(3, 2))


def test_multi_discrete_multi_dim_heterogeneous():
    rows_equal = spaces.MultiDiscrete([[2, 3], [2, 3]])
    assert space_to_spec(rows_equal) == MultiOneHot([2, 3], shape=(2, 5), dtype=torch.int64)
    rows_differ = spaces.MultiDiscrete([[2, 3], [4, 5]])
    spec = space_to_spec(rows_differ, categorical_action_encoding=True)
    assert spec == MultiCategorical(torch.tensor([[2, 3], [4, 5]]))
    with pytest.raises(TypeError, match="categorical_action_encoding=True"):
        space_to_spec(rows_differ)


def test_empty_multi_discrete_is_refused():
    with pytest.raises(ValueError, match="no variables"):
        space_to_spec(spaces.MultiDiscrete([]))


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("nvec, start", [([3, 4], [1, -2]), ([2, 2], [10, 20]), ([[2, 3], [2, 3]], [[1, 1], [0, 5]])])
def test_multi_discrete_start_round_trips_through_the_helpers(categorical, nvec, start):
    space = spaces.MultiDiscrete(nvec, start=start, seed=0)
    spec = space_to_spec(space, categorical_action_encoding=categorical)
    for _ in range(5):
        sample = space.sample()
        encoded = observation_from_env(spec, sample, space)
        assert spec.is_in(encoded)
        back = action_to_env(spec, encoded, space)
        assert space.contains(back) and np.array_equal(back, sample)
        assert space.contains(action_to_env(spec, spec.rand(), space))


# --- MultiBinary ---------------------------------------------------------------------------------
def test_multi_binary_is_binary_int8():
    assert space_to_spec(spaces.MultiBinary(5)) == Binary(5, dtype=torch.int8)
    spec = space_to_spec(spaces.MultiBinary([2, 3]))
    assert spec == Binary(3, shape=(2, 3)) and spec.dtype is torch.int8
    space = spaces.MultiBinary([2, 3])
    assert space.contains(action_to_env(spec, spec.rand(), space))


# --- Dict and Tuple -----------------------------------------------------------------------------
NESTED = spaces.Dict({
    "position": spaces.Box(-1.0, 1.0, (2,)),
    "sensors": spaces.Dict({"camera": spaces.Box(0, 255, (4, 4, 3), np.uint8), "bump": spaces.MultiBinary(2)}),
    "mode": spaces.Discrete(3),
})


def test_nested_dict_is_nested_composite():
    spec = space_to_spec(NESTED, device="cpu")
    assert isinstance(spec, Composite) and isinstance(spec["sensors"], Composite)
    assert spec["sensors", "camera"] == Unbounded((4, 4, 3), dtype=torch.uint8)
    assert spec["mode"] == OneHot(3, dtype=torch.int64)
    assert spec.device == torch.device("cpu")
    value = NESTED.sample()
    td = observation_from_env(spec, value, NESTED)
    assert spec.is_in(td)
    assert td["sensors", "bump"].dtype is torch.int8


def test_state_key_is_renamed_only_when_asked_and_only_at_the_top_level():
    space = spaces.Dict({"state": spaces.Box(-1, 1, (2,)), "inner": spaces.Dict({"state": spaces.Discrete(2)})})
    assert "state" in space_to_spec(space)
    renamed = space_to_spec(space, state_as_observation=True)
    assert list(renamed.keys()) == ["inner", "observation"]
    assert "state" in renamed["inner"]
    value = space.sample()
    assert renamed.is_in(observation_from_env(renamed, value, space))


def test_state_key_is_kept_when_an_observation_key_exists():
    space = spaces.Dict({"state": spaces.Discrete(2), "observation": spaces.Discrete(3)})
    spec = space_to_spec(space, state_as_observation=True)
    assert sorted(spec.keys()) == ["observation", "state"] and spec["state"].n == 2


def test_tuple_of_equal_parts_is_stacked_on_a_new_leading_dim():
    space = spaces.Tuple([spaces.Box(-1.0, 1.0, (3,))] * 4)
    spec = space_to_spec(space)
    assert spec == Bounded(-1.0, 1.0, shape=(4, 3))
    action = action_to_env(spec, spec.rand(), space)
    assert isinstance(action, tuple) and space.contains(action)
    assert spec.is_in(observation_from_env(spec, space.sample(), space))
    discrete = space_to_spec(spaces.Tuple([spaces.Discrete(5)] * 2), categorical_action_encoding=True)
    assert discrete == Categorical(5, shape=(2,))


def test_tuple_of_equal_dicts_is_a_stacked_composite():
    space = spaces.Tuple([spaces.Dict({"x": spaces.Discrete(2)})] * 3)
    spec = space_to_spec(space)
    assert isinstance(spec, Composite) and spec.shape == (3,)
    assert spec["x"] == OneHot(2, shape=(3, 2), dtype=torch.int64)
    td = observation_from_env(spec, space.sample(), space)
    assert td.batch_size == (3,) and spec.is_in(td)
    assert space.contains(action_to_env(spec, spec.rand(), space))


def test_tuple_of_different_parts_is_a_composite_keyed_by_position():
    space = spaces.Tuple([spaces.Discrete(3), spaces.Box(-1.0, 1.0, (2,))])
    spec = space_to_spec(space)
    assert list(spec.keys()) == ["0", "1"]
    assert spec["0"] == OneHot(3, dtype=torch.int64) and isinstance(spec["1"], Bounded)
    td = observation_from_env(spec, space.sample(), space)
    assert spec.is_in(td)
    assert space.contains(action_to_env(spec, td, space))
    assert isinstance(spec_to_space(spec), spaces.Dict)


# --- unsupported spaces and bad arguments ---------------------------------------------------------
@pytest.mark.parametrize("space", [
    spaces.Text(5),
    spaces.Graph(spaces.Box(0, 1, (2,)), None),
    spaces.Sequence(spaces.Discrete(2)),
    spaces.OneOf([spaces.Discrete(2)]),
], ids=["Text", "Graph", "Sequence", "OneOf"])
def test_unsupported_spaces_are_refused_with_the_supported_list(space):
    with pytest.raises(TypeError, match=rf"{type(space).__name__} spaces .* supported spaces are Box, Discrete"):
        space_to_spec(space)


def test_unsupported_space_inside_a_dict_is_refused():
    with pytest.raises(TypeError, match="Text spaces"):
        space_to_spec(spaces.Dict({"name": spaces.Text(4)}))


@pytest.mark.parametrize("bad", ["Box", 3, np.zeros(2)])
def test_space_to_spec_refuses_non_spaces(bad):
    with pytest.raises(TypeError, match=r"`space` must be a gymnasium.spaces.Space"):
        space_to_spec(bad)


def test_space_to_spec_refuses_a_non_bool_encoding_flag():
    with pytest.raises(TypeError, match="`categorical_action_encoding` must be a bool"):
        space_to_spec(spaces.Discrete(2), categorical_action_encoding="yes")


def test_non_string_dict_keys_are_refused():
    with pytest.raises(TypeError, match="Dict key 1 is not a string"):
        space_to_spec(spaces.Dict({1: spaces.Discrete(2)}))


# --- spec -> space --------------------------------------------------------------------------------
def test_spec_to_space_mappings():
    assert same_box(spec_to_space(Bounded(-1.0, 2.0, shape=(2,))), spaces.Box(-1.0, 2.0, (2,), np.float32))
    assert same_box(spec_to_space(Unbounded(3)), spaces.Box(-INF, INF, (3,), np.float32))
    assert same_box(spec_to_space(Unbounded(2, dtype=torch.int16)), spaces.Box(-32768, 32767, (2,), np.int16))
    assert spec_to_space(OneHot(4)) == spaces.Discrete(4)
    assert spec_to_space(OneHot(4, shape=(2, 4))) == spaces.MultiDiscrete([4, 4])
    assert spec_to_space(Categorical(4, dtype=torch.int32)) == spaces.Discrete(4, dtype=np.int32)
    assert spec_to_space(Categorical(4, shape=(3,))) == spaces.MultiDiscrete([4, 4, 4])
    assert spec_to_space(MultiCategorical([2, 5])) == spaces.MultiDiscrete([2, 5])
    assert spec_to_space(MultiOneHot([2, 5])) == spaces.MultiDiscrete([2, 5])
    assert spec_to_space(MultiOneHot([2, 5], shape=(3, 7))) == spaces.MultiDiscrete([[2, 5]] * 3)
    assert spec_to_space(Binary(3)) == spaces.MultiBinary(3)
    assert spec_to_space(Binary(3, shape=(2, 3))) == spaces.MultiBinary([2, 3])
    assert same_box(spec_to_space(Categorical(2, shape=(1,), dtype=torch.bool)), spaces.Box(0, 1, (1,), np.bool_))
    assert spec_to_space(Composite(a=OneHot(2), b={"c": Binary(2)})) == spaces.Dict(
        {"a": spaces.Discrete(2), "b": spaces.Dict({"c": spaces.MultiBinary(2)})})


def test_spec_to_space_drops_masks():
    assert spec_to_space(OneHot(3, mask=torch.tensor([True, False, True]))) == spaces.Discrete(3)


@pytest.mark.parametrize("spec, message", [
    (Composite(a=OneHot(2), shape=()).expand(3), r"batch shape \(3,\) .*\(spec\[0\]\)"),
    (Composite(a=None), r"entries \['a'\] have no spec"),
    (Unbounded(2, dtype=torch.complex64), "complex .* split it"),
    (Bounded(-1.0, 1.0, shape=(2,), dtype=torch.bfloat16), r"bfloat16 has no numpy equivalent.*spec.to"),
    ("Bounded", "`spec` must be an rldsl spec"),
])
def test_spec_to_space_refuses_specs_without_a_gymnasium_space(spec, message):
    with pytest.raises(TypeError, match=message):
        spec_to_space(spec)


# --- round trips ----------------------------------------------------------------------------------
ROUND_TRIP_SPACES = [
    spaces.Box(-1.0, 1.0, (3,), np.float32),
    spaces.Box(np.array([-1.0, -INF]), np.array([INF, 2.5]), dtype=np.float64),
    spaces.Box(-INF, INF, (2, 2), np.float32),
    spaces.Box(-3, 7, (2,), np.int32),
    spaces.Box(0, 255, (8, 8, 3), np.uint8),
    spaces.Discrete(5),
    spaces.MultiDiscrete([3, 4]),
    spaces.MultiDiscrete([2, 2, 2]),
    spaces.MultiDiscrete([[2, 3], [2, 3]]),
    spaces.MultiBinary(4),
    spaces.MultiBinary([2, 3]),
    NESTED,
]


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("space", ROUND_TRIP_SPACES, ids=repr)
def test_space_to_spec_to_space_round_trip(space, categorical):
    back = spec_to_space(space_to_spec(space, categorical_action_encoding=categorical))
    assert back == space
    if isinstance(space, spaces.Box):
        assert same_box(back, space)


ROUND_TRIP_SPECS = [
    (Bounded(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, INF]), dtype=torch.float32), False),
    (Bounded(-5, 5, shape=(2, 2), dtype=torch.int64), False),
    (Unbounded(3), False),
    (Unbounded((2, 2), dtype=torch.uint8), False),
    (OneHot(5, dtype=torch.int64), False),
    (OneHot(3, shape=(2, 3), dtype=torch.int64), False),
    (Categorical(5), True),
    (Categorical(3, shape=(4,)), True),
    (MultiOneHot([2, 3], dtype=torch.int64), False),
    (MultiCategorical([2, 3]), True),
    (Binary(4), False),
    (Composite(a=OneHot(2, dtype=torch.int64), b=Composite(c=Bounded(0.0, 1.0, shape=(1,)))), False),
]


@pytest.mark.parametrize("spec, categorical", ROUND_TRIP_SPECS, ids=lambda x: type(x).__name__)
def test_spec_to_space_to_spec_round_trip(spec, categorical):
    assert space_to_spec(spec_to_space(spec), categorical_action_encoding=categorical) == spec


# --- env specs ------------------------------------------------------------------------------------
def test_cartpole_specs_match_torchrl_gym_env():
    specs = env_specs("CartPole-v1")
    assert isinstance(specs, EnvSpecs)
    assert specs.action == OneHot(2, dtype=torch.int64)
    assert list(specs.observation.keys()) == ["observation"]
    assert isinstance(specs.observation["observation"], Bounded)
    assert specs.observation["observation"].shape == (4,)
    assert specs.reward == Unbounded((1,), dtype=torch.float32)
    assert specs.done == Categorical(2, shape=(1,), dtype=torch.bool)
    assert env_specs("CartPole-v1", categorical_action_encoding=True).action == Categorical(2)


def test_pendulum_and_mountain_car_actions_are_bounded():
    pendulum = env_specs("Pendulum-v1")
    assert pendulum.action == Bounded(-2.0, 2.0, shape=(1,))
    assert torch.equal(pendulum.observation["observation"].high, torch.tensor([1.0, 1.0, 8.0]))
    mountain_car = env_specs("MountainCarContinuous-v0")
    assert mountain_car.action == Bounded(-1.0, 1.0, shape=(1,))
    assert mountain_car.observation["observation"].shape == (2,)


def test_toy_text_envs():
    frozen_lake = env_specs("FrozenLake-v1", categorical_action_encoding=True)
    assert frozen_lake.observation["observation"] == Categorical(16)
    assert frozen_lake.action == Categorical(4)
    blackjack = env_specs("Blackjack-v1")
    assert blackjack.observation["observation"] == Composite(
        {"0": OneHot(32, dtype=torch.int64), "1": OneHot(11, dtype=torch.int64), "2": OneHot(2, dtype=torch.int64)})


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0", "FrozenLake-v1",
                                    "Blackjack-v1"])
@pytest.mark.parametrize("categorical", [False, True])
def test_real_env_step_with_a_spec_random_action(env_id, categorical):
    specs = env_specs(env_id, categorical_action_encoding=categorical)
    env = gymnasium.make(env_id)
    try:
        obs, _ = env.reset(seed=0)
        assert specs.observation.is_in(observation_from_env(specs.observation, obs, specs.observation_space))
        for _ in range(3):
            action = action_to_env(specs.action, specs.action.rand(), specs.action_space)
            assert env.action_space.contains(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            assert specs.observation.is_in(observation_from_env(specs.observation, obs, specs.observation_space))
            assert specs.reward.is_in(specs.reward.encode(reward))
            assert specs.done.is_in(specs.done.encode(terminated or truncated))
            if terminated or truncated:
                obs, _ = env.reset()
    finally:
        env.close()


class StateDictEnv(gymnasium.Env):
    """A Dict-observation env with a "state" key and offset discrete spaces."""

    observation_space = spaces.Dict({"state": spaces.Box(-1.0, 1.0, (2,)), "goal": spaces.Discrete(3, start=1)})
    action_space = spaces.MultiDiscrete([2, 3], start=[-1, 10])

    def __init__(self):
        self.closed = False
        self.observation_space.seed(0)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return self.observation_space.sample(), 1.0, False, False, {}

    def close(self):
        self.closed = True


def test_env_instance_with_state_key_and_offsets_end_to_end():
    env = StateDictEnv()
    specs = env_specs(env, categorical_action_encoding=True)
    assert not env.closed
    assert sorted(specs.observation.keys()) == ["goal", "observation"]
    assert specs.action == MultiCategorical([2, 3])
    obs, _ = env.reset()
    td = observation_from_env(specs.observation, obs, specs.observation_space)
    assert isinstance(td, TensorDict) and specs.observation.is_in(td)
    assert td["goal"].item() == obs["goal"] - 1
    env.step(action_to_env(specs.action, specs.action.rand(), specs.action_space))


def test_env_id_is_made_then_closed(monkeypatch):
    made = []
    monkeypatch.setattr(gymnasium, "make", lambda env_id: made.append(StateDictEnv()) or made[-1])
    specs = env_specs("AnyId-v0")
    assert made[0].closed and "observation" in specs.observation


def test_unknown_env_id_gives_gymnasium_message_and_suggestions():
    expected = r"'CartPol-v1' cannot be made \(gymnasium says: .*doesn't exist.*'CartPole-v1'"
    with pytest.raises(ValueError, match=expected):
        env_specs("CartPol-v1")
    with pytest.raises(ValueError, match=r"gymnasium.envs.registry.keys\(\)"):
        env_specs("Zzzqqq-v0")


def test_env_specs_refuses_other_arguments():
    with pytest.raises(TypeError, match="`env_or_id` must be a gymnasium env id"):
        env_specs(3)
    with pytest.raises(TypeError, match="`env_or_id` must be a gymnasium env id"):
        env_specs(spaces.Discrete(2))


def test_env_specs_refuses_vector_envs():
    vector_env = gymnasium.vector.SyncVectorEnv([lambda: gymnasium.make("CartPole-v1")] * 2)
    try:
        with pytest.raises(TypeError, match="single_observation_space"):
            env_specs(vector_env)
    finally:
        vector_env.close()


def test_env_specs_device():
    specs = env_specs("Pendulum-v1", device="cpu")
    assert specs.observation.device == torch.device("cpu")
    assert specs.action.device == specs.reward.device == specs.done.device == torch.device("cpu")


# --- boundary helpers: errors and batches ---------------------------------------------------------
def test_action_to_env_refuses_a_spec_of_the_wrong_kind():
    with pytest.raises(TypeError, match="needs a OneHot, MultiOneHot, Categorical or MultiCategorical spec"):
        action_to_env(Bounded(0.0, 1.0, shape=(1,)), torch.tensor([0.5]), spaces.Discrete(2))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        action_to_env(OneHot(2), np.array([0, 1]), spaces.Discrete(2))
    with pytest.raises(TypeError, match="Dict space needs a Composite spec"):
        action_to_env(OneHot(2), torch.tensor([0, 1]), spaces.Dict({"a": spaces.Discrete(2)}))


def test_action_to_env_keeps_batch_dims():
    space = spaces.Box(-1.0, 1.0, (), np.float32)
    spec = space_to_spec(space)
    assert action_to_env(spec, spec.rand((5,)), space).shape == (5,)
    one_hot = OneHot(4, dtype=torch.int64)
    indices = action_to_env(one_hot, one_hot.rand((2, 3)), spaces.Discrete(4, start=1))
    assert indices.shape == (2, 3) and indices.min() >= 1


def test_observation_from_env_refuses_a_scalar_for_a_composite():
    spec = Composite(a=OneHot(2), b=OneHot(3))
    with pytest.raises(TypeError, match="needs a dict or tuple value"):
        observation_from_env(spec, 3)
    with pytest.raises(KeyError, match="env key 'c' has no entry"):
        observation_from_env(spec, {"c": 1})


# --- properties over random boxes ----------------------------------------------------------------
BOX_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8]


@st.composite
def boxes(draw) -> spaces.Box:
    """Random Box spaces: shapes up to 3 dims, per-element (possibly half-infinite) bounds."""
    dtype = np.dtype(draw(st.sampled_from(BOX_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(1, 3), max_size=3)))
    size = int(np.prod(shape))
    floating = np.issubdtype(dtype, np.floating)
    info = np.finfo(dtype) if floating else np.iinfo(dtype)
    if dtype not in (np.int64, np.float64) and draw(st.integers(0, 5)) == 0:  # the whole dtype
        # (gymnasium's Box.sample overflows on the whole int64 / float64 range, so those are left out)
        return spaces.Box(info.min, info.max, shape, dtype)
    lo, hi = max(info.min, -100), min(info.max, 100)
    base = np.array(draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size)), dtype=np.float64)
    width = np.array(draw(st.lists(st.integers(0, 50), min_size=size, max_size=size)), dtype=np.float64)
    if floating:
        base = base + draw(st.floats(0, 1))
    low, high = base, (base + width if floating else np.minimum(base + width, hi))
    if floating:
        low = np.where(draw(st.lists(st.booleans(), min_size=size, max_size=size)), -INF, low)
        high = np.where(draw(st.lists(st.booleans(), min_size=size, max_size=size)), INF, high)
    return spaces.Box(low.reshape(shape).astype(dtype), high.reshape(shape).astype(dtype), shape, dtype, seed=0)


@given(space=boxes())
def test_random_box_spec_values_lie_in_the_space(space):
    spec = space_to_spec(space)
    value = spec.rand((4,))
    assert spec.dtype is torch_dtype_of(space.dtype)
    for row in value:
        assert space.contains(row.numpy().reshape(space.shape))
        assert space.contains(action_to_env(spec, row, space))
    for _ in range(4):
        assert spec.is_in(observation_from_env(spec, space.sample(), space))


def test_int64_box_reaching_the_dtype_max_gives_every_value_of_the_space():
    top = np.iinfo(np.int64).max
    space = spaces.Box(top - 3, top, (3,), np.int64)
    spec = space_to_spec(space)
    assert isinstance(spec, Bounded)
    values = spec.rand((200,))
    assert all(space.contains(row.numpy()) for row in values)
    assert set(values.flatten().tolist()) == {top - 3, top - 2, top - 1, top}
