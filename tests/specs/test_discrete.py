"""Unit tests of the finite specs (rldsl/specs/discrete.py).

`OneHot`, `Categorical`, `Binary`, `MultiOneHot` and `MultiCategorical`: construction and bad
arguments, membership, projection (NaN and ±inf included), sampling, masks, encoding, the
conversions between one-hot and categorical forms, and the spec algebra.
"""

import numpy as np
import pytest
import torch

import rldsl.specs as specs
from rldsl.specs import Binary, Categorical, CategoricalBox, MultiCategorical, MultiOneHot, OneHot

INF = float("inf")
NAN = float("nan")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def rows(*indices, n):
    """One-hot bool rows."""
    return torch.nn.functional.one_hot(torch.tensor(indices), n).bool()


# ============================================================================================
# OneHot
# ============================================================================================
class TestOneHotConstruction:
    def test_defaults(self):
        spec = OneHot(4)
        assert spec.n == 4 and spec.shape == (4,) and spec.dtype is torch.bool
        assert spec.device == torch.device("cpu") and spec.domain == "discrete" and spec.mask is None

    def test_shape_with_leading_dims_and_other_dtype(self):
        spec = OneHot(3, shape=(2, 3), dtype=torch.int64)
        assert spec.shape == (2, 3) and spec.dtype is torch.int64

    def test_space_is_the_category_set(self):
        assert OneHot(5).space == CategoricalBox(5)
        assert OneHot(5).space.n == 5

    @pytest.mark.parametrize("n", [0, -2])
    def test_n_below_one_is_a_value_error_naming_n(self, n):
        with pytest.raises(ValueError, match=r"`n` must be >= 1 \(the number of categories\)"):
            OneHot(n)

    @pytest.mark.parametrize("n", [2.0, True, "3", None])
    def test_non_int_n_is_a_type_error_naming_n(self, n):
        with pytest.raises(TypeError, match=r"`n` must be a positive int"):
            OneHot(n)

    def test_n_may_be_a_one_element_tensor(self):
        assert OneHot(torch.tensor(3)).n == 3

    @pytest.mark.parametrize("shape", [(2, 4), (), (3, 1)])
    def test_shape_not_ending_with_n_is_a_value_error(self, shape):
        with pytest.raises(ValueError, match=r"OneHot `shape` must end with n=3 \(the one-hot row\)"):
            OneHot(3, shape=shape)

    def test_non_dtype_dtype_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"`dtype` must be a torch.dtype"):
            OneHot(3, dtype="bool")

    def test_non_bool_mask_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"OneHot `mask` must be a bool tensor \(True = allowed\), got dtype torch.int64"):
            OneHot(3, mask=torch.tensor([1, 0, 1]))

    def test_mask_of_the_wrong_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"OneHot `mask` of shape \(4,\) does not fit the expected shape \(3,\)"):
            OneHot(3, mask=torch.ones(4, dtype=torch.bool))

    def test_mask_forbidding_a_whole_row_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"forbids every value in some row; each row needs at least one True"):
            OneHot(2, shape=(2, 2), mask=torch.tensor([[True, False], [False, False]]))

    def test_mask_broadcasts_over_leading_dims_and_may_be_a_list(self):
        spec = OneHot(3, shape=(2, 3), mask=[True, False, True])
        assert spec.mask.shape == (2, 3) and spec.mask.tolist() == [[True, False, True]] * 2

    def test_legacy_alias(self):
        assert specs.OneHotDiscreteTensorSpec is OneHot


class TestOneHotMembership:
    def test_one_hot_rows_are_in(self):
        assert OneHot(3).is_in(rows(0, 2, 1, n=3))

    def test_multi_hot_and_empty_rows_are_out(self):
        spec = OneHot(3)
        assert not spec.is_in(torch.tensor([True, True, False]))
        assert not spec.is_in(torch.tensor([False, False, False]))

    def test_integer_spec_needs_zeros_and_a_single_one(self):
        spec = OneHot(3, dtype=torch.int64)
        assert spec.is_in(torch.tensor([0, 0, 1]))
        assert not spec.is_in(torch.tensor([0, 2, -1]))
        assert not spec.is_in(torch.tensor([0, 2, 0]))

    def test_float_spec_needs_exact_zeros_and_ones(self):
        spec = OneHot(4, dtype=torch.float32)
        assert spec.is_in(torch.tensor([0.0, 1.0, 0.0, 0.0]))
        assert not spec.is_in(torch.tensor([0.0, 0.2, 0.8, 0.0]))
        assert not spec.is_in(torch.tensor([0.0, NAN, 1.0, 0.0]))

    def test_forbidden_position_is_out(self):
        spec = OneHot(3, mask=torch.tensor([True, False, True]))
        assert spec.is_in(rows(0, 2, n=3))
        assert not spec.is_in(rows(0, 1, n=3))

    def test_per_row_masks(self):
        spec = OneHot(2, shape=(2, 2), mask=torch.tensor([[True, False], [False, True]]))
        assert spec.is_in(torch.tensor([[True, False], [False, True]]))
        assert not spec.is_in(torch.tensor([[False, True], [False, True]]))

    def test_wrong_dtype_shape_or_type_is_out(self):
        spec = OneHot(3)
        assert not spec.is_in(rows(0, n=3).long())
        assert not spec.is_in(rows(0, n=4))
        assert not spec.is_in([True, False, False])


class TestOneHotProject:
    def test_scores_go_to_the_argmax(self):
        spec = OneHot(4)
        out = spec.project(torch.tensor([[0.1, 2.0, -1.0, 0.5], [-3.0, -2.0, -5.0, -2.5]]))
        assert torch.equal(out, rows(1, 1, n=4))

    def test_ties_go_to_the_lowest_index(self):
        assert torch.equal(OneHot(3).project(torch.tensor([1.0, 3.0, 3.0])), rows(1, n=3)[0])

    def test_nan_never_wins(self):
        spec = OneHot(3)
        assert torch.equal(spec.project(torch.tensor([NAN, -5.0, NAN])), rows(1, n=3)[0])
        assert torch.equal(spec.project(torch.tensor([NAN, -INF, NAN])), rows(1, n=3)[0])

    def test_all_nan_goes_to_the_lowest_allowed_index(self):
        assert torch.equal(OneHot(3).project(torch.full((3,), NAN)), rows(0, n=3)[0])
        masked = OneHot(3, mask=torch.tensor([False, False, True]))
        assert torch.equal(masked.project(torch.full((3,), NAN)), rows(2, n=3)[0])

    def test_plus_infinity_wins(self):
        assert torch.equal(OneHot(3).project(torch.tensor([1e38, INF, 0.0])), rows(1, n=3)[0])

    def test_mask_picks_the_best_allowed_entry(self):
        spec = OneHot(4, mask=torch.tensor([True, False, True, True]))
        assert torch.equal(spec.project(torch.tensor([0.1, 2.0, -1.0, 0.5])), rows(3, n=4)[0])

    def test_mask_when_every_allowed_score_is_minus_infinity_or_nan(self):
        spec = OneHot(3, mask=torch.tensor([False, True, True]))
        assert torch.equal(spec.project(torch.tensor([5.0, -INF, NAN])), rows(1, n=3)[0])
        assert torch.equal(spec.project(torch.tensor([5.0, NAN, -INF])), rows(2, n=3)[0])
        assert torch.equal(spec.project(torch.tensor([5.0, NAN, NAN])), rows(1, n=3)[0])

    def test_per_row_masks(self):
        spec = OneHot(2, shape=(2, 2), mask=torch.tensor([[True, False], [False, True]]))
        out = spec.project(torch.tensor([[0.0, 9.0], [9.0, 0.0]]))
        assert torch.equal(out, torch.tensor([[True, False], [False, True]]))

    def test_integer_scores_compare_exactly(self):
        big = 2**24
        assert torch.equal(OneHot(2).project(torch.tensor([big, big + 1])), rows(1, n=2)[0])
        huge = 2**62
        masked = OneHot(3, mask=torch.tensor([True, True, False]))
        assert torch.equal(masked.project(torch.tensor([huge, huge + 1, huge + 2])), rows(1, n=3)[0])

    def test_bool_multi_hot_goes_to_its_first_allowed_true(self):
        spec = OneHot(4, mask=torch.tensor([True, False, True, True]))
        assert torch.equal(spec.project(torch.tensor([False, True, False, True])), rows(3, n=4)[0])

    def test_output_has_the_spec_dtype_and_the_batch_dims(self):
        spec = OneHot(3, dtype=torch.float16)
        out = spec.project(torch.randn(5, 2, 3))
        assert out.dtype is torch.float16 and out.shape == (5, 2, 3) and spec.is_in(out)

    def test_members_come_back_unchanged(self):
        spec = OneHot(3, mask=torch.tensor([True, False, True]))
        value = rows(0, 2, 2, n=3)
        assert torch.equal(spec.project(value), value)

    def test_wrong_shape_is_a_value_error_and_non_tensor_a_type_error(self):
        with pytest.raises(ValueError, match=r"OneHot.project: a value of shape \(4,\) does not end"):
            OneHot(3).project(torch.zeros(4))
        with pytest.raises(TypeError, match=r"OneHot.project expects a torch.Tensor"):
            OneHot(3).project([0.0, 1.0, 0.0])


class TestOneHotValues:
    def test_rand_is_in_and_draws_every_category(self):
        spec = OneHot(4, shape=(2, 4))
        sample = spec.rand((500,))
        assert sample.shape == (500, 2, 4) and sample.dtype is torch.bool and spec.is_in(sample)
        assert sample.sum((0, 1)).min() > 0

    def test_rand_never_draws_a_forbidden_value_and_draws_every_allowed_one(self):
        mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
        spec = OneHot(4, shape=(2, 4), mask=mask)
        sample = spec.rand((1000,))
        assert spec.is_in(sample)
        assert not (sample & ~mask).any()
        assert torch.equal(sample.any(0), mask)

    def test_rand_with_an_empty_batch(self):
        spec = OneHot(3, mask=torch.tensor([True, False, True]))
        assert spec.rand((0,)).shape == (0, 3)

    def test_zero_and_one_are_not_members(self):
        spec = OneHot(3)
        assert spec.zero((2,)).tolist() == [[False] * 3] * 2 and not spec.is_in(spec.zero())
        assert spec.one().tolist() == [True] * 3 and not spec.is_in(spec.one())

    def test_encode_indices(self):
        spec = OneHot(3)
        assert torch.equal(spec.encode(2), rows(2, n=3)[0])
        assert torch.equal(spec.encode([0, 2]), rows(0, 2, n=3))
        assert torch.equal(spec.encode(np.array([1])), rows(1, n=3))
        assert torch.equal(spec.encode(torch.tensor(1.0)), rows(1, n=3)[0])

    def test_encode_fills_the_leading_dims_of_the_spec(self):
        spec = OneHot(3, shape=(2, 3), dtype=torch.int64)
        out = spec.encode([0, 2])
        assert out.shape == (2, 3) and out.dtype is torch.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1]]

    def test_encode_out_of_range_or_fractional_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 2\], got 3"):
            OneHot(3).encode(3)
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 2\]"):
            OneHot(3).encode([-1])
        with pytest.raises(ValueError, match=r"takes category indices, got non-integer values"):
            OneHot(3).encode(1.5)

    def test_encode_with_a_register_indexes_values_by_first_appearance(self):
        spec = OneHot(2, use_register=True)
        assert torch.equal(spec.encode("left"), rows(0, n=2)[0])
        assert torch.equal(spec.encode("right"), rows(1, n=2)[0])
        assert torch.equal(spec.encode("left"), rows(0, n=2)[0])
        with pytest.raises(ValueError, match=r"register is full: 2 values already have an index"):
            spec.encode("up")

    def test_to_categorical_of_bool_and_integer_rows(self):
        assert OneHot(3).to_categorical(rows(2, 0, n=3)).tolist() == [2, 0]
        out = OneHot(3, dtype=torch.int64).to_categorical(rows(1, n=3).long())
        assert out.dtype is torch.int64 and out.tolist() == [1]

    def test_to_numpy_gives_indices(self):
        array = OneHot(3).to_numpy(rows(2, 1, n=3))
        assert isinstance(array, np.ndarray) and array.tolist() == [2, 1]

    def test_to_categorical_spec_carries_the_mask(self):
        mask = torch.tensor([[True, False, True], [False, True, True]])
        spec = OneHot(3, shape=(2, 3), mask=mask).to_categorical_spec()
        assert spec == Categorical(3, shape=(2,), mask=mask)
        assert spec.to_one_hot_spec() == OneHot(3, shape=(2, 3), mask=mask)

    def test_encode_then_to_categorical_round_trips(self):
        spec = OneHot(5)
        assert spec.to_categorical(spec.encode([4, 0, 3])).tolist() == [4, 0, 3]


class TestOneHotMaskUpdates:
    def test_update_mask_sets_and_clears(self):
        spec = OneHot(3)
        spec.update_mask(torch.tensor([False, True, False]))
        assert torch.equal(spec.project(torch.tensor([9.0, 0.0, 5.0])), rows(1, n=3)[0])
        assert torch.equal(spec.rand((20,)), rows(*([1] * 20), n=3))
        spec.update_mask(None)
        assert spec.mask is None
        assert torch.equal(spec.project(torch.tensor([9.0, 0.0, 5.0])), rows(0, n=3)[0])

    def test_update_mask_validates(self):
        spec = OneHot(3)
        with pytest.raises(ValueError, match=r"each row needs at least one True"):
            spec.update_mask(torch.zeros(3, dtype=torch.bool))
        with pytest.raises(TypeError, match=r"`mask` must be a bool tensor"):
            spec.update_mask(torch.ones(3))
        assert spec.mask is None


class TestOneHotAlgebra:
    def setup_method(self):
        self.mask = torch.tensor([[True, False, True], [False, True, False]])
        self.spec = OneHot(3, shape=(2, 3), mask=self.mask)

    def test_indexing_the_leading_dims_carries_the_mask(self):
        assert self.spec[0] == OneHot(3, mask=self.mask[0])
        assert self.spec[1:] == OneHot(3, shape=(1, 3), mask=self.mask[1:])
        assert self.spec[None].shape == (1, 2, 3)

    def test_the_one_hot_dim_is_protected_from_indexing(self):
        with pytest.raises(IndexError, match=r"cannot index a spec of shape \(2, 3\)"):
            self.spec[:, 0]
        with pytest.raises(IndexError):
            OneHot(3)[0]

    def test_expand_repeats_the_mask(self):
        spec = self.spec.expand(4, 2, 3)
        assert spec.shape == (4, 2, 3) and torch.equal(spec.mask, self.mask.expand(4, 2, 3))
        assert not (spec.rand() & ~spec.mask).any()

    def test_expand_that_changes_the_row_is_a_value_error(self):
        with pytest.raises(ValueError):
            OneHot(3).expand(4)

    def test_to_dtype_keeps_the_mask(self):
        spec = self.spec.to(torch.float32)
        assert spec.dtype is torch.float32 and torch.equal(spec.mask, self.mask)
        assert spec.to("cpu") == spec

    def test_clone_is_equal_with_an_independent_mask(self):
        copy = self.spec.clone()
        assert copy == self.spec and copy.mask is not self.spec.mask
        copy.mask[0, 1] = True
        assert not self.spec.mask[0, 1]

    def test_equality_compares_n_shape_dtype_mask_and_class(self):
        assert OneHot(3) == OneHot(3)
        assert OneHot(3) != OneHot(4)
        assert OneHot(3) != OneHot(3, dtype=torch.int64)
        assert OneHot(3) != OneHot(3, shape=(1, 3))
        assert OneHot(3) != OneHot(3, mask=torch.tensor([True, True, False]))
        assert OneHot(3, mask=torch.tensor([True, True, True])) != OneHot(3)
        assert OneHot(3, mask=[True, False, True]) == OneHot(3, mask=[True, False, True])
        assert OneHot(3) != MultiOneHot([3])
        assert OneHot(2, dtype=torch.int64) != Categorical(2, shape=(2,))

    def test_repr(self):
        assert repr(OneHot(3)) == "OneHot(n=3, shape=(3,), dtype=torch.bool, device=cpu)"
        assert repr(OneHot(2, mask=[True, False])) == (
            "OneHot(n=2, shape=(2,), dtype=torch.bool, device=cpu, mask=[True, False])")


# ============================================================================================
# Categorical
# ============================================================================================
class TestCategoricalConstruction:
    def test_defaults_are_one_int64_index(self):
        spec = Categorical(5)
        assert spec.n == 5 and spec.shape == () and spec.dtype is torch.int64 and spec.mask is None
        assert spec.space == CategoricalBox(5) and spec.domain == "discrete"

    def test_shape_and_dtype(self):
        spec = Categorical(3, shape=(2, 1), dtype=torch.int8)
        assert spec.shape == (2, 1) and spec.dtype is torch.int8

    def test_bool_dtype_for_two_categories(self):
        assert Categorical(2, dtype=torch.bool).dtype is torch.bool

    @pytest.mark.parametrize("n", [0, -1])
    def test_n_below_one_is_a_value_error(self, n):
        with pytest.raises(ValueError, match=r"`n` must be >= 1"):
            Categorical(n)

    def test_float_n_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"`n` must be a positive int, got 2.5"):
            Categorical(2.5)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
    def test_non_integer_dtype_is_a_type_error_suggesting_int64(self, dtype):
        with pytest.raises(TypeError, match=r"Categorical holds indices: `dtype` must be an integer dtype \(e.g. torch.int64\)"):
            Categorical(3, dtype=dtype)

    @pytest.mark.parametrize(("n", "dtype"), [(3, torch.bool), (300, torch.uint8), (129, torch.int8)])
    def test_dtype_too_small_for_the_indices_is_a_type_error(self, n, dtype):
        with pytest.raises(TypeError, match=rf"Categorical `dtype` {dtype} cannot hold the index {n - 1}; use torch.int64"):
            Categorical(n, dtype=dtype)

    def test_largest_index_that_fits_is_accepted(self):
        assert Categorical(256, dtype=torch.uint8).is_in(torch.tensor(255, dtype=torch.uint8))

    def test_mask_has_an_extra_last_dim_of_n(self):
        spec = Categorical(3, shape=(2,), mask=[True, False, True])
        assert spec.mask.shape == (2, 3)
        with pytest.raises(ValueError, match=r"Categorical `mask` of shape \(2,\) does not fit the expected shape \(2, 3\)"):
            Categorical(3, shape=(2,), mask=[True, False])

    def test_mask_without_an_allowed_value_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"forbids every value in some row"):
            Categorical(3, mask=[False, False, False])

    def test_legacy_alias(self):
        assert specs.DiscreteTensorSpec is Categorical


class TestCategoricalMembership:
    def test_indices_in_range_are_in(self):
        spec = Categorical(3, shape=(2,))
        assert spec.is_in(torch.tensor([[0, 2], [1, 1]]))

    def test_out_of_range_is_out(self):
        spec = Categorical(3)
        assert not spec.is_in(torch.tensor(3))
        assert not spec.is_in(torch.tensor([-1, 0]))

    def test_forbidden_values_are_out(self):
        spec = Categorical(4, shape=(2,), mask=torch.tensor([[True, False, True, True], [False, True, False, False]]))
        assert spec.is_in(torch.tensor([[0, 1], [3, 1]]))
        assert not spec.is_in(torch.tensor([[1, 1]]))
        assert not spec.is_in(torch.tensor([[0, 0]]))

    def test_empty_batch_is_in(self):
        assert Categorical(3, mask=[True, False, True]).is_in(torch.zeros(0, dtype=torch.int64))

    def test_bool_spec(self):
        spec = Categorical(2, shape=(1,), dtype=torch.bool, mask=[False, True])
        assert spec.is_in(torch.tensor([True]))
        assert not spec.is_in(torch.tensor([False]))

    def test_wrong_dtype_shape_or_type_is_out(self):
        spec = Categorical(3, shape=(2,))
        assert not spec.is_in(torch.tensor([0.0, 1.0]))
        assert not spec.is_in(torch.tensor([0, 1], dtype=torch.int32))
        assert not spec.is_in(torch.tensor([0, 1, 2]))
        assert not spec.is_in([0, 1])


class TestCategoricalProject:
    def test_floats_go_to_the_nearest_index_ties_down(self):
        out = Categorical(5).project(torch.tensor([-3.0, 1.4, 2.5, 1.5, 3.51, 9.0]))
        assert out.dtype is torch.int64 and out.tolist() == [0, 1, 2, 1, 4, 4]

    def test_nan_goes_to_0_and_infinities_to_the_ends(self):
        assert Categorical(4).project(torch.tensor([NAN, INF, -INF])).tolist() == [0, 3, 0]

    def test_masked_nan_goes_to_the_lowest_allowed_index(self):
        spec = Categorical(4, mask=[False, False, True, True])
        assert spec.project(torch.tensor([NAN, 0.0, 9.0, -INF, INF])).tolist() == [2, 2, 3, 2, 3]

    def test_mask_sends_forbidden_values_to_the_nearest_allowed_one_ties_down(self):
        spec = Categorical(5, mask=[True, False, False, True, True])
        assert spec.project(torch.tensor([1, 2, 1.4, 1.5, 1.6, 4])).tolist() == [0, 3, 0, 0, 3, 4]

    def test_per_element_masks(self):
        spec = Categorical(3, shape=(2,), mask=[[False, False, True], [True, False, False]])
        assert spec.project(torch.tensor([[0, 2], [1, 1]])).tolist() == [[2, 0], [2, 0]]

    def test_integers_are_clamped_whatever_their_dtype(self):
        assert Categorical(3).project(torch.tensor([-5, 7, 1])).tolist() == [0, 2, 1]
        out = Categorical(1000).project(torch.tensor([5, 120, -128], dtype=torch.int8))
        assert out.dtype is torch.int64 and out.tolist() == [5, 120, 0]
        assert Categorical(300).project(torch.tensor([255], dtype=torch.uint8)).tolist() == [255]

    def test_output_has_the_spec_dtype(self):
        out = Categorical(3, dtype=torch.int8).project(torch.tensor([2.7, 1e30]))
        assert out.dtype is torch.int8 and out.tolist() == [2, 2]
        out = Categorical(2, dtype=torch.bool).project(torch.tensor([0.2, 0.9, NAN]))
        assert out.tolist() == [False, True, False]

    def test_bool_values(self):
        assert Categorical(3).project(torch.tensor([True, False])).tolist() == [1, 0]

    def test_members_come_back_unchanged(self):
        spec = Categorical(4, shape=(3,), mask=[True, False, True, True])
        value = torch.tensor([[0, 2, 3], [3, 3, 0]])
        assert torch.equal(spec.project(value), value)

    def test_batch_dims_are_kept(self):
        assert Categorical(3, shape=(2,)).project(torch.zeros(4, 5, 2)).shape == (4, 5, 2)

    def test_wrong_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"Categorical.project: a value of shape \(3,\) does not end with the spec's shape \(2,\)"):
            Categorical(3, shape=(2,)).project(torch.zeros(3))


class TestCategoricalValues:
    def test_rand_draws_every_index(self):
        spec = Categorical(4, shape=(2,))
        sample = spec.rand((500,))
        assert sample.shape == (500, 2) and sample.dtype is torch.int64 and spec.is_in(sample)
        assert torch.unique(sample).tolist() == [0, 1, 2, 3]

    def test_rand_never_draws_a_forbidden_value_and_draws_every_allowed_one(self):
        mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
        spec = Categorical(4, shape=(2,), mask=mask)
        sample = spec.rand((1000,))
        assert spec.is_in(sample)
        assert torch.unique(sample[:, 0]).tolist() == [0, 2]
        assert torch.unique(sample[:, 1]).tolist() == [3]

    def test_rand_keeps_the_dtype(self):
        assert Categorical(2, dtype=torch.bool).rand((5,)).dtype is torch.bool
        assert Categorical(5, dtype=torch.int16, mask=[True] * 5).rand().dtype is torch.int16

    def test_encode(self):
        spec = Categorical(3, shape=(2,))
        out = spec.encode(np.array([1, 2], dtype=np.int32))
        assert out.dtype is torch.int64 and out.tolist() == [1, 2]
        assert Categorical(3).encode(2).shape == ()

    def test_zero_is_index_0(self):
        assert Categorical(3).zero((2,)).tolist() == [0, 0]

    def test_to_one_hot(self):
        out = Categorical(3, dtype=torch.int8).to_one_hot(torch.tensor([[2], [0]], dtype=torch.int8))
        assert out.dtype is torch.bool and out.tolist() == [[[False, False, True]], [[True, False, False]]]

    def test_to_one_hot_spec_carries_the_mask(self):
        spec = Categorical(3, shape=(2,), mask=[[True, False, True], [False, True, False]])
        one_hot = spec.to_one_hot_spec()
        assert one_hot == OneHot(3, shape=(2, 3), mask=spec.mask)
        assert one_hot.to_categorical_spec() == spec

    def test_update_mask(self):
        spec = Categorical(3)
        spec.update_mask(torch.tensor([False, False, True]))
        assert spec.rand((10,)).tolist() == [2] * 10
        assert not spec.is_in(torch.tensor(0))
        spec.update_mask(None)
        assert spec.is_in(torch.tensor(0))


class TestCategoricalAlgebra:
    def setup_method(self):
        self.mask = torch.tensor([[True, False, True], [False, True, True]])
        self.spec = Categorical(3, shape=(2,), mask=self.mask)

    def test_indexing_carries_the_mask(self):
        assert self.spec[0] == Categorical(3, mask=self.mask[0])
        assert self.spec[1:] == Categorical(3, shape=(1,), mask=self.mask[1:])
        assert self.spec[None].mask.shape == (1, 2, 3)

    def test_indexing_a_scalar_spec_is_an_index_error(self):
        with pytest.raises(IndexError, match=r"cannot index a spec of shape \(\)"):
            Categorical(3)[0]

    def test_expand_keeps_the_mask(self):
        spec = self.spec.expand(4, 2)
        assert spec.shape == (4, 2) and torch.equal(spec.mask, self.mask.expand(4, 2, 3))

    def test_to_keeps_the_mask(self):
        spec = self.spec.to(torch.int32)
        assert spec.dtype is torch.int32 and torch.equal(spec.mask, self.mask)
        assert self.spec.to("cpu") == self.spec

    def test_to_a_float_dtype_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"must be an integer dtype"):
            self.spec.to(torch.float32)

    def test_clone_is_equal_with_an_independent_mask(self):
        copy = self.spec.clone()
        assert copy == self.spec and copy.mask is not self.spec.mask

    def test_equality_compares_n_mask_dtype_shape_and_class(self):
        assert Categorical(3) == Categorical(3)
        assert Categorical(3) != Categorical(4)
        assert Categorical(3) != Categorical(3, dtype=torch.int32)
        assert Categorical(3) != Categorical(3, shape=(1,))
        assert Categorical(3) != Categorical(3, mask=[True, True, False])
        assert Categorical(3, mask=[True, True, False]) != Categorical(3, mask=[True, False, True])
        assert Categorical(2, shape=(1,), dtype=torch.int8) != Binary(1)

    def test_repr(self):
        assert repr(Categorical(3)) == "Categorical(n=3, shape=(), dtype=torch.int64, device=cpu)"
        assert repr(Categorical(2, mask=[False, True])) == (
            "Categorical(n=2, shape=(), dtype=torch.int64, device=cpu, mask=[False, True])")


# ============================================================================================
# Binary
# ============================================================================================
class TestBinary:
    def test_defaults(self):
        spec = Binary(3)
        assert spec.shape == (3,) and spec.dtype is torch.int8 and spec.mask is None
        assert spec.n == 2 and spec.space == CategoricalBox(2)

    def test_shape_alone_or_with_n(self):
        assert Binary(shape=(2, 4)).shape == (2, 4)
        assert Binary(4, shape=(2, 4)).shape == (2, 4)

    def test_without_n_and_shape_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"Binary needs `n` \(the number of bits\) or `shape`, e.g. Binary\(4\)"):
            Binary()

    def test_shape_not_ending_with_n_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"Binary `shape` must end with n=3 \(the bit vector\)"):
            Binary(3, shape=(3, 2))
        with pytest.raises(ValueError, match=r"Binary `shape` must end with"):
            Binary(shape=())

    def test_n_below_one_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"`n` must be >= 1"):
            Binary(0)

    def test_float_dtype_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"Binary holds indices: `dtype` must be an integer dtype"):
            Binary(3, dtype=torch.float32)

    def test_is_in(self):
        spec = Binary(3)
        assert spec.is_in(torch.tensor([[0, 1, 1], [0, 0, 0]], dtype=torch.int8))
        assert not spec.is_in(torch.tensor([0, 2, 1], dtype=torch.int8))
        assert not spec.is_in(torch.tensor([0, -1, 1], dtype=torch.int8))
        assert not spec.is_in(torch.tensor([0, 1, 1]))
        assert Binary(2, dtype=torch.bool).is_in(torch.tensor([True, False]))

    def test_project_thresholds_at_one_half_nan_gives_0(self):
        out = Binary(6).project(torch.tensor([0.7, 0.5, 0.51, -2.0, NAN, INF]))
        assert out.dtype is torch.int8 and out.tolist() == [1, 0, 1, 0, 0, 1]

    def test_project_of_integers_and_bools(self):
        assert Binary(3).project(torch.tensor([5, 0, -3])).tolist() == [1, 0, 0]
        assert Binary(2).project(torch.tensor([True, False])).tolist() == [1, 0]
        assert Binary(2, dtype=torch.bool).project(torch.tensor([0.9, 0.1])).tolist() == [True, False]

    def test_project_keeps_members_and_batch_dims(self):
        value = torch.tensor([[[0, 1]], [[1, 1]]], dtype=torch.int8)
        assert torch.equal(Binary(2).project(value), value)

    def test_rand_draws_both_values_everywhere(self):
        spec = Binary(4, shape=(2, 4))
        sample = spec.rand((200,))
        assert sample.shape == (200, 2, 4) and sample.dtype is torch.int8 and spec.is_in(sample)
        assert (sample.amax(0) == 1).all() and (sample.amin(0) == 0).all()

    def test_encode(self):
        out = Binary(4).encode([1, 0, 1, 1])
        assert out.dtype is torch.int8 and out.tolist() == [1, 0, 1, 1]

    def test_update_mask_is_a_type_error_pointing_to_multicategorical(self):
        with pytest.raises(TypeError, match=r"Binary specs take no mask; use MultiCategorical"):
            Binary(3).update_mask(torch.ones(3, 2, dtype=torch.bool))

    def test_indexing_protects_the_bit_vector(self):
        spec = Binary(4, shape=(3, 4))
        assert spec[0] == Binary(4) and spec[1:].shape == (2, 4)
        with pytest.raises(IndexError):
            spec[:, 0]

    def test_expand_to_clone_and_equality(self):
        spec = Binary(3)
        assert spec.expand(5, 3) == Binary(3, shape=(5, 3))
        assert spec.to(torch.bool) == Binary(3, dtype=torch.bool)
        assert spec.clone() == spec
        assert spec != Binary(4) and spec != Binary(3, dtype=torch.bool)

    def test_repr(self):
        assert repr(Binary(3)) == "Binary(n=3, shape=(3,), dtype=torch.int8, device=cpu)"

    def test_legacy_alias(self):
        assert specs.BinaryDiscreteTensorSpec is Binary


# ============================================================================================
# MultiOneHot
# ============================================================================================
class TestMultiOneHot:
    def test_defaults(self):
        spec = MultiOneHot([2, 3])
        assert spec.nvec == [2, 3] and spec.shape == (5,) and spec.dtype is torch.bool and spec.mask is None

    def test_shape_with_leading_dims(self):
        assert MultiOneHot((2, 3), shape=(4, 5), dtype=torch.int64).shape == (4, 5)

    @pytest.mark.parametrize(("nvec", "error", "message"), [
        ([], ValueError, r"MultiOneHot `nvec` must name at least one variable"),
        ([2, 0], ValueError, r"MultiOneHot `nvec` entries must be >= 1"),
        ([2.0, 3.0], TypeError, r"MultiOneHot `nvec` must hold ints"),
        ([[2, 3]], ValueError, r"MultiOneHot `nvec` must be a flat list of block sizes"),
        ("ab", TypeError, r"MultiOneHot `nvec` must be a list of positive ints"),
    ])
    def test_bad_nvec(self, nvec, error, message):
        with pytest.raises(error, match=message):
            MultiOneHot(nvec)

    def test_shape_not_ending_with_the_sum_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"MultiOneHot `shape` must end with sum\(nvec\)=5"):
            MultiOneHot([2, 3], shape=(2, 4))

    def test_mask_forbidding_a_whole_block_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"forbids every entry of a block; each block needs a True"):
            MultiOneHot([2, 3], mask=[False, False, True, True, True])

    def test_is_in_checks_every_block(self):
        spec = MultiOneHot([2, 3])
        assert spec.is_in(torch.tensor([[True, False, False, False, True]]))
        assert not spec.is_in(torch.tensor([True, True, False, False, True]))
        assert not spec.is_in(torch.tensor([True, False, False, False, False]))

    def test_is_in_rejects_forbidden_entries(self):
        spec = MultiOneHot([2, 3], mask=[True, False, True, True, False])
        assert spec.is_in(torch.tensor([True, False, False, True, False]))
        assert not spec.is_in(torch.tensor([False, True, False, True, False]))
        assert not spec.is_in(torch.tensor([True, False, False, False, True]))

    def test_project_is_a_best_allowed_one_hot_per_block(self):
        spec = MultiOneHot([2, 3])
        out = spec.project(torch.tensor([0.2, 0.1, -1.0, 3.0, 0.0]))
        assert out.tolist() == [True, False, False, True, False]
        masked = MultiOneHot([2, 3], mask=[False, True, True, False, True])
        assert masked.project(torch.tensor([0.2, 0.1, -1.0, 3.0, 0.0])).tolist() == [False, True, False, False, True]

    def test_project_of_nan_blocks(self):
        spec = MultiOneHot([2, 3], mask=[True, True, False, True, True])
        out = spec.project(torch.tensor([NAN, NAN, 5.0, NAN, NAN]))
        assert out.tolist() == [True, False, False, True, False]

    def test_project_keeps_dtype_batch_dims_and_members(self):
        spec = MultiOneHot([2, 3], dtype=torch.int64)
        out = spec.project(torch.randn(4, 5))
        assert out.dtype is torch.int64 and out.shape == (4, 5) and spec.is_in(out)
        assert torch.equal(spec.project(out), out)

    def test_rand_respects_the_mask_and_draws_every_allowed_entry(self):
        mask = torch.tensor([True, False, True, True, False])
        spec = MultiOneHot([2, 3], mask=mask)
        sample = spec.rand((500,))
        assert sample.shape == (500, 5) and spec.is_in(sample)
        assert torch.equal(sample.any(0), mask)
        unmasked = MultiOneHot([2, 3], shape=(2, 5)).rand((500,))
        assert unmasked.any(0).all() and (unmasked.sum(-1) == 2).all()

    def test_encode_and_to_categorical(self):
        spec = MultiOneHot([2, 3])
        encoded = spec.encode([[1, 2], [0, 0]])
        assert encoded.tolist() == [[False, True, False, False, True], [True, False, True, False, False]]
        assert spec.to_categorical(encoded).tolist() == [[1, 2], [0, 0]]
        assert spec.to_numpy(encoded).tolist() == [[1, 2], [0, 0]]

    def test_encode_with_the_wrong_number_of_indices_or_out_of_range_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"takes 2 indices per row, got shape \(3,\)"):
            MultiOneHot([2, 3]).encode([0, 1, 2])
        with pytest.raises(ValueError, match=r"out of range for nvec=\[2, 3\]"):
            MultiOneHot([2, 3]).encode([2, 0])

    def test_to_categorical_spec_carries_the_mask(self):
        mask = torch.tensor([True, False, True, True, False])
        spec = MultiOneHot([2, 3], mask=mask)
        categorical = spec.to_categorical_spec()
        assert categorical == MultiCategorical([2, 3], mask=mask)
        assert categorical.to_one_hot_spec() == spec

    def test_update_mask(self):
        spec = MultiOneHot([2, 2])
        spec.update_mask(torch.tensor([False, True, True, False]))
        assert spec.rand((5,)).tolist() == [[False, True, True, False]] * 5
        spec.update_mask(None)
        assert spec.mask is None

    def test_indexing_protects_the_last_dim_and_carries_the_mask(self):
        mask = torch.tensor([[True, False, True, True, False], [False, True, True, True, True]])
        spec = MultiOneHot([2, 3], shape=(2, 5), mask=mask)
        assert spec[1] == MultiOneHot([2, 3], mask=mask[1])
        with pytest.raises(IndexError):
            spec[:, 0]

    def test_expand_to_clone_equality_and_repr(self):
        spec = MultiOneHot([2, 3], mask=[True, False, True, True, True])
        expanded = spec.expand(3, 5)
        assert expanded.shape == (3, 5) and expanded.mask.shape == (3, 5)
        assert spec.to(torch.int8).dtype is torch.int8 and spec.clone() == spec
        assert spec != MultiOneHot([2, 3]) and spec != MultiOneHot([3, 2], mask=spec.mask)
        assert MultiOneHot([2, 3]) != MultiOneHot([3, 2]) and MultiOneHot([5]) != OneHot(5)
        assert repr(MultiOneHot([2, 1])) == "MultiOneHot(nvec=[2, 1], shape=(3,), dtype=torch.bool, device=cpu)"

    def test_legacy_alias(self):
        assert specs.MultiOneHotDiscreteTensorSpec is MultiOneHot


# ============================================================================================
# MultiCategorical
# ============================================================================================
class TestMultiCategorical:
    def test_defaults(self):
        spec = MultiCategorical([3, 5])
        assert spec.shape == (2,) and spec.dtype is torch.int64 and spec.nvec.tolist() == [3, 5]

    def test_single_variable_keeps_its_dim(self):
        spec = MultiCategorical([3])
        assert spec.shape == (1,) and spec.rand().shape == (1,)

    def test_nvec_broadcasts_to_the_shape_and_may_differ_per_row(self):
        assert MultiCategorical([3, 5], shape=(4, 2)).nvec.shape == (4, 2)
        spec = MultiCategorical(torch.tensor([[2, 3], [4, 5]]))
        sample = spec.rand((500,))
        assert spec.is_in(sample) and sample.amax(0).tolist() == [[1, 2], [3, 4]]

    @pytest.mark.parametrize(("nvec", "error", "message"), [
        ([], ValueError, r"MultiCategorical `nvec` must name at least one variable"),
        ([3, -1], ValueError, r"MultiCategorical `nvec` entries must be >= 1"),
        ([1.5], TypeError, r"MultiCategorical `nvec` must hold ints"),
    ])
    def test_bad_nvec(self, nvec, error, message):
        with pytest.raises(error, match=message):
            MultiCategorical(nvec)

    def test_nvec_not_fitting_the_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"MultiCategorical `nvec` of shape \(2,\) does not fit `shape` \(3,\)"):
            MultiCategorical([3, 5], shape=(3,))

    def test_empty_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"`shape` must not be \(\)"):
            MultiCategorical(3, shape=())

    def test_dtype_too_small_for_the_indices_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"MultiCategorical `dtype` torch.bool cannot hold the index 2"):
            MultiCategorical([2, 3], dtype=torch.bool)
        with pytest.raises(TypeError, match=r"`dtype` must be an integer dtype"):
            MultiCategorical([2, 3], dtype=torch.float32)

    def test_mask_must_keep_a_value_per_variable(self):
        with pytest.raises(ValueError, match=r"forbids every value of a variable; each needs a True"):
            MultiCategorical([2, 3], mask=[False, False, True, True, True])
        with pytest.raises(ValueError, match=r"`mask` of shape \(4,\) does not fit the expected shape \(5,\)"):
            MultiCategorical([2, 3], mask=[True] * 4)

    def test_mask_needs_the_same_nvec_for_every_row(self):
        with pytest.raises(ValueError, match=r"needs the same nvec for every leading index"):
            MultiCategorical(torch.tensor([[2, 3], [3, 2]]), mask=torch.ones(2, 5, dtype=torch.bool))

    def test_is_in_checks_each_variable_against_its_own_range_and_mask(self):
        spec = MultiCategorical([2, 3])
        assert spec.is_in(torch.tensor([[1, 2], [0, 0]]))
        assert not spec.is_in(torch.tensor([2, 0]))
        assert not spec.is_in(torch.tensor([0, -1]))
        masked = MultiCategorical([2, 3], mask=[True, False, False, True, True])
        assert masked.is_in(torch.tensor([0, 2]))
        assert not masked.is_in(torch.tensor([1, 2]))
        assert not masked.is_in(torch.tensor([0, 0]))
        assert masked.is_in(torch.zeros(0, 2, dtype=torch.int64))

    def test_project_without_mask_is_the_nearest_value_per_variable(self):
        out = MultiCategorical([3, 5]).project(torch.tensor([[7.0, -1.0], [NAN, NAN], [INF, 2.5], [-INF, 3.51]]))
        assert out.tolist() == [[2, 0], [0, 0], [2, 2], [0, 4]]

    def test_project_with_mask_is_the_nearest_allowed_value(self):
        spec = MultiCategorical([3, 4], mask=[False, True, True, True, False, False, True])
        out = spec.project(torch.tensor([[NAN, NAN], [0.0, 1.5], [2.0, 2.0], [9.0, -9.0]]))
        assert out.tolist() == [[1, 0], [1, 0], [2, 3], [2, 0]]

    def test_project_keeps_dtype_batch_dims_and_members(self):
        spec = MultiCategorical([3, 4], dtype=torch.int16)
        out = spec.project(torch.tensor([[[5, -5]]]))
        assert out.dtype is torch.int16 and out.tolist() == [[[2, 0]]]
        value = spec.rand((10,))
        assert torch.equal(spec.project(value), value)

    def test_rand_respects_the_mask_and_draws_every_allowed_value(self):
        spec = MultiCategorical([3, 4], mask=[True, False, True, False, True, True, False])
        sample = spec.rand((500,))
        assert spec.is_in(sample)
        assert torch.unique(sample[:, 0]).tolist() == [0, 2]
        assert torch.unique(sample[:, 1]).tolist() == [1, 2]

    def test_to_one_hot_and_spec_conversion(self):
        mask = torch.tensor([True, False, True, False, True, True, False])
        spec = MultiCategorical([3, 4], mask=mask)
        assert spec.to_one_hot(torch.tensor([2, 1])).tolist() == [False, False, True, False, True, False, False]
        one_hot = spec.to_one_hot_spec()
        assert one_hot == MultiOneHot([3, 4], mask=mask)
        assert one_hot.to_categorical_spec() == spec

    def test_update_mask(self):
        spec = MultiCategorical([2, 2])
        spec.update_mask(torch.tensor([False, True, True, False]))
        assert spec.rand((5,)).tolist() == [[1, 0]] * 5
        spec.update_mask(None)
        assert spec.mask is None

    def test_indexing_keeps_the_variables_dim(self):
        spec = MultiCategorical([2, 3], shape=(4, 2), mask=torch.ones(4, 5, dtype=torch.bool))
        assert spec[0] == MultiCategorical([2, 3], mask=torch.ones(5, dtype=torch.bool))
        assert spec[1:3].shape == (2, 2)
        with pytest.raises(IndexError):
            spec[:, 0]

    def test_expand_to_clone_equality_and_repr(self):
        spec = MultiCategorical([2, 3])
        assert spec.expand(4, 2).nvec.tolist() == [[2, 3]] * 4
        assert spec.to(torch.int32).dtype is torch.int32 and spec.clone() == spec
        assert spec != MultiCategorical([3, 2]) and spec != MultiCategorical([2, 3], dtype=torch.int32)
        assert spec != MultiCategorical([2, 3], mask=[True, True, True, True, False])
        assert repr(spec) == "MultiCategorical(nvec=[2, 3], shape=(2,), dtype=torch.int64, device=cpu)"

    def test_legacy_alias(self):
        assert specs.MultiDiscreteTensorSpec is MultiCategorical


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
class TestOnCuda:
    def test_masked_specs_on_cuda(self):
        for spec in (OneHot(3, mask=[True, False, True]), Categorical(3, mask=[True, False, True]),
                     MultiOneHot([2, 3], mask=[True, False, True, False, True]),
                     MultiCategorical([2, 3], mask=[True, False, True, False, True])):
            on_cuda = spec.to("cuda")
            assert on_cuda.mask.device.type == "cuda"
            sample = on_cuda.rand((50,))
            assert sample.device.type == "cuda" and on_cuda.is_in(sample)

    def test_cpu_specs_project_cuda_values_on_the_value_device(self):
        value = torch.tensor([[0.1, 2.0, -1.0]], device="cuda")
        out = OneHot(3, mask=[True, False, True]).project(value)
        assert out.device == value.device and out.tolist() == [[True, False, False]]
        out = Categorical(3, mask=[True, False, True]).project(torch.tensor([1.2], device="cuda"))
        assert out.device.type == "cuda" and out.tolist() == [2]
        spec = MultiCategorical([2, 3], mask=[True, False, True, False, True])
        out = spec.project(torch.tensor([1.0, 1.0], device="cuda"))
        assert out.device.type == "cuda" and out.tolist() == [0, 0] and spec.is_in(out)
