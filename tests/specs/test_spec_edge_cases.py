"""Edge cases fixed after review: wide dtypes, self-contradicting classes, exact integer draws, reprs."""

import pytest
import torch

from rldsl.specs import (
    Bounded,
    BoundedContinuous,
    BoundedDiscrete,
    OneHot,
    Unbounded,
    UnboundedContinuous,
    UnboundedDiscrete,
)

INT64_MAX = torch.iinfo(torch.int64).max


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
def test_bounded_refuses_unsigned_dtypes_torch_cannot_compare(dtype):
    with pytest.raises(TypeError, match="cannot compare or clamp it; use torch.int32 or torch.int64"):
        Bounded(0, 3, shape=(2,), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
def test_unbounded_wide_unsigned_rand_has_the_spec_dtype_and_shape(dtype):
    value = Unbounded((3,), dtype=dtype).rand((2,))
    assert value.dtype is dtype and value.shape == (2, 3)


@pytest.mark.parametrize(
    "make, base",
    [
        (lambda: BoundedContinuous(0, 3, shape=(1,), dtype=torch.int64), "Bounded"),
        (lambda: BoundedDiscrete(0.0, 1.0, shape=(1,), dtype=torch.float32), "Bounded"),
        (lambda: UnboundedContinuous(3, dtype=torch.int64), "Unbounded"),
        (lambda: UnboundedDiscrete(3, dtype=torch.float32), "Unbounded"),
    ],
)
def test_a_class_that_contradicts_its_dtype_is_refused_with_the_class_to_use(make, base):
    with pytest.raises(TypeError, match=rf"use {base}\(\.\.\., dtype="):
        make()


def test_specific_classes_pick_their_default_dtype():
    assert BoundedDiscrete(0, 3, shape=(1,)).dtype is torch.int64
    assert BoundedContinuous(0, 3, shape=(1,)).dtype is torch.float32
    assert UnboundedDiscrete(2).dtype is torch.int64


def test_integer_draws_are_exact_beyond_float64_resolution():
    spec = Bounded(2**60, 2**60 + 3, shape=(), dtype=torch.int64)
    torch.manual_seed(0)
    assert set(spec.rand((400,)).tolist()) == {2**60, 2**60 + 1, 2**60 + 2, 2**60 + 3}


def test_integer_draws_at_the_top_of_int64_stay_in_the_box_and_cover_it():
    spec = Bounded(INT64_MAX - 3, INT64_MAX, shape=(), dtype=torch.int64)
    torch.manual_seed(0)
    assert set(spec.rand((400,)).tolist()) == {INT64_MAX - 3, INT64_MAX - 2, INT64_MAX - 1, INT64_MAX}


def test_a_box_spanning_all_of_int64_draws_members():
    spec = Bounded(-(2**63), INT64_MAX, shape=(4,), dtype=torch.int64)
    assert spec.is_in(spec.rand((50,)))


def test_float32_bounds_print_as_written():
    assert repr(Bounded(-0.1, 0.1, shape=(1,))).startswith("BoundedContinuous(low=-0.1, high=0.1,")
    assert "low=[0.1, 0.3]" in repr(Bounded(torch.tensor([0.1, 0.3]), 1.0))
    assert "low=[[0.0, -inf]]" in repr(Bounded(torch.tensor([[0.0, -float("inf")]]), 1.0))


def test_one_hot_projection_without_nan_is_the_plain_argmax():
    scores = torch.tensor([[0.5, 2.0, 2.0], [-1.0, -3.0, -2.0]])
    assert OneHot(3).project(scores).int().tolist() == [[0, 1, 0], [1, 0, 0]]


def test_one_hot_projection_lets_nan_lose_to_minus_inf():
    scores = torch.tensor([[float("nan"), -float("inf"), float("nan")]])
    assert OneHot(3).project(scores).int().tolist() == [[0, 1, 0]]


def test_bounded_moves_to_the_meta_device_and_projects_there():
    for spec in (Bounded(-1.0, 1.0, shape=(2,)), Bounded(torch.tensor([0.0, 1.0]), 2.0)):
        meta = spec.to("meta")
        assert meta.device.type == "meta" and meta.shape == spec.shape
        assert meta.project(torch.zeros(3, 2, device="meta")).shape == (3, 2)
        assert "device=meta" in repr(meta)
