"""The type rule of every kind: the specs the checker infers, and the diagnostics it gives."""

from __future__ import annotations

import pytest

import rldsl

from rldsl.lang.check import CheckResult, check_text
from rldsl.lang.types import spec_text


def check(text: str) -> CheckResult:
    return check_text(text, "t.rlm")


def types(text: str) -> dict[str, str]:
    result = check(text)
    assert result.diagnostics == (), [(d.code, d.span.line, d.message) for d in result.diagnostics]
    return {key.dotted: spec_text(key.spec) for key in result.keys}


def codes(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check(text).diagnostics]


def only(text: str, code: str):
    found = check(text).diagnostics
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


OBS = "key observation : f32[3]\n"

# ---------------------------------------------------------------------------------------------
# Networks


def test_mlp_concatenates_its_inputs_on_the_last_dim() -> None:
    found = types("key a : f32[2, 3]\nkey b : f32[2, 5]\nmodule m = MLP(out_features=4) : a, b -> h\n"
                  "value v = ValueOperator(MLP(out_features=1), in=[h])")
    assert found["h"] == "f32[2, 4]"


def test_mlp_out_features_tuple_and_in_features() -> None:
    found = types(OBS + "module m = MLP(in_features=3, out_features=(5, 2)) : observation -> h\n"
                        "value v = ValueOperator(MLP(out_features=1), in=[h])")
    assert found["h"] == "f32[5, 2]"
    d = only(OBS + "module m = MLP(in_features=4, out_features=2) : observation -> state_value", "E0406")
    assert d.message == "`in_features=4` but the MLP reads 3 features"


def test_mlp_inputs_must_agree_and_be_float() -> None:
    assert codes("key a : f32[3]\nkey b : f32[2, 3]\nmodule m = MLP(out_features=1) : a, b -> state_value") == \
        [("E0401", 3)]
    d = only("key a : i64[3]\nmodule m = MLP(out_features=1) : a -> state_value", "E0503")
    assert "floating-point" in d.message
    assert codes("key a : f32[]\nmodule m = MLP(out_features=1) : a -> state_value") == [("E0401", 2)]
    assert codes("key a : f64[2]\nkey b : f32[2]\nmodule m = MLP(out_features=1) : a, b -> state_value") == \
        [("E0503", 3)]


def test_mlp_arguments() -> None:
    assert codes(OBS + "module m = MLP(out_features=1, num_cells=32) : observation -> state_value") == [("E0606", 2)]
    assert codes(OBS + "module m = MLP(out_features=0) : observation -> state_value") == [("E0606", 2)]
    assert codes(OBS + "module m = MLP(out_features=1, dropout=1.5) : observation -> state_value") == [("E0606", 2)]
    assert codes(OBS + "module m = MLP(out_features=1, depth=2, num_cells=[8, 8]) : observation -> state_value") == []


def test_a_bounded_last_activation_bounds_the_output() -> None:
    found = types(OBS + "module m = MLP(out_features=2, activation_class=Sigmoid, activate_last_layer=true)"
                        " : observation -> state_value")
    assert found["state_value"] == "f32[2] in [0.0, 1.0]"
    found = types(OBS + "module m = MLP(out_features=2) >> Tanh() : observation -> state_value")
    assert found["state_value"] == "f32[2] in [-1.0, 1.0]"
    found = types(OBS + "module m = Linear(3, 2) >> ReLU() : observation -> state_value")
    assert found["state_value"] == "f32[2] in [0.0, inf]"


def test_linear_reads_one_tensor_of_in_features() -> None:
    assert types(OBS + "module m = Linear(3, 4) : observation -> state_value")["state_value"] == "f32[4]"
    assert only(OBS + "module m = Linear(2, 4) : observation -> state_value", "E0406").span.line == 2
    assert codes(OBS + "module m = Linear(3, 4) : observation, observation -> state_value") == [("E0407", 2)]


def test_normal_param_extractor_halves_an_even_last_dim() -> None:
    found = types(OBS + "module m = MLP(out_features=4) >> NormalParamExtractor(scale_lb=0.01) : observation -> "
                        "loc, scale\nvalue v = ValueOperator(MLP(out_features=1), in=[loc, scale])")
    assert (found["loc"], found["scale"]) == ("f32[2]", "f32[2] in [0.01, inf]")
    assert codes(OBS + "module m = MLP(out_features=3) >> NormalParamExtractor() : observation -> loc, scale") == \
        [("E0405", 2)]
    assert codes("key x : f32[4]\nmodule m = NormalParamExtractor(scale_mapping=\"cubic\") : x -> loc, scale") == \
        [("E0606", 2)]


def test_keyed_network_needs_one_key_per_output() -> None:
    assert codes(OBS + "module m = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc") == \
        [("E0305", 2)]
    assert codes(OBS + "module m = MLP(out_features=4) : observation -> a, b") == [("E0305", 2)]


def test_multi_agent_mlp_keeps_the_agent_dim() -> None:
    found = types("dim n = 3\nkey obs : f32[n, 8]\nmodule m = MultiAgentMLP(n_agent_outputs=2, n_agents=n, "
                  "centralized=false, share_params=true) : obs -> q\n"
                  "value v = ValueOperator(MLP(out_features=1), in=[q])")
    assert found["q"] == "f32[n, 2]"
    assert codes("key obs : f32[4, 8]\nmodule m = MultiAgentMLP(n_agent_outputs=2, n_agents=3, centralized=false, "
                 "share_params=true) : obs -> state_value") == [("E0430", 2)]  # at `n_agents`
    assert codes("key obs : f32[8]\nmodule m = MultiAgentMLP(n_agent_outputs=2, n_agents=3, centralized=false, "
                 "share_params=true) : obs -> state_value") == [("E0401", 2)]  # no agent dim at all
    assert codes("key obs : f32[3, 8]\nmodule m = MultiAgentMLP(n_agent_outputs=2, n_agents=3) : obs -> x") == \
        [("E0603", 2), ("E0603", 2)]


def test_a_declared_network_has_one_input_size() -> None:
    d = only("key a : f32[3]\nkey b : f32[4]\nmodule net = MLP(out_features=1)\n"
             "value v1 = ValueOperator(net, in=[a], out=[x])\nvalue v2 = ValueOperator(net, in=[b], out=[y])\n"
             "module use = MLP(out_features=1) : x, y -> state_value", "E0406")
    assert d.span.line == 5 and "network `net`" in d.message


# ---------------------------------------------------------------------------------------------
# Symbolic dims and nested keys


def test_symbolic_dims_flow_through_shapes() -> None:
    found = types("dim batch\ndim n_actions = 4\nkey obs : f32[batch, 2 * n_actions]\n"
                  "module m = MLP(out_features=n_actions) : obs -> state_value")
    assert found["obs"] == "f32[batch, 2 * n_actions]"
    assert found["state_value"] == "f32[batch, n_actions]"


def test_a_dim_of_unknown_size_matches_any_size() -> None:
    assert codes("dim k\nkey a : f32[k]\nmodule m = Linear(3, 2) : a -> state_value") == []


def test_nested_keys_and_composite_batch_dims() -> None:
    text = ("dim n = 2\nkey agents : { obs: f32[n, 4] }[n]\n"
            "module good = MLP(out_features=3) : agents.obs -> agents.hidden\n"
            "module bad = MLP(out_features=3) : agents.hidden -> agents.out\n")
    assert codes(text) == []
    flat = "key agents : { obs: f32[2, 4] }[2]\nkey flat : f32[5]\nmodule m = MLP(out_features=3) : flat -> agents.x"
    assert codes(flat) == [("E0402", 3)]


# ---------------------------------------------------------------------------------------------
# Actors and safe modules


def test_actor_defaults_and_safe_projection() -> None:
    text = OBS + "key action : f32[1] in [-2.0, 2.0]\nactor a = Actor(MLP(out_features=1), spec=action, safe=true)"
    assert types(text)["action"] == "f32[1] in [-2.0, 2.0]"
    d = only(OBS + "key action : f32[1] in [-2.0, 2.0]\nactor a = Actor(MLP(out_features=1), spec=action)", "W0501")
    assert "safe=true" in d.help and "TanhModule" in d.help
    assert codes(OBS + "key action : f32[1] in [-2.0, 2.0]\nactor a = Actor(MLP(out_features=1), safe=true)") == \
        [("E0603", 3)]


def test_actor_action_must_be_of_the_spec_sort() -> None:
    d = only(OBS + "key action : onehot(4, dtype=i64)\nactor a = Actor(MLP(out_features=4), spec=action)", "E0504")
    assert "continuous" in d.message
    # safe=true projects scores onto the one-hot spec
    assert codes(OBS + "key action : onehot(4, dtype=i64)\nactor a = Actor(MLP(out_features=4), spec=action, "
                       "safe=true)") == []


def test_safe_module_spec_describes_one_output() -> None:
    text = OBS + "key action : f32[1]\nmodule m = SafeModule(MLP(out_features=4) >> NormalParamExtractor(), " \
                 "in=[observation], out=[loc, scale], spec=action)"
    assert [c for c, _ in codes(text)] == ["E0606"]


def test_tanh_module_squashes_into_the_spec() -> None:
    text = OBS + ("key action : f32[2] in [-2.0, 2.0]\nmodule net = MLP(out_features=2) : observation -> raw\n"
                  "actor a = net >> TanhModule(in=[raw], out=[action], spec=action)")
    assert types(text)["action"] == "f32[2] in [-2.0, 2.0]"
    partial = text.replace("spec=action)", "low=-1.0, high=1.0)")
    assert [c for c, _ in codes(partial)] == ["W0701"]
    clash = text.replace("spec=action)", "spec=action, low=-1.0)")
    assert [c for c, _ in codes(clash)] == ["E0606"]
    unbounded = OBS + ("key action : f32[2]\nmodule net = MLP(out_features=2) : observation -> raw\n"
                       "actor a = net >> TanhModule(in=[raw], out=[action], spec=action)")
    assert [c for c, _ in codes(unbounded)] == ["E0504"]


def test_value_operator_default_keys() -> None:
    found = types(OBS + "key action : f32[2]\nvalue q = ValueOperator(MLP(out_features=1), in=[observation, action])\n"
                        "value v = ValueOperator(MLP(out_features=1))")
    assert (found["state_action_value"], found["state_value"]) == ("f32[1]", "f32[1]")


def test_default_keys_that_do_not_exist() -> None:
    d = only("key obs : f32[3]\nvalue v = ValueOperator(MLP(out_features=1))", "E0301")
    assert "by default" in d.message and d.span.line == 2


# ---------------------------------------------------------------------------------------------
# Probabilistic actors and distributions

PARAMS = OBS + "module params = MLP(out_features=2) >> NormalParamExtractor() : observation -> loc, scale\n"


@pytest.mark.parametrize(("dist", "sample", "log_prob"), [
    ("TanhNormal(low=action.low, high=action.high)", "f32[1] in [-2.0, 2.0]", "f32[]"),
    ("TruncatedNormal(low=-2.0, high=2.0)", "f32[1] in [-2.0, 2.0]", "f32[]"),
    ("TanhDelta(low=-2.0, high=2.0)", "f32[1] in [-2.0, 2.0]", None),  # a point mass: no log-prob (E0712)
])
def test_bounded_distributions(dist: str, sample: str, log_prob: str | None) -> None:
    text = PARAMS.replace("loc, scale\n", "loc, scale\n" if "Delta" not in dist else "param, scale\n") + \
        "key action : f32[1] in [-2.0, 2.0]\n" + \
        f"actor p = ProbabilisticActor(params, in=[{'param' if 'Delta' in dist else 'loc, scale'}], dist={dist}, " \
        f"spec=action{', return_log_prob=true' if log_prob else ''})"
    if "Delta" in dist:
        text = text.replace("NormalParamExtractor() : observation -> param, scale", "Tanh() : observation -> param")
        text = text.replace("MLP(out_features=2)", "MLP(out_features=1)")
    found = types(text)
    assert found["action"] == sample and found.get("action_log_prob") == log_prob


def test_unbounded_distributions_and_log_prob_shapes() -> None:
    text = PARAMS + "key action : f32[1]\nactor p = ProbabilisticActor(params, in=[loc, scale], dist=Normal, " \
                    "return_log_prob=true, log_prob_key=lp)"
    assert [c for c, _ in codes(text)] == ["W0301"]  # nothing reads `lp`
    assert types(text + "\nkey lp : f32[1]")["lp"] == "f32[1]"  # torch's Normal: a log-probability per element
    found = types(PARAMS + "key action : f32[1]\nactor p = ProbabilisticActor(params, in=[loc, scale], "
                           "dist=IndependentNormal, return_log_prob=true)")
    assert found["action_log_prob"] == "f32[]"


def test_categorical_distributions() -> None:
    head = OBS + "module head = MLP(out_features=4) : observation -> logits\nkey mask : bool[4]\n"
    found = types(head + "key action : onehot(4, dtype=i64)\n"
                         "actor p = ProbabilisticActor(head, in=[logits], dist=OneHotCategorical, spec=action)")
    assert found["action"] == "onehot(4)"
    found = types(head + "key choice : categorical(4)\nactor p = ProbabilisticActor(head, in=[logits], out=[choice], "
                         "dist=MaskedCategorical(mask=mask), spec=choice, return_log_prob=true)")
    assert found["choice_log_prob"] == "f32[]"
    bad_mask = head.replace("bool[4]", "bool[3]") + "key choice : categorical(4)\nactor p = ProbabilisticActor(" \
        "head, in=[logits], out=[choice], dist=MaskedCategorical(mask=mask), spec=choice)"
    assert [c for c, _ in codes(bad_mask)] == ["E0507"]


def test_distribution_parameters_come_from_key_names() -> None:
    d = only(PARAMS + "key action : f32[1]\nactor p = ProbabilisticActor(params, in=[loc, scale], "
                      "dist=OneHotCategorical, spec=action)", "E0701")
    assert d.message == "OneHotCategorical has no parameter `loc`"
    d = only(PARAMS + "key action : f32[1]\nactor p = ProbabilisticActor(params, in=[loc, scale])", "E0701")
    assert "Delta" in d.message and "dist=" in d.help


def test_distribution_bounds_against_the_spec() -> None:
    base = PARAMS + "key action : f32[1] in [-2.0, 2.0]\nactor p = ProbabilisticActor(params, in=[loc, scale], "
    assert [c for c, _ in codes(base + "dist=TanhNormal, spec=action)")] == ["W0701"]
    assert [c for c, _ in codes(base + "dist=TanhNormal(low=-3.0, high=3.0), spec=action)")] == ["E0702"]
    assert [c for c, _ in codes(base + "dist=TanhNormal(low=1.0, high=-1.0), spec=action)")] == ["E0702"]
    assert [c for c, _ in codes(base + "dist=Normal, spec=action)")] == ["W0501"]
    assert [c for c, _ in codes(base + "dist=Normal, spec=action, safe=true)")] == []
    per_element = PARAMS.replace("out_features=2", "out_features=4") + \
        "key action : f32[2] in [[-1.0, 0.0], [1.0, 2.0]]\nactor p = ProbabilisticActor(params, in=[loc, scale], " \
        "dist=TanhNormal(low=action.low, high=action.high), spec=action)"
    assert codes(per_element) == []


def test_discrete_distribution_for_a_continuous_action() -> None:
    head = OBS + "module head = MLP(out_features=4) : observation -> logits\nkey action : f32[4]\n"
    d = only(head + "actor p = ProbabilisticActor(head, in=[logits], dist=OneHotCategorical, spec=action)", "E0703")
    assert "IndependentNormal" in d.help


def test_probabilistic_actor_takes_a_module() -> None:
    assert [c for c, _ in codes(OBS + "actor p = ProbabilisticActor(MLP(out_features=2), in=[loc, scale], "
                                      "dist=Normal)")] == ["E0607"]


# ---------------------------------------------------------------------------------------------
# Q-value modules


def test_q_value_actor_writes_action_values_and_chosen_value() -> None:
    found = types(OBS + "key action : onehot(4, dtype=i64)\nactor q = QValueActor(Linear(3, 4), spec=action)")
    assert (found["action_value"], found["chosen_action_value"]) == ("f32[4]", "f32[1]")
    found = types(OBS + "key action : categorical(4)\nactor q = QValueActor(Linear(3, 4), spec=action)")
    assert found["action"] == "categorical(4)"


def test_q_value_spaces() -> None:
    assert codes(OBS + "key a : multionehot([2, 3], dtype=i64)\nactor q = QValueActor(Linear(3, 5), spec=a, "
                       "action_key=a)") == []
    assert codes(OBS + "key a : multicategorical([2, 3])\nactor q = QValueActor(Linear(3, 5), spec=a, "
                       "action_key=a)") == []
    assert codes(OBS + "key a : binary(3, dtype=i64)\nactor q = QValueActor(Linear(3, 6), spec=a, action_key=a)") == []
    assert [c for c, _ in codes(OBS + "key a : binary(3, dtype=i64)\nkey m : bool[6]\nactor q = QValueActor("
                                      "Linear(3, 6), spec=a, action_key=a, action_mask_key=m)")] == ["E0706"]


def test_q_value_one_hot_dtype_and_masks() -> None:
    # one-hot keys are i64 by default, which is what Q-value modules write
    assert codes(OBS + "key action : onehot(4)\nactor q = QValueActor(Linear(3, 4), spec=action)") == []
    boolean = OBS + "key action : onehot(4, dtype=bool)\n"
    d = only(boolean + "actor q = QValueActor(Linear(3, 4), spec=action)", "E0503")
    assert "onehot(4)" in d.help and "safe=true" in d.help
    assert codes(boolean + "actor q = QValueActor(Linear(3, 4), spec=action, safe=true)") == []
    masked = OBS + "key action : onehot(4, dtype=i64, mask=[true, true, true, false])\nkey m : bool[4]\n"
    assert [c for c, _ in codes(masked + "actor q = QValueActor(Linear(3, 4), spec=action)")] == ["W0502"]
    assert codes(masked + "actor q = QValueActor(Linear(3, 4), spec=action, action_mask_key=m)") == []


def test_q_value_module_out_keys() -> None:
    base = "key action_value : f32[4]\nkey action : onehot(4, dtype=i64)\n"
    assert codes(base + "actor q = QValueModule(spec=action, out=[action, action_value, chosen_action_value])") == []
    assert [c for c, _ in codes(base + "actor q = QValueModule(spec=action, out=[action])")] == ["E0606"]
    assert [c for c, _ in codes(base + "actor q = QValueModule(spec=action, out=[action, chosen, action_value])")] == \
        ["E0308"]
    assert [c for c, _ in codes(base + "actor q = QValueModule()")] == ["E0603"]


def test_distributional_q_value_actor() -> None:
    text = "dim bins = 5\nkey observation : f32[4]\nkey action : onehot(3, dtype=i64)\n" \
           "actor q = DistributionalQValueActor(MLP(out_features=(bins, 3)), support=linspace(-1, 1, bins), " \
           "spec=action)"
    assert types(text)["action_value"] == "f32[bins, 3]"
    assert [c for c, _ in codes(text.replace("linspace(-1, 1, bins)", "arange(4)"))] == ["E0404"]
    assert [c for c, _ in codes(text.replace("(bins, 3)", "(bins, 4)"))] == ["E0403"]


# ---------------------------------------------------------------------------------------------
# Exploration


def test_exploration_runs_after_its_policy() -> None:
    text = OBS + "key action : onehot(4, dtype=i64)\nactor q = QValueActor(Linear(3, 4), spec=action)\n" \
                 "explore e = EGreedyModule(q, spec=action, eps_init=1.0, eps_end=0.05)"
    assert codes(text) == []
    continuous = OBS + "key action : f32[2] in [-1.0, 1.0]\nkey is_init : bool[1]\n" \
        "actor a = Actor(MLP(out_features=2) >> Tanh(), spec=action)\n"
    assert codes(continuous + "explore e = AdditiveGaussianModule(a, spec=action)") == []
    assert codes(continuous + "explore e = OrnsteinUhlenbeckProcessModule(a, spec=action)") == []
    assert [c for c, _ in codes(continuous + "explore e = AdditiveGaussianModule(a)")] == ["W0501"]
    assert [c for c, _ in codes(continuous + "explore e = OrnsteinUhlenbeckProcessModule(a, spec=action, "
                                             "safe=false)")] == ["W0501"]


def test_exploration_spec_sorts_and_schedules() -> None:
    continuous = OBS + "key action : f32[2] in [-1.0, 1.0]\nkey is_init : bool[1]\n" \
        "actor a = Actor(MLP(out_features=2) >> Tanh(), spec=action)\n"
    assert [c for c, _ in codes(continuous + "explore e = EGreedyModule(a, spec=action)")] == ["E0704"]
    assert [c for c, _ in codes(continuous + "explore e = AdditiveGaussianModule(a, spec=action, sigma_init=0.1, "
                                             "sigma_end=0.2)")] == ["E0705"]
    assert [c for c, _ in codes(continuous + "explore e = OrnsteinUhlenbeckProcessModule(a)")] == ["E0603"]
    d = only(continuous.replace("is_init : bool[1]", "is_init : f32[1]") +
             "explore e = OrnsteinUhlenbeckProcessModule(a, spec=action)", "E0503")
    assert "is_init" in d.message


# ---------------------------------------------------------------------------------------------
# Joined operators and sequences


def test_joined_operators_run_their_parts_in_order() -> None:
    text = OBS + ("key action : f32[1] in [-1.0, 1.0]\n"
                  "module common = MLP(out_features=8) : observation -> hidden\n"
                  "actor policy = Actor(MLP(out_features=1) >> Tanh(), in=[hidden], spec=action)\n"
                  "value q = ValueOperator(MLP(out_features=1), in=[hidden, action])\n"
                  "module m = ActorCriticOperator(common, policy, q)\n"
                  "module w = ActorCriticWrapper(policy, q)\n")
    assert codes(text) == []
    assert [c for c, _ in codes(text.replace("in=[hidden, action]", "in=[hidden]"))] == ["E0307"]


def test_sequences_of_modules() -> None:
    text = OBS + "module a = MLP(out_features=2) : observation -> x\n" \
                 "module b = MLP(out_features=1) : x -> state_value\n"
    assert codes(text + "module s = a >> b") == []
    assert [c for c, _ in codes(text + "module s = b >> a")] == ["E0303"]
    assert [c for c, _ in codes(text + "module s = SafeSequential(b, a)")] == ["E0303"]
    assert [c for c, _ in codes(text + "module s = a >> MLP(out_features=1)")] == ["E0607"]


def test_keys_written_twice_with_different_specs() -> None:
    d = only(OBS + "module a = MLP(out_features=2) : observation -> x\nmodule b = MLP(out_features=3) : observation "
                   "-> x\nvalue v = ValueOperator(MLP(out_features=1), in=[x])", "E0409")
    assert d.span.line == 3


def test_spec_argument_must_match_the_declared_key() -> None:
    d = only(OBS + "key action : f32[1] in [-1.0, 1.0]\nkey other : f32[1] in [0.0, 1.0]\n"
                   "actor a = Actor(MLP(out_features=1), spec=other, safe=true)", "E0509")
    assert d.help == "pass the key's own spec, `spec=action`"


def test_a_module_cannot_read_what_only_it_writes() -> None:
    d = only("module m = MLP(out_features=2) : x -> x", "E0304")
    assert d.message == "`m` reads `x`, which only it writes"
    # the data provides x, but the module replaces it: running it twice feeds it its own output (W0304)
    assert codes("key x : f32[2]\nmodule m = MLP(out_features=2) : x -> x") == [("W0304", 2)]


def test_role_keywords() -> None:
    d = only(OBS + "value a = Actor(MLP(out_features=1), out=[act])\nvalue v = ValueOperator(MLP(out_features=1), "
                   "in=[act])", "W0201")
    assert d.help == "declare it with `actor` (or `module`)"
    assert codes(OBS + "module a = Actor(MLP(out_features=1))") == []


def test_an_output_named_underscore_is_thrown_away_as_tensordict_does() -> None:
    text = ("key observation : f32[4]\n"
            "module head = MLP(out_features=4) >> NormalParamExtractor() : observation -> _, scale\n"
            "module other = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, _\n"
            "value v = ValueOperator(MLP(out_features=1), in=[scale, loc])\n")
    report = check_text(text, "a.rlm")
    assert report.ok and not report.warnings
    assert "_" not in {key.dotted for key in report.keys}
    program = rldsl.compile(text)
    assert program.writes("head") == ["scale"]
    out = program["head"](program.spec_random_input("head", (2,)))
    assert "_" not in out.keys() and out["scale"].shape == (2, 2)


def test_an_unnamed_sequence_of_named_modules_is_no_cycle() -> None:
    text = ("key observation : f32[4]\n"
            "module a = MLP(out_features=4) : observation -> h\n"
            "module b = MLP(out_features=4) : h -> g\n"
            "module c = MLP(out_features=1) : g -> state_value\n"
            "module outer = SafeSequential(SafeSequential(a, b), c)\n")
    report = check_text(text, "a.rlm")
    assert report.ok and not report.warnings, [(d.code, d.message) for d in report.diagnostics]
