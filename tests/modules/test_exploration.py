"""Exploration modules: annealing, gating by exploration type, specs, masks, OU state, wrappers."""

from __future__ import annotations

import copy
import doctest
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import InteractionType, TensorDictModuleBase, TensorDictSequential, set_interaction_type

import rldsl.modules.tensordict_module.exploration as exploration_module
from rldsl.modules import (
    AdditiveGaussianModule,
    AdditiveGaussianWrapper,
    EGreedyModule,
    OrnsteinUhlenbeckProcessModule,
    OrnsteinUhlenbeckProcessWrapper,
    QValueActor,
)
from rldsl.modules.tensordict_module.common import SafeModule
from rldsl.modules.utils import ArgumentError
from rldsl.specs import (
    Binary,
    Bounded,
    Categorical,
    Composite,
    MultiCategorical,
    MultiOneHot,
    OneHot,
    Unbounded,
)

# float32 schedule of torchrl 0.14.1 for init=1.0, end=0.1, 3 steps (observed there, bit for bit)
SCHEDULE = [1.0, 0.7000000476837158, 0.40000006556510925, 0.10000008344650269, 0.10000000149011612,
            0.10000000149011612]


def bounded(n: int = 3) -> Bounded:
    return Bounded(-1.0, 1.0, shape=(n,))


def test_doctests():
    result = doctest.testmod(exploration_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ----------------------------------------------------------------------------- annealing
@pytest.mark.parametrize("make, factor", [
    (lambda: EGreedyModule(OneHot(4), 1.0, 0.1, 3), "eps"),
    (lambda: AdditiveGaussianModule(bounded(), 1.0, 0.1, 3), "sigma"),
    (lambda: OrnsteinUhlenbeckProcessModule(bounded(), 1.0, 0.1, 3), "eps"),
])
def test_annealing_schedule_is_exact_float32(make, factor):
    module = make()
    values = [getattr(module, factor).item()]
    for _ in range(5):
        module.step()
        values.append(getattr(module, factor).item())
    assert values == SCHEDULE
    assert getattr(module, factor).dtype is torch.float32
    batched = make()
    batched.step(frames=3)
    assert batched.state_dict()[factor].item() == SCHEDULE[3]


def test_step_frames_zero_and_constant_schedule():
    module = EGreedyModule(OneHot(4), 0.5, 0.5, 10)
    module.step(0)
    module.step(100)
    assert module.eps.item() == 0.5
    long_run = EGreedyModule(OneHot(4), 0.9, 0.05, 7)
    long_run.step(5)
    assert long_run.eps.item() == pytest.approx(0.29285722970962524, abs=0)  # torchrl 0.14.1's value
    long_run.step(10_000)
    assert long_run.eps.item() == torch.tensor(0.05).item()


def test_step_argument_errors():
    module = EGreedyModule(OneHot(4))
    with pytest.raises(TypeError, match="frames"):
        module.step(1.5)
    with pytest.raises(ValueError, match="frames"):
        module.step(-1)
    frozen = OrnsteinUhlenbeckProcessModule(bounded(), annealing_num_steps=0)
    with pytest.raises(ValueError, match="annealing_num_steps"):
        frozen.step()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(eps_init=0.1, eps_end=0.5), ArgumentError, "decrease"),
    (dict(eps_init=1.5), ValueError, "probability"),
    (dict(eps_end=-0.1), ValueError, "probability"),
    (dict(eps_init="1"), TypeError, "eps_init"),
    (dict(eps_init=float("nan")), ValueError, "finite"),
    (dict(annealing_num_steps=-1), ValueError, "annealing_num_steps"),
    (dict(annealing_num_steps=2.0), TypeError, "annealing_num_steps"),
    (dict(action_key=3), TypeError, "action_key"),
])
def test_egreedy_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        EGreedyModule(OneHot(4), **kwargs)


def test_decreasing_schedule_error_is_also_a_runtime_error():
    with pytest.raises(RuntimeError):  # torchrl raises RuntimeError here
        AdditiveGaussianModule(bounded(), sigma_init=0.1, sigma_end=1.0)


def test_int_init_values_are_accepted_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = EGreedyModule(OneHot(4), eps_init=1, eps_end=0)
    assert module.eps.dtype is torch.float32 and module.eps.item() == 1.0


# ----------------------------------------------------------------------------- gating
@pytest.mark.parametrize("kind, active", [
    (None, True), (InteractionType.RANDOM, True), ("random", True),
    (InteractionType.DETERMINISTIC, False), (InteractionType.MODE, False), (InteractionType.MEAN, False),
])
def test_exploration_is_gated_by_the_exploration_type(kind, active):
    modules = [
        EGreedyModule(Bounded(-1.0, 1.0, shape=(2,)), eps_init=1.0, eps_end=1.0),
        AdditiveGaussianModule(Unbounded(2), sigma_init=1.0, sigma_end=1.0),
        OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False),
    ]
    for module in modules:
        td = TensorDict({"action": torch.full((64, 2), 5.0), "is_init": torch.ones(64, 1, dtype=torch.bool)}, [64])
        if kind is None:
            out = module(td)
        else:
            with set_interaction_type(kind):
                out = module(td)
        changed = not torch.equal(out["action"], torch.full((64, 2), 5.0))
        assert changed is active, (type(module).__name__, kind)
        if isinstance(module, OrnsteinUhlenbeckProcessModule):
            assert ("_ou_steps" in out.keys()) is active  # OU writes nothing when inactive


# ----------------------------------------------------------------------------- ε-greedy
@pytest.mark.parametrize("spec", [
    OneHot(4), OneHot(4, dtype=torch.int64), Categorical(5), MultiOneHot([2, 3]), MultiCategorical([3, 2]),
    Binary(3), Bounded(-1.0, 1.0, shape=(2,)), Categorical(3, shape=(2,)),
], ids=lambda s: repr(s).split("(")[0])
def test_egreedy_random_actions_stay_in_the_spec(spec):
    torch.manual_seed(0)
    action = spec.rand((500,))
    out = EGreedyModule(spec, eps_init=1.0, eps_end=1.0)(TensorDict({"action": action}, [500]))["action"]
    assert out.shape == action.shape and out.dtype == action.dtype
    assert spec.is_in(out)
    assert not torch.equal(out, action)


def test_egreedy_eps_zero_is_the_identity():
    action = torch.randn(10, 2)
    out = EGreedyModule(bounded(2), eps_init=0.0, eps_end=0.0)(TensorDict({"action": action.clone()}, [10]))
    assert torch.equal(out["action"], action)


def test_egreedy_replaces_a_fraction_eps_of_steps_whole():
    torch.manual_seed(1)
    n, eps = 20_000, 0.3
    td = TensorDict({"action": torch.full((n, 3), 5.0)}, [n])  # outside the spec: any replacement shows
    out = EGreedyModule(bounded(3), eps_init=eps, eps_end=eps)(td)["action"]
    replaced = out != 5.0
    assert torch.equal(replaced.all(-1), replaced.any(-1))  # one coin per step: rows are replaced whole
    fraction = replaced.all(-1).float().mean().item()
    assert abs(fraction - eps) < 4 * math.sqrt(eps * (1 - eps) / n)


def test_egreedy_one_coin_per_element_of_the_nested_action_tensordict():
    torch.manual_seed(2)
    td = TensorDict({"agents": TensorDict({"action": torch.full((4000, 3, 2), 5.0)}, [4000, 3])}, [4000])
    explore = EGreedyModule(bounded(2), eps_init=0.5, eps_end=0.5, action_key=("agents", "action"))
    replaced = explore(td)["agents", "action"] != 5.0
    assert torch.equal(replaced.all(-1), replaced.any(-1))
    per_agent = replaced.all(-1).float().mean(0)
    assert ((per_agent - 0.5).abs() < 0.04).all()
    assert replaced.all(-1).float().std(-1).mean() > 0  # agents of one step draw separately


def test_egreedy_uniform_random_actions():
    torch.manual_seed(3)
    action = torch.zeros(40_000, dtype=torch.long)
    out = EGreedyModule(Categorical(4), eps_init=1.0, eps_end=1.0)(TensorDict({"action": action}, [40_000]))
    counts = torch.bincount(out["action"], minlength=4).float() / 40_000
    assert ((counts - 0.25).abs() < 0.01).all()


MASKED_SPECS = [OneHot(5), Categorical(5), MultiOneHot([2, 3]), MultiCategorical([2, 3])]


def random_mask(n: int, sizes: list[int]) -> torch.Tensor:
    """A random mask over blocks of `sizes`, with at least one allowed value per block."""
    blocks = []
    for size in sizes:
        block = torch.rand(n, size) < 0.5
        block[:, 0] |= ~block.any(-1)
        blocks.append(block)
    return torch.cat(blocks, -1)


@pytest.mark.parametrize("spec", MASKED_SPECS, ids=lambda s: repr(s).split("(")[0])
def test_egreedy_never_draws_a_masked_action(spec):
    torch.manual_seed(4)
    n = 3000
    mask = random_mask(n, [5] if isinstance(spec, (OneHot, Categorical)) else [2, 3])
    explore = EGreedyModule(spec, eps_init=1.0, eps_end=1.0, action_mask_key="action_mask")
    out = explore(TensorDict({"action": spec.rand((n,)), "action_mask": mask}, [n]))["action"]
    checker = spec.expand(n, *spec.shape)
    checker.update_mask(mask)
    assert checker.is_in(out)
    unmasked = spec.expand(n, *spec.shape)
    assert unmasked.is_in(out)
    assert explore.spec["action"].mask is None and spec.mask is None  # no spec was changed


def test_egreedy_masked_draws_are_uniform_among_allowed():
    torch.manual_seed(5)
    n = 30_000
    mask = torch.tensor([True, False, True, True, False]).expand(n, 5)
    explore = EGreedyModule(Categorical(5), eps_init=1.0, eps_end=1.0, action_mask_key="action_mask")
    out = explore(TensorDict({"action": torch.zeros(n, dtype=torch.long), "action_mask": mask}, [n]))["action"]
    counts = torch.bincount(out, minlength=5).float() / n
    assert counts[1] == 0 and counts[4] == 0
    assert ((counts[[0, 2, 3]] - 1 / 3).abs() < 0.015).all()


def test_egreedy_does_not_share_or_change_the_users_spec():
    spec = OneHot(4)
    explore = EGreedyModule(spec, action_mask_key="mask")
    assert explore.spec["action"] is not spec
    td = TensorDict({"action": spec.rand((6,)), "mask": torch.tensor([False, True, True, False]).expand(6, 4)}, [6])
    explore(td)
    assert spec.mask is None and explore.spec["action"].mask is None


def test_egreedy_mask_errors():
    explore = EGreedyModule(Categorical(3), eps_init=1.0, eps_end=1.0, action_mask_key="mask")
    with pytest.raises(KeyError, match="mask"):
        explore(TensorDict({"action": torch.zeros(2, dtype=torch.long)}, [2]))
    with pytest.raises(TypeError, match="bool"):
        explore(TensorDict({"action": torch.zeros(2, dtype=torch.long), "mask": torch.ones(2, 3)}, [2]))
    empty = torch.tensor([[True, False, False], [False, False, False]])
    with pytest.raises(ValueError, match="forbids every action"):
        explore(TensorDict({"action": torch.zeros(2, dtype=torch.long), "mask": empty}, [2]))
    with pytest.raises(TypeError, match="maskable"):
        EGreedyModule(Binary(3), action_mask_key="mask")
    with pytest.raises(TypeError, match="maskable"):
        EGreedyModule(bounded(), action_mask_key="mask")


def test_egreedy_spec_errors_and_late_spec():
    explore = EGreedyModule(None)
    td = TensorDict({"action": torch.zeros(3, 4, dtype=torch.long)}, [3])
    with pytest.raises(RuntimeError, match="spec must be provided"):
        explore(td)
    explore.spec = OneHot(4)
    assert (explore(td)["action"].sum(-1) == 1).all()  # eps=1: every (invalid) zero row is replaced
    with pytest.raises(ValueError, match="Action spec shape does not match"):
        EGreedyModule(OneHot(5))(td)
    with pytest.raises(TypeError, match="spec"):
        EGreedyModule("one_hot")
    with pytest.raises(KeyError, match="action"):
        EGreedyModule(Composite(other=OneHot(4)))
    with pytest.raises(KeyError, match="no action"):
        EGreedyModule(OneHot(4))(TensorDict({}, [3]))


def test_egreedy_expands_an_unbatched_spec_and_keeps_the_action_dtype():
    torch.manual_seed(6)
    td = TensorDict({"action": OneHot(4, dtype=torch.int64).rand((2, 5))}, [2, 5])
    out = EGreedyModule(OneHot(4), eps_init=1.0, eps_end=1.0)(td)["action"]
    assert out.dtype is torch.int64 and out.shape == (2, 5, 4) and (out.sum(-1) == 1).all()


def test_egreedy_after_a_qvalue_actor():
    torch.manual_seed(7)
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
    policy = TensorDictSequential(actor, EGreedyModule(OneHot(4), eps_init=0.5, eps_end=0.5))
    td = policy(TensorDict({"observation": torch.randn(1000, 3)}, [1000]))
    greedy = td["action_value"].argmax(-1)
    taken = td["action"].argmax(-1)
    assert (td["action"].sum(-1) == 1).all()
    assert 0.55 < (taken == greedy).float().mean() < 0.70  # 1 - eps * 3/4 = 0.625
    with set_interaction_type("deterministic"):
        td = policy(TensorDict({"observation": torch.randn(1000, 3)}, [1000]))
    assert torch.equal(td["action"].argmax(-1), td["action_value"].argmax(-1))


def test_egreedy_is_a_copyable_tensordict_module():
    explore = EGreedyModule(OneHot(4), action_mask_key="mask")
    explore.step(10)
    assert isinstance(explore, TensorDictModuleBase)
    assert explore.in_keys == ["action", "mask"] and explore.out_keys == ["action"]
    clone = copy.deepcopy(explore)
    assert clone.eps.item() == explore.eps.item() and clone.spec == explore.spec
    fresh = EGreedyModule(OneHot(4), action_mask_key="mask")
    fresh.load_state_dict(explore.state_dict())
    assert fresh.eps.item() == explore.eps.item()


# ----------------------------------------------------------------------------- additive Gaussian
def test_additive_gaussian_projects_into_the_spec():
    torch.manual_seed(8)
    explore = AdditiveGaussianModule(bounded(2), sigma_init=10.0, sigma_end=10.0)
    out = explore(TensorDict({"action": torch.zeros(1000, 2)}, [1000]))["action"]
    assert bounded(2).is_in(out)
    assert (out.abs() == 1.0).float().mean() > 0.8  # most draws clamp at a bound


def test_additive_gaussian_noise_statistics():
    torch.manual_seed(9)
    explore = AdditiveGaussianModule(Unbounded(4), sigma_init=0.5, sigma_end=0.1, mean=1.0, std=2.0)
    out = explore(TensorDict({"action": torch.zeros(50_000, 4)}, [50_000]))["action"]
    assert out.mean().item() == pytest.approx(0.5 * 1.0, abs=0.01)
    assert out.std().item() == pytest.approx(0.5 * 2.0, abs=0.01)


def test_additive_gaussian_spec_rules():
    lazy = AdditiveGaussianModule()
    td = TensorDict({"action": torch.zeros(3, 2)}, [3])
    with pytest.raises(RuntimeError, match="spec has not been set"):
        lazy(td)
    lazy.spec = bounded(2)
    assert bounded(2).is_in(lazy(td)["action"])
    with pytest.raises(TypeError, match="continuous"):
        AdditiveGaussianModule(OneHot(4))
    with pytest.raises(ValueError, match="std"):
        AdditiveGaussianModule(bounded(), std=-1.0)
    with pytest.raises(TypeError, match="safe"):
        AdditiveGaussianModule(bounded(), safe="yes")


def test_additive_gaussian_keeps_gradients_and_nested_keys():
    action = torch.zeros(5, 2, requires_grad=True)
    td = TensorDict({"agent": TensorDict({"action": action}, [5])}, [5])
    out = AdditiveGaussianModule(Unbounded(2), action_key=("agent", "action"))(td)["agent", "action"]
    out.sum().backward()
    assert torch.equal(action.grad, torch.ones(5, 2))


# ----------------------------------------------------------------------------- Ornstein-Uhlenbeck
def ou_td(n: int = 4, init: bool = True) -> TensorDict:
    return TensorDict({"action": torch.zeros(n, 2), "is_init": torch.full((n, 1), init)}, [n])


def test_ou_writes_its_state_and_counts_steps():
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False)
    td = ou(ou_td())
    assert td["_ou_prev_noise"].shape == (4, 2) and td["_ou_steps"].dtype is torch.long
    td["is_init"] = torch.zeros(4, 1, dtype=torch.bool)
    for _ in range(3):
        td = ou(td)
    assert td["_ou_steps"].tolist() == [4, 4, 4, 4]
    assert ou.out_keys == ["action", "_ou_prev_noise", "_ou_steps"] and ou.in_keys == ["action"]
    assert ou.spec["_ou_prev_noise"] is None and ou.spec["_ou_steps"] is None


def test_ou_first_step_follows_the_formula():
    theta, mu, sigma, dt, eps = 0.3, 0.5, 0.2, 0.05, 0.8
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), eps_init=eps, eps_end=0.1, theta=theta, mu=mu,
                                        sigma=sigma, dt=dt, safe=False)
    torch.manual_seed(10)
    td = ou(ou_td())
    torch.manual_seed(10)
    z = torch.randn(4, 2)
    noise = theta * mu * dt + sigma * math.sqrt(dt) * z
    assert torch.allclose(td["_ou_prev_noise"], noise)
    assert torch.allclose(td["action"], eps * noise)


def test_ou_is_temporally_correlated_and_sigma_anneals():
    torch.manual_seed(11)
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(1), theta=0.0, sigma=1.0, sigma_min=0.1, n_steps_annealing=10,
                                        dt=1.0, safe=False, eps_init=1.0, eps_end=1.0)
    td = ou(ou_td(20_000))
    td["is_init"] = torch.zeros(20_000, 1, dtype=torch.bool)
    first = td["_ou_prev_noise"].clone()
    td = ou(td)  # steps=1: sigma_t = 1 - 0.9 * 1 / 10 = 0.91
    increment = td["_ou_prev_noise"] - first
    assert increment.std().item() == pytest.approx(0.91, rel=0.03)
    for _ in range(20):
        td = ou(td)
    before = td["_ou_prev_noise"].clone()
    td = ou(td)
    assert (td["_ou_prev_noise"] - before).std().item() == pytest.approx(0.1, rel=0.03)  # floored at sigma_min


def test_ou_restarts_where_is_init():
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False)
    td = ou(ou_td())
    td = ou(td.set("is_init", torch.zeros(4, 1, dtype=torch.bool)))
    before = td["_ou_prev_noise"].clone()
    restart = torch.tensor([True, False, True, False])
    torch.manual_seed(12)
    td = ou(td.set("is_init", restart.unsqueeze(-1)).set("action", torch.zeros(4, 2)))
    assert td["_ou_steps"].tolist() == [1, 3, 1, 3]
    torch.manual_seed(12)
    z = torch.randn(4, 2)
    fresh = 0.15 * 0.0 * 0.01 + 0.2 * math.sqrt(0.01) * z  # from a zero state
    assert torch.allclose(td["_ou_prev_noise"][restart], fresh[restart])
    kept = before[~restart] + 0.15 * (0.0 - before[~restart]) * 0.01 + 0.2 * math.sqrt(0.01) * z[~restart]
    assert torch.allclose(td["_ou_prev_noise"][~restart], kept)


@pytest.mark.parametrize("is_init_shape", [(4,), (4, 1), (4, 3)])
def test_ou_is_init_shapes(is_init_shape):
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False)
    td = TensorDict({"action": torch.zeros(4, 2), "is_init": torch.ones(is_init_shape, dtype=torch.bool)}, [4])
    assert ou(td)["_ou_steps"].tolist() == [1, 1, 1, 1]
    nested = TensorDict({"agents": TensorDict({"action": torch.zeros(4, 3, 2)}, [4, 3]),
                         "is_init": torch.ones(4, 1, dtype=torch.bool)}, [4])
    out = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False, action_key=("agents", "action"))(nested)
    assert out["_ou_steps"].shape == (4, 3)


def test_ou_is_init_of_the_wrong_shape_is_refused():
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False, action_key=("agents", "action"))
    td = TensorDict({"agents": TensorDict({"action": torch.zeros(4, 3, 2)}, [4, 3]),
                     "is_init": torch.ones(4, 2, dtype=torch.bool)}, [4])  # 2 flags for 3 agents
    with pytest.raises(ValueError, match="is_init"):
        ou(td)


def test_ou_warns_without_is_init():
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), safe=False)
    with pytest.warns(UserWarning, match="InitTracker"):
        ou(TensorDict({"action": torch.zeros(3, 2)}, [3]))


def test_ou_projection_and_spec_rules():
    torch.manual_seed(13)
    safe = OrnsteinUhlenbeckProcessModule(bounded(2), sigma=50.0)
    assert bounded(2).is_in(safe(ou_td(500))["action"])
    unsafe = OrnsteinUhlenbeckProcessModule(bounded(2), sigma=50.0, safe=False)
    assert unsafe(ou_td(500))["action"].abs().max() > 1.0
    with pytest.raises(ArgumentError, match="spec cannot be None"):
        OrnsteinUhlenbeckProcessModule(None)
    assert OrnsteinUhlenbeckProcessModule(None, safe=False)(ou_td())["action"].shape == (4, 2)
    with pytest.raises(ValueError, match="dt"):
        OrnsteinUhlenbeckProcessModule(bounded(), dt=0.0)
    with pytest.raises(TypeError, match="continuous"):
        OrnsteinUhlenbeckProcessModule(Categorical(3))


@pytest.mark.parametrize("x0", [torch.tensor([1.0, -1.0]), np.array([1.0, -1.0])], ids=["tensor", "numpy"])
def test_ou_x0_and_state_dict(x0):
    ou = OrnsteinUhlenbeckProcessModule(Unbounded(2), x0=x0, theta=0.0, sigma=0.0, safe=False)
    td = ou(ou_td())
    assert td["action"].dtype is torch.float32  # torchrl: float64 with a numpy x0
    assert torch.allclose(td["action"], torch.tensor([1.0, -1.0]).expand(4, 2))  # eps * (0 + x0)
    assert torch.allclose(td["_ou_prev_noise"], torch.zeros(4, 2))
    assert sorted(ou.state_dict()) == ["eps", "eps_end", "eps_init"]


def test_specs_follow_the_module_device():
    modules = [EGreedyModule(OneHot(4)), AdditiveGaussianModule(Unbounded(3)),
               OrnsteinUhlenbeckProcessModule(Unbounded(3), safe=False)]
    outer = torch.nn.ModuleList(modules).to("meta")  # the call is made on an enclosing module
    for module in outer:
        assert module.spec["action"].device.type == "meta" and module._action_spec.device.type == "meta"
        assert all(buffer.device.type == "meta" for buffer in module.buffers())


def test_buffers_follow_the_action_device():
    explore = EGreedyModule(OneHot(4), eps_init=1.0, eps_end=1.0)  # buffers on the CPU
    td = TensorDict({"action": torch.zeros(3, 4, dtype=torch.long, device="meta")}, [3])
    out = explore(td)["action"]  # torchrl: RuntimeError (action and module on different devices)
    assert out.device.type == "meta" and out.shape == (3, 4)


# ----------------------------------------------------------------------------- wrappers
def policy_with_spec() -> SafeModule:
    return SafeModule(torch.nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"], spec=bounded(2))


def test_additive_gaussian_wrapper_works():
    torch.manual_seed(14)
    wrapper = AdditiveGaussianWrapper(policy_with_spec(), sigma_init=2.0, sigma_end=0.5, annealing_num_steps=3)
    assert isinstance(wrapper, TensorDictSequential) and isinstance(wrapper.td_module, SafeModule)
    td = TensorDict({"observation": torch.randn(500, 3)}, [500])
    out = wrapper(td)["action"]
    assert bounded(2).is_in(out)
    with set_interaction_type("deterministic"):
        plain = wrapper(td.clone())["action"]
    assert torch.allclose(plain, wrapper.td_module(td.clone())["action"])
    wrapper.step()
    assert wrapper.sigma.item() == pytest.approx(1.5) and wrapper.sigma_init.item() == 2.0
    assert wrapper.exploration_module.spec["action"] == bounded(2)


def test_additive_gaussian_wrapper_spec_rules():
    bare = SafeModule(torch.nn.Linear(3, 2), in_keys=["observation"], out_keys=["action"])
    with pytest.raises(ArgumentError, match="spec"):
        AdditiveGaussianWrapper(bare)
    unsafe = AdditiveGaussianWrapper(bare, sigma_init=50.0, safe=False)
    assert unsafe(TensorDict({"observation": torch.randn(100, 3)}, [100]))["action"].abs().max() > 1.0
    explicit = AdditiveGaussianWrapper(bare, spec=bounded(2))
    assert bounded(2).is_in(explicit(TensorDict({"observation": torch.randn(100, 3)}, [100]))["action"])
    with pytest.raises(TypeError, match="tensordict policy"):
        AdditiveGaussianWrapper(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="action key"):
        AdditiveGaussianWrapper(policy_with_spec(), action_key="other")


def test_ou_wrapper_works():
    torch.manual_seed(15)
    wrapper = OrnsteinUhlenbeckProcessWrapper(policy_with_spec(), annealing_num_steps=4, sigma=5.0)
    td = TensorDict({"observation": torch.randn(50, 3), "is_init": torch.ones(50, 1, dtype=torch.bool)}, [50])
    out = wrapper(td)
    assert bounded(2).is_in(out["action"]) and out["_ou_steps"].tolist() == [1] * 50
    wrapper.step(2)
    assert wrapper.eps.item() == pytest.approx(0.55) and wrapper.eps_end.item() == pytest.approx(0.1)
    with pytest.warns(DeprecationWarning, match="action_key"):
        legacy = OrnsteinUhlenbeckProcessWrapper(policy_with_spec(), key="action")
    assert legacy.action_key == "action"


def test_importing_rldsl_changes_no_global_state():
    # Third-party imports are made first: gymnasium adds a warnings filter of its own when imported.
    code = """
import torch, warnings, gymnasium, tensordict.nn
try:
    from tensordict.nn import interaction_type
except ImportError:  # tensordict 0.14
    from tensordict.nn.probabilistic import interaction_type
try:
    from tensordict.nn import skip_existing
except ImportError:
    skip_existing = lambda: None
def snapshot():
    return (torch.get_default_dtype(), torch.distributions.Distribution._validate_args, interaction_type(),
            skip_existing(), torch.get_num_threads(), torch.is_grad_enabled(), list(warnings.filters))
before = snapshot()
import rldsl.modules, rldsl.modules.tensordict_module.exploration, rldsl.modules.tensordict_module.qvalue
assert snapshot() == before, (snapshot(), before)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
