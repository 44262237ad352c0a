"""Issue 14: value ranges reach distribution parameters (E0711), and a point mass has no
log-probability (E0712). The checker follows ranges through networks and declarations as specs do
(a linear layer's output is unbounded, `Tanh` is in [-1, 1], `Softplus` and `NormalParamExtractor`'s
scale are at least 0); a distribution parameter with a domain must be known to lie in it."""

from __future__ import annotations

import pytest

from rldsl.lang.check import CheckResult, check_text

HEAD = "key observation : f32[3]\nkey action : f32[1] in [-2.0, 2.0]\nkey choice : categorical(4)\n"
TANH_NORMAL = "dist=TanhNormal(low=action.low, high=action.high), spec=action"


def check(text: str) -> CheckResult:
    return check_text(HEAD + text, "t.rlm")


def codes(text: str) -> list[tuple[str, int]]:
    """(code, line) of each diagnostic, lines counted in ``text`` (after the three head lines)."""
    return [(d.code, d.span.line - 3) for d in check(text).diagnostics]


def scale_actor(scale_net: str, scale_key: str = "scale") -> str:
    return (f"module loc_net = MLP(out_features=1) : observation -> loc\n"
            f"module scale_net = {scale_net} : observation -> {scale_key}\n"
            f"actor policy = ProbabilisticActor(loc_net >> scale_net, in=[loc, {scale_key}], {TANH_NORMAL})\n")


@pytest.mark.parametrize("scale_net", [
    "MLP(out_features=1) >> Softplus()",
    "MLP(out_features=1) >> Sigmoid()",
    "MLP(out_features=1, activation_class=Softplus, activate_last_layer=true)",
    "MLP(out_features=2) >> NormalParamExtractor() >> Softplus()",
], ids=["softplus", "sigmoid", "softplus-last-layer", "extractor-then-softplus"])
def test_a_scale_made_nonnegative_by_the_network_is_accepted(scale_net: str) -> None:
    if "NormalParamExtractor" in scale_net:  # the extractor's two outputs: keep the scale, drop the loc
        text = ("module loc_net = MLP(out_features=1) : observation -> loc\n"
                "module params = MLP(out_features=2) >> NormalParamExtractor() : observation -> _, scale\n"
                f"actor policy = ProbabilisticActor(loc_net >> params, in=[loc, scale], {TANH_NORMAL})\n")
    else:
        text = scale_actor(scale_net)
    assert codes(text) == []


def test_the_usual_extractor_actor_is_accepted() -> None:
    text = (f"module params = MLP(out_features=2) >> NormalParamExtractor() : observation -> loc, scale\n"
            f"actor policy = ProbabilisticActor(params, in=[loc, scale], {TANH_NORMAL})\n")
    assert codes(text) == []


@pytest.mark.parametrize("scale_net", ["MLP(out_features=1)", "MLP(out_features=1) >> Tanh()",
                                       "MLP(out_features=1) >> ELU()"], ids=["linear", "tanh", "elu"])
def test_a_scale_that_can_be_negative_is_an_error_where_it_is_made(scale_net: str) -> None:
    """The error points at the key the scale network writes (line 2), with a label at the read."""
    found = check(scale_actor(scale_net)).diagnostics
    assert [(d.code, d.span.line - 3) for d in found] == [("E0711", 2)]
    error = found[0]
    assert "TanhNormal's `scale` must be positive" in error.message and "`scale_net`" in error.message
    assert [(label.span.line - 3, label.message) for label in error.labels] == [(3, "read as `scale` by TanhNormal")]
    assert "NormalParamExtractor()" in error.help and "Softplus" in error.help


@pytest.mark.parametrize("scale_net", ["MLP(out_features=1) >> ReLU()",
                                       "MLP(out_features=1, activation_class=ReLU, activate_last_layer=true)"],
                         ids=["stage", "last-layer"])
def test_a_relu_scale_is_an_error_since_it_reaches_zero(scale_net: str) -> None:
    """ReLU's outputs lie in [0, inf] like Softplus's, but ReLU gives 0 itself for every negative
    input, which torch's Normal refuses as a scale (rldsl's choice: Softplus and sigmoid count as
    positive, as their zeros only come from float underflow)."""
    found = check(scale_actor(scale_net)).diagnostics
    assert [(d.code, d.span.line - 3) for d in found] == [("E0711", 2)]
    assert found[0].message.endswith("which can be 0")
    assert "ReLU gives exactly 0" in found[0].help and "Softplus" in found[0].help


def test_a_declared_scale_must_be_declared_positive() -> None:
    read = f"actor policy = ProbabilisticActor(loc_net, in=[loc, noise.scale], {TANH_NORMAL})\n"
    loc = "module loc_net = MLP(out_features=1) : observation -> loc\n"
    found = check("key noise : { scale: f32[1] }\n" + loc + read).diagnostics
    assert [(d.code, d.span.line - 3) for d in found] == [("E0711", 1)]
    assert "declared as f32[1]" in found[0].message
    assert "f32[1] in [0.0001, inf]" in found[0].help
    assert codes("key noise : { scale: f32[1] in [0.01, 1.0] }\n" + loc + read) == []


def test_a_declared_key_written_by_a_network_is_judged_by_what_the_network_makes() -> None:
    """A declaration does not make a linear layer's output positive: the written value is judged."""
    text = "key scale : f32[1] in [0.01, inf]\n" + scale_actor("MLP(out_features=1)")
    found = [(d.code, d.span.line - 3) for d in check(text).diagnostics]
    assert ("E0711", 3) in found


def test_probabilities_must_lie_in_zero_one_and_logits_are_free() -> None:
    probs = "module net = MLP(out_features=4){tail} : observation -> {key}\n" \
            "actor policy = ProbabilisticActor(net, in=[{key}], out=[choice], dist=Categorical, spec=choice)\n"
    assert codes(probs.format(tail="", key="probs")) == [("E0711", 1)]
    assert codes(probs.format(tail=" >> Sigmoid()", key="probs")) == []
    assert codes(probs.format(tail="", key="logits")) == []
    error = check(probs.format(tail="", key="probs")).diagnostics[0]
    assert "`probs` must be in [0, 1]" in error.message and "logits" in error.help


@pytest.mark.parametrize("dist", ["TanhDelta(low=action.low, high=action.high)", None],
                         ids=["TanhDelta", "default-Delta"])
def test_a_point_mass_has_no_log_probability(dist: str | None) -> None:
    given = f", dist={dist}" if dist else ""
    text = ("module net = MLP(out_features=1) >> Tanh() : observation -> param\n"
            f"actor policy = ProbabilisticActor(net, in=[param]{given}, spec=action, safe=true,\n"
            "                                  return_log_prob=true)\n")
    found = check(text).diagnostics
    assert [(d.code, d.span.line - 3) for d in found] == [("E0712", 3)]
    assert "point mass" in found[0].message and "return_log_prob" in found[0].help
    assert ("(the default when `dist=` is not given)" in found[0].message) is (dist is None)
    assert codes(text.replace(",\n                                  return_log_prob=true", "")) == []


def test_json_output_puts_the_caret_on_the_producer() -> None:
    """`--format json` carries the producer as the primary span and the reader as a secondary label."""
    import json

    from rldsl.lang.render import render_json

    [error] = json.loads(render_json(check(scale_actor("MLP(out_features=1)")).diagnostics))["diagnostics"]
    assert error["code"] == "E0711"
    assert error["span"]["line"] - 3 == 2
    assert [label["span"]["line"] - 3 for label in error["labels"]] == [3]
