"""Issue 17, the pieces writing torchrl's reference models needs: each with what torchrl does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rldsl
from rldsl.lang.check import check_text
from rldsl.modules.utils import MultiInputSequential

HEAD = "key observation : f32[3]\nkey action : f32[2] in [-1.0, 1.0]\n"


def test_an_mlp_without_hidden_layers_is_one_linear_layer() -> None:
    """torchrl: `MLP(num_cells=[])` has depth 0, one `Linear(in, out)` (Atari heads are written so)."""
    program = rldsl.compile(HEAD + "module head = MLP(out_features=4, num_cells=[]) : observation -> h\n")
    mlp = program["head"].module
    assert [type(m) for m in mlp] == [nn.Linear]
    assert sum(p.numel() for p in mlp.parameters()) == 3 * 4 + 4
    assert check_text(HEAD + "module head = MLP(out_features=4, num_cells=[]) : observation -> h\n"
                      "value v = ValueOperator(MLP(out_features=1), in=[h])\n").ok


@pytest.mark.parametrize("module", [
    "module disc = MLP(out_features=1) >> Sigmoid() : observation, action -> d_logits",
    "module disc = SafeModule(MLP(out_features=1) >> Sigmoid(), in=[observation, action], out=[d_logits])",
], ids=["keyed-pipe", "SafeModule"])
def test_a_pipe_reading_two_keys_concatenates_them_and_runs(module: str) -> None:
    """GAIL's discriminator: the first stage reads both keys (the MLP concatenates them), the
    sigmoid reads its output; it used to check clean and fail on its first call."""
    program = rldsl.compile(HEAD + module + "\n")
    disc = program["disc"]
    td = program.spec_random_input("disc", (5,))
    out = disc(td)["d_logits"]
    assert out.shape == (5, 1) and ((out > 0) & (out < 1)).all()
    net = disc.module
    assert isinstance(net, MultiInputSequential) and [type(m).__name__ for m in net] == ["MLP", "Sigmoid"]
    expected = torch.sigmoid(net[0](torch.cat([td["observation"], td["action"]], -1)))
    torch.testing.assert_close(out, expected)
    assert set(disc.state_dict()) == {"module.0.0.weight", "module.0.0.bias"}


def test_compile_calls_every_module_once_and_leaves_no_trace() -> None:
    """`rldsl.compile` tries each module's first call (as `rldsl compile` does) without changing
    the random generators or the buffers (BatchNorm's running statistics)."""
    text = HEAD + ("module norm = MLP(out_features=4, num_cells=[8], norm_class=BatchNorm1d, "
                   "norm_kwargs=dict(num_features=8)) : observation -> h\n")
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    program = rldsl.compile(text)
    assert torch.equal(torch.rand(4), expected)
    stats = {name: value for name, value in program["norm"].named_buffers() if "running_mean" in name}
    assert stats and all(torch.equal(value, torch.zeros_like(value)) for value in stats.values())


PPO_MUJOCO = """key observation : f32[17]
key action : f32[6] in [-1.0, 1.0]
module params = MLP(out_features=6, num_cells=[64, 64]) >> AddStateIndependentNormalScale(scale_shape=6, scale_lb=1e-8)
              : observation -> loc, scale
actor policy = ProbabilisticActor(params, in=[loc, scale], dist=TanhNormal(low=action.low, high=action.high),
                                  spec=action, return_log_prob=true)
"""


def test_add_state_independent_normal_scale_is_ppos_mujoco_policy_head() -> None:
    """torchrl's PPO/A2C on MuJoCo: `MLP >> AddStateIndependentNormalScale` (tensordict.nn's class, torchrl's
    parameter `state_independent_scale`): the location is the MLP's output, the scale a learned vector."""
    report = check_text(PPO_MUJOCO)
    assert report.ok, report.render()
    assert report.types["loc"] == "f32[6]" and report.types["scale"] == "f32[6] in [1e-08, inf]"
    program = rldsl.compile(PPO_MUJOCO)
    head = program["params"].module[1]
    assert type(head).__name__ == "AddStateIndependentNormalScale"
    assert head.state_independent_scale.shape == (6,) and head.scale_lb == 1e-8
    count = 17 * 64 + 64 + 64 * 64 + 64 + 64 * 6 + 6 + 6
    assert sum(p.numel() for p in program["policy"].parameters()) == count
    td = program["policy"](program.spec_random_input("policy", (4,)))
    torch.testing.assert_close(td["scale"], torch.ones(4, 6))  # exp(init_value=0)
    assert td["action"].shape == (4, 6)


def test_add_state_independent_normal_scale_arguments_are_checked() -> None:
    wrong_shape = PPO_MUJOCO.replace("scale_shape=6", "scale_shape=5")
    found = check_text(wrong_shape).diagnostics
    assert [d.code for d in found] == ["E0401"] and "scale_shape=[6]" in found[0].help
    bad_mapping = PPO_MUJOCO.replace("scale_lb=1e-8", 'scale_mapping="square"')
    assert [d.code for d in check_text(bad_mapping).diagnostics] == ["E0606"]
    negative = PPO_MUJOCO.replace("scale_lb=1e-8", "scale_lb=-1.0")
    assert [d.code for d in check_text(negative).diagnostics] == ["E0606"]


MARL_QVALUE = """dim n_agents = 3
key agents : { observation: f32[n_agents, 18], action: categorical(5, shape=[n_agents]) }[n_agents]
actor q = QValueActor(MultiAgentMLP(n_agent_inputs=18, n_agent_outputs=5, n_agents=n_agents, centralized=false,
                                    share_params=true),
                      in=[agents.observation], action_key=agents.action, action_value_key=agents.action_value,
                      chosen_action_value_key=agents.chosen_action_value, spec=agents.action{extra})
"""


@pytest.mark.parametrize("extra", ["", ", strict_shape=none", ', strict_shape="auto"'],
                         ids=["default", "none", "auto"])
def test_a_per_agent_categorical_action_passes_torchrls_default_shape_check(extra: str) -> None:
    """torchrl's check expects ``values.shape[:-1] + spec.shape[composite batch dims:]``: the agent dim
    is the composite's batch dim, counted once (it was counted twice: "expected shape (2, 3, 3)")."""
    text = MARL_QVALUE.replace("{extra}", extra)
    report = check_text(text)
    assert report.ok, report.render()
    program = rldsl.compile(text)
    td = program["q"](program.spec_random_input("q", (2,)))
    assert td["agents", "action"].shape == (2, 3) and td["agents", "chosen_action_value"].shape == (2, 3, 1)
    assert program["q"].spec["agents", "action"].is_in(td["agents", "action"])


def test_a_categorical_spec_with_a_shape_of_its_own_still_needs_strict_shape_false() -> None:
    """Outside a batched composite the spec's dims are per sample: torchrl's check cannot pass."""
    text = ("key observation : f32[4]\nkey action : categorical(5, shape=[3])\n"
            "actor q = QValueActor(MLP(out_features=[3, 5]), spec=action)\n")
    assert [d.code for d in check_text(text).diagnostics] == ["E0606"]


def test_a_dict_in_braces_is_answered_with_the_dict_call_that_works() -> None:
    """CrossQ's `norm_kwargs`: torchrl's users write a Python dict; the language writes `dict(...)`,
    which binds each entry as an argument of the norm class (here BatchRenorm1d)."""
    braces = ("key observation : f32[3]\nmodule m = MLP(out_features=4, num_cells=[8], norm_class=BatchRenorm1d, "
              "norm_kwargs={momentum: 0.01, warmup_steps: 100000}) : observation -> h\n")
    [error] = check_text(braces).diagnostics
    assert error.code == "E0101" and error.message == "a dict argument is written `dict(name=value, ...)`, not in braces"
    assert "norm_kwargs=dict(momentum=0.01, warmup_steps=100000)" in error.help
    fixed = braces.replace("{momentum: 0.01, warmup_steps: 100000}", "dict(momentum=0.01, warmup_steps=100000)")
    fixed += "value v = ValueOperator(MLP(out_features=1), in=[h])\n"
    # torchrl's MLP builds the norm from the dict alone: its size must be there (it crashed at compile)
    [missing] = check_text(fixed).diagnostics
    assert missing.code == "E0603" and "`num_features`" in missing.message
    fixed = fixed.replace("dict(momentum=0.01", "dict(num_features=8, momentum=0.01")
    assert check_text(fixed).ok
    norm = rldsl.compile(fixed)["m"].module[1]
    assert type(norm).__name__ == "BatchRenorm1d" and norm.momentum == 0.01 and norm.warmup_steps == 100000


DREAMER_REWARD = """key state : f32[30]
key belief : f32[200]
module reward_net = MLP(out_features=1, num_cells=[400, 400], activation_class=ELU) : state, belief -> loc
module reward_model = SafeProbabilisticModule(in=[loc], out=[reward], dist=IndependentNormal(scale=1.0, event_dim=1),
                                              return_log_prob=true)
"""


def test_a_distribution_parameter_may_be_a_constant() -> None:
    """Dreamer's reward head: `IndependentNormal` with `distribution_kwargs={"scale": 1.0}` reads only
    `loc` from the tensordict; its log-probability is that of N(loc, 1) over the event dim."""
    report = check_text(DREAMER_REWARD)
    assert report.ok, report.render()
    program = rldsl.compile(DREAMER_REWARD)
    module = program["reward_model"]
    assert module.distribution_kwargs["scale"] == 1.0
    td = program.spec_random_input("reward_model", (4,))
    td["loc"] = torch.randn(4, 1)
    out = module(td)
    expected = torch.distributions.Normal(td["loc"], 1.0).log_prob(out["reward"]).sum(-1)
    torch.testing.assert_close(out["reward_log_prob"], expected)


def test_constant_parameters_are_checked() -> None:
    tanh = ("key observation : f32[3]\nkey action : f32[2] in [-1.0, 1.0]\n"
            "module net = MLP(out_features=2) : observation -> loc\n"
            "actor pi = ProbabilisticActor(net, in=[loc], dist=TanhNormal(low=action.low, high=action.high, "
            "scale={scale}), spec=action)\n")
    assert check_text(tanh.replace("{scale}", "0.3")).ok
    program = rldsl.compile(tanh.replace("{scale}", "0.3"))
    assert program["pi"](program.spec_random_input("pi", (3,)))["action"].shape == (3, 2)
    assert [d.code for d in check_text(tanh.replace("{scale}", "0.0")).diagnostics] == ["E0606"]
    both = tanh.replace("{scale}", "0.3").replace("-> loc", "-> loc, scale").replace(
        "MLP(out_features=2)", "MLP(out_features=4) >> NormalParamExtractor()").replace("in=[loc]", "in=[loc, scale]")
    [error] = check_text(both).diagnostics
    assert error.code == "E0701" and "given twice" in error.message
    no_loc = DREAMER_REWARD.replace("-> loc", "-> mean").replace("in=[loc]", "in=[mean]")
    assert "E0701" in [d.code for d in check_text(no_loc).diagnostics]


def test_an_output_only_a_loss_reads_is_declared_and_then_does_not_warn() -> None:
    """GAIL's discriminator logits are read by its loss, not by a module: declaring the key says so
    (and its spec is then checked against what the network writes)."""
    disc = "key observation : f32[3]\nkey action : f32[2]\nmodule disc = MLP(out_features=1) : observation, action -> d_logits\n"
    assert [d.code for d in check_text(disc).diagnostics] == ["W0301"]
    assert check_text("key d_logits : f32[1]\n" + disc).diagnostics == ()
    assert [d.code for d in check_text("key d_logits : f32[2]\n" + disc).diagnostics] == ["E0402"]


def test_torchrls_older_spelling_centralised_gets_a_replacement() -> None:
    text = ("key agents : { observation: f32[3, 4] }\nmodule m = MultiAgentMLP(n_agent_inputs=4, n_agent_outputs=2, "
            "n_agents=3, centralised=true, share_params=true) : agents.observation -> agents.out\n")
    found = check_text(text).diagnostics
    assert [d.code for d in found] == ["E0602"]  # only the spelling: not also "needs `centralized`"
    assert found[0].suggestion is not None and found[0].suggestion.replacement == "centralized"
    assert check_text(text.replace("centralised", "centralized")).ok
