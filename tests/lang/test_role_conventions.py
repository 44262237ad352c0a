"""Issue 14, role conventions: a value head one number wide (W0202), heads that read the shared trunk
(W0203), a network that does not overwrite its own input (W0304), and `spec=` of another key (E0509,
nested multi-agent keys included). Each rule also stays quiet on the correct form."""

from __future__ import annotations

from rldsl.lang.check import CheckResult, check_text

HEAD = "key observation : f32[3]\nkey action : f32[1] in [-1.0, 1.0]\n"


def check(text: str) -> CheckResult:
    return check_text(HEAD + text, "t.rlm")


def codes(text: str) -> list[tuple[str, int]]:
    """(code, line) of each diagnostic, lines counted in ``text`` (after the two head lines)."""
    return [(d.code, d.span.line - 2) for d in check(text).diagnostics]


def test_a_value_wider_than_one_number_is_a_warning_at_out_features() -> None:
    found = check("value critic = ValueOperator(MLP(out_features=2, num_cells=[8]), in=[observation])\n").diagnostics
    assert [(d.code, d.span.line - 2) for d in found] == [("W0202", 1)]
    warning = found[0]
    line = "value critic = ValueOperator(MLP(out_features=2, num_cells=[8]), in=[observation])"
    assert warning.span.column == line.index("out_features=2") + len("out_features=") + 1  # the caret is on the 2
    assert "`state_value` gets 2 numbers per sample" in warning.message
    assert "out_features=1" in warning.help and "key state_value : f32[2]" in warning.help


def test_a_wide_value_said_so_by_a_declaration_or_one_per_agent_is_clean() -> None:
    declared = "key state_action_value : f32[5]\n" \
               "value q = ValueOperator(MLP(out_features=5), in=[observation, action])\n"
    assert codes(declared) == []
    agents = "key agents : { observation: f32[3, 4] }\n" \
             "value v = ValueOperator(MLP(out_features=1), in=[agents.observation], out=[agents.state_value])\n"
    assert codes(agents) == []
    assert codes("value v = ValueOperator(MLP(out_features=1) >> Tanh(), in=[observation])\n") == []


def test_the_last_stage_of_a_pipe_is_the_width_shown() -> None:
    found = check("value v = ValueOperator(MLP(out_features=4) >> MLP(out_features=3), in=[observation])\n")
    assert [d.code for d in found.diagnostics] == ["W0202"]
    assert "3 numbers" in found.diagnostics[0].message


TRUNK = ("module trunk = MLP(out_features=8) : observation -> hidden\n"
         "actor policy = Actor(MLP(out_features=1) >> Tanh(), in=[hidden], spec=action)\n")


def test_heads_on_the_trunk_are_clean_and_a_bypassing_head_is_a_warning() -> None:
    shared = TRUNK + "value critic = ValueOperator(MLP(out_features=1), in=[hidden])\n" \
                     "module model = ActorValueOperator(trunk, policy, critic)\n"
    assert codes(shared) == []
    bypass = TRUNK + "value critic = ValueOperator(MLP(out_features=1), in=[observation])\n" \
                     "module model = ActorValueOperator(trunk, policy, critic)\n"
    found = check(bypass).diagnostics
    assert [(d.code, d.span.line - 2) for d in found] == [("W0203", 4)]
    assert "the value head reads none of what the shared trunk writes (`hidden`)" in found[0].message
    assert [label.message for label in found[0].labels] == ["the trunk writes `hidden`"]
    assert "ActorCriticWrapper" in found[0].help


def test_a_q_value_head_reading_the_trunk_and_the_action_is_clean() -> None:
    text = TRUNK + "value q = ValueOperator(MLP(out_features=1), in=[hidden, action])\n" \
                   "module model = ActorCriticOperator(trunk, policy, q)\n"
    assert codes(text) == []


def test_a_network_overwriting_its_input_is_a_warning_and_exploration_in_place_is_not() -> None:
    found = check("module norm = MLP(out_features=3) : observation -> observation\n").diagnostics
    assert [(d.code, d.span.line - 2) for d in found] == [("W0304", 1)]
    assert [label.message for label in found[0].labels] == ["read here"]
    assert "observation_features" in found[0].help
    explore = ("key is_init : bool[1]\nactor policy = Actor(MLP(out_features=1) >> Tanh(), in=[observation], spec=action)\n"
               "explore noisy = OrnsteinUhlenbeckProcessModule(policy, spec=action)\n")
    assert [code for code, _ in codes(explore)] == []


def test_spec_of_another_key_is_an_error_for_nested_multi_agent_keys_too() -> None:
    text = ("key agents : { observation: f32[3, 4], action: f32[3, 2] in [-1.0, 1.0] }\n"
            "actor pi = Actor(MLP(out_features=2) >> Tanh(), in=[agents.observation], out=[agents.action], "
            "spec=action)\n")
    found = check(text).diagnostics
    assert [(d.code, d.span.line - 2) for d in found] == [("E0509", 2)]
    assert "`agents.action` is declared as f32[3, 2] in [-1.0, 1.0]" in found[0].message
    assert found[0].help == "pass the key's own spec, `spec=agents.action`"
