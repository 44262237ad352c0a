"""Rendering: golden text output, JSON with the same fields, colour only when asked.

Each ``golden/NAME.rlm`` is loaded (includes followed) and its diagnostics rendered as text;
the result must equal ``golden/NAME.txt``. Set ``RLDSL_UPDATE_GOLDEN=1`` to rewrite the
expected files, then review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rldsl.lang.diagnostics import Diagnostic, Label, Suggestion
from rldsl.lang.includes import load_program
from rldsl.lang.parse import parse
from rldsl.lang.render import MAX_RENDERED, render_diagnostic, render_json, render_text, summary
from rldsl.lang.source import SourceFile, Span

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("RLDSL_UPDATE_GOLDEN") == "1"


def rendered(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(GOLDEN)  # file names in the output are relative to the golden folder
    program = load_program(name)
    return render_text(program.diagnostics, program.sources)


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.glob("*.rlm")))
def test_golden_rendering(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = rendered(case, monkeypatch) + "\n"
    expected = GOLDEN / case.replace(".rlm", ".txt")
    if UPDATE:
        expected.write_text(text)
    assert expected.exists(), f"run with RLDSL_UPDATE_GOLDEN=1 to create {expected.name}"
    assert text == expected.read_text()


def sample() -> tuple[list[Diagnostic], dict[str, SourceFile]]:
    text = "key observation : f32[3]\nkey action f32[1]\nmodule m = MLP(num_cells=[64, 64)\n"
    _, diagnostics = parse(text, "s.rlm")
    return diagnostics, {"s.rlm": SourceFile("s.rlm", text)}


def test_json_has_every_field() -> None:
    diagnostics, _ = sample()
    document = json.loads(render_json(diagnostics))
    assert document["errors"] == 2 and document["warnings"] == 0
    first = document["diagnostics"][0]
    assert first["code"] == "E0107" and first["severity"] == "error"
    location = (first["file"], first["line"], first["column"], first["end_line"], first["end_column"])
    assert location == ("s.rlm", 2, 12, 2, 15)
    assert first["span"] == {
        "file": "s.rlm", "line": 2, "column": 12, "end_line": 2, "end_column": 15, "start": 36, "end": 39,
    }  # fmt: skip
    assert first["message"] == diagnostics[0].message and first["help"] == diagnostics[0].help
    assert first["label"] == "expected `:` before the spec" and first["notes"] == []
    assert first["suggestion"] == {"span": diagnostics[0].suggestion.span.to_dict(), "replacement": " :"}
    second = document["diagnostics"][1]
    assert second["code"] == "E0113" and second["labels"][0]["message"] == "`[` is still open"


def test_text_has_location_source_caret_and_help() -> None:
    diagnostics, sources = sample()
    text = render_diagnostic(diagnostics[0], sources)
    assert text.splitlines() == [
        "error[E0107]: missing `:` between the key `action` and its spec",
        " --> s.rlm:2:12",
        "  |",
        "2 | key action f32[1]",
        "  |            ^^^ expected `:` before the spec",
        "  |",
        "  = help: a key declaration reads `key NAME : SPEC`, as in `key action : f32[1] in [-2.0, 2.0]`",
        "  = suggestion: insert ` :` at 2:11",
    ]


def test_colour_only_when_asked() -> None:
    diagnostics, sources = sample()
    assert "\x1b[" not in render_text(diagnostics, sources)
    coloured = render_text(diagnostics, sources, color=True)
    assert "\x1b[1;31merror[E0107]\x1b[0m" in coloured
    assert coloured.count("\x1b[0m") > 5


def test_rendering_without_the_source() -> None:
    diagnostics, _ = sample()
    text = render_diagnostic(diagnostics[0], {})
    assert text.splitlines()[:2] == [
        "error[E0107]: missing `:` between the key `action` and its spec",
        " --> s.rlm:2:12",
    ]
    assert "2 | key action" not in text and "^^^" not in text


def test_far_apart_labels_are_separated_by_an_ellipsis() -> None:
    source = SourceFile("f.rlm", "".join(f"dim d{i} = {i}\n" for i in range(1, 15)))
    diagnostic = Diagnostic(
        "E0101",
        "message",
        source.span(source.text.index("d14"), source.text.index("d14") + 3),
        label="here",
        labels=(Label(source.span(4, 6), "and there"),),
    )
    lines = render_diagnostic(diagnostic, {"f.rlm": source}).splitlines()
    assert lines[1] == "  --> f.rlm:14:5"
    assert lines[2:8] == [
        "   |",
        " 1 | dim d1 = 1",
        "   |     -- and there",
        "...",
        "14 | dim d14 = 14",
        "   |     ^^^ here",
    ]


def test_suggested_replacement_shows_the_original_text() -> None:
    source = SourceFile("r.rlm", "key x = f32[1]\n")
    span = source.span(6, 7)
    diagnostic = Diagnostic("E0107", "m", span, suggestion=Suggestion(span, ":"))
    assert render_diagnostic(diagnostic, {"r.rlm": source}).endswith("= suggestion: replace `=` with `:`")


def test_summary_counts() -> None:
    error = Diagnostic("E0101", "m", Span("a", 1, 1, 1, 2, 0, 1))
    warning = Diagnostic("W0150", "m", Span("a", 1, 1, 1, 2, 0, 1))
    assert summary([error, error, warning]) == "error: 2 errors, 1 warning"
    assert summary([warning]) == "warning: 1 warning"
    assert summary([]) == "" and render_text([], {}) == ""


def test_a_long_line_is_shown_as_a_window_around_its_mark() -> None:
    text = "key a : f32[1]" + " " * 5000 + "key b f32[1]\n"
    source = SourceFile("long.rlm", text)
    _, diagnostics = parse(text, "long.rlm")
    rendered = render_text(diagnostics, {"long.rlm": source})
    shown = [line for line in rendered.splitlines() if line.startswith("1 |")]
    assert shown and all(len(line) < 200 for line in rendered.splitlines())
    assert shown[0].startswith("1 | ...") and "key b f32[1]" in shown[0]
    caret = next(line for line in rendered.splitlines() if "^" in line)
    assert shown[0][caret.index("^"):].startswith("f32")  # the caret still points at the spec


def test_at_most_max_rendered_diagnostics_are_rendered_but_all_are_counted() -> None:
    text = "@ " * (MAX_RENDERED + 50) + "\n"
    _, diagnostics = parse(text, "many.rlm")
    rendered = render_text(diagnostics, {"many.rlm": SourceFile("many.rlm", text)})
    assert rendered.count("error[E0104]") == MAX_RENDERED
    assert "... and 50 more not shown" in rendered and rendered.endswith(f"error: {MAX_RENDERED + 50} errors")
