"""A run on ``device="meta"`` confirms the checker's inferred shapes (a differential test).

Every example model (and a few inline ones that reach masks, multi-categorical actions and
per-element bounds) is compiled on the ``meta`` device, where tensors have shapes and dtypes
but no data, and every declared module is run on a random input drawn from the checked specs.
Each key a module writes must have exactly the shape ``(batch, *static shape)`` and the dtype
the checker inferred, and no weight may be materialised on a real device.

The second half checks each value check of rldsl.specs / rldsl.modules that needs data: it
is skipped for meta tensors (through ``rldsl.specs._base.has_values``) and still raises for
real ones.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict, is_tensor_collection

import rldsl
from rldsl import specs as S
from rldsl.compiler.program import _allow_one
from rldsl.compiler.specs import shape_of, torch_dtype
from rldsl.lang import types as T
from rldsl.modules import (
    DistributionalQValueModule,
    ExplorationType,
    SafeProbabilisticModule,
    TanhModule,
    TanhNormal,
    set_exploration_type,
)
from rldsl.modules.tensordict_module.exploration import uniform_allowed
from rldsl.modules.utils import ArgumentError, check_low_high
from rldsl.specs._base import has_values
from rldsl.specs.discrete import argmax_allowed

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(path for path in (ROOT / "examples").rglob("*.rlm") if "errors" not in path.relative_to(ROOT).parts)
META = torch.device("meta")
BATCH = (4,)

#: Small models for what the examples do not reach: spec masks, multi-categorical actions,
#: per-element bounds (TanhNormal and TanhModule), a masked distribution.
INLINE = {
    "masked_onehot": """
key observation : f32[3]
key action : onehot(4, dtype=i64, mask=[true, true, false, true])
key action_mask : bool[4]
actor q = QValueActor(MLP(out_features=4), spec=action, action_mask_key=action_mask)
explore noisy = EGreedyModule(q, spec=action, action_mask_key=action_mask, eps_init=0.5, eps_end=0.1)
""",
    "masked_categorical": """
key observation : f32[3]
key choice : categorical(4, mask=[true, false, true, true])
key mask : bool[4]
module head = MLP(out_features=4) : observation -> logits
actor p = ProbabilisticActor(head, in=[logits], out=[choice], dist=MaskedCategorical(mask=mask), spec=choice,
                             return_log_prob=true)
""",
    "multicategorical": """
key observation : f32[3]
key action : multicategorical([2, 3])
actor q = QValueActor(MLP(out_features=5), spec=action)
explore noisy = EGreedyModule(q, spec=action, eps_init=0.5, eps_end=0.1)
""",
    "per_element_bounds": """
key observation : f32[3]
key action : f32[2] in [[-1.0, 0.0], [1.0, 2.0]]
module params = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale
actor p = ProbabilisticActor(params, in=[loc, scale], out=[action], dist=TanhNormal(low=action.low, high=action.high),
                             spec=action, return_log_prob=true)
module raw = MLP(out_features=2) : observation -> raw_action
actor d = raw >> TanhModule(in=[raw_action], out=[action], spec=action)
""",
}

#: Exploration settings every module runs under: unset (exploration on) and deterministic.
EXPLORATIONS = [None, ExplorationType.DETERMINISTIC]


def _exploring(kind: ExplorationType | None):
    return contextlib.nullcontext() if kind is None else set_exploration_type(kind)


def _check_value(value: object, static: T.Spec, key: object, where: str) -> None:
    """`value` has the batch dims in front of the checker's shape, and the checker's dtype."""
    expected = (*BATCH, *shape_of(static.shape))
    if isinstance(static, T.Composite):
        assert is_tensor_collection(value), f"{where}: {key!r} should be a tensordict"
        assert tuple(value.batch_size) == expected, (where, key, value.batch_size, expected)
        for name, entry in static.entries:
            _check_entry(value.get(name), entry, tuple(value.batch_size), (key, name), where)
        return
    _check_entry(value, static, BATCH, key, where)


def _check_entry(value: object, static: T.Spec, batch: tuple, key: object, where: str) -> None:
    if isinstance(static, T.Composite):
        assert is_tensor_collection(value), f"{where}: {key!r} should be a tensordict"
        return
    assert isinstance(value, torch.Tensor), f"{where}: {key!r} is a {type(value).__name__}, not a tensor"
    shape = (*batch, *shape_of(static.shape))
    assert tuple(value.shape) == shape, f"{where}: {key!r} has shape {tuple(value.shape)}, the checker says {shape}"
    dtype = torch_dtype(static.dtype)
    assert value.dtype == dtype, f"{where}: {key!r} has dtype {value.dtype}, the checker says {dtype}"
    assert value.device == META, f"{where}: {key!r} left the meta device ({value.device})"


def _assert_meta_run_matches_checker(program: rldsl.Program, label: str) -> None:
    for module in dict.fromkeys(program[name] for name in program):
        real = [name for name, p in module.named_parameters() if not p.is_meta]
        real += [name for name, b in module.named_buffers() if not b.is_meta]
        assert not real, f"{label}: materialised on a real device: {real}"
    for name in program:
        for key in (*program.reads(name), *program.writes(name)):
            static = program.static_spec(key)
            runtime = program.spec(key)
            assert tuple(runtime.shape) == shape_of(static.shape), (label, key, runtime.shape, static)
            assert runtime.device == META, (label, key, runtime.device)
            draw = runtime.rand(BATCH)  # a random member, drawn on meta
            assert tuple(draw.batch_size if is_tensor_collection(draw) else draw.shape) == (*BATCH, *runtime.shape)
        for kind in EXPLORATIONS:
            where = f"{label}: `{name}` ({kind})"
            td = program.spec_random_input(name, BATCH)
            assert td.device == META
            with _exploring(kind):
                out = program[name](td)
            for key in program.writes(name):
                value = out.get(key, None)
                if value is None and kind is not None:
                    continue  # an exploration module is the identity when not exploring: it writes no state
                _check_value(value, program.static_spec(key), key, where)


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES])
def test_example_meta_run_matches_the_checked_specs(path: Path) -> None:
    program = rldsl.compile(path, device="meta")
    assert program.device == META
    _assert_meta_run_matches_checker(program, str(path.relative_to(ROOT)))


@pytest.mark.parametrize("name", sorted(INLINE))
def test_inline_model_meta_run_matches_the_checked_specs(name: str) -> None:
    program = rldsl.compile(INLINE[name], device="meta")
    _assert_meta_run_matches_checker(program, name)


def test_examples_are_found() -> None:
    assert len(EXAMPLES) >= 10
    assert not any("errors" in p.parts for p in EXAMPLES)


# --- has_values ---------------------------------------------------------------------------------------
def test_has_values() -> None:
    assert has_values()
    assert has_values(torch.zeros(2), 1.0, None)
    assert not has_values(torch.zeros(2), torch.empty(2, device="meta"))
    assert not has_values(torch.empty((), device="meta"))


# --- specs: each value check is skipped on meta and still raises on real tensors ---------------------
NAN = float("nan")


def test_bounded_nan_bound() -> None:
    with pytest.raises(ValueError, match="contains NaN"):
        S.Bounded(torch.tensor([NAN, 0.0]), 1.0)
    spec = S.Bounded(torch.full((2,), NAN, device="meta"), torch.ones(2, device="meta"), device="meta")
    assert spec.shape == (2,) and spec.low.is_meta


def test_bounded_order_and_integer_bounds() -> None:
    with pytest.raises(ValueError, match="low` must be <= `high"):
        S.Bounded(torch.tensor([2.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="whole numbers"):
        S.Bounded(torch.tensor([0.5]), torch.tensor([3.0]), dtype=torch.int64)
    S.Bounded(torch.tensor([2.0], device="meta"), torch.tensor([1.0], device="meta"), device="meta")
    S.Bounded(torch.tensor([0.5], device="meta"), torch.tensor([3.0], device="meta"), dtype=torch.int64,
              device="meta")


def test_bounded_rand_with_infinite_sides() -> None:
    low, high = torch.tensor([-math.inf, 0.0]), torch.tensor([1.0, math.inf])
    draw = S.Bounded(low, high).rand((1000,))
    assert torch.isfinite(draw).all() and (draw[:, 0] <= 1).all() and (draw[:, 1] >= 0).all()
    meta = S.Bounded(low, high, device="meta").rand((5,))
    assert meta.is_meta and meta.shape == (5, 2)
    assert S.Bounded(0, 9, shape=(3,), dtype=torch.int32, device="meta").rand((5,)).dtype == torch.int32


@pytest.mark.parametrize("spec", [
    S.Bounded(-1.0, 1.0, shape=(2,)),
    S.OneHot(3),
    S.Categorical(3),
    S.Binary(3),
    S.MultiOneHot([2, 3]),
    S.MultiCategorical([2, 3]),
], ids=lambda s: type(s).__name__)
def test_is_in_checks_values_on_cpu_and_only_shape_and_dtype_on_meta(spec: S.TensorSpec) -> None:
    outside = torch.full((4, *spec.shape), 7, dtype=spec.dtype)
    assert not spec.is_in(outside)
    meta = spec.to("meta")
    assert meta.is_in(outside.to("meta"))  # its values are unknown: only shape and dtype are checked
    if spec.ndim:
        assert not meta.is_in(torch.empty((4, 9), dtype=spec.dtype, device="meta"))
    wrong = torch.float64 if spec.dtype != torch.float64 else torch.float32
    assert not meta.is_in(torch.empty((4, *spec.shape), dtype=wrong, device="meta"))


def test_mask_forbidding_a_whole_row() -> None:
    with pytest.raises(ValueError, match="forbids every value"):
        S.OneHot(3, mask=torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="forbids every value"):
        S.Categorical(3, mask=torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="forbids every entry of a block"):
        S.MultiOneHot([2, 3], mask=torch.tensor([False, False, True, True, True]))
    with pytest.raises(ValueError, match="forbids every value of a variable"):
        S.MultiCategorical([2, 3], mask=torch.tensor([True, True, False, False, False]))
    empty = torch.zeros(5, dtype=torch.bool, device="meta")
    for spec in (S.OneHot(3, mask=empty[:3], device="meta"), S.Categorical(3, mask=empty[:3], device="meta"),
                 S.MultiOneHot([2, 3], mask=empty, device="meta"),
                 S.MultiCategorical([2, 3], mask=empty, device="meta")):
        draw = spec.rand((6,))
        assert draw.is_meta and draw.shape == (6, *spec.shape) and draw.dtype == spec.dtype
        assert "mask=..." in repr(spec)


def test_multicategorical_on_meta_keeps_its_cardinalities() -> None:
    spec = S.MultiCategorical([2, 3], shape=(4, 2), device="meta")
    assert spec.nvec.is_meta
    assert spec.clone().shape == (4, 2) and spec.expand(5, 4, 2).shape == (5, 4, 2)
    assert spec[0].shape == (2,) and spec._row_nvec() == [2, 3]
    assert "nvec=[[2, 3]" in repr(spec)
    assert spec.to_one_hot_spec().nvec == [2, 3]
    cpu = S.MultiCategorical([2, 3], shape=(4, 2))
    assert cpu == cpu.clone() and cpu[1] == S.MultiCategorical([2, 3])


def test_argmax_allowed_nan_scores() -> None:
    scores = torch.tensor([[NAN, 1.0, 0.0]])
    assert argmax_allowed(scores, None).tolist() == [1]  # NaN never wins
    meta = argmax_allowed(torch.empty(4, 3, device="meta"), None)
    assert meta.is_meta and meta.shape == (4,)


def test_allow_one_on_meta() -> None:
    mask = _allow_one(torch.zeros(4, 3, dtype=torch.bool))
    assert mask.any(-1).all()
    meta = _allow_one(torch.zeros(4, 3, dtype=torch.bool, device="meta"))
    assert meta.is_meta and meta.shape == (4, 3) and meta.dtype == torch.bool


# --- modules ----------------------------------------------------------------------------------------------
def test_distributional_log_softmax_check() -> None:
    module = DistributionalQValueModule("one_hot", support=torch.linspace(-1, 1, 3))
    with pytest.raises(ValueError, match="log-softmax"):
        module.expected_values(torch.ones(4, 3, 2))
    values = module.expected_values(torch.ones(4, 3, 2, device="meta"))
    assert values.is_meta and values.shape == (4, 2)


def test_uniform_allowed_row_without_a_true() -> None:
    with pytest.raises(ValueError, match="forbids every action"):
        uniform_allowed(torch.tensor([[True, False], [False, False]]))
    drawn = uniform_allowed(torch.zeros(4, 3, dtype=torch.bool, device="meta"))
    assert drawn.is_meta and drawn.shape == (4,)


def test_tanh_module_bounds() -> None:
    spec = S.Bounded(-1.0, 1.0, shape=(2,))
    with pytest.raises(ValueError, match="finite bounds"):
        TanhModule(in_keys=["x"], out_keys=["y"], low=torch.tensor([-math.inf, 0.0]), high=1.0)
    with pytest.raises(ValueError, match="high < low"):
        TanhModule(in_keys=["x"], out_keys=["y"], low=torch.tensor([1.0, 0.0]), high=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="does not match the spec"):
        TanhModule(in_keys=["x"], out_keys=["y"], spec=spec, low=-2.0)
    meta = torch.device("meta")
    TanhModule(in_keys=["x"], out_keys=["y"], low=torch.tensor([-math.inf, 0.0], device=meta),
               high=torch.ones(2, device=meta))
    module = TanhModule(in_keys=["x"], out_keys=["y"], spec=spec.to("meta"), low=torch.full((2,), -1.0, device=meta))
    out = module(TensorDict({"x": torch.empty(4, 2, device=meta)}, batch_size=[4], device=meta))
    assert out["y"].is_meta and out["y"].shape == (4, 2)


def test_check_low_high() -> None:
    with pytest.raises(ArgumentError, match="strictly greater"):
        check_low_high(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), "TanhNormal")
    check_low_high(torch.tensor([0.0, 1.0], device="meta"), torch.tensor([1.0, 1.0], device="meta"), "TanhNormal")


def test_tanh_normal_mode_on_meta() -> None:
    meta = torch.device("meta")
    dist = TanhNormal(torch.zeros(4, 2, device=meta), torch.ones(4, 2, device=meta),
                      low=torch.full((2,), -1.0, device=meta), high=torch.ones(2, device=meta))
    mode = dist.get_mode()
    assert mode.is_meta and mode.shape == (4, 2)
    real = TanhNormal(torch.zeros(1, 2), torch.full((1, 2), 0.1)).get_mode()  # unimodal: the mode is 0
    assert torch.allclose(real, torch.zeros(1, 2), atol=1e-4)


def test_torch_distribution_arguments_are_validated_on_real_tensors_only() -> None:
    # validate_args is asked for explicitly: torch's global default is switched off for good by the
    # first torch.compile in the process (torch._dynamo does that), so the test must not rely on it.
    module = SafeProbabilisticModule(in_keys=["loc", "scale"], out_keys=["action"],
                                     distribution_class=torch.distributions.Normal,
                                     distribution_kwargs={"validate_args": True}, return_log_prob=True)
    bad = TensorDict({"loc": torch.zeros(4, 1), "scale": -torch.ones(4, 1)}, batch_size=[4])
    with pytest.raises(ValueError, match="scale"), set_exploration_type(ExplorationType.RANDOM):
        module(bad)
    meta = bad.to("meta")
    with set_exploration_type(ExplorationType.RANDOM):
        out = module(meta)
    assert out["action"].is_meta and out["action"].shape == (4, 1) and out["action_log_prob"].shape == (4, 1)
