"""`layer_class=`: a network kind given as a class, one of the kinds the parameter lists
(``ArgType.LAYER``); the compiler passes the runtime class."""

from __future__ import annotations

import torch

import rldsl
from rldsl.lang.check import check_text

HEAD = "key observation : f32[3]\n"


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(HEAD + text, "a.rlm").diagnostics]


def test_a_listed_class_checks_and_compiles_to_its_runtime_class():
    assert codes("actor a = Actor(MLP(out_features=2, num_cells=[4], layer_class=Linear))\n") == []
    program = rldsl.compile(HEAD + "actor a = Actor(MLP(out_features=2, num_cells=[4], layer_class=Linear))\n")
    assert [type(m) for m in program["a"].module if not isinstance(m, torch.nn.Tanh)] == [torch.nn.Linear] * 2


def test_another_kind_is_refused_at_the_argument_with_the_choices():
    (diagnostic,) = check_text(HEAD + "actor a = Actor(MLP(out_features=2, layer_class=Lineer))\n", "a.rlm").diagnostics
    assert diagnostic.code == "E0606" and "one of `Linear`" in diagnostic.message
    assert diagnostic.span.column == 49 and diagnostic.suggestion.replacement == "Linear"
    assert codes("actor a = Actor(MLP(out_features=2, layer_class=Tanh))\n") == ["E0606"]


def test_a_configured_layer_or_a_value_is_not_a_class():
    assert codes("actor a = Actor(MLP(out_features=2, layer_class=Linear(3, 2)))\n") == ["E0604"]
    assert codes("actor a = Actor(MLP(out_features=2, layer_class=3))\n") == ["E0604"]


def test_the_builder_and_the_printer_name_the_class():
    from rldsl.build import MLP, Actor, Model

    model = Model()
    model.key("observation", "f32[3]")
    model.actor("a", Actor(MLP(out_features=2, layer_class="Linear")))
    assert "layer_class=Linear)" in model.to_source() and model.check().ok
