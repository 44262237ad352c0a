"""The kind registry: well-formed entries, suggestions, and the generated reference in docs/language.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rldsl.lang.kinds import BY_NAME, KINDS, RENAMED, ArgType, Family, Kind, Pass, kinds_markdown, lookup, suggest_kind
from rldsl.lang.kinds._base import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE_DOC = ROOT / "docs" / "language.md"
START, END = "<!-- kinds:start -->", "<!-- kinds:end -->"

REQUIRED_KINDS = {
    "MLP", "Linear", "Tanh", "ReLU", "ELU", "NormalParamExtractor", "SafeModule", "SafeSequential", "Actor",
    "TanhModule", "ProbabilisticActor", "SafeProbabilisticModule", "TanhNormal", "IndependentNormal",
    "TruncatedNormal", "Delta", "TanhDelta", "OneHotCategorical", "MaskedCategorical", "MaskedOneHotCategorical",
    "Normal", "Categorical", "EGreedyModule", "AdditiveGaussianModule", "OrnsteinUhlenbeckProcessModule",
    "QValueModule", "QValueActor", "DistributionalQValueActor", "ValueOperator", "ActorValueOperator",
    "ActorCriticOperator", "ActorCriticWrapper",
}


def test_every_kind_of_the_issue_is_described() -> None:
    assert REQUIRED_KINDS <= set(BY_NAME)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_kind_is_well_formed(kind: Kind) -> None:
    assert re.fullmatch(r"[a-z_.]+\.[A-Za-z_]\w*", kind.runtime), kind.runtime
    assert kind.summary.endswith(".")
    assert kind.role in (None, "actor", "value", "explore")
    names = [p.name for p in kind.params]
    assert len(names) == len(set(names))
    positional = [p for p in kind.params if p.positional]
    assert kind.params[: len(positional)] == tuple(positional), "positional parameters come first"
    for param in kind.params:
        assert param.doc, (kind.name, param.name)
        if param.type is ArgType.CHOICE:
            assert param.default is REQUIRED or param.default in param.choices
        if param.type in (ArgType.KEY,) and param.default not in (REQUIRED, None):
            assert isinstance(param.default, str)
        if param.type is ArgType.KEYS and param.default not in (REQUIRED, None):
            assert isinstance(param.default, tuple)
        if param.type in (ArgType.DIST, ArgType.ACTIVATION) and isinstance(param.default, str):
            assert param.default in BY_NAME
    if kind.family is Family.MODULE:
        assert kind.build is not None and kind.infer is not None
    if kind.family in (Family.NETWORK, Family.ACTIVATION):
        assert kind.infer is not None
    if kind.family is Family.DISTRIBUTION:
        assert kind.dist is not None
    assert all(p.passed is not Pass.DIST or p.target == "distribution_class" for p in kind.params)


def test_lookup_and_suggestions() -> None:
    assert lookup("MLP") is BY_NAME["MLP"] and lookup("mlp") is None
    assert suggest_kind("QvalueActor") == "QValueActor"
    assert suggest_kind("TanhNorml", Family.DISTRIBUTION) == "TanhNormal"
    assert set(RENAMED).isdisjoint(BY_NAME)


def test_language_reference_lists_every_kind_as_generated() -> None:
    text = LANGUAGE_DOC.read_text()
    assert START in text and END in text
    generated = f"{START}\n{kinds_markdown()}\n{END}"
    current = text[text.index(START): text.index(END) + len(END)]
    if os.environ.get("RLDSL_UPDATE_GOLDEN") == "1" and current != generated:
        text = text.replace(current, generated)
        LANGUAGE_DOC.write_text(text)
        current = generated
    assert current == generated, "regenerate with RLDSL_UPDATE_GOLDEN=1"
    for kind in KINDS:
        assert f"#### `{kind.name}`" in text
