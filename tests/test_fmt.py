"""`rldsl fmt`: rewrites files in place only when they change, `--check` writes nothing, files with
syntax errors are left alone, unreadable files exit 2, and torch is never imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rldsl import cli

ROOT = Path(__file__).resolve().parents[1]
MESSY = (
    "# a model\nkey obs:f32[3]   # the observation\nkey action : f32[1]\n\n\n\n"
    "module m=MLP(out_features=1):obs->action\n"
)
CANONICAL = (
    "# a model\nkey obs    : f32[3]  # the observation\nkey action : f32[1]\n\n"
    "module m = MLP(out_features=1) : obs -> action\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["fmt", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "messy.rlm"
    path.write_text(MESSY)
    return path


def test_fmt_rewrites_in_place(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    code, out, _ = run(capsys, str(messy))
    assert code == 0 and out == f"reformatted {messy}\n"
    assert messy.read_text() == CANONICAL
    code, out, _ = run(capsys, str(messy))  # already canonical: nothing to say, nothing written
    assert code == 0 and out == ""


def test_fmt_leaves_canonical_files_untouched(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ok.rlm"
    path.write_text(CANONICAL)
    before = path.stat().st_mtime_ns
    assert run(capsys, str(path))[0] == 0
    assert path.stat().st_mtime_ns == before and path.read_text() == CANONICAL


def test_check_writes_nothing_and_exits_one(capsys: pytest.CaptureFixture[str], messy: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.rlm"
    clean.write_text(CANONICAL)
    code, out, _ = run(capsys, "--check", str(messy), str(clean))
    assert code == 1 and out == f"would reformat {messy}\n"
    assert messy.read_text() == MESSY
    assert run(capsys, "--check", str(clean)) == (0, "", "")


def test_syntax_errors_are_printed_and_the_file_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.rlm"
    path.write_text("key x f32[3]\n")
    code, out, _ = run(capsys, str(path))
    assert code == 1 and path.read_text() == "key x f32[3]\n"
    assert "error[E" in out and f"{path}:1:" in out and out.rstrip().endswith("error: 1 error")
    cli.main(["check", str(path)])  # printed as `rldsl check` prints them
    assert capsys.readouterr().out == out


def test_missing_and_unreadable_files_exit_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.rlm"))
    assert code == 2 and "cannot read" in err
    binary = tmp_path / "binary.rlm"
    binary.write_bytes(b"key x : f32[3]\xff\n")
    code, _, err = run(capsys, str(binary))
    assert code == 2 and "UTF-8" in err and binary.read_bytes() == b"key x : f32[3]\xff\n"


def test_worst_status_wins(capsys: pytest.CaptureFixture[str], messy: Path, tmp_path: Path) -> None:
    code, _, _ = run(capsys, "--check", str(messy), str(tmp_path / "nope.rlm"))
    assert code == 2


EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_format_stably(capsys: pytest.CaptureFixture[str], path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_text(path.read_text())
    assert run(capsys, str(copy))[0] == 0
    assert run(capsys, "--check", str(copy)) == (0, "", "")


def test_the_examples_are_in_canonical_style(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--check", *map(str, EXAMPLES)) == (0, "", "")


def test_fmt_does_not_import_torch(tmp_path: Path) -> None:
    path = tmp_path / "m.rlm"
    path.write_text(MESSY)
    script = (
        "import sys\nfrom rldsl import cli\ncode = cli.main(['fmt', sys.argv[1]])\n"
        "sys.exit(3 if any(n == 'torch' or n.startswith('torch.') for n in sys.modules) else code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text() == CANONICAL
