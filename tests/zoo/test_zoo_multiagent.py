"""The multi-agent zoo (``examples/zoo/*_vmas*.rlm``): torchrl's ``sota-implementations/multiagent``
scripts (MAPPO/IPPO, MADDPG/IDDPG, MASAC continuous and discrete, IQL, QMIX, VDN) on VMAS navigation
sizes (3 agents, an 18-d observation, a 2-d force in [-1, 1] or 5 discrete actions).

Each file checks without a diagnostic, compiles, runs every declaration once on spec-random input, and
has torchrl's parameter counts (written out of the layer sizes: a MultiAgentMLP of depth 2 and 256 cells
is ``in*256 + 256 + 256*256 + 256 + 256*out + out``, times ``n_agents`` when parameters are not shared,
with ``in`` times ``n_agents`` when centralised) and state-dict names (MultiAgentMLP keeps its weights in
a TensorDictParams ``params``, stacked on a leading agent dim when not shared; the MLP's Linear layers
are its entries 0, 2 and 4). torchrl is never imported.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import torch

import rldsl
from rldsl.modules import ExplorationType, set_exploration_type
from rldsl.templates import find_template

ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"

N_AGENTS, OBS, ACT, N_ACTIONS = 3, 18, 2, 5


@cache
def _program(stem: str):
    return rldsl.compile(ZOO / f"{stem}.rlm")


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


# --- parameter counts, written out of the layer sizes -------------------------------------------

SHARED_POLICY = 18 * 256 + 256 + 256 * 256 + 256 + 256 * 4 + 4                  # loc and scale of 2
SHARED_Q = 18 * 256 + 256 + 256 * 256 + 256 + 256 * 5 + 5                       # 5 action values
CENTRAL_SHARED_V = 3 * 18 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1           # 54 inputs
LOCAL_SHARED_V = 18 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1
HET_DDPG_POLICY = 3 * (18 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2)          # one MLP per agent
HET_CENTRAL_Q = 3 * (3 * (18 + 2) * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1)  # 60 inputs each
HET_LOCAL_Q = 3 * ((18 + 2) * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1)
CENTRAL_SHARED_Q = 3 * (18 + 2) * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1
CENTRAL_SHARED_ACTION_VALUES = 3 * 18 * 256 + 256 + 256 * 256 + 256 + 256 * 5 + 5
QMIX = (54 * 32 * 3 + 32 * 3) + (54 * 32 + 32) + (54 * 32 + 32) + (54 * 32 + 32 + 32 * 1 + 1)

COUNTS = {
    "mappo_vmas": {"actor_net": SHARED_POLICY, "policy": SHARED_POLICY, "critic": CENTRAL_SHARED_V},
    "ippo_vmas": {"actor_net": SHARED_POLICY, "policy": SHARED_POLICY, "critic": LOCAL_SHARED_V},
    "maddpg_vmas": {"actor_net": HET_DDPG_POLICY, "policy": HET_DDPG_POLICY, "policy_explore": HET_DDPG_POLICY,
                    "critic": HET_CENTRAL_Q},
    "iddpg_vmas": {"actor_net": HET_DDPG_POLICY, "policy": HET_DDPG_POLICY, "policy_explore": HET_DDPG_POLICY,
                   "critic": HET_LOCAL_Q},
    "masac_vmas": {"actor_net": SHARED_POLICY, "policy": SHARED_POLICY, "critic": CENTRAL_SHARED_Q},
    "masac_vmas_discrete": {"actor_net": SHARED_Q, "policy": SHARED_Q, "critic": CENTRAL_SHARED_ACTION_VALUES},
    "iql_vmas": {"agent_q": SHARED_Q, "qnet": SHARED_Q, "qnet_explore": SHARED_Q},
    "qmix_vmas": {"agent_q": SHARED_Q, "qnet": SHARED_Q, "qnet_explore": SHARED_Q, "mixer": QMIX},
    "vdn_vmas": {"agent_q": SHARED_Q, "qnet": SHARED_Q, "qnet_explore": SHARED_Q, "mixer": 0},
}
STEMS = sorted(COUNTS)


def test_the_counts_are_the_sizes_torchrl_builds() -> None:
    """The written-out sums, evaluated (so that a typo in one of them cannot hide)."""
    assert (SHARED_POLICY, SHARED_Q, CENTRAL_SHARED_V, LOCAL_SHARED_V) == (71_684, 71_941, 80_129, 70_913)
    assert (HET_DDPG_POLICY, HET_CENTRAL_Q, HET_LOCAL_Q) == (213_510, 244_995, 214_275)
    assert (CENTRAL_SHARED_Q, CENTRAL_SHARED_ACTION_VALUES, QMIX) == (81_665, 81_157, 10_593)


@pytest.mark.parametrize("stem", STEMS)
def test_each_file_checks_without_a_diagnostic(stem: str) -> None:
    report = rldsl.check(ZOO / f"{stem}.rlm")
    assert report.ok, report.render()
    assert {d.code for d in report.diagnostics} == set()


@pytest.mark.parametrize("stem", STEMS)
def test_each_file_has_torchrls_parameter_counts(stem: str) -> None:
    program = _program(stem)
    assert {name: _count(module) for name, module in program.items()} == COUNTS[stem]


@pytest.mark.parametrize("stem", STEMS)
def test_each_declaration_runs_on_spec_random_input(stem: str) -> None:
    """One forward pass each; everything written lies in the checked spec of its key."""
    program = _program(stem)
    for name, module in program.items():
        out = module(program.spec_random_input(name, (2,)))
        for key in program.writes(name):
            path = key if isinstance(key, tuple) else tuple(str(key).split("."))
            value = out.get(path)
            assert value.shape[0] == 2, (name, key)
            assert program.spec(key).is_in(value), (name, key, value)


@pytest.mark.parametrize(("name", "stem"), [
    ("mappo", "mappo_vmas"), ("ippo", "ippo_vmas"), ("maddpg", "maddpg_vmas"), ("iddpg", "iddpg_vmas"),
    ("masac", "masac_vmas"), ("masac_vmas_discrete", "masac_vmas_discrete"), ("qmix", "qmix_vmas"),
    ("vdn", "vdn_vmas"), ("iql_vmas", "iql_vmas"),
])
def test_rldsl_new_finds_each_file(name: str, stem: str) -> None:
    template = find_template(name)
    assert template.name == stem and template.mirrors.startswith("sota-implementations/multiagent/")


# --- state-dict names, as torchrl's builders give them ----------------------------------------------

SHARED_POLICY_PARAMS = {  # nn.Sequential(MultiAgentMLP(18 -> 4, shared), NormalParamExtractor())
    "0.params.0.weight": (256, 18), "0.params.0.bias": (256,), "0.params.2.weight": (256, 256),
    "0.params.2.bias": (256,), "0.params.4.weight": (4, 256), "0.params.4.bias": (4,),
}


def _prefixed(prefix: str, names: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return {prefix + name: shape for name, shape in names.items()}


def test_mappo_and_ippo_state_dicts() -> None:
    for stem, critic_in in (("mappo_vmas", 54), ("ippo_vmas", 18)):
        program = _program(stem)
        assert _shapes(program["actor_net"]) == _prefixed("module.", SHARED_POLICY_PARAMS)
        # ProbabilisticActor: [TensorDictModule(actor_net), SafeProbabilisticModule]
        assert _shapes(program["policy"]) == {
            "module.0.module.0.params.0.weight": (256, 18), "module.0.module.0.params.0.bias": (256,),
            "module.0.module.0.params.2.weight": (256, 256), "module.0.module.0.params.2.bias": (256,),
            "module.0.module.0.params.4.weight": (4, 256), "module.0.module.0.params.4.bias": (4,),
        }
        assert _shapes(program["critic"]) == {
            "module.params.0.weight": (256, critic_in), "module.params.0.bias": (256,),
            "module.params.2.weight": (256, 256), "module.params.2.bias": (256,),
            "module.params.4.weight": (1, 256), "module.params.4.bias": (1,),
        }


def test_maddpg_and_iddpg_state_dicts() -> None:
    for stem, critic_in in (("maddpg_vmas", 60), ("iddpg_vmas", 20)):
        program = _program(stem)
        assert _shapes(program["policy"]) == {
            "module.0.module.params.0.weight": (3, 256, 18), "module.0.module.params.0.bias": (3, 256),
            "module.0.module.params.2.weight": (3, 256, 256), "module.0.module.params.2.bias": (3, 256),
            "module.0.module.params.4.weight": (3, 2, 256), "module.0.module.params.4.bias": (3, 2),
        }
        # TensorDictSequential(policy, AdditiveGaussianModule): the noise's float buffers follow
        assert _shapes(program["policy_explore"]) == {
            "module.0.module.0.module.params.0.weight": (3, 256, 18),
            "module.0.module.0.module.params.0.bias": (3, 256),
            "module.0.module.0.module.params.2.weight": (3, 256, 256),
            "module.0.module.0.module.params.2.bias": (3, 256),
            "module.0.module.0.module.params.4.weight": (3, 2, 256),
            "module.0.module.0.module.params.4.bias": (3, 2),
            "module.1.sigma_init": (), "module.1.sigma_end": (), "module.1.mean": (), "module.1.std": (),
            "module.1.sigma": (),
        }
        assert _shapes(program["critic"]) == {
            "module.params.0.weight": (3, 256, critic_in), "module.params.0.bias": (3, 256),
            "module.params.2.weight": (3, 256, 256), "module.params.2.bias": (3, 256),
            "module.params.4.weight": (3, 1, 256), "module.params.4.bias": (3, 1),
        }


def test_masac_state_dicts() -> None:
    continuous = _program("masac_vmas")
    assert _shapes(continuous["policy"]) == _prefixed("module.0.module.", SHARED_POLICY_PARAMS)
    assert _shapes(continuous["critic"]) == {
        "module.params.0.weight": (256, 60), "module.params.0.bias": (256,),
        "module.params.2.weight": (256, 256), "module.params.2.bias": (256,),
        "module.params.4.weight": (1, 256), "module.params.4.bias": (1,),
    }
    discrete = _program("masac_vmas_discrete")
    # torchrl's nn.Sequential(MultiAgentMLP): the network is entry 0 of a sequence
    assert _shapes(discrete["policy"]) == {
        "module.0.module.0.params.0.weight": (256, 18), "module.0.module.0.params.0.bias": (256,),
        "module.0.module.0.params.2.weight": (256, 256), "module.0.module.0.params.2.bias": (256,),
        "module.0.module.0.params.4.weight": (5, 256), "module.0.module.0.params.4.bias": (5,),
    }
    assert _shapes(discrete["critic"]) == {
        "module.params.0.weight": (256, 54), "module.params.0.bias": (256,),
        "module.params.2.weight": (256, 256), "module.params.2.bias": (256,),
        "module.params.4.weight": (5, 256), "module.params.4.bias": (5,),
    }


def test_q_learning_state_dicts() -> None:
    for stem in ("iql_vmas", "qmix_vmas", "vdn_vmas"):
        program = _program(stem)
        # SafeSequential(TensorDictModule(MultiAgentMLP), QValueModule)
        assert _shapes(program["qnet"]) == {
            "module.0.module.params.0.weight": (256, 18), "module.0.module.params.0.bias": (256,),
            "module.0.module.params.2.weight": (256, 256), "module.0.module.params.2.bias": (256,),
            "module.0.module.params.4.weight": (5, 256), "module.0.module.params.4.bias": (5,),
        }
        # TensorDictSequential(qnet, EGreedyModule): eps_init, eps_end and eps buffers
        assert _shapes(program["qnet_explore"]) == {
            "module.0.module.0.module.params.0.weight": (256, 18),
            "module.0.module.0.module.params.0.bias": (256,),
            "module.0.module.0.module.params.2.weight": (256, 256),
            "module.0.module.0.module.params.2.bias": (256,),
            "module.0.module.0.module.params.4.weight": (5, 256),
            "module.0.module.0.module.params.4.bias": (5,),
            "module.1.eps_init": (), "module.1.eps_end": (), "module.1.eps": (),
        }
    assert _shapes(_program("qmix_vmas")["mixer"]) == {
        "module.hyper_w_1.weight": (96, 54), "module.hyper_w_1.bias": (96,),
        "module.hyper_w_final.weight": (32, 54), "module.hyper_w_final.bias": (32,),
        "module.hyper_b_1.weight": (32, 54), "module.hyper_b_1.bias": (32,),
        "module.V.0.weight": (32, 54), "module.V.0.bias": (32,), "module.V.2.weight": (1, 32), "module.V.2.bias": (1,),
    }
    assert _shapes(_program("vdn_vmas")["mixer"]) == {}


# --- behaviour: what each script's networks compute -----------------------------------------------

def _mlp(x: torch.Tensor, params: dict[str, torch.Tensor], agent: int | None = None) -> torch.Tensor:
    """torchrl's MLP (Linear, Tanh, Linear, Tanh, Linear) from a MultiAgentMLP's ``params`` entries."""
    def weight(i: int, kind: str) -> torch.Tensor:
        value = params[f"{i}.{kind}"]
        return value if agent is None else value[agent]
    h = torch.tanh(x @ weight(0, "weight").T + weight(0, "bias"))
    h = torch.tanh(h @ weight(2, "weight").T + weight(2, "bias"))
    return h @ weight(4, "weight").T + weight(4, "bias")


def _params(module: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix):]: value for name, value in module.state_dict().items() if name.startswith(prefix)}


def test_maddpg_critic_reads_each_agents_observation_then_action_all_agents_at_once() -> None:
    """Centralised, not shared: agent i's own MLP sees ``cat([obs, action], -1)`` flattened over the
    agents, observation first (torchrl's in_keys order)."""
    program = _program("maddpg_vmas")
    critic = program["critic"]
    td = program.spec_random_input("critic", (4,))
    q = critic(td)["agents", "state_action_value"]
    flat = torch.cat([td["agents", "observation"], td["agents", "action"]], -1).flatten(-2, -1)
    params = _params(critic, "module.params.")
    for agent in range(N_AGENTS):
        torch.testing.assert_close(q[:, agent], _mlp(flat, params, agent))
    local = _program("iddpg_vmas")
    td = local.spec_random_input("critic", (4,))
    q = local["critic"](td)["agents", "state_action_value"]
    own = torch.cat([td["agents", "observation"], td["agents", "action"]], -1)
    params = _params(local["critic"], "module.params.")
    for agent in range(N_AGENTS):
        torch.testing.assert_close(q[:, agent], _mlp(own[:, agent], params, agent))


def test_maddpg_policy_is_a_tanh_delta_and_its_exploration_stays_in_the_bounds() -> None:
    program = _program("maddpg_vmas")
    td = program.spec_random_input("policy", (4,))
    action = program["policy"](td)["agents", "action"]
    params = _params(program["policy"], "module.0.module.params.")
    for agent in range(N_AGENTS):  # each agent its own weights; the mode of TanhDelta in [-1, 1] is tanh
        expected = torch.tanh(_mlp(td["agents", "observation"][:, agent], params, agent))
        torch.testing.assert_close(action[:, agent], expected)
    assert action.shape == (4, N_AGENTS, ACT)
    explore = program["policy_explore"]
    with set_exploration_type(ExplorationType.RANDOM):
        noisy = explore(program.spec_random_input("policy_explore", (256,)))["agents", "action"]
    assert ((noisy >= -1) & (noisy <= 1)).all() and (noisy.abs() == 1).any()  # sigma 1.0, then clamped
    assert explore[1].sigma.item() == 1.0 and explore[1].annealing_num_steps == 15_000_000


def test_mappo_critic_is_one_value_for_all_agents_and_ippos_one_per_agent() -> None:
    program = _program("mappo_vmas")
    td = program.spec_random_input("critic", (4,))
    value = program["critic"](td)["state_value"]
    assert value.shape == (4, N_AGENTS, 1)
    flat = td["agents", "observation"].flatten(-2, -1)
    expected = _mlp(flat, _params(program["critic"], "module.params."))
    torch.testing.assert_close(value, expected.unsqueeze(-2).expand(4, N_AGENTS, 1))
    local = _program("ippo_vmas")
    td = local.spec_random_input("critic", (4,))
    value = local["critic"](td)["state_value"]
    torch.testing.assert_close(value, _mlp(td["agents", "observation"], _params(local["critic"], "module.params.")))
    assert not torch.allclose(value[:, 0], value[:, 1])


def test_mappo_policy_samples_a_tanh_normal_in_the_bounds_with_a_log_prob_per_agent() -> None:
    program = _program("mappo_vmas")
    with set_exploration_type(ExplorationType.RANDOM):
        out = program["policy"](program.spec_random_input("policy", (8,)))
    assert out["agents", "action"].shape == (8, N_AGENTS, ACT)
    assert ((out["agents", "action"] > -1) & (out["agents", "action"] < 1)).all()
    assert out["agents", "action_log_prob"].shape == (8, N_AGENTS)
    assert (out["agents", "scale"] >= 1e-4).all()


def test_masac_discrete_policy_draws_one_hot_actions_per_agent() -> None:
    program = _program("masac_vmas_discrete")
    with set_exploration_type(ExplorationType.RANDOM):
        out = program["policy"](program.spec_random_input("policy", (8,)))
    action = out["agents", "action"]
    assert action.shape == (8, N_AGENTS, N_ACTIONS) and (action.sum(-1) == 1).all()
    logits = out["agents", "logits"]
    expected = torch.log_softmax(logits, -1).gather(-1, action.argmax(-1, keepdim=True)).squeeze(-1)
    torch.testing.assert_close(out["agents", "action_log_prob"], expected)
    values = program["critic"](program.spec_random_input("critic", (8,)))["agents", "action_value"]
    assert values.shape == (8, N_AGENTS, N_ACTIONS)
    torch.testing.assert_close(values[:, 0], values[:, 2])  # centralised and shared: one value row


def test_iql_acts_greedily_per_agent_and_explores_with_eps_03() -> None:
    program = _program("iql_vmas")
    out = program["qnet"](program.spec_random_input("qnet", (8,)))
    values = out["agents", "action_value"]
    assert out["agents", "action"].shape == (8, N_AGENTS)
    assert torch.equal(out["agents", "action"], values.argmax(-1))
    torch.testing.assert_close(out["agents", "chosen_action_value"], values.max(-1, keepdim=True).values)
    explore = program["qnet_explore"]
    assert explore[1].eps.item() == pytest.approx(0.3) and explore[1].eps_end.item() == 0.0
    assert explore[1].annealing_num_steps == 15_000_000


def test_vdn_sums_and_qmix_mixes_the_agents_chosen_values_with_their_observations() -> None:
    vdn = _program("vdn_vmas")
    td = vdn.spec_random_input("mixer", (4,))
    total = vdn["mixer"](td)["chosen_action_value"]
    torch.testing.assert_close(total, td["agents", "chosen_action_value"].sum(-2))
    qmix = _program("qmix_vmas")
    td = qmix.spec_random_input("mixer", (4,))
    assert td["agents", "observation"].shape == (4, N_AGENTS, OBS)  # the state QMixer reads
    first = qmix["mixer"](td.clone())["chosen_action_value"]
    td["agents", "observation"] = td["agents", "observation"] + 1.0
    second = qmix["mixer"](td)["chosen_action_value"]
    assert first.shape == (4, 1) and not torch.allclose(first, second)
