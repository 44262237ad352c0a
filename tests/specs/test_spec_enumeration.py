"""`cardinality`, `enumerate`, `index`, `flatten`/`unflatten` of every spec family, and `NonTensor`
equality (issue 13, item 1: the spec API torchrl 0.14's `TensorSpec` has).

Each test quotes the torchrl documentation (docs.pytorch.org/rl/0.14) or the behaviour reference
(/work/shared/reference/torchrl_0.14_behaviour.md, section 2) it mirrors. torchrl's rule, which rldsl
keeps: an outcome of a discrete spec is one event (an index for `Categorical`, a row for the one-hot,
bit-vector and multi-variable specs), and the dims in front of it are batch dims that every
enumerated outcome fills alike (torchrl's own test: ``Categorical(n=4, shape=(5, 6))`` has
``cardinality() == len(list(spec.enumerate()))``, both 4).
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import NonTensorData, NonTensorStack, TensorDict

from rldsl.specs import (
    Binary,
    Bounded,
    Categorical,
    Choice,
    Composite,
    MultiCategorical,
    MultiOneHot,
    NonTensor,
    OneHot,
    Stacked,
    StackedComposite,
    Unbounded,
)
from rldsl.specs._base import MAX_ENUMERATED_OUTCOMES, SpecUndefinedError

FAST = settings(max_examples=40, deadline=None)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def rows_of(outcomes: torch.Tensor) -> list[list]:
    """Each enumerated outcome as a flat Python list (to compare sets of outcomes)."""
    return outcomes.reshape(len(outcomes), -1).tolist()


def undefined_specs():
    """One spec of each family whose `cardinality` torchrl refuses."""
    return [
        Unbounded(3),
        Unbounded(3, dtype=torch.int64),
        NonTensor(example_data="x"),
        torch.stack([Categorical(2), Categorical(3)]),
        torch.stack([Composite(a=Categorical(2)), Composite(b=Categorical(2))]),
    ]


# --- 1. cardinality ----------------------------------------------------------------------------
class TestCardinality:
    """torchrl: `cardinality()` is "The cardinality of the spec. This refers to the number of
    possible outcomes in a spec. It is assumed that the cardinality of a composite spec is the
    cartesian product of all possible outcomes." """

    @pytest.mark.parametrize("shape", [(), (5,), (5, 6)])
    def test_categorical_counts_the_n_values_of_one_index(self, shape):
        """torchrl's test: ``Categorical(n=4, shape=shape1)``, ``spec.cardinality() ==
        len(list(spec.enumerate()))``; its `cardinality` returns `n` (the shape's dims are batch dims)."""
        spec = Categorical(4, shape=shape)
        assert spec.cardinality() == 4 == len(spec.enumerate())

    def test_one_hot_counts_its_n_rows(self):
        """torchrl's `OneHot.cardinality` is `n`, whatever dims sit in front of the row."""
        assert OneHot(5).cardinality() == 5
        assert OneHot(5, shape=(3, 2, 5)).cardinality() == 5

    def test_multi_specs_count_the_product_of_their_variables(self):
        """torchrl: `MultiOneHot.cardinality` is ``prod(nvec)``; `MultiCategorical`'s the product of its
        (per-row) nvec."""
        assert MultiOneHot([2, 3, 4]).cardinality() == 24
        assert MultiCategorical([4, 5, 6], shape=(5, 3)).cardinality() == 120
        assert isinstance(MultiCategorical([4, 5]).cardinality(), int)

    def test_binary_counts_every_bit_vector(self):
        """A deliberate difference: torchrl's `Binary` inherits `Categorical`'s ``n == 2`` (and
        enumerates only the all-0 and all-1 vectors); a vector of `k` bits has ``2**k`` values."""
        assert Binary(4).cardinality() == 16
        assert Binary(4, shape=(5, 4)).cardinality() == 16 == len(Binary(4, shape=(5, 4)).enumerate())

    def test_multi_categorical_with_different_rows_has_no_cardinality(self):
        """torchrl: "Cannot call enumerate on heterogeneous nvecs" (a `ValueError`)."""
        spec = MultiCategorical(torch.tensor([[2, 3], [3, 3]]))
        with pytest.raises(SpecUndefinedError, match="differ between leading indices") as info:
            spec.cardinality()
        assert isinstance(info.value, ValueError)

    @pytest.mark.parametrize("spec", [Bounded(0.0, 1.0, shape=(2,)), Bounded(0, 3, shape=(2,), dtype=torch.int64)])
    def test_bounded_is_infinite(self, spec):
        """Behaviour reference 2.2, `Bounded`: "`index`/`enumerate` raise; `cardinality` = inf"."""
        assert spec.cardinality() == math.inf

    @pytest.mark.parametrize("spec", undefined_specs(), ids=lambda spec: type(spec).__name__)
    def test_unbounded_non_tensor_and_lazy_stacks_refuse(self, spec):
        """Reference 2.2: `Unbounded` "`cardinality` and `index` raise"; `NonTensor`
        "`index/cardinality/enumerate` raise"; torchrl's lazy stacks: "`cardinality` is not implemented".
        rldsl raises `SpecUndefinedError`, a `NotImplementedError` as torchrl's and a `ValueError`."""
        with pytest.raises(SpecUndefinedError) as info:
            spec.cardinality()
        assert isinstance(info.value, NotImplementedError) and isinstance(info.value, ValueError)

    def test_composite_multiplies_its_entries_and_skips_none(self):
        """torchrl's `Composite.cardinality`: the product over the entries; `None` entries are skipped."""
        spec = Composite(a=Categorical(3), b=OneHot(4), c=None, d={"e": Binary(2)})
        assert spec.cardinality() == 3 * 4 * 4

    def test_a_composite_without_specs_has_cardinality_zero(self):
        """torchrl's `Composite.cardinality` starts from no count and returns 0 when no entry has a spec."""
        assert Composite().cardinality() == 0
        assert Composite(a=None).cardinality() == 0

    def test_composite_of_an_infinite_or_undefined_entry(self):
        assert Composite(a=Categorical(2), b=Bounded(0.0, 1.0, shape=(1,))).cardinality() == math.inf
        with pytest.raises(SpecUndefinedError):
            Composite(a=Categorical(2), b=NonTensor()).cardinality()

    def test_choice_sums_its_choices_or_counts_its_data(self):
        """torchrl's `Choice.cardinality`: the number of choices for non-tensor data, else the sum of
        the choices' cardinalities."""
        assert Choice([Categorical(2), Categorical(3)]).cardinality() == 5
        assert Choice([NonTensorData("reach"), NonTensorData("push")]).cardinality() == 2
        assert Choice([Bounded(0.0, 1.0, shape=(1,)), Bounded(2.0, 3.0, shape=(1,))]).cardinality() == math.inf


# --- 2. enumerate ------------------------------------------------------------------------------
class TestEnumerate:
    """torchrl: `enumerate(use_mask=False)` "Returns all the samples that can be obtained from the
    TensorSpec. The samples will be stacked along the first dimension. This method is only
    implemented for discrete specs. use_mask (bool, optional): If True and the spec has a mask,
    samples that are masked are excluded." """

    def test_one_hot_gives_each_row_filling_the_leading_dims(self):
        """torchrl's `OneHot.enumerate`: the identity rows expanded over the leading dims, the
        outcome dim first: shape ``(n, *shape)``."""
        spec = OneHot(3, shape=(2, 3), dtype=torch.int64)
        outcomes = spec.enumerate()
        assert outcomes.shape == (3, 2, 3) and outcomes.dtype is torch.int64
        assert torch.equal(outcomes[:, 0], torch.eye(3, dtype=torch.int64))
        assert torch.equal(outcomes[:, 1], outcomes[:, 0])

    def test_categorical_gives_each_index_filling_the_shape(self):
        """torchrl's `Categorical.enumerate`: ``arange(n)`` viewed as ``(n, 1, ...)`` and expanded to
        ``(n, *shape)``."""
        assert Categorical(3).enumerate().tolist() == [0, 1, 2]
        outcomes = Categorical(3, shape=(2, 2), dtype=torch.int32).enumerate()
        assert outcomes.shape == (3, 2, 2) and outcomes.dtype is torch.int32
        assert outcomes[2].eq(2).all()

    def test_a_bool_categorical_keeps_its_dtype(self):
        """torchrl enumerates a bool `Categorical` as uint8, which is then not in the spec; rldsl keeps
        the spec's dtype so that every outcome is a member."""
        spec = Categorical(2, dtype=torch.bool)
        outcomes = spec.enumerate()
        assert outcomes.tolist() == [False, True] and all(spec.is_in(value) for value in outcomes)

    def test_use_mask_keeps_the_indices_every_row_allows(self):
        """use_mask: "samples that are masked are excluded"; an outcome fills every row, so it is kept
        when every row allows it (torchrl's `arange[mask]` needs a one-row mask)."""
        spec = Categorical(4, shape=(2,), mask=torch.tensor([[True, False, True, True], [True, True, False, True]]))
        assert spec.enumerate().shape == (4, 2)
        assert spec.enumerate(use_mask=True)[:, 0].tolist() == [0, 3]
        assert Categorical(3, mask=torch.tensor([False, True, True])).enumerate(use_mask=True).tolist() == [1, 2]

    def test_use_mask_on_one_hot_and_multi_specs(self):
        """torchrl raises `NotImplementedError` for ``use_mask=True`` on `OneHot` and `MultiCategorical`
        (and for any masked `MultiCategorical`); rldsl excludes the masked outcomes."""
        one_hot = OneHot(3, mask=torch.tensor([True, False, True]))
        assert one_hot.enumerate(use_mask=True).int().argmax(-1).tolist() == [0, 2]
        multi = MultiCategorical([2, 3], mask=torch.tensor([True, True, False, True, True]))
        assert multi.enumerate().shape == (6, 2)
        assert multi.enumerate(use_mask=True).tolist() == [[0, 1], [0, 2], [1, 1], [1, 2]]
        blocks = MultiOneHot([2, 2], mask=torch.tensor([False, True, True, True]))
        assert blocks.enumerate(use_mask=True).int().tolist() == [[0, 1, 1, 0], [0, 1, 0, 1]]

    def test_multi_specs_list_combinations_first_variable_slowest(self):
        """torchrl's `MultiCategorical.enumerate`: ``meshgrid(..., indexing="ij")`` of the variables'
        ranges; `MultiOneHot` one-hot encodes its categorical outcomes."""
        assert MultiCategorical([2, 2]).enumerate().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
        outcomes = MultiCategorical([2, 3], shape=(4, 2)).enumerate()
        assert outcomes.shape == (6, 4, 2) and outcomes[5, 3].tolist() == [1, 2]
        assert MultiOneHot([1, 2]).enumerate().int().tolist() == [[1, 1, 0], [1, 0, 1]]

    def test_binary_counts_up_in_binary(self):
        outcomes = Binary(3, shape=(2, 3)).enumerate()
        assert outcomes.shape == (8, 2, 3) and outcomes.dtype is torch.int8
        assert outcomes[5, 1].tolist() == [1, 0, 1]

    def test_composite_lists_the_cartesian_product_as_a_tensordict(self):
        """torchrl's `Composite.enumerate`: the entries' outcomes combined with
        ``meshgrid(..., indexing="ij")`` (the first entry varies slowest) into a TensorDict whose batch
        is ``(count, *shape)``."""
        spec = Composite(a=Categorical(2, shape=(3,)), b=OneHot(3, shape=(3, 3)), c=None, shape=(3,))
        outcomes = spec.enumerate()
        assert isinstance(outcomes, TensorDict) and outcomes.batch_size == (6, 3)
        assert set(outcomes.keys()) == {"a", "b"}
        assert outcomes["a"][:, 0].tolist() == [0, 0, 0, 1, 1, 1]
        assert outcomes["b"][:, 0].int().argmax(-1).tolist() == [0, 1, 2, 0, 1, 2]

    def test_nested_composites_and_choices_enumerate_inside_a_composite(self):
        spec = Composite(task=Choice([NonTensorData("reach"), NonTensorData("push")]), inner={"x": Categorical(2)})
        outcomes = spec.enumerate()
        assert outcomes.batch_size == (4,)
        assert [outcomes[i]["task"] for i in range(4)] == ["reach", "reach", "push", "push"]
        assert outcomes["inner", "x"].tolist() == [0, 1, 0, 1]

    def test_an_empty_composite_gives_an_empty_tensordict(self):
        """torchrl returns a TensorDict of batch ``shape``; rldsl's has the outcome dim too,
        ``(0, *shape)``, so that its length is the cardinality (0)."""
        outcomes = Composite(shape=(2,)).enumerate()
        assert outcomes.batch_size == (0, 2) and len(outcomes) == Composite(shape=(2,)).cardinality()

    def test_choice_lists_every_choices_outcomes(self):
        """torchrl's `Choice.enumerate`: ``[s for choice in choices for s in choice.enumerate()]``; rldsl
        stacks the same outcomes in that order (a tensor, or a `NonTensorStack` for data)."""
        assert Choice([Categorical(2), Categorical(3)]).enumerate().tolist() == [0, 1, 0, 1, 2]
        data = Choice([NonTensorData("reach"), NonTensorData("push")]).enumerate()
        assert isinstance(data, NonTensorStack) and data.tolist() == ["reach", "push"]

    def test_lazy_stacks_stack_the_elements_outcomes(self):
        """torchrl's `Stacked.enumerate`: ``torch.stack([spec.enumerate(use_mask) ...],
        dim=self.stack_dim + 1)``; `StackedComposite` stacks the TensorDicts the same way."""
        stack = torch.stack([Categorical(3, shape=(2,)), Categorical(3, shape=(2,), mask=torch.tensor([True] * 3))], 1)
        assert isinstance(stack, Stacked)
        outcomes = stack.enumerate()
        assert outcomes.shape == (3, 2, 2) and all(stack.is_in(value) for value in outcomes)
        always = torch.tensor([True, True])
        composites = torch.stack([Composite(a=Categorical(2)), Composite(a=Categorical(2, mask=always))])
        assert isinstance(composites, StackedComposite)
        listed = composites.enumerate()
        assert listed.batch_size == (2, 2) and all(composites.is_in(value) for value in listed)

    def test_lazy_stacks_of_different_outcome_counts_refuse(self):
        with pytest.raises(SpecUndefinedError, match="different numbers of outcomes"):
            torch.stack([Categorical(2), Categorical(3)]).enumerate()

    @pytest.mark.parametrize("spec", [Unbounded(3), Bounded(0, 3, shape=(1,), dtype=torch.int64),
                                      NonTensor(), Composite(a=Unbounded(2))], ids=lambda spec: type(spec).__name__)
    def test_continuous_and_non_tensor_specs_refuse(self, spec):
        """torchrl: "enumerate cannot be called with continuous specs"; `Bounded`: "enumerate is not
        implemented"; `NonTensor`: "Cannot enumerate a NonTensor spec." (all `NotImplementedError`)."""
        with pytest.raises(SpecUndefinedError, match="enumerate is not defined") as info:
            spec.enumerate()
        assert isinstance(info.value, NotImplementedError)

    def test_too_many_outcomes_are_refused_but_still_counted(self):
        spec = MultiCategorical([4096, 4096, 4096])
        assert spec.cardinality() == 4096**3 > MAX_ENUMERATED_OUTCOMES
        with pytest.raises(ValueError, match="more than the .* rldsl lists at once"):
            spec.enumerate()


# --- properties of enumerate over small discrete specs ---------------------------------------------
def masks(lead: tuple, sizes: list[int]):
    """Bool masks of shape ``(*lead, sum(sizes))`` allowing at least one entry per block and row."""
    rows = math.prod(lead)
    block = [st.lists(st.booleans(), min_size=n, max_size=n).filter(any) for n in sizes]
    row = st.tuples(*block).map(lambda parts: [flag for part in parts for flag in part])
    return st.lists(row, min_size=rows, max_size=rows).map(
        lambda values: torch.tensor(values, dtype=torch.bool).reshape(*lead, sum(sizes)))


@st.composite
def small_discrete_specs(draw):
    """A small `OneHot`, `Categorical`, `Binary`, `MultiOneHot` or `MultiCategorical` (masked or not)."""
    kind = draw(st.sampled_from(["onehot", "categorical", "binary", "multionehot", "multicategorical"]))
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    masked = draw(st.booleans())
    if kind == "onehot":
        n = draw(st.integers(1, 4))
        return OneHot(n, shape=(*lead, n), mask=draw(masks(lead, [n])) if masked else None)
    if kind == "categorical":
        n = draw(st.integers(1, 4))
        return Categorical(n, shape=lead, mask=draw(masks(lead, [n])) if masked else None)
    if kind == "binary":
        bits = draw(st.integers(1, 3))
        return Binary(bits, shape=(*lead, bits))
    nvec = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    if kind == "multionehot":
        return MultiOneHot(nvec, shape=(*lead, sum(nvec)), mask=draw(masks(lead, nvec)) if masked else None)
    return MultiCategorical(nvec, shape=(*lead, len(nvec)), mask=draw(masks(lead, nvec)) if masked else None)


class TestEnumerateProperties:
    @FAST
    @given(small_discrete_specs())
    def test_as_many_distinct_outcomes_as_the_cardinality(self, spec):
        """torchrl's tests: ``spec.cardinality() == len(list(spec.enumerate()))``."""
        outcomes = spec.enumerate()
        assert len(outcomes) == spec.cardinality()
        assert len({tuple(row) for row in rows_of(outcomes)}) == len(outcomes)

    @FAST
    @given(small_discrete_specs())
    def test_every_allowed_outcome_is_in_the_spec(self, spec):
        """An enumerated outcome is "a sample that can be obtained from the TensorSpec"."""
        allowed = spec.enumerate(use_mask=True)
        assert all(spec.is_in(value) for value in allowed)
        assert {tuple(row) for row in rows_of(allowed)} <= {tuple(row) for row in rows_of(spec.enumerate())}
        if spec.mask is None:
            assert all(spec.is_in(value) for value in spec.enumerate())

    @FAST
    @given(small_discrete_specs())
    def test_every_sample_of_an_unbatched_spec_is_enumerated(self, spec):
        """"Returns all the samples": without batch dims, `rand` only draws enumerated outcomes."""
        event_dims = 0 if isinstance(spec, Categorical) and not isinstance(spec, Binary) else 1
        if spec.ndim != event_dims:
            return
        listed = {tuple(row) for row in rows_of(spec.enumerate(use_mask=True))}
        samples = spec.rand((20,))
        assert {tuple(row) for row in rows_of(samples)} <= listed

    @FAST
    @given(st.lists(small_discrete_specs(), min_size=1, max_size=2), st.booleans())
    def test_a_composite_enumerates_the_product_of_its_entries(self, entries, use_mask):
        lead = entries[0].shape[:1] if all(e.shape[:1] == entries[0].shape[:1] for e in entries) else ()
        spec = Composite({f"k{i}": entry for i, entry in enumerate(entries)}, shape=lead)
        outcomes = spec.enumerate(use_mask=use_mask)
        assert outcomes.batch_size == (len(outcomes), *lead)
        if not use_mask:
            assert len(outcomes) == spec.cardinality() == math.prod(e.cardinality() for e in entries)
        if use_mask or all(entry.mask is None for entry in entries):
            assert all(spec.is_in(value) for value in outcomes)


# --- 3. index -------------------------------------------------------------------------------------
class TestIndex:
    """torchrl: `index(index, tensor_to_index)` "Indexes the input tensor. index (int, torch.Tensor,
    slice or list): index of the tensor; tensor_to_index: tensor to be indexed". Reference 2.4:
    "`OneHot.index(idx_onehot, t)`: uses positions of the nonzero entries of the one-hot index along
    the last dim and gathers them from `t` (keeps a trailing dim). `Categorical.index(idx, t)`:
    expands `idx` to `t.shape[:-ndim] + (-1,)*ndim` and gathers on the last dim"."""

    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def test_one_hot_picks_an_entry_per_row_keeping_a_trailing_dim(self):
        picked = OneHot(3).index(torch.tensor([False, False, True]), self.values)
        assert picked.tolist() == [[3.0], [6.0]]

    def test_a_batched_one_hot_index_picks_from_its_own_row(self):
        """Reference: the positions are gathered from every row; with a batched index torchrl mixes
        the rows (its result is ``(B, B)``). rldsl's row `b` picks from row `b` only."""
        index = torch.tensor([[0, 1, 0], [0, 0, 1]])
        assert OneHot(3).index(index, self.values).tolist() == [[2.0], [6.0]]

    def test_categorical_gathers_on_the_last_dim(self):
        """Reference: for a spec of shape (1,) the index ``(*B, 1)`` picks one entry per row."""
        assert Categorical(3, shape=(1,)).index(torch.tensor([[2], [0]]), self.values).tolist() == [[3.0], [4.0]]
        assert Categorical(3, shape=(2,)).index(torch.tensor([2, 0]), self.values).tolist() == [[3.0, 1.0], [6.0, 4.0]]

    def test_a_scalar_categorical_index_works(self):
        """Reference: "for a scalar-shaped Categorical this fails (needs spec shape `(1,)`)"; rldsl
        picks ``t[..., i]`` and returns the index's shape."""
        assert Categorical(3).index(torch.tensor([1, 2]), self.values).tolist() == [2.0, 6.0]
        assert Categorical(3).index(torch.tensor(1), self.values[0]).item() == 2.0

    def test_binary_and_multi_categorical_gather_like_categorical(self):
        """torchrl's `Binary` and `MultiCategorical` inherit `Categorical.index`."""
        bits = torch.tensor([1, 0], dtype=torch.int8)
        assert Binary(2).index(bits, torch.tensor([5.0, 7.0])).tolist() == [7.0, 5.0]
        table = torch.tensor([5.0, 6.0, 7.0])
        assert MultiCategorical([3, 2]).index(torch.tensor([2, 1]), table).tolist() == [7.0, 6.0]

    def test_multi_one_hot_picks_one_entry_per_block(self):
        """torchrl's `MultiOneHot.index` splits the index and the tensor by block and gathers per block
        ("unreliable with batched inputs" there; rldsl's rows pick from their own rows)."""
        spec = MultiOneHot([2, 3])
        values = torch.arange(10.0).reshape(2, 5)
        index = torch.tensor([[0, 1, 0, 0, 1], [1, 0, 1, 0, 0]])
        assert spec.index(index, values).tolist() == [[1.0, 4.0], [5.0, 7.0]]

    @pytest.mark.parametrize("spec", [
        Unbounded(3), Bounded(0.0, 1.0, shape=(3,)), NonTensor(), Composite(a=Categorical(3)),
        Choice([Categorical(3), Categorical(3, mask=torch.tensor([True, True, False]))]),
        torch.stack([Categorical(3), Categorical(2)]),
        torch.stack([Composite(a=Categorical(2)), Composite(b=Categorical(2))]),
    ], ids=lambda spec: type(spec).__name__)
    def test_other_specs_refuse(self, spec):
        """Reference 2.2/2.4: "Bounded/Unbounded `index` raise `NotImplementedError`"; torchrl's
        `NonTensor`, `Composite`, `Choice` and lazy stacks raise it too."""
        with pytest.raises(SpecUndefinedError, match="index is not defined") as info:
            spec.index(torch.tensor([0]), torch.zeros(3))
        assert isinstance(info.value, NotImplementedError)

    def test_bad_indices_are_refused_with_the_reason(self):
        with pytest.raises(TypeError, match="torch.Tensor"):
            OneHot(3).index([0, 0, 1], self.values)
        with pytest.raises(ValueError, match="one-hot rows"):
            OneHot(3).index(torch.tensor([1, 0, 1]), self.values)
        with pytest.raises(ValueError, match="outside the spec's categories"):
            Categorical(3).index(torch.tensor([3]), self.values)
        with pytest.raises(TypeError, match="integer indices"):
            Categorical(3).index(torch.tensor([1.0]), self.values)
        with pytest.raises(ValueError, match="trailing dims must be"):
            Categorical(3, shape=(1,)).index(torch.tensor(1), self.values)
        with pytest.raises(ValueError, match="at least 3 entries"):
            Categorical(3).index(torch.tensor([2]), torch.zeros(2))
        with pytest.raises(ValueError, match="do not broadcast"):
            Categorical(3).index(torch.tensor([0, 1, 2]), self.values)

    @FAST
    @given(st.integers(1, 5), st.integers(1, 4), st.data())
    def test_index_agrees_with_plain_indexing(self, n, batch, data):
        """Each spec's `index` equals the plain tensor indexing it stands for."""
        picks = torch.tensor(data.draw(st.lists(st.integers(0, n - 1), min_size=batch, max_size=batch)))
        values = torch.randn(batch, n)
        expected = values[torch.arange(batch), picks]
        assert torch.equal(Categorical(n).index(picks, values), expected)
        assert torch.equal(Categorical(n, shape=(1,)).index(picks[:, None], values), expected[:, None])
        one_hot = torch.nn.functional.one_hot(picks, n)
        assert torch.equal(OneHot(n).index(one_hot, values), expected[:, None])

    @FAST
    @given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
    def test_multi_one_hot_index_agrees_with_per_block_indexing(self, nvec, data):
        picks = [data.draw(st.integers(0, n - 1)) for n in nvec]
        values = torch.randn(sum(nvec))
        offsets = [sum(nvec[:i]) for i in range(len(nvec))]
        expected = torch.stack([values[offset + pick] for offset, pick in zip(offsets, picks)])
        index = MultiOneHot(nvec).encode(picks)
        assert torch.equal(MultiOneHot(nvec).index(index, values), expected)
        table = torch.randn(max(nvec))
        chosen = MultiCategorical(nvec).index(torch.tensor(picks), table)
        assert torch.equal(chosen, table[torch.tensor(picks)])


# --- 4. flatten / unflatten ----------------------------------------------------------------------------
class TestFlatten:
    """torchrl: `flatten(start_dim, end_dim)` "Flattens a TensorSpec. Check torch.flatten() for more
    information on this method."; `unflatten(dim, sizes)` "Unflattens a TensorSpec. Check
    torch.unflatten() for more information on this method." """

    def test_bounds_and_masks_follow(self):
        low = torch.arange(6.0).reshape(2, 3)
        spec = Bounded(low, low + 1).flatten(0, 1)
        assert spec.shape == (6,) and torch.equal(spec.low, torch.arange(6.0))
        mask = torch.tensor([[[True, False]] * 3] * 2)
        flat = Categorical(2, shape=(2, 3), mask=mask).flatten(0, 1)
        assert flat.shape == (6,) and flat.mask.shape == (6, 2)
        assert flat.unflatten(0, (2, 3)) == Categorical(2, shape=(2, 3), mask=mask)

    def test_one_hot_rows_stay_whole(self):
        spec = OneHot(4, shape=(2, 3, 4))
        assert spec.flatten(0, 1).shape == (6, 4) and spec.flatten(0, 1).unflatten(0, (3, 2)).shape == (3, 2, 4)
        with pytest.raises(ValueError, match="must stay last"):
            spec.flatten(1, 2)
        with pytest.raises(ValueError, match="must stay last"):
            Binary(4).unflatten(-1, (2, 2))

    def test_composites_flatten_their_batch_dims_and_entries(self):
        """torchrl's `Composite._unflatten` reshapes the batch dims, entries included."""
        spec = Composite(obs=Unbounded((2, 3, 5)), action=OneHot(4, shape=(2, 3, 4)), shape=(2, 3))
        flat = spec.flatten(0, 1)
        assert flat.shape == (6,) and flat["obs"].shape == (6, 5) and flat["action"].shape == (6, 4)
        assert flat.unflatten(0, (2, 3)) == spec

    def test_choices_and_non_tensor_specs_flatten(self):
        choice = Choice([Bounded(0.0, 1.0, shape=(2, 2)), Bounded(1.0, 2.0, shape=(2, 2))]).flatten()
        assert choice.shape == (4,) and all(c.shape == (4,) for c in choice.choices)
        text = NonTensor(shape=(2, 3), example_data="hi").flatten()
        assert text.shape == (6,) and text.example_data == "hi"

    def test_lazy_stacks_refuse(self):
        """torchrl's lazy stacks: "`reshape` is not implemented for Stacked specs" (flatten reshapes)."""
        with pytest.raises(SpecUndefinedError):
            torch.stack([Categorical(2, shape=(3,)), Categorical(3, shape=(3,))]).flatten()
        with pytest.raises(SpecUndefinedError):
            torch.stack([Composite(a=Categorical(2)), Composite(b=Categorical(2))]).unflatten(0, (1, 2))

    def test_bad_dims_are_refused(self):
        with pytest.raises(IndexError, match="cannot flatten"):
            Unbounded((2, 3)).flatten(0, 5)
        with pytest.raises(ValueError, match="cannot unflatten"):
            Unbounded((6,)).unflatten(0, (4, 2))

    @FAST
    @given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.data())
    def test_shapes_follow_torch(self, shape, data):
        start = data.draw(st.integers(-len(shape), len(shape) - 1))
        end = data.draw(st.integers(-len(shape), len(shape) - 1))
        reference = torch.zeros(shape)
        if (start % len(shape)) > (end % len(shape)):
            with pytest.raises(IndexError):
                Unbounded(shape).flatten(start, end)
            return
        flat = Bounded(-torch.ones(shape), torch.ones(shape)).flatten(start, end)
        assert flat.shape == reference.flatten(start, end).shape
        assert flat.is_in(flat.rand((2,)))
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        split = (1, -1)
        assert Unbounded(shape).unflatten(dim, split).shape == reference.unflatten(dim, split).shape


# --- 5. NonTensor equality ---------------------------------------------------------------------------
class TestNonTensorEquality:
    """torchrl's `NonTensor.__eq__`: ``eq & (self.example_data == getattr(other, "example_data", None))``:
    the example data takes part in equality. rldsl compares it without ever raising."""

    def test_example_data_takes_part(self):
        assert NonTensor(example_data="x") != NonTensor(example_data="y")
        assert NonTensor(example_data="x") == NonTensor(example_data="x")
        spec = NonTensor(example_data={"task": "reach"})
        assert spec == spec.clone() and spec.expand(3, 1) == NonTensor(shape=(3, 1), example_data={"task": "reach"})

    def test_tensors_and_arrays_compare_by_value(self):
        assert NonTensor(example_data=torch.zeros(2)) == NonTensor(example_data=torch.zeros(2))
        assert NonTensor(example_data=torch.zeros(2)) != NonTensor(example_data=torch.zeros(3))
        assert NonTensor(example_data=np.arange(3)) == NonTensor(example_data=np.arange(3))
        assert NonTensor(example_data=np.arange(3)) != NonTensor(example_data=np.arange(1, 4))
        assert NonTensor(example_data=np.ones(1)) != NonTensor(example_data=np.ones(2))
        assert NonTensor(example_data=torch.zeros(2)) != NonTensor(example_data="zeros")

    def test_data_whose_comparison_raises_counts_as_different(self):
        class Stubborn:
            def __eq__(self, other):
                raise RuntimeError("no comparing")

        assert NonTensor(example_data=Stubborn()) != NonTensor(example_data=Stubborn())

    def test_composites_see_the_example_data(self):
        assert Composite(p=NonTensor(example_data="a")) != Composite(p=NonTensor(example_data="b"))

    def test_stacking_different_data_gives_a_lazy_stack_of_the_data(self):
        """torchrl stacks specs that differ lazily; with the data compared, `torch.stack` of
        `NonTensor` specs holding different data keeps each one (before, the first one's data was
        silently used for both)."""
        stack = torch.stack([NonTensor(example_data="a"), NonTensor(example_data="b")])
        assert isinstance(stack, Stacked) and stack.shape == (2, 1)
        drawn = stack.rand((3,))
        assert drawn.batch_size == (3, 2, 1) and drawn[0].tolist() == [["a"], ["b"]]
        assert stack.is_in(drawn) and stack.is_in(stack.rand()) and not stack.is_in(torch.zeros(2, 1))
        assert stack.project(drawn) is not None
        same = torch.stack([NonTensor(example_data="a"), NonTensor(example_data="a")])
        assert isinstance(same, NonTensor) and same.shape == (2, 1) and same.example_data == "a"

    def test_choices_compare_their_data_through_nontensor_equality(self):
        assert Choice([NonTensorData("x")]) != Choice([NonTensorData("y")])
        assert Choice([NonTensorData("x"), NonTensorData("y")]) == Choice([NonTensorData("x"), NonTensorData("y")])
