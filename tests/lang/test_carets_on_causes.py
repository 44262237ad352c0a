"""Issue 14, carets on the cause: a wrong action width is shown at the `out_features` that sets it,
with the width it needs (twice the action's before a NormalParamExtractor) as a machine-applicable
fix; a mask of the wrong shape at its declaration; a float input of another dtype with the cast to
add. A fix is offered only where it is the right one."""

from __future__ import annotations

import json

from rldsl.lang.check import CheckResult, check_text
from rldsl.lang.render import render_json

HEAD = "key observation : f32[3]\nkey action : f32[2] in [-1.0, 1.0]\n"
TANH_NORMAL = "dist=TanhNormal(low=action.low, high=action.high), spec=action"


def check(text: str) -> CheckResult:
    return check_text(HEAD + text, "t.rlm")


def caret_text(text: str, result: CheckResult) -> str:
    """The source text under the first diagnostic's caret."""
    span = result.diagnostics[0].span
    line = (HEAD + text).splitlines()[span.line - 1]
    return line[span.column - 1:span.end_column - 1]


def test_a_too_narrow_extractor_input_is_shown_at_out_features_with_twice_the_action_width() -> None:
    text = ("module params = MLP(out_features=2) >> NormalParamExtractor() : observation -> loc, scale\n"
            f"actor policy = ProbabilisticActor(params, in=[loc, scale], {TANH_NORMAL})\n")
    result = check(text)
    [error] = result.diagnostics
    assert error.code == "E0402" and error.span.line == 3 and caret_text(text, result) == "2"
    assert error.label == "2 features, which NormalParamExtractor splits into two halves: 4 needed"
    assert [label.span.line for label in error.labels] == [4, 4]  # the distribution, the spec
    assert error.help == "set `out_features=4` (2 for `loc` and 2 for `scale`)"
    assert error.suggestion is not None and error.suggestion.replacement == "4"
    [shown] = json.loads(render_json(result.diagnostics))["diagnostics"]
    assert shown["suggestion"]["replacement"] == "4" and shown["suggestion"]["span"]["line"] == 3


def test_an_actor_network_of_the_wrong_width_gets_the_action_width() -> None:
    text = "actor policy = Actor(MLP(out_features=1, num_cells=[8]) >> Tanh(), in=[observation], spec=action)\n"
    result = check(text)
    [error] = result.diagnostics
    assert error.code == "E0402" and caret_text(text, result) == "1"
    assert error.suggestion is not None and error.suggestion.replacement == "2"
    assert error.help == "set `out_features=2`"


def test_no_fix_is_offered_when_the_width_is_not_set_by_out_features() -> None:
    """When the width comes from data, not from an `out_features` (a NormalParamExtractor reading a
    declared key), the general message stays, without a fix."""
    text = ("key features : f32[2]\n"
            "module params = NormalParamExtractor() : features -> loc, scale\n"
            f"actor policy = ProbabilisticActor(params, in=[loc, scale], {TANH_NORMAL})\n")
    result = check(text)
    [error] = result.diagnostics
    assert error.code == "E0402" and error.suggestion is None
    assert "make the network output 2 features" in error.help


def test_a_mask_of_the_wrong_shape_is_shown_at_its_declaration() -> None:
    text = ("key mask : bool[3]\nkey choice : categorical(4)\n"
            "module logits_net = MLP(out_features=4) : observation -> logits\n"
            "actor policy = ProbabilisticActor(logits_net, in=[logits], out=[choice], "
            "dist=MaskedCategorical(mask=mask), spec=choice)\n")
    result = check(text)
    [error] = result.diagnostics
    assert error.code == "E0507" and error.span.line == 3  # `key mask : bool[3]`
    assert [(label.span.line, label.message) for label in error.labels] == [
        (6, "read as the mask of MaskedCategorical")]
    assert error.help == "declare `key mask : bool[4]`"


def test_a_float64_observation_names_both_dtypes_and_the_cast() -> None:
    result = check("key obs64 : f64[3]\nmodule net = MLP(out_features=4) : obs64 -> hidden\n")
    [error] = result.diagnostics
    assert error.code == "E0515"
    assert "weights are f32" in error.message and "as f64" in error.message
    assert "DoubleToFloat" in error.help and "`f32[3]`" in error.help
    half = check("key obs16 : f16[3]\nmodule net = MLP(out_features=4) : obs16 -> hidden\n").diagnostics[0]
    assert "`.to(torch.float32)`" in half.help
