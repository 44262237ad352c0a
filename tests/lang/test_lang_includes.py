"""Includes: relative resolution, each file once, cycles and missing files as diagnostics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rldsl.lang import ast as A
from rldsl.lang.includes import ReadLimits, decode_source, load_members, load_program, load_text


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def names(program) -> list[str]:  # noqa: ANN001
    return [d.name.value for d in program.declarations()]


def test_paths_are_relative_to_the_including_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path,
        {
            "models/main.rlm": 'include "shared/specs.rlm"\nkey action : onehot(2)\n',
            "models/shared/specs.rlm": 'include "../../common.rlm"\nkey observation : f32[4]\n',
            "common.rlm": "dim n = 3\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    program = load_program("models/main.rlm", ReadLimits(include_roots=[tmp_path]))
    assert program.diagnostics == ()
    assert list(program.modules) == ["models/main.rlm", "models/shared/specs.rlm", "common.rlm"]
    assert names(program) == ["n", "observation", "action"]
    include = program.modules["models/main.rlm"].body[0]
    assert isinstance(include, A.Include) and program.target(include) == "models/shared/specs.rlm"
    assert set(program.sources) == set(program.modules)


def test_a_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.rlm": 'include "a.rlm"\ninclude "b.rlm"\nkey z : f32[1]\n',
            "a.rlm": 'include "common.rlm"\nkey a : f32[1]\n',
            "b.rlm": 'include "common.rlm"\nkey b : f32[1]\n',
            "common.rlm": "key common : f32[1]\n",
        },
    )
    program = load_program(tmp_path / "main.rlm")
    assert program.diagnostics == ()
    assert names(program) == ["common", "a", "b", "z"]
    assert len(program.modules) == 4


def test_two_file_cycle_reports_both_includes(tmp_path: Path) -> None:
    write(tmp_path, {"a.rlm": 'include "b.rlm"\nkey a : f32[1]\n', "b.rlm": 'include "a.rlm"\nkey b : f32[1]\n'})
    program = load_program(tmp_path / "a.rlm")
    (d,) = program.diagnostics
    assert d.code == "E0151"
    assert d.span.file.endswith("b.rlm") and d.span.line == 1
    assert [(lab.span.file.endswith("a.rlm"), lab.span.line) for lab in d.labels] == [(True, 1)]
    assert d.notes[0].startswith("cycle: ") and d.notes[0].count("->") == 2
    assert names(program) == ["b", "a"]


def test_longer_cycle_labels_every_include(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"a.rlm": 'include "b.rlm"\n', "b.rlm": 'include "c.rlm"\n', "c.rlm": 'key c : f32[1]\ninclude "a.rlm"\n'},
    )
    (d,) = load_program(tmp_path / "a.rlm").diagnostics
    assert d.code == "E0151" and d.span.file.endswith("c.rlm") and d.span.line == 2
    assert [Path(lab.span.file).name for lab in d.labels] == ["a.rlm", "b.rlm"]
    assert [Path(part.strip(" `")).name for part in d.notes[0][len("cycle: ") :].split("->")] == [
        "a.rlm", "b.rlm", "c.rlm", "a.rlm",
    ]  # fmt: skip


def test_a_file_including_itself(tmp_path: Path) -> None:
    write(tmp_path, {"self.rlm": 'key x : f32[1]\ninclude "./self.rlm"\n'})
    (d,) = load_program(tmp_path / "self.rlm").diagnostics
    assert d.code == "E0151" and d.labels == () and d.span.line == 2


def test_missing_include_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path, {"main.rlm": 'include "comon.rlm"\nkey x : f32[1]\n', "common.rlm": "key c : f32[1]\n"})
    program = load_program(tmp_path / "main.rlm")
    (d,) = program.diagnostics
    assert d.code == "E0150" and d.message == "cannot find `comon.rlm`"
    assert (d.span.line, d.span.column, d.span.end_column) == (1, 9, 20)
    assert d.help == "did you mean `common.rlm`?"
    assert names(program) == ["x"]


def test_unreadable_includes(tmp_path: Path) -> None:
    (tmp_path / "folder.rlm").mkdir()
    (tmp_path / "latin1.rlm").write_bytes(b"key caf\xe9 : f32[1]\n")
    write(tmp_path, {"main.rlm": 'include "folder.rlm"\ninclude "latin1.rlm"\n'})
    codes = [(d.code, d.span.line) for d in load_program(tmp_path / "main.rlm").diagnostics]
    assert codes == [("E0152", 1), ("E0152", 2)]


def test_repeated_include_in_one_file_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, {"main.rlm": 'include "a.rlm"\ninclude "./a.rlm"\n', "a.rlm": "key a : f32[1]\n"})
    (d,) = load_program(tmp_path / "main.rlm").diagnostics
    assert d.code == "W0150" and d.severity.value == "warning" and d.labels[0].span.line == 1


def test_syntax_errors_of_included_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path, {"main.rlm": 'include "a.rlm"\nkey b f32[1]\n', "a.rlm": "key a = f32[1]\n"})
    program = load_program(tmp_path / "main.rlm")
    found = sorted((Path(d.span.file).name, d.code) for d in program.diagnostics)
    assert found == [("a.rlm", "E0107"), ("main.rlm", "E0107")]


def test_root_problems(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_program(tmp_path / "missing.rlm")
    (tmp_path / "bad.rlm").write_bytes(b"\xff\xfe")
    program = load_program(tmp_path / "bad.rlm")
    assert [d.code for d in program.diagnostics] == ["E0152"] and program.declarations() == []


def test_decoding_drops_a_byte_order_mark() -> None:
    source, problem = decode_source("\ufeffkey x : f32[1]".encode(), "bom.rlm")
    assert problem is None and source.text == "key x : f32[1]"


def test_the_multiagent_example_loads_clean() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "multiagent" / "policy.rlm"
    program = load_program(os.fspath(root))
    assert program.diagnostics == ()
    assert names(program)[:3] == ["n_agents", "n_actions", "agents"]


# -- reading within limits (issue 9) ------------------------------------------------------


def test_leaving_the_root_folder_needs_an_include_root(tmp_path: Path) -> None:
    write(tmp_path, {"models/main.rlm": 'include "../common.rlm"\nkey a : f32[1]\n', "common.rlm": "key c : f32[1]\n"})
    (d,) = load_program(tmp_path / "models" / "main.rlm").diagnostics
    assert d.code == "E0153" and "outside the model's folder" in d.message and "--include-root" in d.help
    program = load_program(tmp_path / "models" / "main.rlm", ReadLimits(include_roots=[tmp_path]))
    assert program.diagnostics == () and names(program) == ["c", "a"]


def test_absolute_paths_and_other_files_are_refused_before_reading(tmp_path: Path) -> None:
    write(tmp_path, {"main.rlm": 'include "/etc/passwd.rlm"\ninclude "/etc/passwd"\ninclude "notes.txt"\n',
                     "notes.txt": "secret text\n"})
    found = load_program(tmp_path / "main.rlm").diagnostics
    assert [(d.code, d.span.line) for d in found] == [("E0153", 1), ("E0153", 2), ("E0153", 3)]
    assert "absolute path" in found[0].message and "only `.rlm` files" in found[1].message
    assert not any("secret" in d.message or "root:" in d.message for d in found)


def test_a_link_out_of_the_root_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"outside/keys.rlm": "key k : f32[1]\n", "model/main.rlm": 'include "keys.rlm"\n'})
    (tmp_path / "model" / "keys.rlm").symlink_to(tmp_path / "outside" / "keys.rlm")
    (d,) = load_program(tmp_path / "model" / "main.rlm").diagnostics
    assert d.code == "E0153"


@pytest.mark.parametrize("special", ["fifo", "device", "proc"])
def test_devices_fifos_and_proc_files_are_never_read(tmp_path: Path, special: str) -> None:
    if special == "fifo":
        os.mkfifo(tmp_path / "pipe.rlm")  # opening it for reading would wait for a writer forever
        target = "pipe.rlm"
    elif special == "device":
        (tmp_path / "zero.rlm").symlink_to("/dev/zero")
        target = "zero.rlm"
    else:
        (tmp_path / "environ.rlm").symlink_to("/proc/self/environ")
        target = "environ.rlm"
    write(tmp_path, {"main.rlm": f'include "{target}"\n'})
    (d,) = load_program(tmp_path / "main.rlm").diagnostics
    assert d.code in ("E0152", "E0153")
    roots = ReadLimits(include_roots=["/dev", "/proc"])  # even when allowed, a device or FIFO is never opened
    if special != "proc":
        (d,) = load_program(tmp_path / "main.rlm", roots).diagnostics
        assert d.code == "E0152" and "not a regular file" in d.message


def test_a_fifo_or_device_as_the_root_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.rlm")
    for root in (tmp_path / "pipe.rlm", "/dev/zero", tmp_path):
        with pytest.raises(OSError, match="not a regular file"):
            load_program(root)


def test_size_limit(tmp_path: Path) -> None:
    write(tmp_path, {"big.rlm": "# padding\n" * 200, "main.rlm": 'include "big.rlm"\n'})
    (d,) = load_program(tmp_path / "main.rlm", ReadLimits(max_file_bytes=1000)).diagnostics
    assert d.code == "E0152" and "larger than the limit of 1,000 bytes" in d.message
    assert load_program(tmp_path / "main.rlm", ReadLimits(max_file_bytes=4000)).diagnostics == ()
    with pytest.raises(OSError, match="larger than the limit"):
        load_program(tmp_path / "big.rlm", ReadLimits(max_file_bytes=1000))
    (d,) = load_text("key a : f32[1]\n" * 100, limits=ReadLimits(max_file_bytes=100)).diagnostics
    assert d.code == "E0152"


def test_a_nul_byte_is_not_text_and_is_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "binary.rlm").write_bytes(b"key secret_name : f32[1]\x00\x01\n")
    write(tmp_path, {"main.rlm": 'include "binary.rlm"\n'})
    (d,) = load_program(tmp_path / "main.rlm").diagnostics
    assert d.code == "E0152" and "NUL byte (line 1, column 25)" in d.message and "secret_name" not in d.message
    (d,) = load_text("key a : f32[1]\n\x00").diagnostics
    assert d.code == "E0152" and "line 2, column 1" in d.message


def test_an_artifacts_includes_resolve_to_its_members_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"keys.rlm": "key on_disk : f32[1]\n"})
    monkeypatch.chdir(tmp_path)
    members = {"models/main.rlm": b'include "../shared/keys.rlm"\ninclude "keys.rlm"\ninclude "../../keys.rlm"\n',
               "shared/keys.rlm": b"key stored : f32[1]\n"}
    program = load_members(members, "models/main.rlm")
    assert names(program) == ["stored"]
    assert [(d.code, d.span.line) for d in program.diagnostics] == [("E0150", 2), ("E0153", 3)]
