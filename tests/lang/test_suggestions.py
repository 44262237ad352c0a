""""Did you mean" only when close: the similarity rule, the torchrl kinds rldsl lacks, Python's
spellings of the constants, and no "key never written" cascade after an unknown kind or env."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rldsl.lang import kind_hints
from rldsl.lang.check import check_text
from rldsl.lang.kind_hints import TORCHRL_MODULES, missing_kinds, unknown_kind_help
from rldsl.lang.kinds import BY_NAME, RENAMED
from rldsl.lang.values import _edit_distance, did_you_mean, suggest

KINDS = list(BY_NAME)
KEYS = ["observation", "action", "reward", "done", "terminated", "truncated", "state_value", "loc", "scale",
        "action_value", "sample_log_prob"]
REFERENCE = Path("/work/shared/seed/torchrl_modules_reference.txt")


def diagnostics(text: str) -> list[tuple[str, str | None]]:
    return [(d.code, d.help) for d in check_text(text, "s.rlm").diagnostics]


# ---------------------------------------------------------------------------------------------
# The similarity rule

GOOD = [
    ("obsevation", KEYS, "observation"),
    ("observaton", KEYS, "observation"),
    ("obsrvation", KEYS, "observation"),
    ("acton", KEYS, "action"),
    ("actoin", KEYS, "action"),
    ("MLp", KINDS, "MLP"),
    ("mlp", KINDS, "MLP"),
    ("Relu", KINDS, "ReLU"),
    ("LeakyRelu", KINDS, "LeakyReLU"),
    ("num_cell", ["num_cells", "depth", "out_features"], "num_cells"),
    ("ProbablisticActor", KINDS, "ProbabilisticActor"),
    ("QValueActr", KINDS, "QValueActor"),
    ("QValActor", KINDS, "QValueActor"),
    ("TanhNorml", KINDS, "TanhNormal"),
    ("Sigmod", KINDS, "Sigmoid"),
    ("E0310", ["E0301", "E0302", "E0501"], "E0301"),
    ("onehto", ["onehot", "categorical", "binary"], "onehot"),
    ("Pendulum-v9", ["Pendulum-v1", "CartPole-v1"], "Pendulum-v1"),
]

BAD = [
    ("MPCPlannerBase", KINDS),
    ("True", KEYS),
    ("False", KEYS),
    ("Softmax", KINDS),
    ("FutureTorchrlNet", KINDS),
    ("obs", KEYS),
    ("x", ["y", "z"]),
    ("Foo", KINDS),
    ("hidden", KEYS),
]


@pytest.mark.parametrize(("word", "candidates", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_close_misspellings_are_suggested(word: str, candidates: list[str], expected: str) -> None:
    assert suggest(word, candidates) == expected
    assert did_you_mean(word, candidates, "fallback") == (f"did you mean `{expected}`?", expected)


@pytest.mark.parametrize(("word", "candidates"), BAD, ids=[b[0] for b in BAD])
def test_words_that_merely_look_alike_are_not(word: str, candidates: list[str]) -> None:
    assert suggest(word, candidates) is None


def test_python_constants_are_never_corrected_to_a_candidate() -> None:
    for word in ("True", "False", "None"):
        help_, guess = did_you_mean(word, ["done", "truncated", "false_positive", "none_key"], "fallback")
        assert guess is None and "`" + word.lower() + "`" in help_


def test_the_closest_of_several_wins_and_case_only_differences_first() -> None:
    assert suggest("Tanhh", ["TanhModule", "Tanh", "TanhNormal"]) == "Tanh"
    assert suggest("normal", ["TanhNormal", "Normal"]) == "Normal"
    assert suggest("anything", []) is None
    assert suggest("a" * 100 + "b", ["a" * 100 + "c"]) is None  # long words: only case differences
    assert suggest("A" * 100, ["a" * 100]) == "a" * 100


def test_edit_distance_counts_swaps_as_one_and_stops_early() -> None:
    assert _edit_distance("acton", "action", 5) == 1
    assert _edit_distance("actoin", "action", 5) == 1
    assert _edit_distance("lstmmodule", "tanhmodule", 10) == 4
    assert _edit_distance("abcdef", "uvwxyz", 2) == 3  # past the limit: limit + 1


@settings(max_examples=200, deadline=None)
@given(st.text("abcdeAB_", max_size=12), st.lists(st.text("abcdeAB_", min_size=1, max_size=12), max_size=8))
def test_a_suggestion_is_always_within_the_edit_budget(word: str, candidates: list[str]) -> None:
    guess = suggest(word, candidates)
    lowered = {c.lower() for c in candidates}
    if word.lower() in lowered:
        assert guess is not None and guess.lower() == word.lower()
    elif guess is not None:
        assert guess in candidates
        assert _edit_distance(word.lower(), guess.lower(), 99) <= max(1, len(word) // 4)


# ---------------------------------------------------------------------------------------------
# torchrl kinds rldsl lacks


#: A torchrl.modules class rldsl has no kind for (none is left in the seed's list: every class is a
#: kind, or not one by design), added to the list for these tests.
FUTURE = "FutureTorchrlNet"


@pytest.fixture
def future_class(monkeypatch: pytest.MonkeyPatch):
    """``FUTURE`` listed among torchrl's classes, as a class torchrl adds later would be."""
    monkeypatch.setattr(kind_hints, "TORCHRL_MODULES", (*TORCHRL_MODULES, FUTURE))
    missing_kinds.cache_clear()
    yield FUTURE
    missing_kinds.cache_clear()


def test_missing_kinds_are_derived_from_the_registry(future_class: str) -> None:
    for name in kind_hints.TORCHRL_MODULES:
        assert (name in missing_kinds()) == (name not in BY_NAME and name not in RENAMED), name
    assert missing_kinds() == {future_class, *kind_hints.NOT_KINDS}


def test_every_class_of_the_seed_is_a_kind_or_not_one_by_design() -> None:
    assert missing_kinds() == set(kind_hints.NOT_KINDS)
    assert not missing_kinds() & set(BY_NAME)
    assert len(set(TORCHRL_MODULES)) == len(TORCHRL_MODULES)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the torchrl.modules reference is not in this checkout")
def test_the_torchrl_names_are_those_of_the_reference() -> None:
    import re

    listed = set(re.findall(r"^([A-Z][A-Za-z0-9_]*)\(", REFERENCE.read_text(), flags=re.MULTILINE))
    assert listed == set(TORCHRL_MODULES)


def test_kind_hints_docstring_examples() -> None:
    result = doctest.testmod(kind_hints, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_torchrl_kind_rldsl_lacks_is_said_to_be_missing(future_class: str) -> None:
    name = future_class
    found = check_text(f"key observation : f32[3]\nmodule p = {name}(x=1) : observation -> hidden\n", "s.rlm")
    (d,) = found.diagnostics
    assert d.code == "E0204" and d.message == f"unknown kind `{name}`"
    assert d.help.startswith(f"rldsl has no `{name}` yet") and d.suggestion is None
    assert "did you mean" not in d.help


def test_unknown_kind_help_keeps_renamed_advice_and_close_guesses() -> None:
    assert unknown_kind_help("TensorDictSequential") == (RENAMED["TensorDictSequential"], None)
    assert unknown_kind_help("QValueActr") == ("did you mean `QValueActor`?", "QValueActor")
    assert unknown_kind_help("Zzz", fallback="none of them") == ("none of them", None)


def test_a_bare_missing_kind_name_is_said_to_be_missing(future_class: str) -> None:
    (d,) = check_text(f"key observation : f32[3]\nkey action : f32[1]\nactor p = {FUTURE}\n", "s.rlm").diagnostics
    assert d.code == "E0201" and d.help.startswith(f"rldsl has no `{FUTURE}` yet")


@pytest.mark.parametrize("name", sorted(kind_hints.NOT_KINDS))
def test_a_torchrl_class_that_is_no_kind_by_design_says_what_to_do(name: str) -> None:
    (d,) = check_text(f"key observation : f32[3]\nmodule p = {name}(x=1) : observation -> hidden\n", "s.rlm").diagnostics
    assert d.code == "E0204" and d.help == kind_hints.NOT_KINDS[name] and d.suggestion is None


def test_distributions_and_activations_are_suggested_within_their_family() -> None:
    (d,) = check_text("key observation : f32[3]\nmodule p = MLP(out_features=1, activation_class=Tahn) "
                      ": observation -> y\n", "s.rlm").diagnostics
    assert (d.code, d.help) == ("E0204", "did you mean `Tanh`?")
    (d,) = check_text("key observation : f32[3]\nmodule p = MLP(out_features=1, activation_class=Softmax) "
                      ": observation -> y\n", "s.rlm").diagnostics
    assert d.help.startswith("activations are `Tanh`")


# ---------------------------------------------------------------------------------------------
# Python's True, False and None


@pytest.mark.parametrize(("text", "hint"), [
    ("module p = MLP(out_features=1, bias_last_layer=True) : observation -> y", "`true`"),
    ("module p = MLP(out_features=1, bias_last_layer=False) : observation -> y", "`false`"),
    ("module p = MLP(out_features=1, dropout=None) : observation -> y", "`none`"),
    ("module p = MLP(out_features=1, activation_class=None) : observation -> y", "`none`"),
    ("actor p = Actor(MLP(out_features=1), spec=action, safe=True)", "`true`"),
], ids=["true", "false", "none", "none-activation", "actor-true"])
def test_python_spellings_get_the_rlm_spelling(text: str, hint: str) -> None:
    found = diagnostics(f"key observation : f32[3]\nkey action : f32[1] in [-1.0, 1.0]\n{text}\n")
    helps = [h for code, h in found if code.startswith("E")]
    assert helps and all(hint in h and "truncated" not in h and "done" not in h for h in helps), found


def test_python_spellings_in_env_options() -> None:
    (found,) = diagnostics('env e = gym("Pendulum-v1", categorical_action_encoding=True)\n')
    assert found[0] == "E0604" and "`true`" in found[1]


# ---------------------------------------------------------------------------------------------
# No "key never written" cascade


def test_an_unknown_kind_with_keys_does_not_cascade() -> None:
    text = ("key observation : f32[3]\n"
            "module p = LMHeadActorValueOperator(input_size=3) : observation -> hidden\n"
            "value v = ValueOperator(MLP(out_features=1), in=[hidden])\n")
    assert [code for code, _ in diagnostics(text)] == ["E0204"]


def test_an_unknown_kind_without_keys_does_not_cascade() -> None:
    text = ("key observation : f32[3]\nkey action : onehot(3)\n"
            "actor p = QValueActr(MLP(out_features=3), spec=action)\n"
            "value v = ValueOperator(MLP(out_features=1), in=[observation, action_value])\n")
    assert diagnostics(text) == [("E0204", "did you mean `QValueActor`?")]


def test_a_module_with_keys_and_an_error_still_lets_other_typos_show() -> None:
    text = ("key observation : f32[3]\n"
            "module p = Foo(x=1) : observation -> hidden\n"
            "value v = ValueOperator(MLP(out_features=1), in=[hiden])\n")
    found = diagnostics(text)
    assert [code for code, _ in found] == ["E0204", "E0301"] and found[1][1] == "did you mean `hidden`?"


def test_a_bad_env_id_does_not_cascade() -> None:
    text = ('env e = gym("Pendulum-v9")\n'
            "actor p = Actor(MLP(out_features=1), spec=e.action)\n"
            "value q = ValueOperator(MLP(out_features=1), in=[observation, action])\n")
    assert [code for code, _ in diagnostics(text)] == ["E0508"]


def test_without_errors_a_missing_key_is_still_reported() -> None:
    text = 'env e = gym("Pendulum-v1")\nvalue q = ValueOperator(MLP(out_features=1), in=[observation, acton])\n'
    assert diagnostics(text) == [("E0301", "did you mean `action`?")]


def test_the_builder_gets_the_same_cascade_rule() -> None:
    from rldsl.build import MLP, Model, ValueOperator, ref

    m = Model()
    m.key("observation", "f32[3]")
    m.module("p", ref("LMHeadActorValueOperator")(input_size=3), reads=["observation"], writes=["hidden"])
    m.value("v", ValueOperator(MLP(out_features=1), in_=["hidden"]))
    assert [d.code for d in m.check().diagnostics] == ["E0204"]
    m = Model()
    m.env("e", "Pendulum-v9")
    m.value("q", ValueOperator(MLP(out_features=1), in_=["observation", "action"]))
    assert [d.code for d in m.check().diagnostics] == ["E0508"]


@pytest.mark.parametrize("spec", ["f32[0]", "f32[2147483648]", "f32[3] in [0.0, 1e999]"])
def test_a_key_with_a_wrong_spec_is_not_also_never_written(spec: str) -> None:
    result = check_text(f"key observation : {spec}\nvalue v = ValueOperator(MLP(out_features=1), in=[observation])\n")
    codes = [d.code for d in result.diagnostics]
    assert len(codes) == 1 and "E0301" not in codes, codes


def test_a_module_cannot_read_a_composite_only_its_own_output_makes() -> None:
    result = check_text("module inside = MLP(out_features=2) : observation -> observation.x\n")
    assert [d.code for d in result.diagnostics] == ["E0301"]
    shared = check_text("key o : f32[3]\nmodule a = MLP(out_features=2) : o -> agents.x\n"
                        "module b = MLP(out_features=2) : agents -> y\n")
    assert shared.ok  # `agents` made by another module's output is readable
