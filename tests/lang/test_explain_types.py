"""Issue 14: `rldsl check --explain-types` says why each key has its spec: every step that made the
value with the arguments that bind its sizes and the specs in and out (as jaxtyping prints its
dimension bindings), and the keys read, whose own lines continue the chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rldsl import cli
from rldsl.lang.check import check_program, check_text
from rldsl.lang.includes import load_program

ROOT = Path(__file__).resolve().parents[2]
MODEL = """key observation : f32[3]
key action : f32[2] in [-1.0, 1.0]
module trunk = MLP(out_features=8, num_cells=[16], activation_class=ReLU, activate_last_layer=true)
             : observation -> hidden
module head = MLP(out_features=2 * action.shape[-1]) >> NormalParamExtractor() : hidden -> loc, scale
actor policy = ProbabilisticActor(trunk >> head, in=[loc, scale], return_log_prob=true,
                                  dist=TanhNormal(low=action.low, high=action.high), spec=action)
"""


def test_each_key_says_which_steps_made_it_with_their_bindings_and_specs() -> None:
    report = check_text(MODEL, "m.rlm")
    why = {key.dotted: key.why for key in report.keys}
    assert why["observation"].line == 1 and why["observation"].steps == ()
    assert why["hidden"].steps == (
        "MLP(out_features=8, num_cells=[16], activation_class=ReLU, activate_last_layer=true): f32[3] -> "
        "f32[8] in [0.0, inf]",)
    assert why["hidden"].inputs == (("observation",),) and why["hidden"].line == 4
    # `2 * action.shape[-1]` is shown bound to its value, as the checker computed it
    assert why["scale"].steps == ("MLP(out_features=4): f32[8] in [0.0, inf] -> f32[4]",
                                  "NormalParamExtractor(): f32[4] -> f32[2], f32[2] in [0.0001, inf]")
    assert why["action"].steps == ("TanhNormal(low=-1.0, high=1.0) samples it",)
    assert set(why["action"].inputs) >= {("loc",), ("scale",)}
    assert any(rule.startswith("NormalParamExtractor: ") for rule in why["scale"].rules)


def test_the_text_follows_the_chain_key_by_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.rlm"
    path.write_text(MODEL)
    assert cli.main(["check", "--explain-types", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"types in {path}, and why:" in out
    lines = out.splitlines()
    start = lines.index("  scale : f32[2] in [0.0001, inf]  <- written by `head` (line 5)")
    assert lines[start + 1:start + 4] == [
        "      by MLP(out_features=4): f32[8] in [0.0, inf] -> f32[4]",
        "      by NormalParamExtractor(): f32[4] -> f32[2], f32[2] in [0.0001, inf]",
        "      from hidden : f32[8] in [0.0, inf]"]
    assert "  hidden : f32[8] in [0.0, inf]  <- written by `trunk` (line 4)" in lines


def test_json_carries_the_steps_rules_inputs_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.rlm"
    path.write_text(MODEL)
    assert cli.main(["check", "--format", "json", "--explain-types", str(path)]) == 0
    [entry] = json.loads(capsys.readouterr().out)["files"]
    rows = {row["key"]: row for row in entry["types"]}
    assert rows["loc"]["why"]["inputs"] == ["hidden"] and rows["loc"]["why"]["line"] == 5
    assert rows["loc"]["why"]["steps"][1].startswith("NormalParamExtractor(): f32[4] -> ")
    assert rows["observation"]["why"] == {"steps": [], "rules": [], "inputs": [], "line": 1}
    assert cli.main(["check", "--format", "json", "--print-types", str(path)]) == 0
    assert "why" not in json.loads(capsys.readouterr().out)["files"][0]["types"][0]


def test_every_example_explains_every_key_it_writes() -> None:
    """No key written by a module is left without a step or a rule that made it."""
    explained = 0
    for path in sorted((ROOT / "examples").rglob("*.rlm")):
        if "errors" in path.parts:
            continue
        report = check_program(load_program(path))
        assert not report.errors, path.name
        for key in report.keys:
            if key.source.startswith("written by"):
                assert key.why.steps or key.why.rules, (path.name, key.dotted)
                explained += 1
    assert explained > 50
