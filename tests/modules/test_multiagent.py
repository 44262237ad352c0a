"""MultiAgentMLP: shapes and the exact semantics of the four (share_params, centralized) layouts,
argument and input errors, a plain-module state (state_dict, devices, dtypes, seeding, gradients),
and the multi-agent example compiled end to end."""

from __future__ import annotations

import copy
import doctest
import io
import pickle
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import rldsl
from rldsl import cli
from rldsl.modules import MLP, MultiAgentMLP

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "multiagent" / "policy.rlm"
LAYOUTS = [(True, False), (True, True), (False, False), (False, True)]
LAYOUT_IDS = ["shared-decentralised", "shared-centralised", "own-decentralised", "own-centralised"]


def make(share: bool, centralized: bool, *, n_in: int = 5, n_out: int = 2, n_agents: int = 3, **kwargs) -> MultiAgentMLP:
    kwargs.setdefault("depth", 1)
    kwargs.setdefault("num_cells", 6)
    return MultiAgentMLP(n_in, n_out, n_agents, centralized=centralized, share_params=share, **kwargs)


def agent_mlp(net: MultiAgentMLP, agent: int) -> MLP:
    """A stand-alone MLP holding a copy of ``agent``'s weights (the shared ones when shared)."""
    in_features = net.n_agent_inputs * (net.n_agents if net.centralized else 1)
    mlp = MLP(in_features=in_features, out_features=net.n_agent_outputs, depth=net.depth,
              num_cells=net.num_cells, activation_class=net.activation_class, **net.mlp_kwargs)
    state = {name.removeprefix("params."): value if net.share_params else value[agent]
             for name, value in net.state_dict().items()}
    mlp.load_state_dict(state)
    return mlp.to(next(net.parameters()).dtype)


def test_docstring_examples() -> None:
    import rldsl.modules.multiagent

    torch.manual_seed(0)
    result = doctest.testmod(rldsl.modules.multiagent, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
@given(batch=st.lists(st.integers(1, 4), max_size=3), n_agents=st.integers(1, 4),
       n_in=st.integers(1, 5), n_out=st.integers(1, 3))
def test_output_shape_for_any_batch(share: bool, centralized: bool, batch: list[int], n_agents: int,
                                    n_in: int, n_out: int) -> None:
    net = make(share, centralized, n_in=n_in, n_out=n_out, n_agents=n_agents)
    out = net(torch.randn(*batch, n_agents, n_in))
    assert out.shape == (*batch, n_agents, n_out)


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_defaults_give_one_linear_layer_per_agent_stacked_when_not_shared(share: bool, centralized: bool) -> None:
    net = MultiAgentMLP(5, 2, 3, centralized=centralized, share_params=share)
    fan_in = 15 if centralized else 5
    lead = () if share else (3,)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {
        "params.0.weight": (*lead, 2, fan_in), "params.0.bias": (*lead, 2)}
    assert net(torch.randn(4, 3, 5)).shape == (4, 3, 2)


# ---------------------------------------------------------------------------------------------
# Semantics


def test_shared_decentralised_applies_the_one_mlp_to_each_agent() -> None:
    net = make(True, False)
    x = torch.randn(4, 3, 5)
    mlp = agent_mlp(net, 0)
    out = net(x)
    for agent in range(3):
        torch.testing.assert_close(out[:, agent], mlp(x[:, agent]))


def test_shared_centralised_gives_every_agent_the_mlp_of_the_flattened_input() -> None:
    net = make(True, True)
    x = torch.randn(4, 3, 5)
    out = net(x)
    expected = agent_mlp(net, 0)(x.reshape(4, 15))
    for agent in range(3):
        assert torch.equal(out[:, agent], out[:, 0])
        torch.testing.assert_close(out[:, agent], expected)


def test_own_decentralised_agent_i_runs_its_own_mlp_on_its_own_input() -> None:
    net = make(False, False)
    x = torch.randn(4, 3, 5)
    out = net(x)
    for agent in range(3):
        torch.testing.assert_close(out[:, agent], agent_mlp(net, agent)(x[:, agent]))
    changed = x.clone()
    changed[:, 1] += 1.0
    again = net(changed)
    assert torch.equal(again[:, 0], out[:, 0]) and torch.equal(again[:, 2], out[:, 2])
    assert not torch.allclose(again[:, 1], out[:, 1])
    same_input = x[:, :1].expand(4, 3, 5)  # one input for all: the agents still answer differently
    answers = net(same_input)
    assert not torch.allclose(answers[:, 0], answers[:, 1])


def test_own_centralised_agents_see_every_input_and_answer_differently() -> None:
    net = make(False, True)
    x = torch.randn(4, 3, 5)
    out = net(x)
    for agent in range(3):
        torch.testing.assert_close(out[:, agent], agent_mlp(net, agent)(x.reshape(4, 15)))
    assert not torch.allclose(out[:, 0], out[:, 1]) and not torch.allclose(out[:, 1], out[:, 2])
    changed = x.clone()
    changed[:, 2] += 1.0
    again = net(changed)
    for agent in range(3):
        assert not torch.allclose(again[:, agent], out[:, agent])


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_without_batch_dims(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    x = torch.randn(3, 5)
    torch.testing.assert_close(net(x), net(x.unsqueeze(0))[0])


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_several_inputs_are_concatenated_on_the_last_dim(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    x = torch.randn(2, 3, 5)
    assert torch.equal(net(x[..., :2], x[..., 2:]), net(x))


def test_independent_initialisation_and_reset_per_agent() -> None:
    net = make(False, False)
    weight = net.params.get_submodule("0").weight
    assert not torch.equal(weight[0], weight[1]) and not torch.equal(weight[1], weight[2])
    before = weight.detach().clone()
    torch.manual_seed(3)
    net.reset_parameters()
    assert weight is net.params.get_submodule("0").weight  # re-initialised in place
    assert not torch.equal(weight, before) and not torch.equal(weight[0], weight[1])
    after = weight.detach().clone()
    torch.manual_seed(3)
    net.reset_parameters()
    assert torch.equal(weight, after)


def test_eval_mode_reaches_the_per_agent_mlp() -> None:
    net = make(False, False, dropout=0.5)
    x = torch.ones(8, 3, 5)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    torch.manual_seed(0)
    assert not torch.equal(net(x), net(x))


# ---------------------------------------------------------------------------------------------
# Errors


def test_centralized_and_share_params_are_required() -> None:
    with pytest.raises(TypeError, match="centralized=True or centralized=False"):
        MultiAgentMLP(5, 2, 3, share_params=True)
    with pytest.raises(TypeError, match="share_params=True or share_params=False"):
        MultiAgentMLP(5, 2, 3, centralized=True)
    with pytest.raises(TypeError, match="centralized must be True or False"):
        MultiAgentMLP(5, 2, 3, centralized=1, share_params=True)


def test_centralised_is_an_alias() -> None:
    net = MultiAgentMLP(5, 2, 3, centralised=True, share_params=False)
    assert net.centralized is True and net.params.get_submodule("0").weight.shape == (3, 2, 15)
    with pytest.raises(TypeError, match="pass one"):
        MultiAgentMLP(5, 2, 3, centralized=False, centralised=True, share_params=False)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="n_agents must be a positive int"):
        MultiAgentMLP(5, 2, 0, centralized=False, share_params=False)
    with pytest.raises(TypeError, match="n_agent_outputs"):
        MultiAgentMLP(5, 2.5, 3, centralized=False, share_params=False)
    with pytest.raises(TypeError, match="sets the MLP's out_features itself"):
        MultiAgentMLP(5, 2, 3, centralized=False, share_params=False, out_features=4)


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_a_wrong_input_shape_names_the_expected_and_the_given_shape(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    with pytest.raises(ValueError, match=r"\[\*B, 3, 5\], but got \[4, 2, 5\]"):
        net(torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match=r"\[\*B, 3, 5\], but got \[4, 3, 6\]"):
        net(torch.randn(4, 3, 6))
    with pytest.raises(ValueError, match=r"but got \[5\]"):
        net(torch.randn(5))
    with pytest.raises(TypeError, match="at least one input"):
        net()


# ---------------------------------------------------------------------------------------------
# An ordinary module: state, devices, dtypes, seeding, gradients


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_state_dict_round_trip_with_weights_only(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = make(share, centralized)
    other.load_state_dict(state)
    x = torch.randn(4, 3, 5)
    assert torch.equal(other(x), net(x))
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert [n for n, _ in net.named_parameters()] == list(net.state_dict())


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_seeded_construction_is_reproducible(share: bool, centralized: bool) -> None:
    torch.manual_seed(4)
    one = make(share, centralized)
    torch.manual_seed(4)
    two = make(share, centralized)
    torch.manual_seed(5)
    other = make(share, centralized)
    for (name, a), b, c in zip(one.state_dict().items(), two.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b), name
        assert not torch.equal(a, c), name


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_gradients_reach_every_agent_and_an_optimizer_step_changes_them(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    net(torch.randn(4, 3, 5)).square().sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        per_agent = parameter.grad.reshape(-1) if share else parameter.grad.flatten(1)
        assert (per_agent.abs().sum(-1) > 0).all(), name
    before = [p.detach().clone() for p in net.parameters()]
    torch.optim.SGD(net.parameters(), lr=0.1).step()
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_double_meta_and_pickling(share: bool, centralized: bool) -> None:
    net = make(share, centralized)
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    double = copy.deepcopy(net).double()
    assert double(x).dtype == torch.float64
    torch.testing.assert_close(double(x), net(x.float()).double(), rtol=1e-5, atol=1e-6)
    assert all(p.dtype == torch.float64 for p in double.parameters())
    on_meta = make(share, centralized, device="meta")
    assert all(p.is_meta for p in on_meta.parameters())
    out = on_meta(torch.empty(4, 3, 5, device="meta"))
    assert out.is_meta and out.shape == (4, 3, 2)
    moved = copy.deepcopy(net).to("meta")
    assert moved(torch.empty(2, 3, 5, device="meta")).shape == (2, 3, 2)
    copied = pickle.loads(pickle.dumps(net))
    assert torch.equal(copied(x.float()), net(x.float()))


def test_repr_shows_the_agents_and_the_layout() -> None:
    text = repr(make(False, True))
    assert "n_agents=3" in text and "share_params=False" in text and "centralized=True" in text
    assert "3 MLPs, one per agent" in text and "Linear(in_features=15, out_features=6" in text
    assert "one MLP shared by every agent" in repr(make(True, False))


# ---------------------------------------------------------------------------------------------
# The multi-agent example, compiled


def test_the_multiagent_example_compiles_and_runs_every_module() -> None:
    program = rldsl.compile(POLICY)
    assert list(program) == ["agent_q", "policy", "noisy"]
    net = program["agent_q"].module
    assert isinstance(net, MultiAgentMLP) and net.share_params and not net.centralized
    assert net.n_agents == 3 and net.n_agent_inputs == 8 and net.n_agent_outputs == 4
    torch.manual_seed(0)
    for name in program:
        td = program.spec_random_input(name, (64,))
        with torch.no_grad():
            out = program[name](td)
        for key in program.writes(name):
            value = out.get(key)
            assert tuple(value.shape) == (64, *program.spec(key).shape), (name, key)
            assert program.spec(key).is_in(value), (name, key)


def test_spec_random_masks_allow_an_action_in_every_row() -> None:
    program = rldsl.compile(POLICY)
    torch.manual_seed(0)
    mask = program.spec_random_input("policy", (512,)).get(("agents", "action_mask"))
    assert mask.dtype == torch.bool and mask.shape == (512, 3, 4)
    assert mask.any(-1).all() and not mask.all()


def test_the_multiagent_example_compiles_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compile", str(POLICY), "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "agent_q: TensorDictModule" in out and "MultiAgentMLP" in out
    assert "forward pass: ok (3 modules" in out
