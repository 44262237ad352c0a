"""The zoo's on-policy, value-based, imitation and sequence models (issue 17): PPO and A2C (MuJoCo and
Atari), IMPALA (Atari), DQN (CartPole and Atari), GAIL, RND, the decision transformer and the online
decision transformer (MuJoCo), and Dreamer (dm_control pixels).

Each file checks clean (no warning at all), compiles, runs every declaration forward on spec-random
input, and has the parameter count and the state-dict names of what torchrl's builder makes for the
same sizes. The counts are written out of the builder's layer sizes (`in * out + out` per Linear,
`in * out * k * k + out` per conv); the names follow torchrl's module nesting, e.g.
`ProbabilisticActor(TensorDictModule(nn.Sequential(MLP, AddStateIndependentNormalScale)))` is
`module.0.module.0.<layer>.weight` and `module.0.module.1.state_independent_scale`. torchrl is never
imported.
"""

from __future__ import annotations

import functools
from pathlib import Path

import attrs
import pytest
import torch

import rldsl


ZOO = Path(__file__).resolve().parents[2] / "examples" / "zoo"


def linear(n_in: int, n_out: int) -> int:
    """The parameters of `nn.Linear(n_in, n_out)`."""
    return n_in * n_out + n_out


def conv(c_in: int, c_out: int, kernel: int) -> int:
    """The parameters of a square `nn.Conv2d` / `nn.ConvTranspose2d`."""
    return c_in * c_out * kernel * kernel + c_out


def under(prefix: str, names: list[str]) -> list[str]:
    return [f"{prefix}{name}" for name in names]


# --- MuJoCo actor-critic (PPO, A2C, GAIL, RND): HalfCheetah, 17 -> 64 -> 64 -> 6 (+ 6 scales) ----
MLP3 = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
PPO_POLICY = linear(17, 64) + linear(64, 64) + linear(64, 6) + 6
PPO_CRITIC = linear(17, 64) + linear(64, 64) + linear(64, 1)
PPO_STATE = {
    "params": under("module.0.", MLP3) + ["module.1.state_independent_scale"],
    "policy": under("module.0.module.0.", MLP3) + ["module.0.module.1.state_independent_scale"],
    "critic": under("module.", MLP3),
}
PPO_COUNTS = {"params": PPO_POLICY, "policy": PPO_POLICY, "critic": PPO_CRITIC}

# --- Atari actor-critic (PPO, A2C, IMPALA): the Nature CNN and Linear(3136, 512), two heads ------
NATURE_CNN = conv(4, 32, 8) + conv(32, 64, 4) + conv(64, 64, 3)  # 84 -> 20 -> 9 -> 7: 7 * 7 * 64 = 3136
ATARI_TRUNK = NATURE_CNN + linear(3136, 512)
ATARI_POLICY_HEAD = linear(512, 6)
ATARI_VALUE_HEAD = linear(512, 1)
CNN = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
# TensorDictModule(nn.Sequential(ConvNet, MLP(num_cells=[], activate_last_layer=True)))
TRUNK = under("module.0.", CNN) + ["module.1.0.weight", "module.1.0.bias"]
ATARI_COUNTS = {"common": ATARI_TRUNK, "policy_net": ATARI_POLICY_HEAD, "policy_head": ATARI_POLICY_HEAD,
                "value_head": ATARI_VALUE_HEAD,
                "actor_critic": ATARI_TRUNK + ATARI_POLICY_HEAD + ATARI_VALUE_HEAD}
ATARI_STATE = {
    "common": TRUNK,
    "policy_net": ["module.0.weight", "module.0.bias"],
    "policy_head": ["module.0.module.0.weight", "module.0.module.0.bias"],
    "value_head": ["module.0.weight", "module.0.bias"],
    "actor_critic": under("module.0.", TRUNK) + ["module.1.module.0.module.0.weight", "module.1.module.0.module.0.bias",
                                                  "module.2.module.0.weight", "module.2.module.0.bias"],
}
# What torchrl's `make_ppo_models` returns: `get_policy_operator()` (the policy head flattened into the
# probabilistic sequence) and `get_value_operator()`.
ATARI_ACTOR = under("module.0.", TRUNK) + ["module.1.module.0.weight", "module.1.module.0.bias"]
ATARI_CRITIC = under("module.0.", TRUNK) + ["module.1.module.0.weight", "module.1.module.0.bias"]

# --- DQN ---------------------------------------------------------------------------------------
DQN_CARTPOLE = linear(4, 120) + linear(120, 84) + linear(84, 2)
DQN_ATARI = NATURE_CNN + linear(3136, 512) + linear(512, 6)
EGREEDY = ["module.1.eps_init", "module.1.eps_end", "module.1.eps"]
DQN_ATARI_Q = under("module.0.module.0.", CNN) + under("module.0.module.1.", ["0.weight", "0.bias", "2.weight",
                                                                                "2.bias"])

# --- GAIL's discriminator and RND's networks ------------------------------------------------------
DISCRIMINATOR = linear(17 + 6, 128) + linear(128, 128) + linear(128, 1)
RND_TARGET = linear(17, 64) + linear(64, 64)
RND_PREDICTOR = linear(17, 64) + linear(64, 64) + linear(64, 64)


# --- decision transformers: GPT-2 (Hugging Face names), vocab_size 1, 1024 positions ----------------
def gpt2_block(width: int, inner: int) -> int:
    """ln_1, attn.c_attn (width -> 3 width), attn.c_proj, ln_2, mlp.c_fc (width -> inner), mlp.c_proj."""
    return 2 * width + linear(width, 3 * width) + linear(width, width) + 2 * width + linear(width, inner) \
        + linear(inner, width)


def decision_transformer(width: int, layers: int, inner: int) -> int:
    """torchrl's DecisionTransformer on HalfCheetah: GPT-2 (wte [1, width], wpe [1024, width], the blocks,
    ln_f) and the embeddings of return (1), state (17) and action (6), and their LayerNorm."""
    gpt2 = width + 1024 * width + layers * gpt2_block(width, inner) + 2 * width
    return gpt2 + linear(1, width) + linear(17, width) + linear(6, width) + 2 * width


BLOCK = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
         "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
         "mlp.c_proj.bias"]


def dt_names(layers: int, heads: list[str]) -> list[str]:
    """The state-dict names of torchrl's DTActor / OnlineDTActor (`transformer` is the DecisionTransformer,
    whose `transformer` is GPT-2)."""
    gpt2 = ["transformer.transformer.wte.weight", "transformer.transformer.wpe.weight"]
    for layer in range(layers):
        gpt2 += [f"transformer.transformer.h.{layer}.{name}" for name in BLOCK]
    gpt2 += ["transformer.transformer.ln_f.weight", "transformer.transformer.ln_f.bias"]
    embeddings = [f"transformer.{name}.{p}" for name in ("embed_return", "embed_state", "embed_action", "embed_ln")
                  for p in ("weight", "bias")]
    return gpt2 + embeddings + [f"{head}.{p}" for head in heads for p in ("weight", "bias")]


DT = decision_transformer(128, 3, 512) + linear(128, 6)
DT_NAMES = dt_names(3, ["action_layer"])
ODT = decision_transformer(512, 4, 2048) + 2 * linear(512, 6)
ODT_NAMES = dt_names(4, ["action_layer_mean", "action_layer_logstd"])

# --- Dreamer (cheetah-run from 3 x 64 x 64 pixels, action 6; state 30, belief 200, hidden 400) ------
ENCODER = conv(3, 32, 4) + conv(32, 64, 4) + conv(64, 128, 4) + conv(128, 256, 4)  # 64 -> 2: 1024 features
DECODER = linear(30 + 200, 1024) + conv(1024, 128, 5) + conv(128, 64, 5) + conv(64, 32, 6) + conv(32, 3, 6)
GRU_CELL = 3 * (200 * 200 + 200 * 200) + 2 * 3 * 200  # nn.GRUCell(200, 200)
PRIOR = GRU_CELL + linear(30 + 6, 200) + linear(200, 200) + linear(200, 2 * 30)
POSTERIOR = linear(200 + 1024, 200) + linear(200, 2 * 30)
REWARD = linear(230, 400) + linear(400, 400) + linear(400, 1)
ACTOR = linear(230, 400) + 2 * linear(400, 400) + linear(400, 2 * 6)
VALUE = linear(230, 400) + 2 * linear(400, 400) + linear(400, 1)
ENCODER_NAMES = [f"encoder.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
DECODER_NAMES = ["state_to_latent.0.weight", "state_to_latent.0.bias"] + [
    f"decoder.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
PRIOR_NAMES = ["rnn.weight_ih", "rnn.weight_hh", "rnn.bias_ih", "rnn.bias_hh", "action_state_projector.0.weight",
               "action_state_projector.0.bias", "rnn_to_prior_projector.0.weight", "rnn_to_prior_projector.0.bias",
               "rnn_to_prior_projector.2.weight", "rnn_to_prior_projector.2.bias"]
POSTERIOR_NAMES = ["obs_rnn_to_post_projector.0.weight", "obs_rnn_to_post_projector.0.bias",
                   "obs_rnn_to_post_projector.2.weight", "obs_rnn_to_post_projector.2.bias"]
ACTOR_NAMES = [f"backbone.{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
MLP4 = [f"{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias")]
GAUSSIAN_NOISE = ["module.1.sigma_init", "module.1.sigma_end", "module.1.mean", "module.1.std", "module.1.sigma"]
# torchrl's world model: WorldModelWrapper(TensorDictSequential(encoder, RSSMRollout, decoder as a
# ProbabilisticTensorDictSequential), reward model as a ProbabilisticTensorDictSequential).
WORLD_MODEL = (under("module.0.module.0.module.", ENCODER_NAMES)
               + under("module.0.module.1.rssm_prior.module.", PRIOR_NAMES)
               + under("module.0.module.1.rssm_posterior.module.", POSTERIOR_NAMES)
               + under("module.0.module.2.module.0.module.", DECODER_NAMES)
               + under("module.1.module.0.module.", MLP3))
# torchrl's actor in the env: SafeSequential(encoder, posterior, actor, prior), explored as
# TensorDictSequential(actor, AdditiveGaussianModule).
REAL_WORLD_ACTOR = (under("module.0.module.", ENCODER_NAMES)
                    + under("module.1.module.", POSTERIOR_NAMES)
                    + under("module.2.module.0.module.", ACTOR_NAMES)
                    + under("module.3.module.", PRIOR_NAMES))


@attrs.frozen
class ZooModel:
    """What torchrl's builder makes, per declaration of the file: parameter counts and state-dict names
    (the names of the declarations left out of `state_dict` are not checked)."""

    file: str
    params: dict[str, int]
    state_dict: dict[str, list[str]]


MODELS = [
    ZooModel("ppo_mujoco", PPO_COUNTS, PPO_STATE),
    ZooModel("a2c_mujoco", PPO_COUNTS, PPO_STATE),
    ZooModel("ppo_atari", ATARI_COUNTS, ATARI_STATE),
    ZooModel("a2c_atari", ATARI_COUNTS, ATARI_STATE),
    ZooModel("impala_atari", ATARI_COUNTS, ATARI_STATE),
    ZooModel("dqn_cartpole", {"q": DQN_CARTPOLE, "q_explore": DQN_CARTPOLE},
             {"q": under("module.0.module.", MLP3), "q_explore": under("module.0.module.0.module.", MLP3) + EGREEDY}),
    ZooModel("dqn_atari", {"q": DQN_ATARI, "q_explore": DQN_ATARI},
             {"q": DQN_ATARI_Q, "q_explore": under("module.0.", DQN_ATARI_Q) + EGREEDY}),
    ZooModel("gail_mujoco", {**PPO_COUNTS, "discriminator": DISCRIMINATOR},
             {**PPO_STATE, "discriminator": under("module.0.", MLP3)}),
    ZooModel("rnd_mujoco", {**PPO_COUNTS, "rnd_target": RND_TARGET, "rnd_predictor": RND_PREDICTOR},
             {**PPO_STATE, "rnd_target": under("module.", ["0.weight", "0.bias", "2.weight", "2.bias"]),
              "rnd_predictor": under("module.", MLP3)}),
    ZooModel("dt_mujoco", {"transformer": DT, "policy": DT, "act": DT},
             {"transformer": under("module.", DT_NAMES), "policy": under("module.0.module.", DT_NAMES),
              "act": under("td_module.module.0.module.", DT_NAMES)}),
    ZooModel("odt_mujoco", {"transformer": ODT, "policy": ODT, "act": ODT},
             {"transformer": under("module.", ODT_NAMES), "policy": under("module.0.module.", ODT_NAMES),
              "act": under("td_module.module.0.module.", ODT_NAMES)}),
    ZooModel(
        "dreamer_dm_control",
        {"encode": ENCODER, "prior": PRIOR, "posterior": POSTERIOR, "rssm": PRIOR + POSTERIOR,
         "decode_mean": DECODER, "decode": DECODER, "transition": ENCODER + PRIOR + POSTERIOR + DECODER,
         "reward_mean": REWARD, "reward": REWARD, "world_model": ENCODER + PRIOR + POSTERIOR + DECODER + REWARD,
         "actor_params": ACTOR, "imagine": ACTOR, "observe": ENCODER, "infer_state": POSTERIOR, "act": ACTOR,
         "remember": PRIOR, "policy": ENCODER + POSTERIOR + ACTOR + PRIOR,
         "policy_explore": ENCODER + POSTERIOR + ACTOR + PRIOR, "value_mean": VALUE, "value_model": VALUE},
        {"world_model": WORLD_MODEL, "imagine": under("module.0.module.", ACTOR_NAMES), "policy": REAL_WORLD_ACTOR,
         "policy_explore": under("module.0.", REAL_WORLD_ACTOR) + GAUSSIAN_NOISE,
         "value_model": under("module.0.module.", MLP4)},
    ),
]


def _path(model: ZooModel) -> Path:
    return ZOO / f"{model.file}.rlm"


@functools.cache
def _program(file: str) -> rldsl.Program:
    """The compiled file, once per test session (the ODT alone has 13M parameters); tests only
    run its modules, which leaves the weights as they are."""
    return rldsl.compile(ZOO / f"{file}.rlm")


@pytest.fixture(params=MODELS, ids=[m.file for m in MODELS])
def compiled(request: pytest.FixtureRequest) -> tuple[ZooModel, rldsl.Program]:
    model = request.param
    return model, _program(model.file)


@pytest.mark.parametrize("model", MODELS, ids=[m.file for m in MODELS])
def test_the_file_checks_without_a_single_warning(model: ZooModel) -> None:
    report = rldsl.check(_path(model))
    assert report.diagnostics == (), report.render()


@pytest.mark.parametrize("model", MODELS, ids=[m.file for m in MODELS])
def test_the_file_has_the_zoo_header(model: ZooModel) -> None:
    lines = _path(model).read_text().splitlines()
    assert lines[0].startswith("# zoo: ") and lines[2].startswith("# template: ")
    assert lines[1].startswith("# mirrors: sota-implementations/") and "(pytorch/rl, torchrl 0.14)" in lines[1]


def test_every_declaration_runs_forward_on_a_batch(compiled: tuple[ZooModel, rldsl.Program]) -> None:
    model, program = compiled
    for name, module in program.items():
        td = module(program.spec_random_input(name, (2,)))
        for key in program.writes(name):
            if key != "_":
                assert td.get(key).shape[0] == 2, (name, key)


def test_the_parameter_counts_are_torchrls(compiled: tuple[ZooModel, rldsl.Program]) -> None:
    model, program = compiled
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in program.items()}
    assert counts == model.params


def test_the_state_dict_names_are_torchrls(compiled: tuple[ZooModel, rldsl.Program]) -> None:
    model, program = compiled
    for name, expected in model.state_dict.items():
        assert list(program[name].state_dict()) == expected, name


@pytest.mark.parametrize("file", ["ppo_atari", "a2c_atari", "impala_atari"])
def test_the_actor_and_critic_torchrl_returns_come_from_the_operator(file: str) -> None:
    """torchrl's Atari recipes return `get_policy_operator()` and `get_value_operator()` of their
    ActorValueOperator: the same trunk, each head after it, with these names."""
    program = _program(file)
    operator = program["actor_critic"]
    actor, critic = operator.get_policy_operator(), operator.get_value_operator()
    assert list(actor.state_dict()) == ATARI_ACTOR and list(critic.state_dict()) == ATARI_CRITIC
    assert sum(p.numel() for p in actor.parameters()) == ATARI_TRUNK + ATARI_POLICY_HEAD
    td = critic(actor(program.spec_random_input("actor_critic", (3,))))
    assert td["action"].shape[0] == 3 and td["state_value"].shape == (3, 1)
    assert torch.isfinite(td["action_log_prob"]).all()


def test_the_atari_policies_sample_the_action_encoding_of_their_recipe() -> None:
    """PPO's env is made with categorical_action_encoding=True (indices, torch's Categorical); A2C's and
    IMPALA's keep gym's one-hot actions (a OneHotCategorical)."""
    for file, shape in [("ppo_atari", (4,)), ("a2c_atari", (4, 6)), ("impala_atari", (4, 6))]:
        program = _program(file)
        action = program["policy_head"](program.spec_random_input("policy_head", (4,)))["action"]
        assert action.shape == shape and program.spec("action").is_in(action), file


def test_the_mujoco_scales_keep_their_recipes_lower_bounds() -> None:
    """PPO (and GAIL, RND) bound the learned scale below by 1e-8; A2C keeps tensordict's 1e-4."""
    bounds = {file: _program(file)["params"].module[1].scale_lb
              for file in ("ppo_mujoco", "a2c_mujoco", "gail_mujoco", "rnd_mujoco")}
    assert bounds == {"ppo_mujoco": 1e-8, "a2c_mujoco": 1e-4, "gail_mujoco": 1e-8, "rnd_mujoco": 1e-8}


def test_gails_discriminator_is_a_probability_of_the_pair() -> None:
    program = _program("gail_mujoco")
    disc = program["discriminator"]
    td = program.spec_random_input("discriminator", (5,))
    expected = torch.sigmoid(disc.module[0](torch.cat([td["observation"], td["action"]], -1)))
    torch.testing.assert_close(disc(td)["d_logits"], expected)


def test_the_rnd_networks_are_the_plain_sequentials_torchrl_hands_to_its_transform() -> None:
    """RNDTransform and RNDLoss take the bare networks: `Linear, ReLU, Linear` (target) and one more
    hidden layer (predictor), reading the next observation."""
    program = _program("rnd_mujoco")
    target, predictor = program["rnd_target"].module, program["rnd_predictor"].module
    assert [type(m).__name__ for m in target] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in predictor] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert list(target.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert program.reads("rnd_target") == [("next", "observation")]


def test_the_decision_transformers_act_with_the_last_step_of_the_window() -> None:
    for file in ("dt_mujoco", "odt_mujoco"):
        program = _program(file)
        td = program.spec_random_input("act", (2,))
        out = program["act"](td)
        assert out["action"].shape == (2, 6) and program.spec("action").is_in(out["action"]), file
        assert out["action_steps"].shape == (2, 20, 6), file


def test_dreamers_heads_are_unit_variance_normals_read_at_their_mode() -> None:
    """torchrl's decoder, reward and value models are IndependentNormal(scale=1.0): outside exploration
    their output is the network's mean."""
    program = _program("dreamer_dm_control")
    td = program.spec_random_input("value_model", (3,))
    out = program["value_model"](td)
    torch.testing.assert_close(out["state_value"], out["value_head", "loc"])
    assert out["state_value"].shape == (3, 1)
    decoded = program["decode"](program.spec_random_input("decode", (3,)))
    assert decoded["next", "reco_pixels"].shape == (3, 3, 64, 64)
    torch.testing.assert_close(decoded["next", "reco_pixels"], decoded["decoded", "loc"])
