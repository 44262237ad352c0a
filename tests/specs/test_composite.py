"""Unit tests of `Composite` (rldsl/specs/composite.py): a spec per (nested) TensorDict key."""

import pytest
import torch
from tensordict import TensorDict

import rldsl.specs as specs
from rldsl.specs import Bounded, Categorical, Composite, OneHot, Unbounded

NAN = float("nan")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def make_spec() -> Composite:
    """A batch-(2,) composite with a nested entry, a masked one-hot and an unknown (None) key."""
    return Composite(
        obs=Unbounded((2, 3)),
        action=OneHot(4, shape=(2, 4), mask=torch.tensor([True, False, True, True])),
        nested={"x": Bounded(-1.0, 1.0, shape=(2, 1)), "idx": Categorical(3, shape=(2,))},
        unknown=None,
        shape=(2,),
    )


class TestConstruction:
    def test_keyword_dict_and_nested_dict_entries(self):
        spec = Composite({"a": Unbounded(1)}, b={"c": OneHot(2)})
        assert isinstance(spec["a"], Unbounded)
        assert isinstance(spec["b"], Composite) and spec["b"].shape == ()
        assert spec["b", "c"] == OneHot(2)

    def test_defaults(self):
        spec = Composite()
        assert spec.shape == () and spec.device is None and spec.dtype is None
        assert spec.domain == "composite" and len(spec) == 0

    def test_batch_size_is_an_alias_of_shape(self):
        assert Composite(batch_size=(3,)).shape == (3,)
        assert Composite(shape=4).shape == (4,)

    def test_shape_and_batch_size_together_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"takes `shape` or its alias `batch_size`, not both"):
            Composite(shape=(2,), batch_size=(3,))

    def test_nested_dicts_get_the_parent_batch_shape(self):
        spec = Composite(nested={"x": Unbounded((5, 2))}, shape=(5,))
        assert spec["nested"].shape == (5,)

    def test_entry_not_starting_with_the_batch_shape_is_a_value_error_suggesting_expand(self):
        with pytest.raises(ValueError, match=r"entry 'a' has shape \(3,\).*batch shape \(2,\); expand it with spec.expand\(2, ...\)"):
            Composite(a=Unbounded(3), shape=(2,))

    def test_nested_composite_with_a_shorter_batch_shape_takes_the_parents(self):
        """Behaviour reference 2.2, `Composite`: "nested Composite/NonTensor with shorter shape get
        their shape set"; the user's composite is left as it was (the entry holds a copy)."""
        inner = Composite(x=Unbounded((2, 1)))
        spec = Composite(a=inner, shape=(2,))
        assert spec["a"].shape == (2,) and inner.shape == ()
        with pytest.raises(ValueError, match=r"entry 'a' \(a Composite of batch shape \(\)\) cannot take the batch "
                                             r"shape \(2,\): .*entry 'x' has shape \(3,\)"):
            Composite(a=Composite(x=Unbounded(3)), shape=(2,))

    def test_device_mismatch_is_a_value_error_suggesting_to(self):
        with pytest.raises(ValueError, match=r"entry 'a' is on meta but the composite is on cpu; use spec.to\('cpu'\)"):
            Composite(a=Unbounded(1, device="meta"), device="cpu")

    @pytest.mark.parametrize("name", ["shape", "device", "dtype", "space"])
    def test_reserved_names_are_a_key_error(self, name):
        with pytest.raises(KeyError, match=rf"'{name}' cannot be a spec key: it is an attribute of every spec"):
            Composite({name: Unbounded(1)})

    def test_non_spec_entry_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"entry 'a' must be a spec or None, got int"):
            Composite(a=3)

    @pytest.mark.parametrize("key", [3, (), ("a", 1)])
    def test_bad_keys_are_a_key_error(self, key):
        with pytest.raises(KeyError, match=r"a spec key must be a string or a non-empty tuple of strings"):
            Composite()[key] = Unbounded(1)

    def test_legacy_alias(self):
        assert specs.CompositeSpec is Composite


class TestMapping:
    def test_tuple_keys_create_nested_composites(self):
        spec = Composite(shape=(2,))
        spec["a", "b", "c"] = Unbounded((2, 1))
        assert isinstance(spec["a"], Composite) and isinstance(spec["a", "b"], Composite)
        assert spec["a", "b"].shape == (2,)
        assert spec["a", "b", "c"] == Unbounded((2, 1))

    def test_setting_below_a_leaf_is_a_key_error(self):
        spec = Composite(a=Unbounded(1))
        with pytest.raises(KeyError, match=r"'a' holds a UnboundedContinuous, not a Composite"):
            spec["a", "b"] = Unbounded(1)

    def test_missing_key_is_a_key_error_listing_the_entries(self):
        with pytest.raises(KeyError, match=r"no entry \('nope',\) in this Composite \(entries: 'obs', 'action'"):
            make_spec()["nope"]
        with pytest.raises(KeyError, match=r"no entry \('obs', 'x'\)"):
            make_spec()["obs", "x"]

    def test_get_contains_len_and_iter(self):
        spec = make_spec()
        assert spec.get("nope") is None and spec.get("nope", 5) == 5
        assert spec.get(("nested", "x")) == Bounded(-1.0, 1.0, shape=(2, 1))
        assert ("nested", "x") in spec and "unknown" in spec
        assert "nope" not in spec and ("obs", "x") not in spec and 3 not in spec
        assert len(spec) == 4 and list(spec) == ["obs", "action", "nested", "unknown"]

    def test_keys_values_items_and_leaves(self):
        spec = make_spec()
        assert spec.keys() == ["obs", "action", "nested", "unknown"]
        assert spec.keys(include_nested=True) == [
            "obs", "action", "nested", ("nested", "x"), ("nested", "idx"), "unknown"]
        assert spec.keys(include_nested=True, leaves_only=True) == [
            "obs", "action", ("nested", "x"), ("nested", "idx"), "unknown"]
        assert spec.values()[3] is None
        assert dict(spec.items())["obs"] == Unbounded((2, 3))
        assert [key for key, _ in spec.leaves()] == [("obs",), ("action",), ("nested", "x"), ("nested", "idx")]

    def test_delete(self):
        spec = make_spec()
        del spec["nested", "x"]
        del spec["obs"]
        assert spec.keys(True, True) == ["action", ("nested", "idx"), "unknown"]
        with pytest.raises(KeyError, match=r"no entry 'obs' to delete"):
            del spec["obs"]

    def test_update_sets_every_entry_of_the_other(self):
        spec = Composite(a=Unbounded(1))
        spec.update(Composite(b=Unbounded(2), a=OneHot(3)))
        spec.update({"c": None})
        assert spec.keys() == ["a", "b", "c"] and spec["a"] == OneHot(3)


class TestMembership:
    def test_rand_is_in(self):
        spec = make_spec()
        assert spec.is_in(spec.rand()) and spec.is_in(spec.rand((3, 1)))

    def test_an_entry_outside_its_spec_is_out(self):
        spec = make_spec()
        td = spec.rand()
        td["nested", "x"] = torch.full((2, 1), 3.0)
        assert not spec.is_in(td)
        td = spec.rand()
        td["action"] = torch.tensor([[False, True, False, False]] * 2)
        assert not spec.is_in(td)

    def test_a_missing_entry_is_out_but_none_entries_are_not_checked(self):
        spec = make_spec()
        td = spec.rand()
        td["unknown"] = torch.zeros(2, 99)
        assert spec.is_in(td)
        del td["obs"]
        assert not spec.is_in(td)

    def test_extra_entries_are_allowed(self):
        spec = make_spec()
        td = spec.rand()
        td["extra"] = torch.zeros(2)
        assert spec.is_in(td)

    def test_non_tensordicts_are_out(self):
        assert not make_spec().is_in({"obs": torch.zeros(2, 3)})

    def test_empty_composite_accepts_any_tensordict(self):
        assert Composite().is_in(TensorDict({}, []))
        assert Composite(a={}).is_in(TensorDict({}, []))


class TestProject:
    def test_projects_every_checked_entry_recursively(self):
        spec = make_spec()
        td = TensorDict({
            "obs": torch.full((2, 3), NAN),
            "action": torch.tensor([[0.1, 2.0, 0.0, 0.5], [NAN, 1.0, NAN, NAN]]),
            "nested": {"x": torch.tensor([[5.0], [-0.5]]), "idx": torch.tensor([[7.0, -1.0], [1.4, 2.5]])},
            "unknown": torch.tensor([1, 2]),
        }, batch_size=[2])
        out = spec.project(td)
        assert spec.is_in(out)
        assert out["action"].tolist() == [[False, False, False, True], [True, False, False, False]]
        assert out["nested", "x"].tolist() == [[1.0], [-0.5]]
        assert out["nested", "idx"].tolist() == [[2, 0], [1, 2]]
        assert torch.isnan(out["obs"]).all()
        assert out["unknown"] is td["unknown"]

    def test_each_leaf_is_projected_as_by_its_own_spec(self):
        spec = make_spec()
        td = spec.rand()
        td["nested", "x"] = torch.randn(2, 1) * 5
        out = spec.project(td)
        for key, leaf in spec.leaves():
            assert torch.equal(out[key], leaf.project(td[key]))

    def test_the_input_is_not_modified(self):
        spec = make_spec()
        td = spec.rand()
        td["nested", "x"] = torch.full((2, 1), 5.0)
        out = spec.project(td)
        assert out is not td and td["nested", "x"].tolist() == [[5.0], [5.0]]
        assert out["nested", "x"].tolist() == [[1.0], [1.0]]

    def test_members_come_back_with_the_same_values(self):
        spec = make_spec()
        td = spec.rand((3,))
        out = spec.project(td)
        assert all(torch.equal(out[key], td[key]) for key, _ in spec.leaves())

    def test_missing_entry_is_a_key_error(self):
        with pytest.raises(KeyError, match=r"Composite.project: the TensorDict has no entry \('obs',\) to project"):
            make_spec().project(TensorDict({}, [2]))

    def test_non_tensordict_is_a_type_error(self):
        with pytest.raises(TypeError, match=r"Composite.project expects a TensorDict, got dict"):
            make_spec().project({})


class TestValues:
    def test_rand_zero_and_one_have_the_batch_size_and_skip_none_entries(self):
        spec = make_spec()
        for td in (spec.rand((3,)), spec.zero((3,)), spec.one((3,)), spec.zeros((3,)), spec.ones((3,))):
            assert td.batch_size == (3, 2)
            assert set(td.keys(True, True)) == {"obs", "action", ("nested", "x"), ("nested", "idx")}
            assert td["action"].shape == (3, 2, 4) and td["nested", "x"].dtype is torch.float32
        assert spec.zero()["obs"].abs().sum() == 0 and spec.one()["nested", "idx"].tolist() == [1, 1]

    def test_rand_draws_members_and_respects_masks(self):
        spec = make_spec()
        td = spec.rand((200,))
        assert spec.is_in(td) and not td["action"][..., 1].any()

    def test_rand_of_an_empty_composite(self):
        assert Composite(shape=(2,)).rand((3,)).batch_size == (3, 2)

    def test_tensordicts_take_the_composite_device(self):
        assert Composite(a=Unbounded(1), device="cpu").rand().device == torch.device("cpu")
        assert Composite(a=Unbounded(1)).rand().device is None

    def test_encode_turns_nested_dicts_of_arrays_into_a_tensordict(self):
        spec = make_spec()
        td = spec.encode({"obs": [[1, 2, 3], [4, 5, 6]], "nested": {"x": [[0.5], [0.2]]}})
        assert td.batch_size == (2,)
        assert td["obs"].dtype is torch.float32 and td["nested", "x"].shape == (2, 1)

    def test_encode_of_an_unknown_or_none_entry_is_an_error(self):
        with pytest.raises(KeyError, match=r"'foo' is not an entry of this spec"):
            make_spec().encode({"foo": 1})
        with pytest.raises(ValueError, match=r"entry 'unknown' has no spec \(None\), so it cannot be encoded"):
            make_spec().encode({"unknown": 1})
        with pytest.raises(TypeError, match=r"Composite.encode expects a dict, got list"):
            make_spec().encode([1])


class TestAlgebra:
    def test_indexing_the_batch_dims_indexes_every_entry(self):
        spec = make_spec()
        first = spec[0]
        assert first.shape == ()
        assert first == Composite(
            obs=Unbounded(3), action=OneHot(4, mask=torch.tensor([True, False, True, True])),
            nested={"x": Bounded(-1.0, 1.0, shape=(1,)), "idx": Categorical(3)}, unknown=None)
        assert spec[1:].shape == (1,) and spec[1:]["nested", "idx"].shape == (1,)

    def test_indexing_without_batch_dims_is_an_index_error(self):
        with pytest.raises(IndexError, match=r"cannot index a Composite with an empty batch shape"):
            Composite(a=Unbounded(1))[0]

    def test_expand_adds_leading_dims_to_every_entry(self):
        spec = make_spec().expand(5, 2)
        assert spec.shape == (5, 2) and spec["nested"].shape == (5, 2)
        assert spec["obs"].shape == (5, 2, 3) and spec["nested", "x"].shape == (5, 2, 1)
        assert spec["unknown"] is None
        assert spec.rand().batch_size == (5, 2)

    def test_expand_grows_size_one_batch_dims(self):
        spec = Composite(a=Bounded(-1.0, 1.0, shape=(1, 2)), nested={"b": OneHot(3, shape=(1, 3))}, shape=(1,))
        grown = spec.expand(4, 3)
        assert grown.shape == (4, 3)
        assert grown["a"].shape == (4, 3, 2) and grown["nested", "b"].shape == (4, 3, 3)
        assert grown.is_in(grown.rand())

    def test_expand_to_an_incompatible_shape_is_a_value_error(self):
        with pytest.raises(ValueError, match=r"cannot expand a spec of shape \(2,\) to \(3,\)"):
            make_spec().expand(3)

    def test_to_a_float_dtype_casts_only_floating_entries(self):
        spec = make_spec().to(torch.float64)
        assert spec["obs"].dtype is torch.float64 and spec["nested", "x"].dtype is torch.float64
        assert spec["action"].dtype is torch.bool and spec["nested", "idx"].dtype is torch.int64
        assert spec["unknown"] is None and spec.shape == (2,)

    def test_to_a_device_moves_every_entry_and_sets_the_composite_device(self):
        spec = make_spec().to("cpu")
        assert spec.device == torch.device("cpu")
        assert all(leaf.device == torch.device("cpu") for _, leaf in spec.leaves())
        assert spec.cpu() == spec

    def test_clone_is_equal_and_independent(self):
        spec = make_spec()
        copy = spec.clone()
        assert copy == spec and copy["nested"] is not spec["nested"]
        copy["nested", "x"] = Bounded(0.0, 1.0, shape=(2, 1))
        assert spec["nested", "x"] == Bounded(-1.0, 1.0, shape=(2, 1))

    def test_equality_compares_entries_shape_and_device(self):
        assert make_spec() == make_spec()
        other = make_spec()
        other["nested", "x"] = Bounded(-1.0, 2.0, shape=(2, 1))
        assert make_spec() != other
        other = make_spec()
        other["action"].update_mask(None)
        assert make_spec() != other
        other = make_spec()
        del other["unknown"]
        assert make_spec() != other
        assert Composite(a=Unbounded(1)) != Composite(a=Unbounded(1), device="cpu")
        assert Composite(shape=(2,)) != Composite(shape=(3,))
        assert Composite(a=None) != Composite(a=Unbounded(1))
        assert Composite(a=Unbounded(1)) != Unbounded(1)

    def test_repr_shows_entries_nested_and_indented(self):
        spec = Composite(a=OneHot(3), b={"c": Unbounded(2)}, d=None)
        assert repr(spec) == (
            "Composite(\n"
            "    a: OneHot(n=3, shape=(3,), dtype=torch.bool, device=cpu),\n"
            "    b: Composite(\n"
            "        c: UnboundedContinuous(shape=(2,), dtype=torch.float32, device=cpu),\n"
            "        shape=(), device=None),\n"
            "    d: None,\n"
            "    shape=(), device=None)"
        )
        assert repr(Composite(shape=(2,))) == "Composite(shape=(2,), device=None)"

    def test_composites_are_unhashable(self):
        with pytest.raises(TypeError):
            hash(Composite())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_to_cuda_moves_every_entry_and_draws_there():
    spec = make_spec().to("cuda")
    assert spec.device.type == "cuda" and all(leaf.device.type == "cuda" for _, leaf in spec.leaves())
    td = spec.rand((3,))
    assert td.device.type == "cuda" and spec.is_in(td)
    assert spec.is_in(spec.project(td))
