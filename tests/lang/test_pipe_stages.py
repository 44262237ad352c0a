"""A pipe passes one tensor from stage to stage: a stage returning several (NormalParamExtractor's
`loc, scale`) may only end it (E0407 otherwise: the compiled nn.Sequential would hand the next
stage a tuple)."""

from __future__ import annotations

import rldsl
from rldsl.lang.check import check_text

HEAD = "key observation : f32[4]\n"


def test_a_tuple_in_the_middle_of_a_pipe_is_refused_at_the_next_stage():
    text = HEAD + "module m = MLP(out_features=4) >> NormalParamExtractor() >> MLP(out_features=2) : observation -> y\n"
    (d,) = check_text(text, "a.rlm").diagnostics
    assert d.code == "E0407" and "NormalParamExtractor returns 2" in d.message
    assert (d.span.line, d.span.column) == (2, 61) and d.labels[0].span.column == 35


def test_a_tuple_at_the_end_of_a_pipe_is_named_by_keys():
    text = HEAD + "module m = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale\n"
    assert check_text(text, "a.rlm").ok
    program = rldsl.compile(text)
    out = program["m"](program.spec_random_input("m", (3,)))
    assert out["loc"].shape == out["scale"].shape == (3, 2)
