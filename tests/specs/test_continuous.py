"""Unit tests of the box specs: `Unbounded` and `Bounded` (rldsl/specs/continuous.py)."""

import math

import numpy as np
import pytest
import torch

import rldsl.specs as specs
from rldsl.specs import (
    Bounded,
    BoundedContinuous,
    BoundedDiscrete,
    ContinuousBox,
    Unbounded,
    UnboundedContinuous,
    UnboundedDiscrete,
)

INF = float("inf")
NAN = float("nan")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values, NaN where NaN, and the same sign on zeros."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and torch.equal(torch.isnan(a), torch.isnan(b))
        and torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
        and torch.equal(torch.signbit(a), torch.signbit(b))
    )


# ============================================================================================
# Unbounded
# ============================================================================================
class TestUnboundedConstruction:
    def test_defaults_are_shape_1_float32_on_cpu(self):
        spec = Unbounded()
        assert spec.shape == torch.Size([1])
        assert spec.dtype is torch.float32
        assert spec.device == torch.device("cpu")
        assert spec.ndim == 1

    def test_int_shape_means_a_vector(self):
        assert Unbounded(3).shape == torch.Size([3])

    def test_sequence_and_torch_size_shapes(self):
        assert Unbounded((2, 3)).shape == torch.Size([2, 3])
        assert Unbounded(torch.Size([4])).shape == torch.Size([4])
        assert Unbounded(()).shape == torch.Size([])

    @pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
    def test_float_dtype_gives_unbounded_continuous(self, dtype):
        spec = Unbounded(2, dtype=dtype)
        assert type(spec) is UnboundedContinuous
        assert spec.dtype is dtype
        assert spec.domain == "continuous"

    @pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int32, torch.int64, torch.bool])
    def test_integer_and_bool_dtypes_give_unbounded_discrete(self, dtype):
        spec = Unbounded(2, dtype=dtype)
        assert type(spec) is UnboundedDiscrete
        assert spec.domain == "discrete"

    def test_complex_dtype_is_continuous(self):
        spec = Unbounded(2, dtype=torch.complex64)
        assert type(spec) is UnboundedContinuous
        assert spec.domain == "continuous"

    def test_subclass_defaults(self):
        assert UnboundedContinuous(2).dtype is torch.float32
        assert UnboundedDiscrete(2).dtype is torch.int64

    def test_device_given_as_string(self):
        assert Unbounded(2, device="cpu").device == torch.device("cpu")

    def test_wrong_dtype_type_is_a_type_error_naming_dtype(self):
        with pytest.raises(TypeError, match=r"`dtype` must be a torch.dtype such as torch.float32"):
            Unbounded(2, dtype="float32")

    def test_negative_size_is_a_value_error_naming_shape(self):
        with pytest.raises(ValueError, match=r"`shape` must contain non-negative sizes"):
            Unbounded((2, -1))

    @pytest.mark.parametrize("shape", [2.5, (2, "3"), (True,), True, {"a": 1}])
    def test_non_int_sizes_are_a_type_error_naming_shape(self, shape):
        with pytest.raises(TypeError, match=r"`shape` must"):
            Unbounded(shape)

    def test_unknown_device_name_is_a_value_error_naming_device(self):
        with pytest.raises(ValueError, match=r"`device` 'gpu0' is not a device name \(use 'cpu'"):
            Unbounded(2, device="gpu0")

    @pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
    def test_unavailable_cuda_is_a_value_error_that_suggests_cpu(self):
        with pytest.raises(ValueError, match=r"`device` 'cuda' is not available.*device='cpu'"):
            Unbounded(2, device="cuda")


class TestUnboundedMembership:
    @pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
    def test_every_float_including_nan_and_infinities_is_in(self, dtype):
        value = torch.tensor([NAN, INF, -INF, -0.0, torch.finfo(dtype).max, torch.finfo(dtype).tiny / 2], dtype=dtype)
        assert Unbounded(6, dtype=dtype).is_in(value)

    def test_every_integer_of_the_dtype_is_in(self):
        info = torch.iinfo(torch.int64)
        assert Unbounded(3, dtype=torch.int64).is_in(torch.tensor([info.min, 0, info.max]))

    def test_leading_batch_dims_are_allowed(self):
        assert Unbounded((2, 3)).is_in(torch.zeros(5, 4, 2, 3))

    def test_wrong_trailing_shape_is_out(self):
        assert not Unbounded((2, 3)).is_in(torch.zeros(3, 2))
        assert not Unbounded(3).is_in(torch.zeros(()))

    def test_other_dtype_is_out(self):
        assert not Unbounded(3).is_in(torch.zeros(3, dtype=torch.float64))
        assert not Unbounded(3, dtype=torch.int64).is_in(torch.zeros(3, dtype=torch.int32))

    def test_non_tensors_are_out(self):
        assert not Unbounded(3).is_in([0.0, 0.0, 0.0])
        assert not Unbounded(3).is_in(np.zeros(3, dtype=np.float32))

    def test_contains_is_is_in(self):
        spec = Unbounded(3)
        assert spec.contains(torch.zeros(3))
        assert not spec.contains(torch.zeros(4))

    def test_assert_is_in_raises_a_value_error_describing_the_value(self):
        spec = Unbounded(3)
        spec.assert_is_in(torch.zeros(3))
        with pytest.raises(ValueError, match=r"shape \(4,\), dtype torch.float32\) is not in UnboundedContinuous"):
            spec.assert_is_in(torch.zeros(4))


class TestUnboundedProject:
    def test_a_value_of_the_dtype_comes_back_unchanged_nan_included(self):
        value = torch.tensor([NAN, INF, -0.0, 1.5])
        assert same_bits(Unbounded(4).project(value), value)

    def test_float_to_int_is_nearest_integer_with_ties_down(self):
        out = Unbounded(6, dtype=torch.int64).project(torch.tensor([2.5, -2.5, 2.6, -0.4, 0.5, 1.49]))
        assert out.tolist() == [2, -3, 3, 0, 0, 1]
        assert out.dtype is torch.int64

    def test_float_to_int_nan_is_0_and_infinities_saturate(self):
        out = Unbounded(4, dtype=torch.int32).project(torch.tensor([NAN, INF, -INF, 1e20]))
        info = torch.iinfo(torch.int32)
        assert out.tolist() == [0, info.max, info.min, info.max]

    def test_float_to_int64_saturates_exactly_at_the_int64_limits(self):
        value = torch.tensor([1e19, -1e19, 2.0**63, 2.0**63 - 1024], dtype=torch.float64)
        out = Unbounded(4, dtype=torch.int64).project(value)
        info = torch.iinfo(torch.int64)
        assert out.tolist() == [info.max, info.min, info.max, 2**63 - 1024]

    def test_int_to_smaller_int_saturates_instead_of_wrapping(self):
        out = Unbounded(3, dtype=torch.int8).project(torch.tensor([300, -300, 5]))
        assert out.tolist() == [127, -128, 5]
        out = Unbounded(2, dtype=torch.uint8).project(torch.tensor([-1, 256], dtype=torch.int16))
        assert out.tolist() == [0, 255]

    def test_to_bool_is_greater_than_one_half_and_nan_is_false(self):
        out = Unbounded(4, dtype=torch.bool).project(torch.tensor([0.5, 0.51, NAN, -3.0]))
        assert out.tolist() == [False, True, False, False]

    def test_int_to_float(self):
        out = Unbounded(2).project(torch.tensor([1, -2]))
        assert out.dtype is torch.float32 and out.tolist() == [1.0, -2.0]

    def test_batch_dims_are_kept(self):
        assert Unbounded((2,), dtype=torch.int8).project(torch.zeros(4, 3, 2)).shape == (4, 3, 2)

    def test_a_value_of_the_wrong_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"does not end with the spec's shape \(3,\)"):
            Unbounded(3).project(torch.zeros(4))

    def test_a_non_tensor_is_a_type_error_pointing_to_encode(self):
        with pytest.raises(TypeError, match=r"expects a torch.Tensor, got list.*spec.encode\(value\)"):
            Unbounded(3).project([1.0, 2.0, 3.0])


class TestUnboundedValues:
    def test_rand_float_is_standard_normal_with_batch_dims_in_front(self):
        sample = Unbounded((2, 3)).rand((4000,))
        assert sample.shape == (4000, 2, 3) and sample.dtype is torch.float32
        assert abs(sample.mean().item()) < 0.05
        assert abs(sample.std().item() - 1.0) < 0.05

    def test_rand_integers_cover_the_whole_range_including_both_extremes(self):
        sample = Unbounded(20000, dtype=torch.uint8).rand()
        assert torch.unique(sample).numel() == 256
        sample = Unbounded(20000, dtype=torch.int8).rand()
        assert sample.min().item() == -128 and sample.max().item() == 127

    def test_rand_bool_draws_both_values(self):
        sample = Unbounded(100, dtype=torch.bool).rand()
        assert sample.dtype is torch.bool and sample.any() and not sample.all()

    def test_rand_complex_is_a_complex_normal(self):
        sample = Unbounded(3, dtype=torch.complex64).rand((2,))
        assert sample.dtype is torch.complex64 and sample.shape == (2, 3)

    def test_rand_is_always_in(self):
        for dtype in (torch.float16, torch.int16, torch.bool):
            spec = Unbounded((2,), dtype=dtype)
            assert spec.is_in(spec.rand((3,)))

    def test_sample_is_rand(self):
        assert Unbounded(3).sample((2,)).shape == (2, 3)

    def test_zero_and_one_and_their_plural_aliases(self):
        spec = Unbounded(3, dtype=torch.int16)
        assert torch.equal(spec.zero((2,)), torch.zeros(2, 3, dtype=torch.int16))
        assert torch.equal(spec.one(), torch.ones(3, dtype=torch.int16))
        assert torch.equal(spec.zeros(), spec.zero())
        assert torch.equal(spec.ones((1,)), spec.one((1,)))

    def test_encode_turns_lists_into_tensors_of_the_spec(self):
        out = Unbounded((2, 3), dtype=torch.float64).encode([1, 2, 3, 4, 5, 6])
        assert out.dtype is torch.float64 and out.shape == (2, 3)
        assert out.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]

    def test_encode_keeps_batch_dims_and_accepts_numpy(self):
        out = Unbounded(2).encode(np.zeros((5, 2), dtype=np.float64))
        assert out.shape == (5, 2) and out.dtype is torch.float32

    def test_encode_of_the_wrong_size_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"cannot encode a value of shape \(4,\) into a spec of shape \(3,\)"):
            Unbounded(3).encode([1, 2, 3, 4])

    def test_to_numpy(self):
        array = Unbounded(3).to_numpy(torch.ones(3, requires_grad=True))
        assert isinstance(array, np.ndarray) and array.tolist() == [1.0, 1.0, 1.0]


class TestUnboundedAlgebra:
    def test_expand_adds_leading_dims_and_accepts_a_tuple(self):
        spec = Unbounded(3)
        assert spec.expand(4, 3).shape == (4, 3)
        assert spec.expand((5, 4, 3)).shape == (5, 4, 3)
        assert spec.expand(torch.Size([2, 3])) == Unbounded((2, 3))

    def test_expand_grows_size_one_dims(self):
        assert Unbounded((1, 3)).expand(2, 5, 3).shape == (2, 5, 3)

    def test_expand_that_changes_the_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"must end with the old one"):
            Unbounded(3).expand(4, 2)
        with pytest.raises(ValueError, match=r"shorter shape"):
            Unbounded((2, 3)).expand(3)

    def test_indexing_picks_leading_dims(self):
        spec = Unbounded((4, 3, 2))
        assert spec[0].shape == (3, 2)
        assert spec[1:3].shape == (2, 3, 2)
        assert spec[:, 0].shape == (4, 2)
        assert spec[..., 0].shape == (4, 3)
        assert spec[None].shape == (1, 4, 3, 2)
        assert spec[0] == Unbounded((3, 2))

    def test_bad_index_is_an_index_error(self):
        with pytest.raises(IndexError, match=r"cannot index a spec of shape \(3,\)"):
            Unbounded(3)[5]
        with pytest.raises(IndexError):
            Unbounded(3)[0, 0]

    def test_to_dtype_may_change_the_class(self):
        spec = Unbounded(3).to(torch.int32)
        assert type(spec) is UnboundedDiscrete and spec.dtype is torch.int32
        assert type(spec.to(torch.float64)) is UnboundedContinuous

    def test_to_device_and_cpu(self):
        spec = Unbounded(3)
        assert spec.to("cpu") == spec
        assert spec.to(torch.device("cpu")).device == torch.device("cpu")
        assert spec.cpu() == spec

    def test_clone_is_equal_and_a_new_object(self):
        spec = Unbounded(3)
        copy = spec.clone()
        assert copy == spec and copy is not spec

    def test_equality_compares_shape_dtype_and_class(self):
        assert Unbounded(3) == Unbounded(3)
        assert Unbounded(3) != Unbounded(4)
        assert Unbounded(3) != Unbounded(3, dtype=torch.float64)
        assert Unbounded(3) != Bounded(-INF, INF, shape=(3,))
        assert Unbounded(3) != "Unbounded(3)"

    def test_specs_are_unhashable(self):
        with pytest.raises(TypeError):
            hash(Unbounded(3))

    def test_repr_is_readable(self):
        assert repr(Unbounded(3)) == "UnboundedContinuous(shape=(3,), dtype=torch.float32, device=cpu)"
        assert repr(Unbounded((), dtype=torch.int8)) == "UnboundedDiscrete(shape=(), dtype=torch.int8, device=cpu)"

    def test_legacy_aliases(self):
        assert specs.UnboundedContinuousTensorSpec is UnboundedContinuous
        assert specs.UnboundedDiscreteTensorSpec is UnboundedDiscrete


# ============================================================================================
# Bounded
# ============================================================================================
class TestBoundedConstruction:
    def test_scalar_bounds_with_a_shape(self):
        spec = Bounded(-2.0, 2.0, shape=(3,))
        assert type(spec) is BoundedContinuous
        assert spec.shape == (3,) and spec.dtype is torch.float32 and spec.domain == "continuous"
        assert torch.equal(spec.low, torch.full((3,), -2.0))
        assert torch.equal(spec.high, torch.full((3,), 2.0))

    def test_int_shape(self):
        assert Bounded(0.0, 1.0, shape=4).shape == (4,)

    def test_per_element_bounds_give_the_shape(self):
        spec = Bounded(torch.tensor([[0.0, -1.0]]), torch.tensor([[1.0, 5.0]]))
        assert spec.shape == (1, 2)
        assert spec.low.tolist() == [[0.0, -1.0]] and spec.high.tolist() == [[1.0, 5.0]]

    def test_bounds_broadcast_to_each_other_and_to_the_given_shape(self):
        assert Bounded(torch.zeros(3), torch.ones(2, 1)).shape == (2, 3)
        spec = Bounded(torch.tensor([0.0, 1.0]), 5.0, shape=(3, 2))
        assert spec.low.tolist() == [[0.0, 1.0]] * 3 and spec.high.tolist() == [[5.0, 5.0]] * 3

    def test_lists_and_numpy_bounds(self):
        spec = Bounded([0.0, 1.0], np.array([2.0, 3.0]))
        assert spec.shape == (2,) and spec.low.tolist() == [0.0, 1.0]

    def test_dtype_is_not_inferred_from_integer_bounds(self):
        spec = Bounded(torch.tensor([0, 1]), torch.tensor([5, 6]))
        assert spec.dtype is torch.float32 and type(spec) is BoundedContinuous

    @pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int32, torch.int64])
    def test_integer_dtype_gives_bounded_discrete(self, dtype):
        spec = Bounded(0, 5, shape=(2,), dtype=dtype)
        assert type(spec) is BoundedDiscrete
        assert spec.domain == "discrete" and spec.low.dtype is dtype

    def test_discrete_domain_defaults_to_int64(self):
        spec = Bounded(0, 5, shape=(2,), domain="discrete")
        assert type(spec) is BoundedDiscrete and spec.dtype is torch.int64

    def test_domain_overrides_the_class(self):
        assert type(Bounded(0, 5, shape=(1,), dtype=torch.int64, domain="continuous")) is BoundedContinuous

    def test_infinite_and_degenerate_bounds_are_allowed(self):
        spec = Bounded(torch.tensor([-INF, 0.0, -INF, 3.0]), torch.tensor([0.0, INF, INF, 3.0]))
        assert spec.is_in(torch.tensor([-1e30, 1e30, 0.0, 3.0]))

    def test_python_float_bounds_keep_their_float64_precision(self):
        spec = Bounded(0.1, 0.2, shape=(1,), dtype=torch.float64)
        assert spec.low.item() == 0.1 and spec.high.item() == 0.2
        assert Bounded([0.1], [1e300], dtype=torch.float64).high.item() == 1e300

    def test_float32_bounds_round_to_the_nearest_float32(self):
        spec = Bounded(0.1, 0.2, shape=(1,))
        assert spec.low.item() == torch.tensor(0.1, dtype=torch.float32).item()

    def test_space_is_the_box(self):
        spec = Bounded(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0]))
        assert isinstance(spec.space, ContinuousBox)
        assert torch.equal(spec.space.low, spec.low) and torch.equal(spec.space.high, spec.high)

    def test_legacy_alias(self):
        assert specs.BoundedTensorSpec is Bounded


class TestBoundedBadArguments:
    def test_low_above_high_is_a_value_error_saying_where_and_how_to_fix(self):
        with pytest.raises(ValueError, match=r"`low` must be <= `high` everywhere.*index \(1,\).*swap them"):
            Bounded(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))
        with pytest.raises(ValueError, match=r"`low` must be <= `high`"):
            Bounded(1.0, 0.0, shape=(1,))

    def test_scalar_bounds_without_a_shape_is_a_value_error_with_an_example(self):
        with pytest.raises(ValueError, match=r"needs `shape`, e.g. Bounded\(-1.0, 1.0, shape=\(3,\)\)"):
            Bounded(-1.0, 1.0)

    def test_bounds_that_do_not_broadcast_are_a_value_error(self):
        with pytest.raises(ValueError, match=r"`low` of shape \(3,\) and `high` of shape \(4,\) do not broadcast"):
            Bounded(torch.zeros(3), torch.ones(4))

    def test_bounds_that_do_not_fit_the_shape_are_a_value_error(self):
        with pytest.raises(ValueError, match=r"`low` of shape \(3,\) does not fit the spec shape \(4,\); pass a scalar"):
            Bounded(torch.zeros(3), 1.0, shape=(4,))
        with pytest.raises(ValueError, match=r"`high` of shape \(2,\) does not fit"):
            Bounded(0.0, torch.ones(2), shape=(3,))

    def test_missing_bound_is_a_type_error_with_an_example(self):
        with pytest.raises(TypeError, match=r"needs both `low` and `high`, e.g. Bounded\(low=-1.0"):
            Bounded(low=0.0, shape=(1,))

    def test_legacy_minimum_maximum_names_point_to_low_high(self):
        with pytest.raises(TypeError, match=r"`minimum=`; the argument is called `low`"):
            Bounded(minimum=0.0, maximum=1.0, shape=(1,))
        with pytest.raises(TypeError, match=r"`maximum=`; the argument is called `high`"):
            Bounded(0.0, maximum=1.0, shape=(1,))

    def test_unknown_keyword_is_a_type_error_listing_the_arguments(self):
        with pytest.raises(TypeError, match=r"unexpected argument `size`; expected low, high, shape"):
            Bounded(0.0, 1.0, size=(1,))

    def test_nan_bound_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"`high` contains NaN; bounds must be numbers or ±inf"):
            Bounded(0.0, NAN, shape=(1,))

    @pytest.mark.parametrize("bound", [True, torch.tensor([True]), torch.tensor([1j])])
    def test_bool_or_complex_bound_is_a_type_error(self, bound):
        with pytest.raises(TypeError, match=r"`low` must be real numbers"):
            Bounded(bound, 1.0, shape=(1,))

    def test_non_numeric_bound_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"`low` must be a number or an array of numbers"):
            Bounded("zero", 1.0, shape=(1,))

    def test_bool_dtype_is_a_type_error_pointing_to_binary(self):
        with pytest.raises(TypeError, match=r"cannot have dtype torch.bool; use Binary\(n\) or Categorical\(2\)"):
            Bounded(0, 1, shape=(1,), dtype=torch.bool)

    def test_non_dtype_dtype_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"`dtype` must be a torch.dtype"):
            Bounded(0.0, 1.0, shape=(1,), dtype=np.float32)

    def test_unknown_domain_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"`domain` must be 'continuous' or 'discrete', got 'box'"):
            Bounded(0.0, 1.0, shape=(1,), domain="box")

    def test_integer_box_needs_finite_whole_bounds_that_fit_the_dtype(self):
        with pytest.raises(ValueError, match=r"`high` of an integer Bounded spec \(torch.int64\) must be finite"):
            Bounded(0, INF, shape=(1,), dtype=torch.int64)
        with pytest.raises(ValueError, match=r"`low` of an integer Bounded spec \(torch.int32\) must hold whole numbers"):
            Bounded(0.5, 2, shape=(1,), dtype=torch.int32)
        with pytest.raises(ValueError, match=r"`low` does not fit in torch.uint8 \(range \[0, 255\]\)"):
            Bounded(-1, 2, shape=(1,), dtype=torch.uint8)
        with pytest.raises(ValueError, match=r"`high` does not fit in torch.int8"):
            Bounded(0, 128, shape=(1,), dtype=torch.int8)

    def test_negative_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"`shape` must contain non-negative sizes"):
            Bounded(0.0, 1.0, shape=(-1,))


class TestBoundedMembership:
    def test_inside_and_on_the_bounds_is_in(self):
        spec = Bounded(-1.0, 1.0, shape=(3,))
        assert spec.is_in(torch.tensor([-1.0, 0.0, 1.0]))

    def test_outside_is_out(self):
        spec = Bounded(-1.0, 1.0, shape=(2,))
        assert not spec.is_in(torch.tensor([0.0, 1.0001]))
        assert not spec.is_in(torch.tensor([-1.5, 0.0]))

    def test_per_element_bounds_are_checked_per_element(self):
        spec = Bounded(torch.tensor([0.0, 10.0]), torch.tensor([1.0, 11.0]))
        assert spec.is_in(torch.tensor([0.5, 10.5]))
        assert not spec.is_in(torch.tensor([10.5, 0.5]))

    def test_nan_is_never_in(self):
        assert not Bounded(-INF, INF, shape=(2,)).is_in(torch.tensor([0.0, NAN]))

    def test_infinity_is_in_a_box_open_on_that_side(self):
        spec = Bounded(torch.tensor([0.0, -INF]), torch.tensor([INF, 0.0]))
        assert spec.is_in(torch.tensor([INF, -INF]))
        assert not Bounded(0.0, 1.0, shape=(1,)).is_in(torch.tensor([INF]))

    def test_batch_dims_are_allowed_and_every_element_is_checked(self):
        spec = Bounded(0.0, 1.0, shape=(2,))
        value = torch.full((3, 4, 2), 0.5)
        assert spec.is_in(value)
        value[2, 3, 1] = 2.0
        assert not spec.is_in(value)

    def test_empty_batch_is_in(self):
        assert Bounded(0.0, 1.0, shape=(2,)).is_in(torch.zeros(0, 2))

    def test_wrong_dtype_shape_or_type_is_out(self):
        spec = Bounded(0.0, 1.0, shape=(2,))
        assert not spec.is_in(torch.zeros(2, dtype=torch.float64))
        assert not spec.is_in(torch.zeros(2, dtype=torch.int64))
        assert not spec.is_in(torch.zeros(3))
        assert not spec.is_in([0.0, 0.0])

    def test_integer_box(self):
        spec = Bounded(0, 3, shape=(2,), dtype=torch.int16)
        assert spec.is_in(torch.tensor([0, 3], dtype=torch.int16))
        assert not spec.is_in(torch.tensor([4, 3], dtype=torch.int16))
        assert not spec.is_in(torch.tensor([0.0, 3.0]))

    def test_a_value_that_requires_grad_can_be_checked(self):
        assert Bounded(0.0, 1.0, shape=(2,)).is_in(torch.tensor([0.5, 0.7], requires_grad=True))
        spec = Bounded(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
        assert spec.is_in(torch.tensor([0.5, 1.5], requires_grad=True))

    def test_is_in_does_not_modify_the_value(self):
        value = torch.tensor([3.0, 0.5])
        Bounded(0.0, 1.0, shape=(2,)).is_in(value)
        assert value.tolist() == [3.0, 0.5]


class TestBoundedProject:
    def test_scalar_box_clamps(self):
        spec = Bounded(-2.0, 2.0, shape=(1,))
        out = spec.project(torch.tensor([[3.5], [-0.5], [-9.0]]))
        assert out.tolist() == [[2.0], [-0.5], [-2.0]]

    def test_per_element_box_clamps_each_element_to_its_own_bounds(self):
        spec = Bounded(torch.tensor([0.0, 10.0, -5.0]), torch.tensor([1.0, 20.0, -4.0]))
        out = spec.project(torch.tensor([[5.0, 5.0, 5.0], [-5.0, 15.0, -4.5]]))
        assert out.tolist() == [[1.0, 10.0, -4.0], [0.0, 15.0, -4.5]]

    def test_inside_values_come_back_with_the_same_bits(self):
        value = torch.tensor([-0.0, 0.0, 0.25, -1.0, 1.0])
        assert same_bits(Bounded(-1.0, 1.0, shape=(5,)).project(value), value)

    def test_nan_stays_nan_and_the_other_elements_are_projected(self):
        spec = Bounded(-3.0, 5.0, shape=(4,))
        out = spec.project(torch.tensor([NAN, INF, -INF, 1.0]))
        assert math.isnan(out[0].item())
        assert out[1:].tolist() == [5.0, -3.0, 1.0]
        assert not spec.is_in(out)

    def test_infinities_go_to_the_bounds_per_element(self):
        spec = Bounded(torch.tensor([0.0, -7.0]), torch.tensor([1.0, 7.0]))
        assert spec.project(torch.tensor([[INF, INF], [-INF, -INF]])).tolist() == [[1.0, 7.0], [0.0, -7.0]]

    def test_infinity_stays_in_a_box_open_on_that_side(self):
        spec = Bounded(0.0, INF, shape=(2,))
        assert spec.project(torch.tensor([INF, -INF])).tolist() == [INF, 0.0]

    def test_integer_box_nan_goes_to_low_and_infinities_to_the_bounds(self):
        spec = Bounded(torch.tensor([-3, 1, 2]), torch.tensor([5, 9, 4]), dtype=torch.int64)
        out = spec.project(torch.tensor([[NAN, NAN, NAN], [INF, -INF, INF]]))
        assert out.dtype is torch.int64
        assert out.tolist() == [[-3, 1, 2], [5, 1, 4]]

    def test_integer_box_rounds_floats_to_the_nearest_integer_ties_down(self):
        spec = Bounded(-10, 10, shape=(6,), dtype=torch.int32)
        out = spec.project(torch.tensor([2.5, -2.5, 2.51, -0.49, 0.5, 99.0]))
        assert out.dtype is torch.int32 and out.tolist() == [2, -3, 3, 0, 0, 10]

    def test_integer_box_clamps_integers_of_other_dtypes_without_wrapping(self):
        spec = Bounded(0, 200, shape=(3,), dtype=torch.uint8)
        assert spec.project(torch.tensor([-5, 300, 70000])).tolist() == [0, 200, 200]

    def test_int64_box_at_the_dtype_limits_is_exact(self):
        info = torch.iinfo(torch.int64)
        spec = Bounded(torch.tensor([info.min, 0]), torch.tensor([info.min + 3, info.max]), dtype=torch.int64)
        out = spec.project(torch.tensor([[1e30, 1e30], [-1e30, -1e30], [NAN, NAN]], dtype=torch.float64))
        assert out.tolist() == [[info.min + 3, info.max], [info.min, 0], [info.min, 0]]

    def test_other_float_dtypes_are_converted_then_clamped(self):
        spec = Bounded(-1.0, 1.0, shape=(3,), dtype=torch.float16)
        out = spec.project(torch.tensor([1e10, 0.1, -1e300], dtype=torch.float64))
        assert out.dtype is torch.float16
        assert out.tolist() == [1.0, torch.tensor(0.1, dtype=torch.float16).item(), -1.0]

    def test_integer_and_bool_values_into_a_float_box(self):
        spec = Bounded(0.0, 0.5, shape=(2,))
        assert spec.project(torch.tensor([3, -1])).tolist() == [0.5, 0.0]
        assert spec.project(torch.tensor([True, False])).tolist() == [0.5, 0.0]

    def test_project_returns_a_new_tensor_and_leaves_the_input_alone(self):
        value = torch.tensor([3.0, 0.5])
        out = Bounded(0.0, 1.0, shape=(2,)).project(value)
        assert value.tolist() == [3.0, 0.5] and out.tolist() == [1.0, 0.5]

    @pytest.mark.parametrize("per_element", [False, True])
    def test_gradient_is_one_inside_and_zero_outside(self, per_element):
        if per_element:
            spec = Bounded(torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0]))
            value = torch.tensor([[0.0, 1.5], [-3.0, 5.0], [0.999, -1.999], [7.0, -7.0]], requires_grad=True)
            expected = [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
        else:
            spec = Bounded(-1.0, 1.0, shape=(2,))
            value = torch.tensor([[0.0, 0.5], [-3.0, 5.0], [0.999, -0.999], [7.0, -1.001]], requires_grad=True)
            expected = [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
        spec.project(value).sum().backward()
        assert value.grad.tolist() == expected

    def test_the_shape_check_is_redone_when_the_shape_changes(self):
        spec = Bounded(0.0, 1.0, shape=(2,))
        assert spec.project(torch.zeros(4, 2)).shape == (4, 2)
        with pytest.raises(ValueError, match=r"does not end with the spec's shape \(2,\)"):
            spec.project(torch.zeros(4, 3))
        assert spec.project(torch.zeros(2)).shape == (2,)
        with pytest.raises(ValueError):
            spec.project(torch.zeros(3))

    def test_a_non_tensor_is_a_type_error_pointing_to_encode(self):
        with pytest.raises(TypeError, match=r"BoundedContinuous.project expects a torch.Tensor, got float.*encode"):
            Bounded(0.0, 1.0, shape=()).project(0.5)


class TestBoundedValues:
    def test_rand_is_in_with_batch_dims(self):
        spec = Bounded(torch.tensor([0.0, -5.0]), torch.tensor([1.0, -4.0]))
        sample = spec.rand((500, 3))
        assert sample.shape == (500, 3, 2) and sample.dtype is torch.float32
        assert spec.is_in(sample)

    def test_rand_is_uniform_over_the_box(self):
        sample = Bounded(2.0, 4.0, shape=()).rand((20000,))
        assert abs(sample.mean().item() - 3.0) < 0.03
        assert abs(sample.var().item() - 4.0 / 12.0) < 0.02

    def test_rand_of_a_degenerate_box_is_the_point(self):
        assert Bounded(3.0, 3.0, shape=(4,)).rand((2,)).tolist() == [[3.0] * 4] * 2

    def test_rand_of_infinite_sides_draws_finite_normal_tails_in_the_box(self):
        spec = Bounded(torch.tensor([-INF, 0.0, -INF]), torch.tensor([0.0, INF, INF]))
        sample = spec.rand((2000,))
        assert spec.is_in(sample) and torch.isfinite(sample).all()
        assert (sample[:, 0] <= 0).all() and (sample[:, 1] >= 0).all()
        assert (sample[:, 2] < 0).any() and (sample[:, 2] > 0).any()

    def test_rand_of_a_float64_box_wider_than_the_float64_max_spreads_over_it(self):
        spec = Bounded(-1.7e308, 1.7e308, shape=(2000,), dtype=torch.float64)
        sample = spec.rand()
        assert spec.is_in(sample)
        assert (sample < -1e307).any() and (sample > 1e307).any()

    @pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
    def test_rand_keeps_the_dtype(self, dtype):
        spec = Bounded(-1.0, 1.0, shape=(3,), dtype=dtype)
        sample = spec.rand((10,))
        assert sample.dtype is dtype and spec.is_in(sample)

    def test_rand_integers_draw_every_value_of_the_box_both_bounds_included(self):
        spec = Bounded(torch.tensor([-2, 5]), torch.tensor([1, 5]), dtype=torch.int64)
        sample = spec.rand((2000,))
        assert sample.dtype is torch.int64 and spec.is_in(sample)
        assert torch.unique(sample[:, 0]).tolist() == [-2, -1, 0, 1]
        assert torch.unique(sample[:, 1]).tolist() == [5]

    def test_rand_integers_at_the_int64_limits_stay_in_the_box(self):
        info = torch.iinfo(torch.int64)
        for low, high in [(info.max - 10, info.max), (info.min, info.min + 5), (info.min, info.max)]:
            spec = Bounded(low, high, shape=(50,), dtype=torch.int64)
            assert spec.is_in(spec.rand((4,)))

    def test_zero_and_one_are_filled_tensors_not_always_in_the_box(self):
        spec = Bounded(1.0, 2.0, shape=(2,))
        assert spec.zero((3,)).tolist() == [[0.0, 0.0]] * 3
        assert not spec.is_in(spec.zero())
        assert spec.is_in(spec.one())

    def test_encode(self):
        spec = Bounded(0, 9, shape=(2, 2), dtype=torch.int32)
        out = spec.encode(np.arange(4))
        assert out.dtype is torch.int32 and out.tolist() == [[0, 1], [2, 3]]


class TestBoundedAlgebra:
    def setup_method(self):
        self.spec = Bounded(torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]),
                            torch.tensor([[10.0, 11.0, 12.0], [13.0, 14.0, 15.0]]))

    def test_indexing_keeps_each_elements_bounds(self):
        row = self.spec[1]
        assert row.shape == (3,) and row.low.tolist() == [3.0, 4.0, 5.0] and row.high.tolist() == [13.0, 14.0, 15.0]
        col = self.spec[:, 1]
        assert col.low.tolist() == [1.0, 4.0] and col.high.tolist() == [11.0, 14.0]
        tail = self.spec[..., 1:]
        assert tail.shape == (2, 2) and tail.low.tolist() == [[1.0, 2.0], [4.0, 5.0]]
        assert self.spec[None].shape == (1, 2, 3)

    def test_indexing_down_to_a_scalar(self):
        spec = self.spec[1, 2]
        assert spec.shape == () and spec.low.item() == 5.0 and spec.high.item() == 15.0

    def test_indexing_keeps_dtype_and_class(self):
        spec = Bounded(0, 5, shape=(4, 2), dtype=torch.int16)[1:3]
        assert type(spec) is BoundedDiscrete and spec.dtype is torch.int16 and spec.shape == (2, 2)

    def test_bad_index_is_an_index_error(self):
        with pytest.raises(IndexError, match=r"cannot index a spec of shape \(2, 3\)"):
            self.spec[2]

    def test_expand_repeats_the_bounds(self):
        spec = self.spec.expand(4, 2, 3)
        assert spec.shape == (4, 2, 3)
        assert torch.equal(spec.low, self.spec.low.expand(4, 2, 3))
        assert spec.is_in(self.spec.rand((4,)))

    def test_expand_grows_size_one_dims(self):
        spec = Bounded(torch.tensor([[0.0], [5.0]]), torch.tensor([[1.0], [6.0]])).expand(2, 3)
        assert spec.low.tolist() == [[0.0] * 3, [5.0] * 3]

    def test_expand_to_an_incompatible_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"cannot expand a spec of shape \(2, 3\) to \(4, 3\)"):
            self.spec.expand(4, 3)

    def test_to_float16_converts_the_bounds(self):
        spec = self.spec.to(torch.float16)
        assert spec.dtype is torch.float16 and spec.low.dtype is torch.float16
        assert spec.low.tolist() == self.spec.low.tolist()

    def test_to_an_integer_dtype_makes_a_discrete_box(self):
        spec = self.spec.to(torch.int32)
        assert type(spec) is BoundedDiscrete and spec.domain == "discrete"
        assert spec.high.tolist() == [[10, 11, 12], [13, 14, 15]]
        assert type(spec.to(torch.float32)) is BoundedContinuous

    def test_to_an_integer_dtype_with_fractional_bounds_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"must hold whole numbers"):
            Bounded(0.5, 1.0, shape=(1,)).to(torch.int32)

    def test_to_cpu(self):
        assert self.spec.to("cpu") == self.spec
        assert self.spec.cpu() == self.spec

    def test_clone_is_equal_and_independent(self):
        copy = self.spec.clone()
        assert copy == self.spec
        copy.low[0, 0] = -100.0
        assert self.spec.low[0, 0].item() == 0.0

    def test_equality_compares_bounds_shape_dtype_and_class(self):
        spec = Bounded(0.0, 1.0, shape=(2,))
        assert spec == Bounded(torch.zeros(2), torch.ones(2))
        assert spec != Bounded(0.0, 2.0, shape=(2,))
        assert spec != Bounded(-1.0, 1.0, shape=(2,))
        assert spec != Bounded(torch.tensor([0.0, 0.5]), torch.ones(2))
        assert spec != Bounded(0.0, 1.0, shape=(3,))
        assert spec != Bounded(0.0, 1.0, shape=(2,), dtype=torch.float64)
        assert spec != Bounded(0, 1, shape=(2,), dtype=torch.int64, domain="continuous")
        assert spec != Bounded(0.0, 1.0, shape=(2,), domain="discrete", dtype=torch.float32)
        assert spec != Unbounded(2)

    def test_repr_of_scalar_bounds(self):
        assert repr(Bounded(-2.0, 2.0, shape=(1,))) == (
            "BoundedContinuous(low=-2.0, high=2.0, shape=(1,), dtype=torch.float32, device=cpu)")
        assert repr(Bounded(0, 5, shape=(), dtype=torch.int8)) == (
            "BoundedDiscrete(low=0, high=5, shape=(), dtype=torch.int8, device=cpu)")
        assert repr(Bounded(-INF, 0.25, shape=(2,), dtype=torch.float64)) == (
            "BoundedContinuous(low=-inf, high=0.25, shape=(2,), dtype=torch.float64, device=cpu)")

    def test_repr_of_per_element_bounds_lists_them(self):
        spec = Bounded(torch.tensor([0.0, -1.0]), torch.tensor([1.0, 2.0]))
        assert repr(spec) == (
            "BoundedContinuous(low=[0.0, -1.0], high=[1.0, 2.0], shape=(2,), dtype=torch.float32, device=cpu)")

    def test_to_numpy(self):
        assert Bounded(0.0, 1.0, shape=(2,)).to_numpy(torch.tensor([0.5, 1.0])).tolist() == [0.5, 1.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
class TestOnCuda:
    def test_spec_to_cuda_projects_and_draws_there(self):
        spec = Bounded(torch.tensor([0.0, -1.0]), torch.tensor([1.0, 2.0])).to("cuda")
        assert spec.device.type == "cuda" and spec.low.device.type == "cuda"
        out = spec.project(torch.tensor([5.0, -5.0], device="cuda"))
        assert out.device.type == "cuda" and out.tolist() == [1.0, -1.0]
        assert spec.is_in(spec.rand((4,)))

    def test_cpu_spec_projects_a_cuda_value_on_the_value_device(self):
        spec = Bounded(torch.tensor([0.0, -1.0]), torch.tensor([1.0, 2.0]))
        value = torch.tensor([[5.0, -5.0]], device="cuda")
        out = spec.project(value)
        assert out.device == value.device and out.tolist() == [[1.0, -1.0]]
        assert spec.is_in(out)
        assert Unbounded(2).to("cuda").is_in(torch.zeros(2, device="cuda"))
