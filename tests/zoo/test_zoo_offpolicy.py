"""The zoo's off-policy and offline models (issue 17): SAC, TQC, REDQ, TD3, TD3+BC, DDPG, CrossQ,
offline-to-online SAC, CQL and IQL (continuous and discrete) and discrete SAC.

Each file checks clean (or with exactly the warnings listed, each a choice of torchrl's recipe),
compiles, runs every declaration forward, and has the parameter count and state-dict names of the
networks torchrl's builder makes for the same sizes. The counts are written out of the layer sizes
of the builder (`in*out + out` per Linear); the names follow torchrl's module nesting
(`ProbabilisticActor(module=TensorDictModule(nn.Sequential(MLP, NormalParamExtractor)))` is
`module.0.module.0.<layer>.weight`). torchrl is never imported.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import torch
from torch import nn

import rldsl
from rldsl.modules import BatchRenorm1d

ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"


@attrs.frozen
class ZooModel:
    """What torchrl's builder makes, per declaration of the file."""

    file: str
    params: dict[str, int]
    state_dict: dict[str, list[str]]
    warnings: frozenset[str] = frozenset()


# A tanh-normal policy head on HalfCheetah: 17 -> 256 -> 256 -> 2 * 6.
SAC_ACTOR = 17 * 256 + 256 + 256 * 256 + 256 + 256 * 12 + 12
# A Q-value critic on HalfCheetah: 6 + 17 -> 256 -> 256 -> 1.
SAC_CRITIC = 23 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1
# A deterministic policy on HalfCheetah: 17 -> 256 -> 256 -> 6.
TD3_ACTOR = 17 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6
# CartPole: 4 -> 256 -> 256 -> 2.
CARTPOLE_MLP = 4 * 256 + 256 + 256 * 256 + 256 + 256 * 2 + 2

def _under(prefix: str, names: list[str]) -> list[str]:
    """The same layer names nested one module deeper (CrossQ's renormalised MLP in three places)."""
    return [f"{prefix}{name}" for name in names]


SAC_STATE = {
    "params": ["module.0.0.weight", "module.0.0.bias", "module.0.2.weight", "module.0.2.bias",
               "module.0.4.weight", "module.0.4.bias"],
    "policy": ["module.0.module.0.0.weight", "module.0.module.0.0.bias", "module.0.module.0.2.weight",
               "module.0.module.0.2.bias", "module.0.module.0.4.weight", "module.0.module.0.4.bias"],
    "qvalue": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
               "module.4.bias"],
}
TD3_STATE = {
    "actor_net": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                  "module.4.bias"],
    "policy": ["module.0.module.0.weight", "module.0.module.0.bias", "module.0.module.2.weight",
               "module.0.module.2.bias", "module.0.module.4.weight", "module.0.module.4.bias",
               "module.1.action_low", "module.1.action_high"],
    "qvalue": SAC_STATE["qvalue"],
}
TD3_EXPLORE_POLICY = ["module.0.module.0.module.0.weight", "module.0.module.0.module.0.bias",
                      "module.0.module.0.module.2.weight", "module.0.module.0.module.2.bias",
                      "module.0.module.0.module.4.weight", "module.0.module.0.module.4.bias",
                      "module.0.module.1.action_low", "module.0.module.1.action_high"]
OU_EXPLORE_SAC_POLICY = ["module.0.module.0.module.0.0.weight", "module.0.module.0.module.0.0.bias",
                         "module.0.module.0.module.0.2.weight", "module.0.module.0.module.0.2.bias",
                         "module.0.module.0.module.0.4.weight", "module.0.module.0.module.0.4.bias"]
CROSSQ_NORMED_MLP = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                     "1.num_batches_tracked", "3.weight", "3.bias", "4.weight", "4.bias", "4.running_mean",
                     "4.running_var", "4.num_batches_tracked", "6.weight", "6.bias"]

MODELS = [
    ZooModel("sac_mujoco", {"params": SAC_ACTOR, "policy": SAC_ACTOR, "qvalue": SAC_CRITIC}, SAC_STATE),
    ZooModel(
        "tqc_mujoco",
        {"params": SAC_ACTOR, "policy": SAC_ACTOR,
         "critic": 23 * 512 + 512 + 512 * 512 + 512 + 512 * 512 + 512 + 512 * 25 + 25},
        {"params": SAC_STATE["params"], "policy": SAC_STATE["policy"],
         "critic": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                    "module.4.bias", "module.6.weight", "module.6.bias"]},
    ),
    ZooModel(
        "redq_mujoco",
        {"params": SAC_ACTOR, "policy": SAC_ACTOR, "qvalue": SAC_CRITIC, "policy_explore": SAC_ACTOR},
        {**SAC_STATE, "policy_explore": OU_EXPLORE_SAC_POLICY + ["module.1.eps_init", "module.1.eps_end",
                                                                 "module.1.eps"]},
    ),
    ZooModel(
        "td3_mujoco",
        {"actor_net": TD3_ACTOR, "policy": TD3_ACTOR, "qvalue": SAC_CRITIC, "policy_explore": TD3_ACTOR},
        {**TD3_STATE, "policy_explore": TD3_EXPLORE_POLICY + ["module.1.sigma_init", "module.1.sigma_end",
                                                              "module.1.mean", "module.1.std", "module.1.sigma"]},
    ),
    ZooModel("td3_bc_mujoco", {"actor_net": TD3_ACTOR, "policy": TD3_ACTOR, "qvalue": SAC_CRITIC}, TD3_STATE),
    ZooModel(
        "ddpg_mujoco",
        {"actor_net": TD3_ACTOR, "policy": TD3_ACTOR, "qvalue": SAC_CRITIC, "policy_explore": TD3_ACTOR},
        {**TD3_STATE, "policy_explore": TD3_EXPLORE_POLICY + ["module.1.eps_init", "module.1.eps_end",
                                                              "module.1.eps"]},
        # torchrl's recipe builds its OU noise with safe=False: the explored action may leave [-1, 1]
        warnings=frozenset({"W0501"}),
    ),
    ZooModel(
        "crossq_mujoco",
        # each hidden layer adds a BatchRenorm1d: a weight and a bias of the layer's width
        {"params": SAC_ACTOR + 2 * 256 + 2 * 256, "policy": SAC_ACTOR + 2 * 256 + 2 * 256,
         "qvalue": 23 * 2048 + 2048 + 2 * 2048 + 2048 * 2048 + 2048 + 2 * 2048 + 2048 * 1 + 1},
        {"params": _under("module.0.", CROSSQ_NORMED_MLP), "policy": _under("module.0.module.0.", CROSSQ_NORMED_MLP),
         "qvalue": _under("module.", CROSSQ_NORMED_MLP)},
    ),
    ZooModel("offline_to_online_sac_mujoco", {"params": SAC_ACTOR, "policy": SAC_ACTOR, "qvalue": SAC_CRITIC},
             SAC_STATE),
    ZooModel(
        "cql_mujoco",
        # Hopper: 11 -> 256 -> 256 -> 2 * 3; the critic 11 + 3 -> 256 -> 256 -> 1
        {"params": 11 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6,
         "policy": 11 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6,
         "qvalue": 14 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1},
        SAC_STATE,
    ),
    ZooModel(
        "cql_cartpole",
        {"q": CARTPOLE_MLP, "q_explore": CARTPOLE_MLP},
        {"q": ["module.0.module.0.weight", "module.0.module.0.bias", "module.0.module.2.weight",
               "module.0.module.2.bias", "module.0.module.4.weight", "module.0.module.4.bias"],
         "q_explore": ["module.0.module.0.module.0.weight", "module.0.module.0.module.0.bias",
                       "module.0.module.0.module.2.weight", "module.0.module.0.module.2.bias",
                       "module.0.module.0.module.4.weight", "module.0.module.0.module.4.bias",
                       "module.1.eps_init", "module.1.eps_end", "module.1.eps"]},
    ),
    ZooModel(
        "iql_mujoco",
        {"params": SAC_ACTOR, "policy": SAC_ACTOR, "qvalue": SAC_CRITIC,
         "value_net": 17 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1},
        {**SAC_STATE, "value_net": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias",
                                    "module.4.weight", "module.4.bias"]},
    ),
    ZooModel(
        "iql_cartpole",
        {"actor_net": CARTPOLE_MLP, "policy": CARTPOLE_MLP, "qvalue": CARTPOLE_MLP,
         "value_net": 4 * 256 + 256 + 256 * 256 + 256 + 256 * 1 + 1},
        {"actor_net": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                       "module.4.bias"],
         "policy": ["module.0.module.0.weight", "module.0.module.0.bias", "module.0.module.2.weight",
                    "module.0.module.2.bias", "module.0.module.4.weight", "module.0.module.4.bias"],
         "qvalue": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                    "module.4.bias"],
         "value_net": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                       "module.4.bias"]},
    ),
    ZooModel(
        "discrete_sac_cartpole",
        {"actor_net": CARTPOLE_MLP, "policy": CARTPOLE_MLP, "qvalue": CARTPOLE_MLP},
        {"actor_net": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                       "module.4.bias"],
         "policy": ["module.0.module.0.weight", "module.0.module.0.bias", "module.0.module.2.weight",
                    "module.0.module.2.bias", "module.0.module.4.weight", "module.0.module.4.bias"],
         "qvalue": ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias", "module.4.weight",
                    "module.4.bias"]},
    ),
]
BY_FILE = {model.file: model for model in MODELS}
_COMPILED: dict[str, object] = {}


def _program(file: str):
    """Each file compiled once for the module (compiling is the slow part)."""
    if file not in _COMPILED:
        _COMPILED[file] = rldsl.compile(ZOO / f"{file}.rlm")
    return _COMPILED[file]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.file)
def test_checks_with_only_the_warnings_the_recipe_chooses(model: ZooModel) -> None:
    report = rldsl.check(ZOO / f"{model.file}.rlm")
    assert report.ok, report.render()
    assert {d.code for d in report.diagnostics} == model.warnings


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.file)
def test_every_declaration_runs_forward_on_a_batch(model: ZooModel) -> None:
    program = _program(model.file)
    assert set(program.keys()) == set(model.params)
    for name in program.keys():
        td = program[name](program.spec_random_input(name, (2,)))
        for key in program.writes(name):
            assert td.get(key).shape[:1] == (2,), (name, key)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.file)
def test_parameter_counts_are_torchrls(model: ZooModel) -> None:
    program = _program(model.file)
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in program.items()}
    assert counts == model.params


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.file)
def test_state_dict_names_are_torchrls(model: ZooModel) -> None:
    program = _program(model.file)
    names = {name: list(module.state_dict()) for name, module in program.items()}
    assert names == model.state_dict


# --- what each builder chooses, beyond the sizes --------------------------------------------------

CRITIC_INPUTS = [
    ("sac_mujoco", "qvalue", ["action", "observation"]),
    ("tqc_mujoco", "critic", ["action", "observation"]),
    ("redq_mujoco", "qvalue", ["observation_vector", "action"]),
    ("td3_mujoco", "qvalue", ["action", "observation"]),
    ("td3_bc_mujoco", "qvalue", ["action", "observation"]),
    ("ddpg_mujoco", "qvalue", ["action", "observation"]),
    ("crossq_mujoco", "qvalue", ["action", "observation"]),
    ("offline_to_online_sac_mujoco", "qvalue", ["observation", "action"]),
    ("cql_mujoco", "qvalue", ["observation", "action"]),
    ("iql_mujoco", "qvalue", ["observation", "action"]),
]


@pytest.mark.parametrize(("file", "name", "keys"), CRITIC_INPUTS, ids=[c[0] for c in CRITIC_INPUTS])
def test_critics_concatenate_their_inputs_in_torchrls_order(file: str, name: str, keys: list[str]) -> None:
    """The first Linear's columns follow the key order of torchrl's `in_keys`: swapping it would
    still load a checkpoint and silently compute something else."""
    critic = _program(file)[name]
    assert critic.in_keys == keys
    critic.eval()  # BatchRenorm1d (CrossQ): use the running statistics, leave them as they are
    td = _program(file).spec_random_input(name, (3,))
    expected = critic.module(torch.cat([td[key] for key in keys], -1))
    torch.testing.assert_close(critic(td)["state_action_value"], expected)


POLICIES = [
    # file, interaction type, writes the log-prob, scale lower bound, activation
    ("sac_mujoco", "random", False, 0.1, nn.ReLU),
    ("tqc_mujoco", "random", False, 0.1, nn.ReLU),
    ("redq_mujoco", "random", True, 0.05, nn.ELU),
    ("crossq_mujoco", "random", False, 0.1, nn.ReLU),
    ("offline_to_online_sac_mujoco", "deterministic", True, 1e-4, nn.Tanh),
    ("cql_mujoco", "random", False, 0.1, nn.ReLU),
    ("iql_mujoco", "random", False, 0.1, nn.ReLU),
]


@pytest.mark.parametrize(("file", "interaction", "log_prob", "scale_lb", "activation"), POLICIES,
                         ids=[p[0] for p in POLICIES])
def test_tanh_normal_policies_have_their_builders_arguments(file: str, interaction: str, log_prob: bool,
                                                            scale_lb: float, activation: type) -> None:
    program = _program(file)
    policy = program["policy"]
    head = policy.module[1]
    assert str(head.default_interaction_type) == interaction
    assert head.return_log_prob is log_prob
    assert head.distribution_class.__name__ == "TanhNormal"
    kwargs = head.distribution_kwargs
    assert (kwargs["low"], kwargs["high"], kwargs["tanh_loc"]) == (-1.0, 1.0, False)
    mlp, extractor = policy.module[0].module
    assert {type(m) for m in mlp if not isinstance(m, (nn.Linear, BatchRenorm1d))} == {activation}
    assert extractor.scale_lb == scale_lb
    # biased_softplus_1.0: a zero pre-activation gives a scale of exactly 1
    torch.testing.assert_close(extractor(torch.zeros(1, mlp[-1].out_features))[1],
                               torch.ones(1, mlp[-1].out_features // 2))
    td = policy(program.spec_random_input("policy", (4,)))
    assert ("action_log_prob" in td.keys()) is log_prob
    assert ((td["action"] >= -1) & (td["action"] <= 1)).all()


def test_crossq_renormalises_every_hidden_layer_as_torchrl() -> None:
    """Linear, BatchRenorm1d(momentum 0.01, warm-up 100k), ReLU per hidden layer, none after the last."""
    program = _program("crossq_mujoco")
    for mlp, width in ((program["policy"].module[0].module[0], 256), (program["qvalue"].module, 2048)):
        assert [type(m).__name__ for m in mlp] == ["Linear", "BatchRenorm1d", "ReLU"] * 2 + ["Linear"]
        for norm in (mlp[1], mlp[4]):
            assert (norm.num_features, norm.momentum, norm.warmup_steps) == (width, 0.01, 100_000)


def test_deterministic_policies_squash_into_the_action_bounds() -> None:
    """TD3's TanhModule takes the action spec (bounds of shape [6]); DDPG's builder gives it none,
    so its bounds are the scalar defaults -1 and 1: the buffers' shapes differ, as in torchrl."""
    for file, bound_shape in (("td3_mujoco", (6,)), ("td3_bc_mujoco", (6,)), ("ddpg_mujoco", ())):
        program = _program(file)
        tanh = program["policy"].module[1]
        assert (tanh.in_keys, tanh.out_keys) == (["param"], ["action"])
        assert tanh.action_low.shape == tanh.action_high.shape == bound_shape
        assert (float(tanh.action_low.min()), float(tanh.action_high.max())) == (-1.0, 1.0)
        td = program["policy"](program.spec_random_input("policy", (4,)))
        torch.testing.assert_close(td["action"], torch.tanh(td["param"]))


def test_exploration_modules_have_the_recipes_arguments() -> None:
    gaussian = _program("td3_mujoco")["policy_explore"].module[1]
    assert type(gaussian).__name__ == "AdditiveGaussianModule"
    assert [float(gaussian.sigma_init), float(gaussian.sigma_end), float(gaussian.mean)] == [1.0, 1.0, 0.0]
    assert float(gaussian.std) == pytest.approx(0.1)

    ddpg_ou = _program("ddpg_mujoco")["policy_explore"].module[1]
    assert (ddpg_ou.annealing_num_steps, ddpg_ou.safe, ddpg_ou.sigma, ddpg_ou.theta) == (1_000_000, False, 0.2, 0.15)
    redq_ou = _program("redq_mujoco")["policy_explore"].module[1]
    assert (redq_ou.annealing_num_steps, redq_ou.safe, redq_ou.sigma, redq_ou.theta) == (1_000_000, True, 0.2, 0.15)

    greedy = _program("cql_cartpole")["q_explore"].module[1]
    assert [float(greedy.eps_init), float(greedy.eps_end)] == pytest.approx([1.0, 0.01])
    assert greedy.annealing_num_steps == 10_000


def test_discrete_policies_sample_their_envs_action_encoding() -> None:
    iql = _program("iql_cartpole")
    td = iql["policy"](iql.spec_random_input("policy", (5,)))
    assert td["action"].shape == (5,) and td["action"].dtype == torch.int64  # categorical(2): an index
    assert td["logits"].shape == (5, 2)
    assert iql["qvalue"](iql.spec_random_input("qvalue", (5,)))["state_action_value"].shape == (5, 2)

    sac = _program("discrete_sac_cartpole")
    td = sac["policy"](sac.spec_random_input("policy", (5,)))
    assert td["action"].shape == (5, 2) and (td["action"].sum(-1) == 1).all()  # one-hot rows
    assert sac["qvalue"](sac.spec_random_input("qvalue", (5,)))["action_value"].shape == (5, 2)

    cql = _program("cql_cartpole")
    td = cql["q"](cql.spec_random_input("q", (5,)))
    torch.testing.assert_close(td["action"].argmax(-1), td["action_value"].argmax(-1))


def test_tqc_critic_writes_its_quantiles() -> None:
    program = _program("tqc_mujoco")
    td = program["critic"](program.spec_random_input("critic", (3,)))
    assert td["state_action_value"].shape == (3, 25)
