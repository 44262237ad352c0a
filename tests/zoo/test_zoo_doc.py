"""docs/zoo.md lists every zoo model: the algorithm, the torchrl file it mirrors, and the parameter count
of each declaration, generated from the files and their compiled programs (regenerate with
``RLDSL_UPDATE_GOLDEN=1``)."""

from __future__ import annotations

import os
from pathlib import Path

import rldsl
from rldsl.templates import zoo_templates

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "zoo.md"

INTRO = """# The zoo: torchrl's reference models in `.rlm`

Each file of `examples/zoo/` writes the networks one of torchrl's reference implementations builds
(`sota-implementations/` in pytorch/rl, torchrl 0.14): the same layer sizes, activations,
distributions, keys and defaults, so that the parameter counts and state-dict names below are
torchrl's (the tests in `tests/zoo/` hold each file to them, with the counts written out of the layer
sizes). Where the env is not installed here the specs are written out (HalfCheetah: observation 17,
action 6; Atari: 4x84x84 frames, 6 actions; VMAS navigation: 3 agents). A file's comments say what it
mirrors and, after `not exact:`, anything torchrl does that the file cannot.

Start a model from one: `rldsl new sac -o my_sac.rlm` (`rldsl new --list` shows them all).

This page is generated from the files (`tests/zoo/test_zoo_doc.py`).

| File | Algorithm | Mirrors | Parameters per declaration |
|---|---|---|---|
"""


def _counts(path: Path) -> str:
    program = rldsl.compile(path)
    return ", ".join(f"`{name}` {sum(p.numel() for p in module.parameters()):,}" for name, module in program.items())


def not_exact(text: str) -> list[str]:
    """The `# not exact:` comments of a zoo file, each joined from its continuation lines (`#   ...`)."""
    notes: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("# not exact:"):
            current = [line[len("# not exact:"):].strip()]
            notes.append("")
        elif current is not None and line.startswith("#  ") and line[1:].strip():
            current.append(line[1:].strip())
        else:
            current = None
        if current is not None:
            notes[-1] = " ".join(current)
    return notes


def zoo_markdown() -> str:
    rows, gaps = [], []
    for template in zoo_templates():
        path = ROOT / "examples" / "zoo" / f"{template.name}.rlm"
        rows.append(f"| [`{template.name}.rlm`](../examples/zoo/{template.name}.rlm) | {template.algorithm} | "
                    f"{template.mirrors} | {_counts(path)} |")
        gaps += [f"- `{template.name}.rlm`: {note}" for note in not_exact(template.text)]
    missing = ("\n## What is not exact\n\nWhat torchrl's model does that its file cannot say, as each file's "
               "`not exact:` comment puts it:\n\n" + "\n".join(gaps) + "\n") if gaps else ""
    return INTRO + "\n".join(rows) + "\n" + missing + NOT_WRITTEN


#: The algorithm x env family pairs of the issue that have no file, and why.
NOT_WRITTEN = """
## Not written

- IMPALA on MuJoCo: torchrl's `sota-implementations/impala/` builds Atari networks only.
"""


def test_the_zoo_page_lists_every_file_as_generated() -> None:
    text = zoo_markdown()
    if os.environ.get("RLDSL_UPDATE_GOLDEN") == "1":
        DOC.write_text(text)
    assert DOC.read_text() == text, "regenerate with RLDSL_UPDATE_GOLDEN=1"


def test_every_file_has_the_header_the_page_and_rldsl_new_read() -> None:
    files = sorted((ROOT / "examples" / "zoo").glob("*.rlm"))
    assert len(files) == len(zoo_templates())
