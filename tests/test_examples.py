"""The README runs: its main job, its Python snippets, and the spec demo on real gymnasium environments."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_specs_demo_projects_and_steps_both_environments():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "specs_demo.py")],
                            capture_output=True, text=True, check=True, timeout=120)
    out = result.stdout
    assert "projected into [-2, 2]       [2.0, -0.4, -2.0]" in out
    assert "projection is in the spec    True" in out
    assert "greedy action (one-hot)      [0, 1]" in out
    assert "with action 1 masked out     [1, 0]" in out
    assert "10 random allowed actions    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]" in out


def readme_python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.DOTALL | re.MULTILINE)


def test_readme_python_snippets_run():
    blocks = readme_python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_main_job_runs_after_the_install():
    readme = (ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith("pip install torch==2.13.0 && pip install . &&")]
    commands = line.split(" && ")[2:]
    assert any(command.startswith("rldsl compile") for command in commands)
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
