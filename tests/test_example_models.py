"""The issue-11 example models do what their comments say: a dueling pixel DQN, DDPG on pixels,
QMIX and VDN over the multi-agent specs, a noisy DQN. (Every example is also checked, compiled,
run on spec-random input, run on ``device="meta"``, saved and formatted by the suites that walk
``examples/``; these tests check each model's behaviour.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rldsl
from rldsl.modules import (
    DdpgCnnActor,
    DdpgCnnQNet,
    DuelingCnnDQNet,
    ExplorationType,
    NoisyLinear,
    QMixer,
    VDNMixer,
    reset_noise,
    set_exploration_type,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def compiled(name: str) -> rldsl.compiler.Program:
    return rldsl.compile(EXAMPLES / name, seed=0)


def random_input(program, name: str, batch: tuple[int, ...] = (5,)):
    torch.manual_seed(0)
    return program.spec_random_input(name, batch)


def test_atari_dqn_is_a_dueling_network_whose_greedy_action_is_the_argmax() -> None:
    program = compiled("atari_dueling_dqn.rlm")
    net = program["q"].module[0].module
    assert isinstance(net, DuelingCnnDQNet)
    td = random_input(program, "q")
    assert td["pixels"].shape == (5, 4, 84, 84)
    with torch.no_grad():
        out = program["q"](td)
        features = net.features(td["pixels"])
        advantage, value = net.advantage(features), net.value(features)
    assert features.shape == (5, 64 * 7 * 7)  # 84 -> 20 -> 9 -> 7, as the comment says
    torch.testing.assert_close(out["action_value"], value + advantage - advantage.mean(-1, keepdim=True))
    assert torch.equal(out["action"].argmax(-1), out["action_value"].argmax(-1))
    assert out["action"].sum(-1).eq(1).all()


def test_atari_exploration_starts_fully_random_and_anneals_over_a_million_steps() -> None:
    explore = compiled("atari_dueling_dqn.rlm")["q_explore"]
    egreedy = explore[-1]
    assert egreedy.eps.item() == 1.0 and egreedy.annealing_num_steps == 1_000_000
    egreedy.step(1_000_000)
    assert egreedy.eps.item() == pytest.approx(0.01)


def test_pixel_ddpg_actions_are_in_bounds_and_the_embedding_has_the_checked_width() -> None:
    program = compiled("pixel_ddpg.rlm")
    assert isinstance(program["encoder"].module, DdpgCnnActor)
    assert isinstance(program["qvalue"].module, DdpgCnnQNet)
    td = random_input(program, "policy")
    with torch.no_grad():
        out = program["policy"](td)
    assert out["hidden"].shape == (5, 2304)
    assert out["action"].shape == (5, 2) and out["action"].abs().le(1).all()
    with torch.no_grad():
        value = program["qvalue"](out)["state_action_value"]
    assert value.shape == (5, 1) and torch.isfinite(value).all()


def test_pixel_ddpg_exploration_perturbs_the_action_within_its_bounds() -> None:
    program = compiled("pixel_ddpg.rlm")
    td = random_input(program, "noisy")
    td["is_init"] = torch.ones(5, 1, dtype=torch.bool)
    with torch.no_grad(), set_exploration_type(ExplorationType.RANDOM):
        noisy = program["noisy"](td.clone())["action"]
        greedy = program["policy"](td.clone())["action"]
    assert noisy.abs().le(1).all()
    assert not torch.equal(noisy, greedy)


@pytest.mark.parametrize("name", ["qmix", "vdn"])
def test_mixers_turn_the_agents_greedy_values_into_one_joint_value(name: str) -> None:
    program = compiled(f"multiagent/{name}.rlm")
    td = random_input(program, "policy", (6,))
    td["state"] = program.spec("state").rand((6,))  # the mixer's global state
    with torch.no_grad():
        acted = program["policy"](td)
        joint = program["mixer"](acted)["chosen_action_value"]
    agents = acted["agents"]
    assert agents["chosen_action_value"].shape == (6, 3, 1)
    chosen = agents["action"].argmax(-1)
    assert agents["action_mask"].gather(-1, chosen.unsqueeze(-1)).all(), "a greedy action is always allowed"
    assert joint.shape == (6, 1)
    if name == "vdn":
        assert isinstance(program["mixer"].module, VDNMixer)
        torch.testing.assert_close(joint, agents["chosen_action_value"].sum(-2))
    else:
        assert isinstance(program["mixer"].module, QMixer)


def test_qmix_joint_value_rises_with_every_agents_value() -> None:
    program = compiled("multiagent/qmix.rlm")
    mixer = program["mixer"]
    td = random_input(program, "mixer", (4,))
    with torch.no_grad():
        base = mixer(td.clone())["chosen_action_value"]
        for agent in range(3):
            higher = td.clone()
            higher["agents", "chosen_action_value"][:, agent] += 1.0
            assert (mixer(higher)["chosen_action_value"] >= base).all(), agent


def test_qmix_agents_have_their_own_parameters_and_vdn_agents_share_one_network() -> None:
    qmix, vdn = compiled("multiagent/qmix.rlm")["agent_q"], compiled("multiagent/vdn.rlm")["agent_q"]
    assert dict(qmix.module.params.items(True, True))["0", "weight"].shape == (3, 64, 8)  # one per agent
    assert dict(vdn.module.params.items(True, True))["0", "weight"].shape == (64, 8)  # one for all


def test_noisy_dqn_explores_by_its_noise_and_is_greedy_on_its_mean_weights() -> None:
    program = compiled("noisy_dqn.rlm")
    q = program["q"]
    assert sum(isinstance(m, NoisyLinear) for m in q.modules()) == 3
    td = random_input(program, "q", (8,))
    with torch.no_grad():
        with set_exploration_type(ExplorationType.DETERMINISTIC):
            mean_one = q(td.clone())["action_value"]
            q.apply(reset_noise)
            mean_two = q(td.clone())["action_value"]
        with set_exploration_type(ExplorationType.RANDOM):
            noisy_one = q(td.clone())["action_value"]
            same_noise = q(td.clone())["action_value"]
            q.apply(reset_noise)
            noisy_two = q(td.clone())["action_value"]
    assert torch.equal(mean_one, mean_two), "the mean weights do not depend on the noise"
    assert torch.equal(noisy_one, same_noise), "noise changes only when reset_noise draws it"
    assert not torch.equal(noisy_one, noisy_two)
    assert not torch.equal(noisy_one, mean_one)


# --- recurrent policies (issue 12) ---------------------------------------------------------------


def _stepped(policy, steps: list, state_keys: list[str]) -> list:
    """The policy run one step at a time as a collector runs it: each step's ``next.`` state is the
    following step's state (the primer's zeros at the start)."""
    outputs, carried = [], None
    for td in steps:
        td = td.clone()
        if carried is not None:
            td.update(carried)
        out = policy(td)
        outputs.append(out)
        carried = {key: out["next", key] for key in state_keys}
    return outputs


@pytest.mark.parametrize(("name", "module", "states", "output"), [
    ("recurrent/lstm_pendulum.rlm", "memory", ["recurrent_state_h", "recurrent_state_c"], "embed"),
    ("recurrent/gru_dqn.rlm", "memory", ["recurrent_state"], "embed"),
])
def test_a_recurrent_example_steps_as_it_runs_over_a_time_dim(name: str, module: str, states: list[str],
                                                               output: str) -> None:
    from rldsl.modules import get_primers_from_module, set_recurrent_mode

    program = compiled(name)
    memory = program[module]
    primer = get_primers_from_module(memory)
    assert sorted(primer.keys()) == sorted(states)
    torch.manual_seed(0)
    steps = [program.spec_random_input(module, (3,)) for _ in range(5)]
    for index, td in enumerate(steps):
        td["is_init"] = torch.full((3, 1), index in (0, 3))  # a reset in the middle of the sequence
        for key in states:
            del td[key]
    with torch.no_grad():
        primed = [primer.reset(td.clone()) if i == 0 else td for i, td in enumerate(steps)]
        stepped = _stepped(memory, primed, states)
        sequence = torch.stack(steps, dim=1)  # [3, 5]: the last dim is time
        for key in states:  # the state stored at each step; only trajectory starts read it (zeros there)
            sequence[key] = torch.stack([primed[0][key]] * 5, 1)
        with set_recurrent_mode(True):
            whole = memory(sequence)
    for index, out in enumerate(stepped):
        torch.testing.assert_close(whole[output][:, index], out[output])
