"""The front end is pure Python: importing and parsing never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import rldsl
import rldsl.lang
from rldsl.lang.parse import parse
from rldsl.lang.includes import load_program
from rldsl.lang.render import render_text, render_json
program = load_program(sys.argv[1])
module, diagnostics = parse("key a f32[1]\\nmodule m = MLP(", "bad.rlm")
render_text(diagnostics, {}), render_json(diagnostics)
from rldsl.build import MLP, Actor, Model
model = Model()
model.key("observation", "f32[3]")
model.actor("policy", Actor(MLP(out_features=2)))
assert model.check().ok and model.to_source()
assert program.diagnostics == () and diagnostics
loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
print(loaded)
sys.exit(1 if loaded else 0)
"""


def test_parsing_does_not_import_torch() -> None:
    example = ROOT / "examples" / "pendulum_sac.rlm"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(example)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
