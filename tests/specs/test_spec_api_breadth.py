"""torchrl 0.14's public TensorSpec / Composite API beyond the core contract (issue 13, item 1).

Each test quotes the torchrl documentation (docs.pytorch.org/rl/0.14) or the behaviour
reference (/work/shared/reference/torchrl_0.14_behaviour.md, section 2) it mirrors.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import LazyStackedTensorDict, NonTensorData, TensorDict

from rldsl.specs import (
    Binary,
    Bounded,
    Categorical,
    Composite,
    MultiCategorical,
    MultiOneHot,
    NonTensor,
    OneHot,
    Stacked,
    StackedComposite,
    Unbounded,
)
from rldsl.specs._base import SpecKeyError, SpecUndefinedError, SpecValueError


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def every_leaf_spec():
    """One spec of each leaf class, with a leading size-1 dim, per-element bounds and masks."""
    return [
        Unbounded((1, 3)),
        Unbounded((1, 3), dtype=torch.int32),
        Bounded(torch.zeros(1, 3), torch.arange(1.0, 4.0).reshape(1, 3)),
        Bounded(0, 5, shape=(1, 2), dtype=torch.int64),
        OneHot(4, shape=(1, 4), mask=torch.tensor([[True, False, True, True]])),
        Categorical(3, shape=(1, 2), mask=torch.tensor([[[True, False, True], [False, True, True]]])),
        Binary(3, shape=(1, 3)),
        MultiOneHot([2, 3], shape=(1, 5)),
        MultiCategorical([[2, 3]]),
    ]


# --- 1. Categorical.encode -----------------------------------------------------------------------
class TestCategoricalEncode:
    """torchrl: `encode` maps an environment's value "to the TorchRL required domain"; its check
    (`assert_is_in`, "Asserts whether a tensor belongs to the box, and raises an exception
    otherwise") raises `AssertionError`. rldsl always checks (see docs/differences_from_torchrl.md)."""

    @pytest.mark.parametrize("value", [3, -1, [0, 5], 7.0])
    def test_an_out_of_range_index_is_refused(self, value):
        with pytest.raises(SpecValueError, match=r"values must lie in \[0, 2\]"):
            Categorical(3).encode(value)

    def test_the_error_is_both_a_value_error_and_an_assertion_error(self):
        with pytest.raises(AssertionError):
            Categorical(3).encode(3)
        with pytest.raises(ValueError):
            Categorical(3).encode(3)

    def test_a_non_integer_number_is_refused(self):
        with pytest.raises(SpecValueError, match="whole numbers"):
            Categorical(3).encode(1.5)

    def test_a_masked_out_index_is_refused(self):
        spec = Categorical(3, mask=torch.tensor([True, False, True]))
        with pytest.raises(SpecValueError, match="forbidden by the mask"):
            spec.encode(1)
        assert spec.encode(2) == 2

    def test_binary_refuses_values_other_than_bits(self):
        with pytest.raises(SpecValueError, match=r"\[0, 1\]"):
            Binary(3).encode([1, 2, 0])
        assert Binary(3).encode([1, 0, 1]).tolist() == [1, 0, 1]

    def test_in_range_values_still_encode(self):
        """Behaviour reference 2.4: "`Categorical.encode`: base behaviour (numpy/int → long tensor)"."""
        encoded = Categorical(3, shape=(2,)).encode([2, 0])
        assert encoded.dtype is torch.int64 and encoded.tolist() == [2, 0]

    def test_assert_is_in_raises_the_same_error(self):
        with pytest.raises(AssertionError):
            Categorical(3).assert_is_in(torch.tensor(5))


# --- 2. squeeze / unsqueeze / expand / clone / rand(None) ------------------------------------------
class TestShapeOperations:
    """torchrl docs, "Supported PyTorch Operations": "These operations return new spec instances
    with the modified shape while preserving dtype, device, and domain information"
    (`Bounded(low=0, high=1, shape=(1, 3, 4))` squeezed at 0 has shape (3, 4), unsqueezed back (1, 3, 4))."""

    @pytest.mark.parametrize("spec", every_leaf_spec(), ids=lambda s: type(s).__name__)
    def test_squeeze_then_unsqueeze_round_trips(self, spec):
        squeezed = spec.squeeze(0)
        assert squeezed.shape == spec.shape[1:]
        assert type(squeezed) is type(spec) and squeezed.dtype == spec.dtype and squeezed.device == spec.device
        assert squeezed.unsqueeze(0) == spec
        assert spec.squeeze() == squeezed

    @pytest.mark.parametrize("spec", every_leaf_spec(), ids=lambda s: type(s).__name__)
    def test_values_of_the_reshaped_spec_are_members(self, spec):
        assert spec.squeeze().is_in(spec.squeeze().rand((2,)))
        assert spec.unsqueeze(0).is_in(spec.unsqueeze(0).rand())

    def test_bounds_follow_the_reshape(self):
        spec = Bounded(torch.zeros(1, 3), torch.tensor([[1.0, 2.0, 3.0]]))
        assert spec.squeeze().high.tolist() == [1.0, 2.0, 3.0]
        assert spec.unsqueeze(-1).high.shape == (1, 3, 1)

    def test_a_dim_of_another_size_is_kept_as_torch_squeeze_does(self):
        spec = Unbounded((2, 3))
        assert spec.squeeze(0).shape == (2, 3)

    @pytest.mark.parametrize("spec", [OneHot(4), Binary(3), MultiOneHot([2, 2]), MultiCategorical([2, 3])],
                             ids=lambda s: type(s).__name__)
    def test_the_event_dim_of_one_hot_like_specs_stays_last(self, spec):
        """torchrl: "The last dimension of the shape (variable domain) cannot be indexed" (OneHot);
        its `unsqueeze` refuses dim -1 on these specs."""
        with pytest.raises(ValueError, match="must stay last"):
            spec.unsqueeze(-1)
        assert spec.unsqueeze(-2).shape == (1, *spec.shape)

    def test_a_size_one_one_hot_row_is_not_squeezed(self):
        assert OneHot(1).squeeze().shape == (1,)
        with pytest.raises(ValueError, match="must stay"):
            OneHot(1).squeeze(-1)

    def test_out_of_range_dims_are_index_errors(self):
        with pytest.raises(IndexError):
            Unbounded((3,)).unsqueeze(3)
        with pytest.raises(IndexError):
            Unbounded((3,)).squeeze(2)

    @pytest.mark.parametrize("spec", every_leaf_spec(), ids=lambda s: type(s).__name__)
    def test_expand_and_clone_on_every_class(self, spec):
        """Behaviour reference 2.1: "`expand(*shape)`: new shape must end with the old shape (old
        singleton dims may grow)"; `clone()` "Creates a copy of the TensorSpec"."""
        expanded = spec.expand(4, *spec.shape)
        assert expanded.shape == (4, *spec.shape) and type(expanded) is type(spec)
        grown = spec.expand(5, *spec.shape[1:])
        assert grown.shape == (5, *spec.shape[1:])
        copy = spec.clone()
        assert copy == spec and copy is not spec

    @pytest.mark.parametrize("spec", [*every_leaf_spec(), Composite(a=Unbounded(3))],
                             ids=lambda s: type(s).__name__)
    def test_rand_and_zero_of_none_have_the_specs_own_shape(self, spec):
        """Behaviour reference 2.1: "`rand(shape=None)` / `sample`: value of shape `(*shape, *spec.shape)`"
        with no batch dims when `shape` is None."""
        for value in (spec.rand(None), spec.zero(None), spec.one(None), spec.sample(None)):
            assert value.shape == spec.shape


# --- 3. Composite ---------------------------------------------------------------------------------
def nested_spec() -> Composite:
    return Composite(obs=Unbounded((2, 3)), agent={"action": OneHot(4, shape=(2, 4)), "mem": None},
                     empty=Composite(shape=(2,)), shape=(2,))


class TestCompositeLocking:
    """torchrl: `lock_(recurse=None)` locks the spec; a locked Composite cannot be modified
    (`RuntimeError`); `clone()`: "Locked specs will not produce locked clones"."""

    def test_lock_unlock_and_is_locked(self):
        spec = nested_spec()
        assert not spec.is_locked
        assert spec.lock_() is spec and spec.is_locked and spec["agent"].is_locked
        assert spec.unlock_() is spec and not spec.is_locked and not spec["agent"].is_locked

    def test_lock_without_recursion_leaves_nested_composites_unlocked(self):
        spec = nested_spec().lock_(recurse=False)
        assert spec.is_locked and not spec["agent"].is_locked

    @pytest.mark.parametrize("change", [
        lambda s: s.__setitem__("new", Unbounded((2, 1))),
        lambda s: s.__setitem__(("agent", "new"), Unbounded((2, 1))),
        lambda s: s.__delitem__("obs"),
        lambda s: s.update({"new": Unbounded((2, 1))}),
        lambda s: setattr(s, "shape", ()),
    ], ids=["set", "set-nested", "delete", "update", "shape"])
    def test_a_locked_spec_refuses_changes(self, change):
        spec = nested_spec().lock_()
        with pytest.raises(RuntimeError, match="locked Composite"):
            change(spec)

    def test_clones_are_unlocked(self):
        assert not nested_spec().lock_().clone().is_locked


class TestCompositeMapping:
    def test_is_empty(self):
        """torchrl `is_empty(recurse)`: "If True, will return True if there are no leaves. If False
        (default) will return whether there is any spec defined at the root level"."""
        assert Composite().is_empty()
        only_nested = Composite(a=Composite(b=Composite()))
        assert not only_nested.is_empty() and only_nested.is_empty(recurse=True)
        assert not nested_spec().is_empty(recurse=True)
        assert nested_spec().empty().is_empty() and nested_spec().empty().shape == (2,)

    def test_keys_values_items_nested_and_leaves(self):
        """Behaviour reference 2.4: "`Composite.keys(include_nested, leaves_only)` mirrors TensorDict;
        `None` entries appear as leaves"."""
        spec = nested_spec()
        assert spec.keys() == ["obs", "agent", "empty"]
        assert spec.keys(True) == ["obs", "agent", ("agent", "action"), ("agent", "mem"), "empty"]
        assert spec.keys(True, True) == ["obs", ("agent", "action"), ("agent", "mem")]
        assert spec.values(True, True)[0] == spec["obs"]
        assert dict(spec.items(True, True))[("agent", "mem")] is None

    def test_is_leaf_decides_what_is_a_leaf(self):
        """TensorDict's `is_leaf`: a callable on the entry's class saying whether it is a leaf."""
        spec = nested_spec()
        everything_is_a_leaf = spec.keys(True, True, is_leaf=lambda cls: True)
        assert everything_is_a_leaf == ["obs", "agent", "empty"]
        only_one_hot = spec.keys(True, True, is_leaf=lambda cls: cls is OneHot)
        assert only_one_hot == [("agent", "action")]

    def test_update_is_recursive(self):
        """torchrl `Composite.update`: a nested Composite already present is updated, not replaced."""
        spec = nested_spec()
        returned = spec.update({"agent": {"extra": Unbounded((2, 1))}, "obs": Unbounded((2, 5))})
        assert returned is spec
        assert set(spec["agent"].keys()) == {"action", "mem", "extra"}
        assert spec["obs"].shape == (2, 5)

    def test_update_with_a_composite(self):
        spec = nested_spec()
        spec.update(Composite(agent=Composite(action=Categorical(4, shape=(2,)), shape=(2,)), shape=(2,)))
        assert isinstance(spec["agent", "action"], Categorical) and "mem" in spec["agent"].keys()

    @pytest.mark.parametrize("key", ["shape", "device", "dtype", "space"])
    def test_forbidden_keys_are_key_errors_and_attribute_errors(self, key):
        """Behaviour reference 2.2: "Keys `shape/device/dtype/space` are forbidden" (torchrl raises
        `AttributeError`; rldsl's earlier `KeyError` is kept, so the error is both)."""
        with pytest.raises(KeyError):
            Composite({key: Unbounded(1)})
        with pytest.raises(AttributeError, match="cannot be a spec key"):
            Composite()[key] = Unbounded(1)
        assert issubclass(SpecKeyError, KeyError) and issubclass(SpecKeyError, AttributeError)


class TestCompositeShapeAndDevice:
    def test_the_shape_setter_refuses_a_shape_a_leaf_cannot_take(self):
        """torchrl's `shape` setter raises `ValueError` when an entry's shape does not start with it."""
        spec = nested_spec()
        with pytest.raises(ValueError, match=r"entry 'obs' has shape \(2, 3\)"):
            spec.shape = (3,)
        assert spec.shape == (2,) and spec["agent"].shape == (2,)

    def test_the_shape_setter_reaches_nested_composites(self):
        spec = Composite(obs=Unbounded((2, 3)), agent=Composite(action=OneHot(4, shape=(2, 3, 4))), shape=())
        spec.shape = (2,)
        assert spec.shape == (2,) and spec["agent"].shape == (2,)
        spec.shape = (2, 3)  # obs (2, 3) still starts with (2, 3)
        assert spec["agent"].shape == (2, 3)
        assert spec.rand().batch_size == (2, 3)

    def test_the_shape_setter_changes_nothing_when_a_nested_leaf_refuses(self):
        agent = Composite(action=OneHot(4, shape=(2, 4)), shape=(2,))
        spec = Composite(obs=Unbounded((2, 3)), agent=agent, shape=(2,))
        with pytest.raises(ValueError, match="'action'"):
            spec.shape = (2, 3)
        assert spec.shape == (2,) and spec["agent"].shape == (2,)

    def test_a_nested_composite_without_a_device_takes_the_parents(self):
        """torchrl: a nested Composite without a device set in a Composite with one is moved to it."""
        spec = Composite(device="cpu")
        spec["agent"] = Composite(action=OneHot(4))
        assert spec["agent"].device == torch.device("cpu")

    def test_nested_dicts_and_tuple_keys_take_the_batch_shape_and_device(self):
        spec = Composite(shape=(2,), device="cpu")
        spec["a", "b"] = Unbounded((2, 1))
        spec["c"] = {"d": Unbounded((2, 1))}
        for key in ("a", "c"):
            assert spec[key].shape == (2,) and spec[key].device == torch.device("cpu")

    def test_clear_device(self):
        """torchrl: `clear_device_()` "Clears the device of the Composite"; for leaves "A no-op
        for all leaf specs (which must have a device)"."""
        spec = Composite(agent=Composite(action=OneHot(4)), device="cpu")
        assert spec.clear_device_() is spec
        assert spec.device is None and spec["agent"].device is None
        assert spec["agent", "action"].device == torch.device("cpu")
        leaf = OneHot(4)
        assert leaf.clear_device_() is leaf and leaf.device == torch.device("cpu")

    def test_squeeze_and_unsqueeze_act_on_the_batch_dims(self):
        spec = nested_spec()
        unsqueezed = spec.unsqueeze(0)
        assert unsqueezed.shape == (1, 2) and unsqueezed["agent", "action"].shape == (1, 2, 4)
        assert unsqueezed.squeeze() == spec
        assert unsqueezed.squeeze(0) == spec
        assert spec.unsqueeze(-1)["obs"].shape == (2, 1, 3)


class TestTypeCheck:
    """torchrl: `type_check(value, key=None)` "Checks the input value dtype against the TensorSpec
    dtype and raises an exception if they don't match"; `Composite.type_check(value, selected_keys)`."""

    def test_leaf_type_check(self):
        Unbounded(3).type_check(torch.zeros(3))
        with pytest.raises(TypeError, match="torch.float64.*torch.float32"):
            Unbounded(3).type_check(torch.zeros(3, dtype=torch.float64), "obs")

    def test_composite_type_check_of_a_tensordict(self):
        spec = Composite(obs=Unbounded(3), agent={"action": Categorical(4)}, unknown=None)
        good = TensorDict(obs=torch.zeros(3), agent={"action": torch.tensor(1)})
        spec.type_check(good)
        bad = TensorDict(obs=torch.zeros(3), agent={"action": torch.tensor(1.0)})
        with pytest.raises(TypeError, match="'action'"):
            spec.type_check(bad)
        spec.type_check(bad, selected_keys=["obs"])

    def test_composite_type_check_of_a_tensor_with_its_key(self):
        spec = Composite(obs=Unbounded(3))
        spec.type_check(torch.zeros(3), "obs")
        with pytest.raises(TypeError):
            spec.type_check(torch.zeros(3, dtype=torch.int64), "obs")


# --- 4. stacking ----------------------------------------------------------------------------------
class TestTorchFunctions:
    """torchrl docs, "PyTorch function overloads (via ``__torch_function__``)": `torch.stack`,
    `torch.squeeze`, `torch.unsqueeze` take specs."""

    def test_torch_squeeze_and_unsqueeze(self):
        spec = Bounded(low=0, high=1, shape=(1, 3, 4))
        squeezed = torch.squeeze(spec, dim=0)
        assert squeezed.shape == (3, 4)
        assert torch.unsqueeze(squeezed, dim=0) == spec
        assert torch.squeeze(spec).shape == (3, 4)

    def test_other_torch_functions_are_type_errors(self):
        with pytest.raises(TypeError):
            torch.cat([Unbounded(3), Unbounded(3)])


class TestStacking:
    """torchrl docs: `torch.stack([spec1, spec2], dim=0)` of two `Bounded(low=0, high=1, shape=(3, 4))`
    has "shape: (2, 3, 4)"; `Stacked`: "A lazy representation of a stack of tensor specs";
    `StackedComposite`: "When random samples are drawn, a LazyStackedTensorDict is returned. Indexing
    is allowed but only along the stack dimension"."""

    @pytest.mark.parametrize("spec", [*every_leaf_spec(), nested_spec()], ids=lambda s: type(s).__name__)
    def test_equal_specs_stack_into_the_same_class(self, spec):
        stacked = torch.stack([spec, spec.clone()], dim=0)
        assert type(stacked) is type(spec) and stacked.shape == (2, *spec.shape)
        assert stacked.is_in(stacked.rand((3,)))
        assert stacked[1] == spec

    def test_the_documented_example(self):
        spec1 = Bounded(low=0, high=1, shape=(3, 4))
        spec2 = Bounded(low=0, high=1, shape=(3, 4))
        assert torch.stack([spec1, spec2], dim=0).shape == (2, 3, 4)
        assert torch.stack([spec1, spec2], dim=-1).shape == (3, 4, 2)

    def test_different_specs_give_a_lazy_stack_answering_per_element(self):
        low, high = Bounded(0.0, 1.0, shape=(2,)), Bounded(-5.0, 5.0, shape=(2,))
        stacked = torch.stack([low, high])
        assert isinstance(stacked, Stacked) and stacked.shape == (2, 2) and stacked.dtype == torch.float32
        assert stacked[0] == low and stacked[1] == high and stacked[-1] == high
        assert stacked.unbind(0) == (low, high)
        value = stacked.rand((3,))
        assert value.shape == (3, 2, 2) and stacked.is_in(value)
        assert not stacked.is_in(torch.full((2, 2), 3.0))
        assert stacked.project(torch.full((2, 2), 3.0)).tolist() == [[1.0, 1.0], [3.0, 3.0]]
        assert stacked.zero().shape == (2, 2)
        with pytest.raises(SpecUndefinedError, match="reshape each element"):
            stacked.reshape(4)  # torchrl raises NotImplementedError: so does this (both classes)
        with pytest.raises(NotImplementedError):
            stacked.view(4)

    def test_a_stack_on_another_dim_is_indexed_there(self):
        low, high = Bounded(0.0, 1.0, shape=(2,)), Bounded(-5.0, 5.0, shape=(2,))
        stacked = torch.stack([low, high], dim=1)
        assert stacked.shape == (2, 2) and stacked.dim == 1
        assert stacked[:, 1] == high
        with pytest.raises(IndexError, match="stack dim 1 only"):
            stacked[0]

    def test_heterogeneous_shapes_are_minus_one_and_refuse_single_tensor_values(self):
        """Behaviour reference 2.3: `Stacked` "`rand/zero` may fail (nested tensors)"."""
        stacked = torch.stack([Unbounded(3), Unbounded(4)])
        assert stacked.shape == (2, -1)
        assert stacked[1] == Unbounded(4)
        with pytest.raises(RuntimeError, match="different shapes"):
            stacked.rand()

    def test_slicing_a_lazy_stack(self):
        specs = [Bounded(0.0, float(i + 1), shape=(2,)) for i in range(3)]
        stacked = torch.stack(specs)
        assert isinstance(stacked[1:], Stacked) and len(stacked[1:]) == 2
        assert stacked[[0]] == specs[0].unsqueeze(0)

    def test_shape_operations_on_a_lazy_stack(self):
        stacked = torch.stack([Bounded(0.0, 1.0, shape=(2,)), Bounded(-5.0, 5.0, shape=(2,))])
        assert stacked.unsqueeze(0).shape == (1, 2, 2) and stacked.unsqueeze(0).dim == 1
        assert stacked.unsqueeze(0).squeeze() == stacked
        assert stacked.expand(4, 2, 2).shape == (4, 2, 2)
        assert stacked.clone() == stacked and stacked.to("cpu") == stacked
        twice = torch.stack([stacked, stacked])
        assert twice.shape == (2, 2, twice.shape[-1]) and twice.is_in(twice.rand())

    def test_mixed_classes_are_refused(self):
        with pytest.raises(TypeError, match="different classes"):
            torch.stack([Unbounded(2), Bounded(0.0, 1.0, shape=(2,))])

    def test_different_composites_give_a_stacked_composite(self):
        first = Composite(obs=Bounded(0.0, 1.0, shape=(2,)), action=OneHot(3))
        second = Composite(obs=Bounded(-5.0, 5.0, shape=(2,)), action=OneHot(3))
        stacked = torch.stack([first, second])
        assert isinstance(stacked, StackedComposite) and stacked.shape == (2,)
        assert stacked[0] == first and stacked[1] == second
        assert isinstance(stacked["obs"], Stacked) and stacked["action"] == OneHot(3, shape=(2, 3))
        assert set(stacked.keys()) == {"obs", "action"} and "obs" in stacked
        value = stacked.rand((3,))
        assert isinstance(value, LazyStackedTensorDict) and value.batch_size == (3, 2)
        assert stacked.is_in(value)
        projected = stacked.project(TensorDict(obs=torch.full((2, 2), 3.0), action=torch.ones(2, 3),
                                                batch_size=(2,)))
        assert projected["obs"].tolist() == [[1.0, 1.0], [3.0, 3.0]]


# --- NonTensor and encode memoisation -------------------------------------------------------------
class TestNonTensor:
    """Behaviour reference 2.2: `NonTensor(shape=(1,), device=None, dtype=None, example_data=None, ...)`:
    "domain None, device may be None. **default shape `(1,)`**. `rand/zero/one` return
    `NonTensorData(example_data)` ... `is_in` is True for any non-tensor value. `project` returns the
    value as-is if `is_in`, else `NotImplementedError`"."""

    def test_defaults(self):
        spec = NonTensor()
        assert spec.shape == (1,) and spec.domain is None and spec.device is None and spec.dtype is None

    def test_rand_zero_one_hold_the_example_data(self):
        spec = NonTensor(example_data={"task": "reach"})
        for value in (spec.rand((3,)), spec.zero(), spec.one(None)):
            assert isinstance(value, NonTensorData) and value.data == {"task": "reach"}
        assert spec.rand((3,)).batch_size == (3, 1)

    def test_membership_and_projection(self):
        spec = NonTensor(example_data="text")
        assert spec.is_in("other text") and spec.is_in(object()) and spec.is_in(spec.rand((2,)))
        assert not spec.is_in(torch.zeros(1))
        assert spec.project("kept") == "kept"
        with pytest.raises(NotImplementedError):
            spec.project(torch.zeros(1))
        assert spec.encode("hello").data == "hello"

    def test_inside_a_composite(self):
        spec = Composite(prompt=NonTensor(example_data="hi"), obs=Unbounded(3))
        value = spec.rand((2,))
        assert value["prompt"] == "hi" and value.batch_size == (2,)
        assert spec.is_in(value)
        assert spec.to(torch.float64)["prompt"] == spec["prompt"]

    def test_shape_operations(self):
        spec = NonTensor(example_data=1)
        assert spec.unsqueeze(0).shape == (1, 1) and spec.squeeze().shape == ()
        assert spec.expand(4, 1).shape == (4, 1) and spec.clone() == spec
        assert torch.stack([spec, spec]).shape == (2, 1)


def test_memoize_encode_keeps_the_results():
    """torchrl: `memoize_encode(mode=True)` "Creates a cached sequence of callables for the encode
    method"; `erase_memoize_cache()` "Clears the memoized cache for cached encode execution"."""
    spec = Bounded(0.0, 1.0, shape=(2,))
    plain = spec.encode([0.5, 0.25])
    spec.memoize_encode()
    assert torch.equal(spec.encode([0.5, 0.25]), plain)
    spec.erase_memoize_cache()
    spec.memoize_encode(False)
    assert torch.equal(spec.encode([0.5, 0.25]), plain)


class TestReshapeAndUnbind:
    """Behaviour reference 2.1: the contract includes "`reshape`/`view`, ..., `unbind`"; torchrl
    docs: specs "can be reshaped, indexed, squeezed, unsqueezed, moved to another device"."""

    @pytest.mark.parametrize("spec", every_leaf_spec(), ids=lambda s: type(s).__name__)
    def test_reshape_keeps_the_elements(self, spec):
        flat = spec.reshape(-1) if not spec.event_last else spec.reshape(-1, spec.shape[-1])
        assert flat.shape.numel() == spec.shape.numel() and type(flat) is type(spec)
        assert flat.reshape(spec.shape) == spec and spec.view(spec.shape) == spec

    def test_bounds_follow_a_reshape(self):
        spec = Bounded(torch.zeros(2, 3), torch.arange(1.0, 7.0).reshape(2, 3))
        assert spec.reshape(3, 2).high.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]

    def test_the_event_dim_stays_last_under_reshape(self):
        with pytest.raises(ValueError, match="must stay last"):
            OneHot(4, shape=(2, 4)).reshape(8)
        with pytest.raises(ValueError, match="cannot reshape"):
            Unbounded((2, 3)).reshape(4)

    def test_unbind_gives_the_slices(self):
        spec = Bounded(torch.zeros(2, 3), torch.arange(1.0, 7.0).reshape(2, 3))
        first, second = spec.unbind(0)
        assert first.high.tolist() == [1.0, 2.0, 3.0] and second.high.tolist() == [4.0, 5.0, 6.0]
        assert len(torch.unbind(spec, 1)) == 3
        assert MultiCategorical([[2, 3], [4, 5]]).unbind(0)[1] == MultiCategorical([4, 5])

    def test_composite_reshape_and_unbind(self):
        spec = Composite(obs=Unbounded((2, 3, 5)), shape=(2, 3))
        assert spec.reshape(6)["obs"].shape == (6, 5)
        assert [part.shape for part in spec.unbind(0)] == [(3,), (3,)]


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3), dim=st.integers(-4, 3), count=st.integers(1, 3))
def test_unsqueeze_squeeze_and_stack_agree_with_tensors(shape, dim, count):
    """A spec's shape after `unsqueeze`, `squeeze` and `torch.stack` is the shape torch gives a
    tensor of the spec's shape, and its random values stay members."""
    spec = Bounded(-1.0, 1.0, shape=shape)
    probe = torch.empty(shape)
    if -probe.ndim - 1 <= dim <= probe.ndim:
        assert spec.unsqueeze(dim).shape == probe.unsqueeze(dim).shape
        stacked = torch.stack([spec] * count, dim)
        assert stacked.shape == torch.stack([probe] * count, dim).shape
        assert stacked.is_in(stacked.rand((2,)))
    assert spec.squeeze().shape == probe.squeeze().shape


def test_a_scalar_spec_squeezes_like_a_zero_dim_tensor():
    """torch lets a 0-d tensor squeeze dim 0 or -1 (nothing changes); other dims are IndexErrors."""
    spec = Categorical(3)
    assert spec.squeeze(0) == spec and spec.squeeze(-1) == spec and spec.squeeze() == spec
    with pytest.raises(IndexError, match=r"\[-1, 0\]"):
        spec.squeeze(1)


# --- a Composite passes its batch shape down to nested composites and NonTensor entries ----------
class TestNestedBatchShape:
    """Behaviour reference 2.2, `Composite`: "Leaf shapes must start with the composite shape
    (`ValueError` otherwise; nested Composite/NonTensor with shorter shape get their shape set)".
    torchrl sets the shape on a clone when the entry's shape is a prefix of the batch shape; rldsl
    does the same, so the spec the user passed is never changed."""

    def test_a_nested_composite_with_a_shorter_shape_takes_the_batch_shape_on_a_copy(self):
        inner = Composite(x=Unbounded((2, 3, 1)), deeper=Composite(y=OneHot(4, shape=(2, 3, 4)), shape=(2,)))
        spec = Composite(a=inner, shape=(2, 3))
        assert spec["a"].shape == (2, 3) and spec["a", "deeper"].shape == (2, 3)
        assert inner.shape == () and inner["deeper"].shape == (2,)  # the user's spec is untouched
        assert spec.rand().batch_size == (2, 3) and spec.rand()["a", "deeper"].batch_size == (2, 3)

    def test_every_way_of_setting_an_entry_applies_the_rule(self):
        spec = Composite(shape=(2,))
        spec["a"] = Composite(x=Unbounded((2, 1)))
        spec.update({"b": Composite(x=Unbounded((2, 1)))})
        spec["c", "d"] = Composite(x=Unbounded((2, 1)))
        spec["e"] = {"f": Composite(x=Unbounded((2, 1)))}
        for key in ("a", "b", ("c", "d"), ("e", "f")):
            assert spec[key].shape == (2,), key

    def test_a_composite_whose_entries_cannot_take_the_batch_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"entry 'a' \(a Composite of batch shape \(\)\) cannot take the "
                                             r"batch shape \(2,\).*entry 'x' has shape \(3, 1\)"):
            Composite(a=Composite(x=Unbounded((3, 1))), shape=(2,))

    @pytest.mark.parametrize("inner_shape, outer_shape", [((3,), (2,)), ((5,), (2, 3)), ((2, 3), (2,))])
    def test_only_a_shorter_prefix_is_set(self, inner_shape, outer_shape):
        """A nested shape of the same length that differs, or that is not a prefix, is refused as
        torchrl refuses it; a longer nested shape that starts with the batch shape is kept."""
        inner = Composite(x=Unbounded((*inner_shape, 1)), shape=inner_shape)
        if tuple(inner_shape[: len(outer_shape)]) == tuple(outer_shape):
            assert Composite(a=inner, shape=outer_shape)["a"].shape == inner_shape
        else:
            with pytest.raises(ValueError, match="entry 'a' has shape"):
                Composite(a=inner, shape=outer_shape)

    def test_a_locked_nested_composite_is_copied_unlocked(self):
        inner = Composite(x=Unbounded((2, 1))).lock_()
        spec = Composite(a=inner, shape=(2,))
        assert spec["a"].shape == (2,) and not spec["a"].is_locked and inner.is_locked and inner.shape == ()

    def test_batch_shape_and_device_pass_down_together(self):
        spec = Composite(a=Composite(x=Unbounded((2, 1))), shape=(2,), device="cpu")
        assert spec["a"].shape == (2,) and spec["a"].device == torch.device("cpu")

    def test_a_non_tensor_entry_with_a_shorter_shape_takes_the_batch_shape(self):
        text = NonTensor(shape=(), example_data="go")
        spec = Composite(prompt=text, obs=Unbounded((4, 3)), shape=(4,))
        assert spec["prompt"].shape == (4,) and spec["prompt"].example_data == "go" and text.shape == ()
        value = spec.rand()
        assert value.batch_size == (4,) and value["prompt"] == "go" and spec.is_in(value)

    def test_a_non_tensor_entry_of_the_same_length_must_match(self):
        """`NonTensor`'s default shape is ``(1,)``: in a composite of shape ``(4,)`` it is no
        shorter prefix, so it is refused (torchrl too); ``NonTensor(shape=())`` takes the shape."""
        with pytest.raises(ValueError, match=r"entry 'prompt' has shape \(1,\)"):
            Composite(prompt=NonTensor(example_data="go"), shape=(4,))

    def test_the_shape_setter_passes_the_shape_down_too(self):
        """torchrl's setter sets the new shape on nested composites; rldsl also sets it on a
        `NonTensor` entry with a shorter prefix shape (torchrl's setter refuses that one), so
        setting the shape later gives the same spec as building with it."""
        text = NonTensor(shape=(), example_data="go")
        spec = Composite(prompt=text, agent=Composite(action=OneHot(3, shape=(2, 3, 3))))
        spec.shape = (2, 3)
        assert spec["prompt"].shape == (2, 3) and spec["agent"].shape == (2, 3) and text.shape == ()
        assert spec == Composite(prompt=text, agent=Composite(action=OneHot(3, shape=(2, 3, 3))), shape=(2, 3))

    def test_a_refused_shape_leaves_every_entry_as_it_was(self):
        spec = Composite(prompt=NonTensor(shape=(), example_data="go"), obs=Unbounded((2, 3)))
        with pytest.raises(ValueError, match="entry 'obs'"):
            spec.shape = (3,)
        assert spec.shape == () and spec["prompt"].shape == ()
