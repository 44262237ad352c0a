"""`rldsl fmt`: rewrites files in place only when they change, `--check` writes nothing, files with
syntax errors are left alone, unreadable files exit 2, and torch is never imported."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---------------------------------------------------------------------------------------------
# `rldsl fmt -` (standard input to standard output) and `--diff`


class _Stdin:
    """A stand-in for ``sys.stdin`` whose ``buffer`` holds ``data``."""

    def __init__(self, data: bytes) -> None:
        import io

        self.buffer = io.BytesIO(data)


def run_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: bytes,
              *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", _Stdin(data))
    return run(capsys, *args)


def test_dash_formats_standard_input_to_standard_output(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_stdin(capsys, monkeypatch, MESSY.encode(), "-") == (0, CANONICAL, "")
    # canonical input comes back as it was: an editor can always replace its buffer with the output
    assert run_stdin(capsys, monkeypatch, CANONICAL.encode(), "-") == (0, CANONICAL, "")


def test_dash_with_syntax_errors_prints_diagnostics_on_stderr_only(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_stdin(capsys, monkeypatch, b"key x f32[3]\n", "-")
    assert code == 1 and out == ""
    assert "error[E0107]" in err and "<stdin>:1:" in err and "Traceback" not in err


def test_dash_that_cannot_be_read_exits_two(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_stdin(capsys, monkeypatch, b"key x : f32[3]\xff\n", "-")
    assert code == 2 and out == "" and "UTF-8" in err
    code, out, err = run_stdin(capsys, monkeypatch, MESSY.encode(), "--max-file-bytes", "10", "-")
    assert code == 2 and out == "" and "larger than the limit of 10 bytes" in err
    assert run_stdin(capsys, monkeypatch, MESSY.encode(), "-", "-")[0] == 2  # standard input is read once


def test_dash_with_check_and_diff_writes_no_text(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_stdin(capsys, monkeypatch, MESSY.encode(), "--check", "-") == (1, "would reformat <stdin>\n", "")
    assert run_stdin(capsys, monkeypatch, CANONICAL.encode(), "--check", "-") == (0, "", "")
    code, out, _ = run_stdin(capsys, monkeypatch, MESSY.encode(), "--diff", "-")
    assert code == 1 and out.startswith("--- <stdin>\t(original)\n+++ <stdin>\t(formatted)\n")


def test_dash_and_files_together(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                 messy: Path) -> None:
    code, out, _ = run_stdin(capsys, monkeypatch, MESSY.encode(), "-", str(messy))
    assert code == 0 and out == CANONICAL + f"reformatted {messy}\n" and messy.read_text() == CANONICAL


def test_dash_in_a_new_process_reads_the_real_standard_input() -> None:
    result = subprocess.run([sys.executable, "-m", "rldsl", "fmt", "-"], input=MESSY, capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, CANONICAL, "")


def test_diff_shows_the_change_and_writes_nothing(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    code, out, _ = run(capsys, "--diff", str(messy))
    assert code == 1 and messy.read_text() == MESSY
    lines = out.splitlines()
    assert lines[:2] == [f"--- {messy}\t(original)", f"+++ {messy}\t(formatted)"]
    assert "-key obs:f32[3]   # the observation" in lines and "+key obs    : f32[3]  # the observation" in lines
    assert "-module m=MLP(out_features=1):obs->action" in lines
    assert " # a model" in lines  # context lines
    assert apply_diff(MESSY, out) == CANONICAL


def test_diff_of_a_canonical_file_is_empty(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ok.rlm"
    path.write_text(CANONICAL)
    assert run(capsys, "--diff", str(path)) == (0, "", "")


def test_diff_with_check_shows_the_diff(capsys: pytest.CaptureFixture[str], messy: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.rlm"
    clean.write_text(CANONICAL)
    code, out, _ = run(capsys, "--check", "--diff", str(clean), str(messy))
    assert code == 1 and out.startswith(f"--- {messy}\t") and "would reformat" not in out
    assert messy.read_text() == MESSY


def test_diff_of_a_file_with_syntax_errors_is_its_diagnostics(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    path = tmp_path / "bad.rlm"
    path.write_text("key x f32[3]\n")
    code, out, err = run(capsys, "--diff", str(path))
    assert code == 1 and "error[E0107]" in out and "---" not in out and "Traceback" not in out + err


def test_diff_marks_a_missing_final_newline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "eof.rlm"
    path.write_text("key x:f32[3]")
    code, out, _ = run(capsys, "--diff", str(path))
    assert code == 1 and "-key x:f32[3]\n\\ No newline at end of file\n+key x : f32[3]\n" in out
    assert apply_diff("key x:f32[3]", out) == "key x : f32[3]\n"


def test_diff_escapes_control_characters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "esc.rlm"
    path.write_text("key x:f32[3]  # \x1b[31mred\n")
    code, out, _ = run(capsys, "--diff", str(path))
    assert code == 1 and "\x1b" not in out and "\\x1b[31mred" in out


def apply_diff(before: str, diff: str) -> str:
    """``before`` with a unified diff of one file applied (hunks in order, context checked)."""
    old = before.split("\n")
    old_lines = [f"{line}\n" for line in old[:-1]] + ([old[-1]] if old[-1] else [])
    out: list[str] = []
    position = 0
    lines = diff.splitlines(keepends=True)[2:]
    index = 0
    while index < len(lines):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", lines[index])
        assert header, lines[index]
        start = int(header[1]) - (0 if header[2] == "0" else 1)
        out += old_lines[position:start]
        position = start
        index += 1
        while index < len(lines) and not lines[index].startswith("@@"):
            tag, text = lines[index][0], lines[index][1:]
            if index + 1 < len(lines) and lines[index + 1].startswith("\\"):
                text = text.removesuffix("\n")
                index += 1
            if tag in " -":
                assert old_lines[position] == text, (old_lines[position], text)
                position += 1
            if tag in " +":
                out.append(text)
            index += 1
    return "".join(out + old_lines[position:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "", "# x"]), max_size=12),
       st.lists(st.sampled_from(["a", "b", "c", "", "# y"]), max_size=12), st.booleans(), st.booleans())
def test_unified_diff_applies_back(before_lines: list[str], after_lines: list[str], before_eol: bool,
                                   after_eol: bool) -> None:
    from rldsl.lang.printer import unified_diff

    before = "\n".join(before_lines) + ("\n" if before_eol and before_lines else "")
    after = "\n".join(after_lines) + ("\n" if after_eol and after_lines else "")
    diff = unified_diff(before, after, "m.rlm")
    assert (diff == "") == (before == after)
    if diff:
        assert apply_diff(before, diff) == after


def test_printer_docstring_examples() -> None:
    import doctest

    import rldsl.lang.printer

    result = doctest.testmod(rldsl.lang.printer, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
