"""Every runtime forward states its shapes in prose, and the shapes it states hold.

The first half walks the classes: each class defined in ``rldsl.modules`` with its own
``forward`` must say in that forward's docstring what it maps to what
(``observation: [*B, in_features] -> [*B, out_features]``), and each rldsl class that a kind
names as its runtime must say it in its forward's or its own docstring (distributions: the
shapes of their parameters, samples and ``log_prob``). The second half runs the less obvious
claims on a two-dim batch ``*B = (2, 3)``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import distributions as D

import rldsl.modules
from rldsl.lang.kinds import KINDS, Family
from rldsl.modules import (
    Delta,
    DistributionalDQNnet,
    DistributionalQValueModule,
    EGreedyModule,
    ExplorationType,
    IndependentNormal,
    MLP,
    MaskedCategorical,
    MaskedOneHotCategorical,
    MultiAgentMLP,
    NormalParamWrapper,
    OneHotCategorical,
    OrnsteinUhlenbeckProcessModule,
    QValueModule,
    SafeProbabilisticModule,
    TanhDelta,
    TanhModule,
    TanhNormal,
    TruncatedNormal,
    VmapModule,
    set_exploration_type,
)
from rldsl.specs import Binary, Bounded, Categorical, MultiCategorical, MultiOneHot, OneHot

B = (2, 3)
_BRACKETS = re.compile(r"\[([^\[\]]+)\]")
_DIM = re.compile(r"\s*(\.\.\.|\d+|\*?[A-Za-z_]\w*(\s*[-+*/]{1,2}\s*\w+)*)\s*")


# --- what "states a shape" means --------------------------------------------------------------------
def prose(doc: str) -> str:
    """``doc`` without its doctest examples (prompts and the output lines after them)."""
    kept, in_example = [], False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith(">>>"):
            in_example = True
        elif not stripped:
            in_example = False
        if not in_example:
            kept.append(line)
    return "\n".join(kept)


def is_shape(inside: str) -> bool:
    """Whether the text between brackets is a shape: ``*B, ...`` or several dims, one of them named."""
    if "*B" in inside:
        return True
    dims = inside.split(",")
    return (len(dims) > 1 and all(_DIM.fullmatch(dim) for dim in dims)
            and any(re.search(r"[A-Za-z]", dim) for dim in dims))


def states_shape(doc: str | None) -> bool:
    """An arrow and a shape with ``*B`` or a named dim, outside the doctest examples."""
    text = prose(doc or "")
    return "->" in text and any(is_shape(inside) for inside in _BRACKETS.findall(text))


@pytest.mark.parametrize("doc, expected", [
    ("``input: [*B, in_features] -> [*B, out_features]``", True),
    ("``[n_agents, out, in] -> [*B]``", True),
    ("Concatenate the inputs on the last dim, run the layers.", False),
    ("``layer -> [Dropout] -> [norm]``", False),
    ("Maps inputs.\n\n>>> f(x) -> y\n[batch, n]\n", False),
])
def test_states_shape_reads_prose_only(doc: str, expected: bool) -> None:
    assert states_shape(doc) is expected


# --- the classes -------------------------------------------------------------------------------------
def defined_in_rldsl_modules() -> list[type]:
    """Every class defined (not imported) in a module of the ``rldsl.modules`` package."""
    found = []
    for info in pkgutil.walk_packages(rldsl.modules.__path__, "rldsl.modules."):
        module = importlib.import_module(info.name)
        found += [obj for obj in vars(module).values()
                  if inspect.isclass(obj) and obj.__module__ == module.__name__]
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


def kind_runtime_classes() -> list[tuple[str, type]]:
    """``(kind name, class)`` for each kind whose runtime is an rldsl class (not torch's or tensordict's);
    configurations (``DTConfig``) hold fields, not a forward, and are left out."""
    found = []
    for kind in KINDS:
        if kind.family is Family.CONFIG:
            continue
        module_name, _, attribute = kind.runtime.rpartition(".")
        runtime = getattr(importlib.import_module(module_name), attribute)
        if inspect.isclass(runtime) and runtime.__module__.startswith("rldsl."):
            found.append((kind.name, runtime))
    return found


def own_doc(obj: object) -> str:
    """``obj``'s own docstring, cleaned (``inspect.getdoc`` would fall back to a base class's)."""
    return inspect.cleandoc(getattr(obj, "__doc__", None) or "")


OWN_FORWARD = [cls for cls in defined_in_rldsl_modules() if "forward" in vars(cls)]
DISTRIBUTIONS = [cls for cls in defined_in_rldsl_modules() if issubclass(cls, D.Distribution)]
KIND_CLASSES = kind_runtime_classes()


def test_the_walks_find_the_library() -> None:
    names = {cls.__name__ for cls in OWN_FORWARD}
    assert {"MLP", "MultiAgentMLP", "QValueModule", "TanhModule", "EGreedyModule"} <= names
    assert {"TanhNormal", "MaskedCategorical", "TruncatedNormal"} <= {cls.__name__ for cls in DISTRIBUTIONS}
    assert len(KIND_CLASSES) >= 25


@pytest.mark.parametrize("cls", OWN_FORWARD, ids=lambda cls: cls.__qualname__)
def test_own_forward_states_its_shapes(cls: type) -> None:
    doc = own_doc(cls.forward)
    assert states_shape(doc), f"{cls.__qualname__}.forward's docstring states no shape: {doc!r}"


@pytest.mark.parametrize("name, cls", KIND_CLASSES, ids=[name for name, _ in KIND_CLASSES])
def test_kind_runtime_class_states_its_shapes(name: str, cls: type) -> None:
    forward_doc = own_doc(cls.forward) if "forward" in vars(cls) else None
    assert states_shape(forward_doc) or states_shape(own_doc(cls)), (
        f"kind {name}: neither {cls.__qualname__}.forward nor the class docstring states a shape")


@pytest.mark.parametrize("cls", DISTRIBUTIONS, ids=lambda cls: cls.__qualname__)
def test_distribution_states_sample_and_log_prob_shapes(cls: type) -> None:
    doc = prose(own_doc(cls))
    assert states_shape(doc) and "log_prob" in doc and "sample" in doc


# --- the claims, run ---------------------------------------------------------------------------------
def test_mlp_concatenates_inputs_and_reshapes_to_out_features() -> None:
    mlp = MLP(in_features=3, out_features=(2, 4), num_cells=[5])
    assert mlp(torch.randn(*B, 1), torch.randn(*B, 2)).shape == (*B, 2, 4)
    assert MLP(in_features=3, out_features=4)(torch.randn(*B, 3)).shape == (*B, 4)


@pytest.mark.parametrize("share_params", [True, False])
@pytest.mark.parametrize("centralized", [True, False])
def test_multi_agent_mlp_maps_agents_inputs_to_agents_outputs(share_params: bool, centralized: bool) -> None:
    net = MultiAgentMLP(4, 2, 5, centralized=centralized, share_params=share_params, depth=1, num_cells=8)
    assert net(torch.randn(*B, 5, 4)).shape == (*B, 5, 2)


def test_normal_param_wrapper_halves_the_last_dim() -> None:
    loc, scale = NormalParamWrapper(torch.nn.Linear(3, 6))(torch.randn(*B, 3))
    assert loc.shape == scale.shape == (*B, 3)


@pytest.mark.parametrize("make, value_shape, sample_shape", [
    (lambda: Delta(torch.zeros(*B, 4)), (*B, 4), (*B, 4)),
    (lambda: IndependentNormal(torch.zeros(*B, 4), 1.0), (*B, 4), (*B, 4)),
    (lambda: TanhNormal(torch.zeros(*B, 4), torch.ones(*B, 4)), (*B, 4), (*B, 4)),
    (lambda: TanhDelta(torch.zeros(*B, 4)), (*B, 4), (*B, 4)),
    (lambda: TruncatedNormal(torch.zeros(*B, 4), torch.ones(*B, 4)), (*B, 4), (*B, 4)),
    (lambda: OneHotCategorical(logits=torch.zeros(*B, 4)), (*B, 4), (*B, 4)),
    (lambda: MaskedCategorical(logits=torch.zeros(*B, 4), mask=torch.tensor([True, False, True, True])),
     B, B),
    (lambda: MaskedCategorical(logits=torch.zeros(*B, 4), indices=torch.tensor([0, 3])), B, B),
    (lambda: MaskedOneHotCategorical(logits=torch.zeros(*B, 4), mask=torch.tensor([True, False, True, True])),
     (*B, 4), (*B, 4)),
])
def test_distribution_shapes(make, value_shape, sample_shape) -> None:
    dist = make()
    samples = dist.sample((7,))
    assert samples.shape == (7, *sample_shape)
    assert dist.log_prob(samples).shape == (7, *B)
    assert dist.log_prob(dist.sample()).shape == B and dist.sample().shape == value_shape


@pytest.mark.parametrize("spec, width, action_shape", [
    (OneHot(4), 4, (*B, 4)),
    (Categorical(4), 4, B),
    (MultiOneHot([2, 3]), 5, (*B, 5)),
    (MultiCategorical([2, 3]), 5, (*B, 2)),
    (Binary(3), 6, (*B, 3)),
])
def test_qvalue_action_encodings(spec, width: int, action_shape: tuple) -> None:
    values = torch.randn(*B, width)
    td = QValueModule(spec=spec)(TensorDict(action_value=values.clone(), batch_size=B))
    assert td["action"].shape == action_shape and td["action"].dtype == torch.int64
    assert td["chosen_action_value"].shape == (*B, 1)
    assert torch.equal(td["action_value"], values)


def test_distributional_qvalue_shapes() -> None:
    td = TensorDict(action_value=torch.randn(*B, 7, 4), batch_size=B)
    td = DistributionalDQNnet()(td)
    assert td["action_value"].shape == (*B, 7, 4)
    module = DistributionalQValueModule(None, support=torch.linspace(-1, 1, 7), spec=Categorical(4))
    td = module(td)
    assert td["action"].shape == B and "chosen_action_value" not in td.keys()


def test_exploration_keeps_the_action_shape_and_writes_ou_state() -> None:
    action = torch.zeros(*B, dtype=torch.long)
    td = EGreedyModule(Categorical(4))(TensorDict(action=action, batch_size=B))
    assert td["action"].shape == B and td["action"].dtype == torch.long
    td = TensorDict(action=torch.zeros(*B, 2), is_init=torch.ones(*B, 1, dtype=torch.bool), batch_size=B)
    td = OrnsteinUhlenbeckProcessModule(Bounded(-1.0, 1.0, shape=(2,)))(td)
    assert td["action"].shape == td["_ou_prev_noise"].shape == (*B, 2)
    assert td["_ou_steps"].shape == B and td["_ou_steps"].dtype == torch.int64


@pytest.mark.parametrize("distribution_class, log_prob_shape", [
    (TanhNormal, B),  # the event dim summed
    (D.Normal, (*B, 2)),  # torch's Normal scores elementwise
])
def test_probabilistic_module_log_prob_has_the_distribution_batch_shape(distribution_class, log_prob_shape) -> None:
    module = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=distribution_class,
                                     return_log_prob=True)
    td = TensorDict(loc=torch.zeros(*B, 2), scale=torch.ones(*B, 2), batch_size=B)
    with set_exploration_type(ExplorationType.RANDOM):
        td = module(td)
    assert td["action"].shape == (*B, 2) and td["action_log_prob"].shape == log_prob_shape


def test_probabilistic_module_num_samples_prepends_a_dim() -> None:
    module = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=TanhNormal,
                                     return_log_prob=True, num_samples=5)
    td = module(TensorDict(loc=torch.zeros(*B, 2), scale=torch.ones(*B, 2), batch_size=B))
    assert td.batch_size == (5, *B)
    assert td["action"].shape == (5, *B, 2) and td["action_log_prob"].shape == (5, *B)


def test_tanh_and_vmap_modules_keep_the_batch() -> None:
    td = TanhModule(in_keys=["loc"], out_keys=["action"], low=-2.0, high=2.0)(
        TensorDict(loc=torch.randn(*B, 2), batch_size=B))
    assert td["action"].shape == (*B, 2)
    inner = TensorDictModule(lambda x: x.sum(-1, keepdim=True), in_keys=["x"], out_keys=["y"])
    td = VmapModule(inner, vmap_dim=0)(TensorDict(x=torch.randn(*B, 4), batch_size=B))
    assert td["y"].shape == (*B, 1)
