"""The Python API: rldsl.check(path_or_text) -> Report, loaded lazily and torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rldsl
from rldsl.api import Report

ROOT = Path(__file__).resolve().parents[2]
SAC = ROOT / "examples" / "pendulum_sac.rlm"


def test_check_a_path_string_or_pathlike() -> None:
    for source in (SAC, str(SAC)):
        report = rldsl.check(source)
        assert isinstance(report, Report) and report.ok and report.diagnostics == ()
        assert report.types["action"] == "f32[1] in [-2.0, 2.0]"
        assert str(SAC) in report.sources
    assert set(report.modules) == {"params", "policy", "qvalue", "critic"}


def test_check_text_with_diagnostics() -> None:
    report = rldsl.check("key observation : f32[3]\nvalue v = ValueOperator(MLP(out_features=1), in=[obs])\n",
                         name="model.rlm")
    assert not report.ok and [d.code for d in report.errors] == ["E0301"] and report.warnings == []
    assert "model.rlm:2:" in report.render()
    document = json.loads(report.to_json())
    assert document["errors"] == 1 and document["diagnostics"][0]["code"] == "E0301"
    assert {"key": "observation", "spec": "f32[3]", "source": "declared"} in document["types"]


def test_text_includes_are_read_relative_to_the_current_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "specs.rlm").write_text("key observation : f32[3]\n")
    monkeypatch.chdir(tmp_path)
    assert rldsl.check('include "specs.rlm"\nactor a = Actor(MLP(out_features=1))\n').ok


def test_errors() -> None:
    with pytest.raises(OSError):
        rldsl.check("missing.rlm")
    with pytest.raises(TypeError):
        rldsl.check(3)  # type: ignore[arg-type]
    assert not rldsl.check("key a f32[3]").ok  # syntax errors are diagnostics


def test_rldsl_check_is_lazy_and_torch_free() -> None:
    script = ("import sys, rldsl\nassert 'rldsl.api' not in sys.modules\n"
              f"report = rldsl.check({str(SAC)!r})\nassert report.ok\n"
              "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
