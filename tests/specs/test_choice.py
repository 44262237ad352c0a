"""`Choice`: torchrl 0.14's "discrete choice spec for either tensor or non-tensor data".

torchrl's documentation (torchrl.data.Choice): "choices (list[TensorSpec, NonTensorData,
NonTensorStack]): List of specs or non-tensor data from which to choose during sampling. All
elements must have the same type, shape, dtype, and device." Its example draws with
``torch.manual_seed(0)`` from ``Choice([NonTensorData(s) for s in ["a", "b", "c", "d"]])`` and
gets ``'a'`` then ``'d'``. Where torchrl documents nothing, the tests say what rldsl chose:

- `rand` picks ONE choice per call for the whole batch (what torchrl's implementation does);
- `zero` is the first choice's, `one` the second's (the first's when there is one choice);
- `is_in` of non-tensor choices asks whether the data equals one of the choices' data
  (torchrl's `NonTensor.is_in` would accept any data, which makes a choice meaningless);
- `project` returns a member unchanged and otherwise raises `SpecUndefinedError` (a
  `NotImplementedError`, what torchrl raises for every value, and a `ValueError`);
- an empty list is a `ValueError` (torchrl fails with an `IndexError`), a `NonTensorStack`
  choice is refused (pass one `NonTensorData` per choice).
"""

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import NonTensorData, TensorDict

from rldsl.specs import (
    Bounded,
    Categorical,
    Choice,
    Composite,
    NonTensor,
    OneHot,
    Stacked,
    Unbounded,
)
from rldsl.specs._base import SpecUndefinedError

PROMPTS = ["reach", "push", "pick", "place"]


def prompt_choice(shape=(1,)) -> Choice:
    return Choice([NonTensor(shape=shape, example_data=prompt) for prompt in PROMPTS])


def box_choice() -> Choice:
    return Choice([Bounded(0.0, 1.0, shape=(2,)), Bounded(10.0, 11.0, shape=(2,))])


class TestConstruction:
    def test_shape_dtype_device_and_domain_come_from_the_choices(self):
        spec = box_choice()
        assert spec.shape == (2,) and spec.dtype == torch.float32 and spec.device == torch.device("cpu")
        assert spec.domain == "continuous" and spec.ndim == 1 and spec.num_choices == 2
        text = prompt_choice()
        assert text.shape == (1,) and text.dtype is None and text.device is None and text.domain is None

    def test_choices_is_a_list_of_copies(self):
        original = Bounded(0.0, 1.0, shape=(2,))
        spec = Choice([original, Bounded(2.0, 3.0, shape=(2,))])
        assert isinstance(spec.choices, list) and spec.choices[0] == original and spec.choices[0] is not original

    def test_non_tensor_data_choices_are_held_as_non_tensor_specs(self):
        """torchrl's example: ``Choice([NonTensorData(s) for s in ["a", "b", "c", "d"]])``."""
        spec = Choice([NonTensorData(letter) for letter in "abcd"])
        assert all(isinstance(choice, NonTensor) for choice in spec.choices)
        assert [choice.example_data for choice in spec.choices] == list("abcd")
        assert spec.shape == ()

    def test_device_moves_every_choice(self):
        spec = Choice([Unbounded(2), Unbounded(2)], device="meta")
        assert spec.device == torch.device("meta") and all(c.device == torch.device("meta") for c in spec.choices)

    @pytest.mark.parametrize("choices", [Unbounded(2), "ab", {"a": Unbounded(2)}, 3])
    def test_choices_that_are_not_a_list_are_a_type_error(self, choices):
        with pytest.raises(TypeError, match="`choices` must be a list of specs"):
            Choice(choices)

    def test_an_empty_list_is_a_value_error(self):
        with pytest.raises(ValueError, match="at least one spec"):
            Choice([])

    def test_a_choice_that_is_no_spec_is_a_type_error_with_a_hint(self):
        with pytest.raises(TypeError, match=r"choice 1 must be a spec or a tensordict.NonTensorData, got str; "
                                            r"wrap Python values as NonTensorData\(value\)"):
            Choice([NonTensorData("a"), "b"])

    def test_a_non_tensor_stack_is_refused(self):
        stack = torch.stack([NonTensorData("a"), NonTensorData("b")])
        with pytest.raises(TypeError, match="NonTensorStack"):
            Choice([stack])

    def test_choices_of_different_classes_are_a_type_error(self):
        with pytest.raises(TypeError, match="choice 0 is a OneHot, choice 1 a Categorical"):
            Choice([OneHot(3), Categorical(3, shape=(3,))])

    @pytest.mark.parametrize("other, attribute", [
        (Unbounded(3), "shape"),
        (Unbounded(2, dtype=torch.float64), "dtype"),
        (Unbounded(2, device="meta"), "device"),
    ])
    def test_choices_of_different_shape_dtype_or_device_are_a_value_error(self, other, attribute):
        with pytest.raises(ValueError, match=f"every choice must have the same {attribute}"):
            Choice([Unbounded(2), other])


class TestValues:
    def test_rand_reproduces_torchrls_documented_draws(self):
        """torchrl's docstring: with ``torch.manual_seed(0)``, ``spec.rand().data`` gives 'a', then 'd'."""
        torch.manual_seed(0)
        spec = Choice([NonTensorData(letter) for letter in "abcd"])
        assert spec.rand().data == "a" and spec.rand().data == "d"

    def test_rand_follows_torch_manual_seed(self):
        spec = prompt_choice()
        torch.manual_seed(3)
        first = [spec.rand().data for _ in range(10)]
        torch.manual_seed(3)
        assert [spec.rand().data for _ in range(10)] == first

    def test_rand_picks_every_choice_about_equally_often(self):
        torch.manual_seed(0)
        spec = prompt_choice()
        draws = [spec.rand().data for _ in range(800)]
        counts = {prompt: draws.count(prompt) for prompt in PROMPTS}
        assert all(140 <= count <= 260 for count in counts.values()), counts

    def test_rand_returns_the_picked_choices_rand_with_the_batch_dims(self):
        torch.manual_seed(0)
        value = box_choice().rand((5, 3))
        assert value.shape == (5, 3, 2) and value.dtype == torch.float32
        text = prompt_choice().rand((4,))
        assert isinstance(text, NonTensorData) and text.batch_size == (4, 1) and text.data in PROMPTS
        assert prompt_choice().rand(None).batch_size == (1,)
        data = Choice([NonTensorData("a"), NonTensorData("b")]).rand((3,))  # torchrl: the stored object, batch ()
        assert isinstance(data, NonTensorData) and data.batch_size == (3,) and data.data in ("a", "b")

    def test_one_pick_serves_the_whole_batch(self):
        """torchrl draws one index per `rand` call; the batch never mixes choices."""
        torch.manual_seed(0)
        spec = box_choice()
        for _ in range(20):
            value = spec.rand((50,))
            assert bool((value <= 1.0).all()) or bool((value >= 10.0).all())

    def test_zero_uses_the_first_choice_and_one_the_second(self):
        spec = Choice([Bounded(1.0, 2.0, shape=(2,)), Bounded(5.0, 6.0, shape=(2,))])
        assert spec.zero((3,)).shape == (3, 2) and spec.one().shape == (2,)
        assert spec.zeros().tolist() == [0.0, 0.0] and spec.ones().tolist() == [1.0, 1.0]
        text = prompt_choice()
        assert text.zero().data == "reach" and text.one().data == "push"
        single = Choice([NonTensor(example_data="only")])
        assert single.one().data == "only" and single.zero((2,)).batch_size == (2, 1)

    def test_encode_and_type_check_follow_the_choices(self):
        spec = box_choice()
        assert spec.encode([0.5, 0.5]).dtype == torch.float32
        spec.type_check(torch.zeros(2))
        with pytest.raises(TypeError):
            spec.type_check(torch.zeros(2, dtype=torch.int64))
        assert prompt_choice().encode("push").data == "push"


class TestMembership:
    def test_tensor_values_are_members_of_any_choice(self):
        spec = box_choice()
        assert spec.is_in(torch.tensor([0.5, 0.2])) and spec.is_in(torch.tensor([[10.5, 10.0]]))
        assert not spec.is_in(torch.tensor([5.0, 5.0]))
        assert not spec.is_in(torch.tensor([0.5, 10.5]))  # each element from another choice: in none
        assert not spec.is_in(torch.tensor([0.5, 0.5], dtype=torch.float64))

    def test_non_tensor_values_are_members_when_their_data_is_a_choices(self):
        spec = prompt_choice()
        assert spec.is_in("push") and spec.is_in(NonTensorData("pick", batch_size=(1,)))
        assert spec.is_in(spec.rand((3,)))
        assert not spec.is_in("throw") and not spec.is_in(NonTensorData("throw", batch_size=(1,)))
        assert not spec.is_in(torch.zeros(1)) and not spec.is_in(TensorDict())

    def test_a_non_tensor_value_needs_the_choices_trailing_shape(self):
        assert not prompt_choice(shape=(2,)).is_in(NonTensorData("push", batch_size=(3,)))

    def test_a_stack_of_non_tensor_data_is_in_when_every_element_is(self):
        spec = prompt_choice(shape=())
        members = torch.stack([NonTensorData("push"), NonTensorData("reach")])
        assert spec.is_in(members)
        assert not spec.is_in(torch.stack([NonTensorData("push"), NonTensorData("throw")]))

    def test_tensor_example_data_compares_by_value(self):
        spec = Choice([NonTensor(example_data=torch.zeros(2)), NonTensor(example_data=torch.ones(2))])
        assert spec.is_in(torch.ones(2).tolist()) is False  # a list is not the tensor example
        assert spec.is_in(NonTensorData(torch.ones(2), batch_size=(1,)))

    def test_project_returns_a_member_unchanged_and_refuses_the_rest(self):
        spec = box_choice()
        value = torch.tensor([10.5, 10.2])
        assert spec.project(value) is value
        with pytest.raises(SpecUndefinedError, match="no nearest member") as caught:
            spec.project(torch.tensor([5.0, 5.0]))
        assert isinstance(caught.value, NotImplementedError) and isinstance(caught.value, ValueError)
        assert prompt_choice().project("pick") == "pick"
        with pytest.raises(NotImplementedError):
            prompt_choice().project("throw")

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), batch=st.lists(st.integers(1, 3), max_size=2))
    def test_every_draw_is_a_member(self, seed, batch):
        torch.manual_seed(seed)
        masked = OneHot(3, mask=torch.tensor([True, False, True]))
        for spec in (box_choice(), prompt_choice(), Choice([OneHot(3), masked])):
            assert spec.is_in(spec.rand(tuple(batch)))


class TestSpecAlgebra:
    def test_shape_operations_transform_every_choice(self):
        spec = box_choice()
        cases = {
            "expand": (spec.expand(4, 2), lambda c: c.expand(4, 2)),
            "unsqueeze": (spec.unsqueeze(0), lambda c: c.unsqueeze(0)),
            "squeeze": (spec.unsqueeze(0).squeeze(0), lambda c: c),
            "reshape": (spec.reshape(1, 2), lambda c: c.reshape(1, 2)),
            "index": (spec.expand(3, 2)[1:], lambda c: c.expand(3, 2)[1:]),
            "to": (spec.to(torch.float64), lambda c: c.to(torch.float64)),
            "clone": (spec.clone(), lambda c: c),
        }
        for name, (result, transform) in cases.items():
            assert isinstance(result, Choice), name
            assert result == Choice([transform(choice) for choice in spec.choices]), name
        assert spec.expand(4, 2).rand().shape == (4, 2)

    def test_unbind_gives_one_choice_per_index(self):
        parts = box_choice().expand(3, 2).unbind(0)
        assert len(parts) == 3 and all(isinstance(part, Choice) and part == box_choice() for part in parts)

    def test_an_event_dim_stays_protected(self):
        spec = Choice([OneHot(3), OneHot(3, mask=torch.tensor([True, False, True]))])
        assert spec.unsqueeze(0).shape == (1, 3)
        with pytest.raises(ValueError, match="must stay last"):
            spec.unsqueeze(-1)

    def test_non_tensor_choices_keep_their_data_through_shape_operations(self):
        spec = prompt_choice().expand(4, 1)
        assert spec.shape == (4, 1) and [c.example_data for c in spec.choices] == PROMPTS
        assert spec.rand().batch_size == (4, 1)

    def test_torch_stack_of_choices(self):
        spec = box_choice()
        stacked = torch.stack([spec, spec])
        assert isinstance(stacked, Choice) and stacked.shape == (2, 2)
        mixed = torch.stack([spec, Choice([Bounded(0.0, 1.0, shape=(2,))])])
        assert isinstance(mixed, Stacked) and mixed.rand().shape == (2, 2)

    def test_equality_compares_the_choices_in_order(self):
        a, b = Bounded(0.0, 1.0, shape=(2,)), Bounded(10.0, 11.0, shape=(2,))
        assert Choice([a, b]) == Choice([a.clone(), b.clone()])
        assert Choice([a, b]) != Choice([b, a]) and Choice([a, b]) != Choice([a])
        assert Choice([a]) != a
        assert prompt_choice() == prompt_choice()
        assert Choice([NonTensor(example_data="x")]) != Choice([NonTensor(example_data="y")])

    def test_repr_lists_every_choice(self):
        text = repr(prompt_choice())
        assert text.startswith("Choice(\n    NonTensor(") and "example_data='place'" in text
        assert text.endswith("shape=(1,), dtype=None, device=None)")

    def test_pickles(self):
        spec = prompt_choice()
        assert pickle.loads(pickle.dumps(spec)) == spec


class TestInsideAComposite:
    def test_rand_zero_and_is_in(self):
        torch.manual_seed(0)
        spec = Composite(prompt=prompt_choice(), obs=Unbounded(3))
        value = spec.rand((5,))
        assert value.batch_size == (5,) and value["prompt"] in PROMPTS
        assert spec.is_in(value) and spec.zero()["prompt"] == "reach"
        value.set("prompt", NonTensorData("throw", batch_size=(5, 1)))
        assert not spec.is_in(value)

    def test_composite_operations_reach_the_choice(self):
        spec = Composite(action=box_choice(), prompt=prompt_choice())
        expanded = spec.expand(4)
        assert isinstance(expanded["action"], Choice) and expanded["action"].shape == (4, 2)
        assert expanded[1:]["prompt"].shape == (3, 1)
        assert spec.to(torch.float64)["action"].dtype == torch.float64
        assert spec.to(torch.float64)["prompt"] == spec["prompt"]
        assert spec.clone() == spec
