"""Module API details torchrl code relies on (issue 13, item 2): ``TruncatedNormal.device``;
probabilistic actors whose inner network already writes the action (gSDE-style) combined with
``safe=True``; the multi-agent networks' torchrl-visible internals; and the deliberate, documented
differences (specs refused, rldsl specs only, error types)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictModule, TensorDictParams
from torch import distributions as D
from torch import nn

from rldsl import RldslError
from rldsl import specs as S
from rldsl.modules import (
    MLP,
    AdditiveGaussianModule,
    EGreedyModule,
    ExplorationType,
    MultiAgentConvNet,
    MultiAgentMLP,
    MultiAgentNetBase,
    ProbabilisticActor,
    QValueModule,
    SafeModule,
    TanhModule,
    TanhNormal,
    TruncatedNormal,
    set_exploration_type,
)
from rldsl.modules.distributions.continuous import NoClosedFormError
from rldsl.modules.tensordict_module.qvalue import ActionSpaceTypeError
from rldsl.modules.utils import ArgumentError, LazyLayerError
from rldsl.specs._base import SpecKeyError, SpecUndefinedError, SpecValueError


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_truncated_normal_reports_the_device_of_its_location(device: str) -> None:
    """torchrl's ``TruncatedNormal`` records ``loc.device`` as ``device`` at construction (code written
    for it, e.g. casting actions onto the policy's device, reads ``dist.device``)."""
    dist = TruncatedNormal(torch.zeros(3, 2, device=device), torch.ones(3, 2, device=device), low=-1.0, high=2.0)
    assert dist.device == torch.device(device)
    dist.update(torch.ones(4, 2, device=device), torch.ones(4, 2, device=device))
    assert dist.device == torch.device(device)


class _WritesItsOwnAction(torch.nn.Module):
    """A gSDE-style network: besides the distribution's parameters it writes the action itself
    (here deliberately far outside the action's box)."""

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return observation * 0, observation.abs() + 0.5, observation * 10


def _actor(safe: bool) -> ProbabilisticActor:
    net = TensorDictModule(_WritesItsOwnAction(), in_keys=["observation"], out_keys=["loc", "scale", "action"])
    return ProbabilisticActor(net, in_keys=["loc", "scale"], spec=S.Bounded(-1.0, 1.0, shape=(2,)), safe=safe,
                              distribution_class=D.Normal, return_log_prob=True)


def _observation() -> TensorDict:
    return TensorDict(observation=torch.tensor([[0.05, -3.0], [0.2, 0.3]]), batch_size=[2])


@pytest.mark.parametrize("exploration", [ExplorationType.RANDOM, ExplorationType.DETERMINISTIC])
def test_an_action_written_by_the_inner_network_is_projected_when_safe(exploration: ExplorationType) -> None:
    """torchrl's SafeModule: "safe (bool) – if True, the value of the output is checked against the input
    spec ... If this value is out of bounds, it is projected back onto the desired space using the
    TensorSpec.project method"; its safe hook projects every key with a spec present in the output
    (behaviour reference §3.1), so an action the inner network wrote (the sampling step is skipped:
    "The sampling step is skipped if the supplied TensorDict has all the desired key-value pairs
    already") is projected as well. rldsl scores the projected value (its documented difference:
    the stored log-prob is ``get_dist(td).log_prob(td["action"])``)."""
    actor = _actor(safe=True)
    with set_exploration_type(exploration):
        out = actor(_observation())
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    expected = actor.get_dist(out.clone()).log_prob(out["action"])
    assert torch.equal(out["action_log_prob"], expected)


def test_without_safe_the_action_written_by_the_inner_network_is_kept() -> None:
    actor = _actor(safe=False)
    out = actor(_observation())
    assert torch.equal(out["action"], torch.tensor([[0.5, -30.0], [2.0, 3.0]]))
    assert torch.equal(out["action_log_prob"], actor.get_dist(out.clone()).log_prob(out["action"]))


def test_the_projected_action_goes_to_a_separate_output_tensordict() -> None:
    """The probabilistic step alone, given ``tensordict_out``: the projected value and its score are
    written there, and the input keeps the network's raw value."""
    actor = _actor(safe=True)
    td = actor.module[0](_observation())
    last = actor.module[-1]
    out = last(td, TensorDict(batch_size=[2]), _requires_sample=False)
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    assert torch.equal(td["action"], torch.tensor([[0.5, -30.0], [2.0, 3.0]]))
    assert "action_log_prob" in out.keys()


def test_the_generic_sequence_path_projects_the_written_action_too() -> None:
    """``actor(td, tensordict_out=...)`` goes through tensordict's generic forward (not rldsl's short
    path); the action the network wrote is projected there as well."""
    actor = _actor(safe=True)
    out = actor(_observation(), tensordict_out=TensorDict(batch_size=[2]))
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    assert torch.equal(out["action_log_prob"], actor.get_dist(_observation()).log_prob(out["action"]))


# ---------------------------------------------------------------------------------------------
# MultiAgentMLP / MultiAgentConvNet: the internals torchrl code reaches for
#
# Quotes are from torchrl 0.14's documentation of MultiAgentNetBase, MultiAgentMLP and
# MultiAgentConvNet (docs.pytorch.org/rl/stable/reference/generated/torchrl.modules.*.html) and
# from /work/shared/reference/torchrl_0.14_behaviour.md, section 11.

LAYOUTS = [(True, False), (True, True), (False, False), (False, True)]
LAYOUT_IDS = ["shared-decentralised", "shared-centralised", "own-decentralised", "own-centralised"]


def _mlp(share: bool = False, centralized: bool = False, **kwargs: object) -> MultiAgentMLP:
    kwargs.setdefault("depth", 1)
    kwargs.setdefault("num_cells", 6)
    return MultiAgentMLP(5, 2, 3, centralized=centralized, share_params=share, **kwargs)


def _agents_input(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 3, 5)


def test_multiagent_attributes_are_torchrls() -> None:
    """torchrl's ``MultiAgentNetBase.__init__`` stores ``n_agents``, ``share_params``, ``centralized``,
    ``agent_dim`` and ``use_td_params`` on the module, and its subclasses their own arguments
    (``n_agent_inputs``, ``n_agent_outputs``, ``num_cells``, ``activation_class``, ``depth``;
    ``in_features``, ``num_cells``, ``strides``, ``kernel_sizes``, ``paddings``,
    ``activation_class``). ``initialized`` is False only for a lazy network before its first call."""
    net = _mlp(share=False, centralized=True, depth=2, num_cells=7)
    assert (net.n_agents, net.share_params, net.centralized, net.agent_dim) == (3, False, True, -2)
    assert (net.n_agent_inputs, net.n_agent_outputs, net.depth, net.num_cells) == (5, 2, 2, 7)
    assert net.activation_class is nn.Tanh and net.use_td_params and net.initialized
    conv = MultiAgentConvNet(2, False, True, in_features=3, num_cells=[4], kernel_sizes=3, strides=1, paddings=1)
    assert (conv.n_agents, conv.share_params, conv.centralized, conv.agent_dim) == (2, True, False, -4)
    assert (conv.in_features, conv.num_cells, conv.kernel_sizes, conv.strides, conv.paddings) == (3, [4], 3, 1, 1)
    assert conv.activation_class is nn.ELU
    assert not MultiAgentMLP(None, 2, 3, centralized=False, share_params=False).initialized


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_params_is_a_tensordict_params_batched_over_the_agents_unless_shared(share: bool, centralized: bool) -> None:
    """"use_td_params (bool, optional): if True, the parameters can be found in `self.params` which is a
    TensorDictParams object (which inherits both from `TensorDict` and `nn.Module`)"; the behaviour
    reference: "stacked leading dim `n_agents` when not shared, e.g. ("0","weight") of shape
    [n_agents, out, in]"."""
    net = _mlp(share, centralized)
    assert isinstance(net.params, TensorDictParams)
    assert isinstance(net.params, TensorDictBase) and isinstance(net.params, nn.Module)
    assert net.params.batch_size == (torch.Size([]) if share else torch.Size([3]))
    per_agent_in = 5 * 3 if centralized else 5
    expected = (6, per_agent_in) if share else (3, 6, per_agent_in)
    assert net.params["0", "weight"].shape == expected
    assert list(net.state_dict()) == ["params.0.weight", "params.0.bias", "params.2.weight", "params.2.bias"]
    assert [name for name, _ in net.named_parameters()] == list(net.state_dict())


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_torchrls_forward_recipe_on_the_empty_net_gives_the_module_s_output(share: bool, centralized: bool) -> None:
    """torchrl's ``forward`` runs ``self._empty_net`` (one agent's network on the ``meta`` device) with
    ``self.params`` swapped in: ``with self.params.to_module(self._empty_net): self._empty_net(x)``
    when the parameters are shared, ``vmap_func_module(self._empty_net, (0, agent_dim or None),
    (-2,))(self.params, x)`` otherwise. Code written against those internals gets the module's own
    output from rldsl's."""
    net = _mlp(share, centralized)
    x = _agents_input()
    empty = net._empty_net
    assert isinstance(empty, MLP) and {p.device.type for p in empty.parameters()} == {"meta"}
    flat = x.flatten(-2) if centralized else x
    if share:
        with net.params.to_module(empty):
            out = empty(flat)
        if centralized:
            out = out.unsqueeze(-2).expand(4, 3, 2)
    else:
        run = MultiAgentNetBase.vmap_func_module(empty, (0, None if centralized else net.agent_dim), (-2,),
                                                 randomness=net.vmap_randomness)
        out = run(net.params, flat)
    torch.testing.assert_close(out, net(x))
    assert {p.device.type for p in empty.parameters()} == {"meta"}  # the swap is undone


def test_the_empty_net_holds_no_state_with_td_params_and_every_parameter_without() -> None:
    """"If ``False``, parameters are contained in `self._empty_net`." With ``use_td_params=True`` the
    empty network is state-free: nothing of it appears in ``state_dict`` or ``named_modules``, and
    moving the module does not touch it."""
    net = _mlp()
    assert [name for name, _ in net.named_modules()] == ["", "params"]
    moved = net.double()
    assert next(moved._empty_net.parameters()).device.type == "meta"
    assert moved(_agents_input().double()).dtype == torch.float64
    without = _mlp(use_td_params=False)
    assert isinstance(without._empty_net, MLP)
    assert without._empty_net[0].weight.shape == (3, 6, 5) and without._empty_net[0].weight.device.type == "cpu"
    assert list(without.state_dict()) == [key.replace("params.", "_empty_net.") for key in net.state_dict()]


def test_a_lazy_network_has_its_empty_net_after_its_first_call() -> None:
    """rldsl builds the per-agent networks at the first call of a lazy network (the "Lazy
    ``n_agent_inputs=None``" row of docs/differences_from_torchrl.md); ``_empty_net`` comes with them.
    torchrl's ``vmap_randomness`` is ``"same"`` while lazy and ``"different"`` once initialised."""
    net = MultiAgentMLP(None, 2, 3, centralized=False, share_params=False)
    assert net.vmap_randomness == "same"
    with pytest.raises(AttributeError, match="first call"):
        net._empty_net  # noqa: B018 (the access is the test)
    net(_agents_input())
    assert isinstance(net._empty_net, MLP) and net.vmap_randomness == "different"


def test_get_stateful_net_follows_torchrls_documented_example() -> None:
    """``get_stateful_net`` docs: "Returns a stateful version of the network. This can be used to
    initialize parameters. ... If the parameters are modified in-place (recommended) there is no need
    to copy the parameters back into the MARL module", with the example ``snet.apply(init)`` using
    ``torch.nn.init.kaiming_normal_(module.weight)`` followed by ``mlp.from_stateful_net(snet)``."""
    torch.manual_seed(0)
    mlp = MultiAgentMLP(n_agent_inputs=3, n_agent_outputs=2, n_agents=6, centralized=False, share_params=False,
                        depth=2)
    before = mlp.params.clone()
    snet = mlp.get_stateful_net()

    def init(module: nn.Module) -> None:
        if hasattr(module, "weight"):
            torch.nn.init.kaiming_normal_(module.weight)

    snet.apply(init)
    assert snet[0].weight is mlp.params["0", "weight"]
    assert not torch.equal(before["0", "weight"], mlp.params["0", "weight"])  # changed in place
    assert torch.equal(before["0", "bias"], mlp.params["0", "bias"])
    parameters = list(mlp.parameters())
    mlp.from_stateful_net(snet)
    assert all(a is b for a, b in zip(parameters, mlp.parameters()))
    assert mlp(torch.zeros(64, 6, 3)).shape == (64, 6, 2)


def test_from_stateful_net_copies_values_in_and_refuses_other_names() -> None:
    """``from_stateful_net`` docs: "Populates the parameters given a stateful version of the network";
    torchrl's code updates ``self.params`` in place (so optimizers keep their tensors) and raises
    ``RuntimeError`` "The keys of params and provided module differ" for other names."""
    net = _mlp(share=True)
    snet = net.get_stateful_net()
    snet[0].weight = nn.Parameter(torch.full_like(snet[0].weight, 0.5))  # re-initialised out of place
    weight = net.params["0", "weight"]
    net.from_stateful_net(snet)
    assert net.params["0", "weight"] is weight and torch.equal(weight, torch.full_like(weight, 0.5))
    with pytest.raises(RuntimeError, match="The keys of params and provided module differ"):
        net.from_stateful_net(nn.Sequential(nn.Linear(5, 6)))
    # Shared parameters: the stateful network is one agent's MLP, callable as it is.
    x = _agents_input()
    torch.testing.assert_close(net.get_stateful_net()(x), net(x))


def test_state_dicts_of_the_two_parameter_layouts_are_not_interchangeable() -> None:
    """"a ``state_dict`` created with ``use_td_params=True`` cannot be used when
    ``use_td_params=False``" (torchrl's ``use_td_params`` documentation)."""
    with_td, without = _mlp(), _mlp(use_td_params=False)
    with pytest.raises(RuntimeError, match="Missing key"):
        without.load_state_dict(with_td.state_dict())
    renamed = {key.replace("params.", "_empty_net."): value for key, value in with_td.state_dict().items()}
    without.load_state_dict(renamed)
    x = _agents_input()
    torch.testing.assert_close(without(x), with_td(x))


def test_pre_forward_check_flattens_the_agents_of_a_centralised_network() -> None:
    """torchrl's ``MultiAgentMLP._pre_forward_check`` raises ``ValueError`` when dim -2 is not
    ``n_agents`` and, "If the model is centralized", flattens the agents into the features."""
    x = _agents_input()
    assert _mlp(centralized=True)._pre_forward_check(x).shape == (4, 15)
    assert _mlp(centralized=False)._pre_forward_check(x).shape == (4, 3, 5)
    with pytest.raises(ValueError):
        _mlp()._pre_forward_check(torch.randn(4, 2, 5))


def test_repr_shows_torchrls_fields_and_the_per_agent_layout() -> None:
    """torchrl 0.14 prints one agent's network followed by ``n_agents``, ``share_params``,
    ``centralized`` and ``agent_dim``; with stacked parameters that looks like a single MLP (torchrl
    issue #2904, quirk 11 of the behaviour reference). rldsl prints the same four fields, the sizes,
    and says how many networks there are and where their parameters are stacked."""
    own = repr(_mlp(share=False, centralized=True))
    for field in ("n_agents=3", "share_params=False", "centralized=True", "agent_dim=-2", "n_agent_inputs=5"):
        assert field in own
    assert "3 MLPs, one per agent, parameters stacked on a leading dim of 3" in own
    assert "Linear(in_features=15, out_features=6" in own
    shared = repr(_mlp(share=True))
    assert "one MLP shared by every agent" in shared and "share_params=True" in shared
    conv = repr(MultiAgentConvNet(2, False, False, in_features=3, num_cells=[4], kernel_sizes=3, strides=1))
    assert "agent_dim=-4" in conv and "2 ConvNets, one per agent" in conv


# ---------------------------------------------------------------------------------------------
# Specs torchrl builds and rldsl refuses (docs/differences_from_torchrl.md, "Specs")


def test_a_bool_bounded_spec_is_refused_with_a_pointer_to_binary() -> None:
    """torchrl 0.14 builds ``Bounded(0, 1, shape, dtype=torch.bool)`` (a ``BoundedDiscrete``), but its
    ``project`` clamps, which torch does not implement for bool tensors. The box is always
    ``{False, True}``: ``Binary``/``Categorical(2)`` describe it and project into it."""
    with pytest.raises(TypeError, match=r"Binary\(n\) or Categorical\(2\)"):
        S.Bounded(0, 1, shape=(2,), dtype=torch.bool)
    with pytest.raises(NotImplementedError):  # why torchrl's bool box cannot project
        torch.tensor([True, False]).clamp(torch.tensor(False), torch.tensor(True))
    bits = S.Binary(2, dtype=torch.bool)
    assert bits.is_in(bits.rand()) and bits.project(torch.tensor([True, False])).dtype == torch.bool


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
def test_wide_unsigned_bounded_specs_are_refused(dtype: torch.dtype) -> None:
    """torchrl builds them; torch cannot compare or clamp these dtypes, so ``is_in`` and ``project``
    would fail later. uint8 stays allowed (images)."""
    with pytest.raises(TypeError, match="int32 or torch.int64"):
        S.Bounded(0, 3, shape=(2,), dtype=dtype)
    assert S.Bounded(0, 255, shape=(2,), dtype=torch.uint8).dtype == torch.uint8


@pytest.mark.parametrize(("low", "high", "dtype", "message"), [
    (1.0, 0.0, torch.float32, "low` must be <= `high"),
    (float("nan"), 1.0, torch.float32, "NaN"),
    (0, 1.5, torch.int64, "whole numbers"),
    (0, float("inf"), torch.int64, "must be finite"),
    (0, 300, torch.uint8, "does not fit in torch.uint8"),
])
def test_bound_values_torchrl_would_cast_or_invert_are_refused(low: float, high: float, dtype: torch.dtype,
                                                              message: str) -> None:
    """torchrl 0.14's ``Bounded`` converts the bounds with ``.to(dtype)`` and checks neither their order
    nor their values: ``high=1.5`` becomes ``1`` in an int64 spec, ``300`` wraps in uint8, and an
    inverted box makes ``rand`` draw outside it."""
    with pytest.raises(ValueError, match=message):
        S.Bounded(low, high, shape=(1,), dtype=dtype)


def test_binary_holds_integer_or_bool_values_only() -> None:
    """torchrl's ``Binary`` (a ``Categorical``) takes any dtype; rldsl's discrete specs hold indices,
    as its ``Categorical``/``MultiCategorical`` do (docs/specs.md)."""
    with pytest.raises(TypeError, match="integer dtype"):
        S.Binary(3, dtype=torch.float32)
    assert S.Binary(3, dtype=torch.int8).rand().dtype == torch.int8


@pytest.mark.parametrize("make", [
    lambda: S.Bounded(-1.0, 1.0),
    lambda: S.Bounded(0.0, 1.0, shape=(2,)).encode([0.0, 0.0, 0.0]),
    lambda: S.Composite(a=None).encode({"a": 1}),
    lambda: S.Composite(a=S.Unbounded(shape=(1,), device="meta"), device="cpu"),
], ids=["scalar-bounds-without-shape", "encode-shape", "encode-none-entry", "entry-device"])
def test_spec_errors_torchrl_raises_as_runtime_errors_are_value_errors(make: object) -> None:
    """The behaviour reference: scalar bounds need ``shape`` "(else ``RuntimeError``)", ``encode`` of a
    value that cannot take the spec's shape is ``RuntimeError "Shape mismatch"``, a ``None`` entry in
    ``Composite.encode`` and an entry on another device than its composite are ``RuntimeError``.
    rldsl raises ``ValueError`` there, naming the fix."""
    with pytest.raises(ValueError) as caught:
        make()  # type: ignore[operator]
    assert not isinstance(caught.value, RuntimeError)


# ---------------------------------------------------------------------------------------------
# Modules take rldsl specs


class _ForeignSpec:
    """Stands for a spec of another library (torchrl's ``torchrl.data.Bounded``, say): it has a shape
    and a dtype but is not an ``rldsl.specs.TensorSpec``."""

    shape = torch.Size([2])
    dtype = torch.float32


@pytest.mark.parametrize("make", [
    lambda spec: SafeModule(nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"], spec=spec),
    lambda spec: QValueModule(spec=spec),
    lambda spec: EGreedyModule(spec=spec),
    lambda spec: AdditiveGaussianModule(spec=spec),
    lambda spec: TanhModule(in_keys=["loc"], out_keys=["action"], spec=spec),
], ids=["SafeModule", "QValueModule", "EGreedyModule", "AdditiveGaussianModule", "TanhModule"])
def test_modules_take_rldsl_specs_only(make: object) -> None:
    """torchrl's modules take torchrl's spec classes. rldsl never imports torchrl: its modules take
    ``rldsl.specs`` objects (the same class names and arguments) and refuse anything else with a
    ``TypeError`` naming them."""
    with pytest.raises(TypeError, match="rldsl spec"):
        make(_ForeignSpec())  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Errors that are also the exception types torchrl raises


def _tanh_normal_bad_bounds() -> None:
    TanhNormal(torch.zeros(2), torch.ones(2), low=1.0, high=0.0)


def _mlp_int_cells_without_depth() -> None:
    MLP(in_features=3, out_features=2, num_cells=32)


def _safe_without_spec() -> None:
    SafeModule(nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"], safe=True)


class _NoLazyVariant(nn.Linear):
    """A layer class with no lazy counterpart registered."""


def _mlp_lazy_without_a_lazy_variant() -> None:
    MLP(out_features=2, depth=0, layer_class=_NoLazyVariant)


def _tanh_normal_mean() -> None:
    TanhNormal(torch.zeros(2), torch.ones(2)).mean  # noqa: B018 (the access is the test)


def _spec_as_action_space() -> None:
    QValueModule(action_space=S.OneHot(4))


def _encode_out_of_range(spec: S.TensorSpec, value: object) -> Callable[[], object]:
    return lambda: spec.encode(value)


def _forbidden_composite_key() -> None:
    S.Composite()["shape"] = S.Unbounded(shape=(1,))


def _project_onto_non_tensor() -> None:
    S.NonTensor().project(torch.zeros(1))


@pytest.mark.parametrize(("trigger", "rldsl_type", "torchrl_type"), [
    (_tanh_normal_bad_bounds, ArgumentError, RuntimeError),
    (_mlp_int_cells_without_depth, ArgumentError, RuntimeError),
    (_safe_without_spec, ArgumentError, RuntimeError),
    (_mlp_lazy_without_a_lazy_variant, LazyLayerError, KeyError),
    (_tanh_normal_mean, NoClosedFormError, NotImplementedError),
    (_spec_as_action_space, ActionSpaceTypeError, RuntimeError),
    (_encode_out_of_range(S.Categorical(3), 5), SpecValueError, AssertionError),
    (_encode_out_of_range(S.OneHot(3), 5), SpecValueError, AssertionError),
    (_encode_out_of_range(S.MultiOneHot([2, 3]), [0, 5]), SpecValueError, AssertionError),
    (lambda: S.Bounded(0.0, 1.0, shape=(1,)).assert_is_in(torch.full((1,), 2.0)), SpecValueError, AssertionError),
    (_forbidden_composite_key, SpecKeyError, AttributeError),
    (_project_onto_non_tensor, SpecUndefinedError, NotImplementedError),
], ids=["TanhNormal-bounds", "MLP-num_cells", "safe-without-spec", "MLP-lazy-layer", "TanhNormal.mean",
        "spec-as-action_space", "Categorical.encode", "OneHot.encode", "MultiOneHot.encode", "assert_is_in",
        "Composite-key", "NonTensor.project"])
def test_errors_are_also_the_exception_types_torchrl_raises(trigger: Callable[[], object], rldsl_type: type,
                                                             torchrl_type: type) -> None:
    """Where rldsl claims it (docs/differences_from_torchrl.md, "Errors"), its error is an instance of
    the type torchrl 0.14 raises in the same place (behaviour reference §16 and §2: ``RuntimeError`` for
    bad bounds, a ``depth``/``num_cells`` conflict and ``safe=True`` without a spec; ``KeyError`` for a
    layer without a lazy variant; ``NotImplementedError`` for ``TanhNormal.mean``; ``AssertionError``
    "Value must be less than action space." from one-hot ``encode`` and from ``assert_is_in``;
    ``AttributeError`` for the forbidden ``Composite`` keys; ``NotImplementedError`` "Cannot project a
    NonTensorSpec"), and also rldsl's own ``ValueError``/``TypeError`` convention."""
    with pytest.raises(rldsl_type) as caught:
        trigger()
    assert isinstance(caught.value, torchrl_type)
    assert isinstance(caught.value, RldslError)
