"""Model artifacts: every example saves and loads with identical outputs, and a corrupt, truncated,
tampered or mismatched artifact is refused with a clear error, never by running code from it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from rldsl.modules import ExplorationType, set_exploration_type

import rldsl
from rldsl import cli
from rldsl.compiler import Program
from rldsl.compiler.artifact import ArtifactError, inspect_artifact, load_artifact, read_contents, save, write_artifact

ROOT = Path(__file__).resolve().parents[1]
# Every example model, in subfolders too (examples/multiagent); not the deliberately broken files of
# examples/errors. An include-only file (examples/multiagent/specs.rlm: keys, no modules) is kept: it
# compiles to an empty program, which must save and load as well.
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm")
                  if p.relative_to(ROOT / "examples").parts[0] != "errors")
CARTPOLE = ROOT / "examples" / "cartpole_dqn.rlm"


def _outputs(program: Program, name: str, inputs) -> object:
    """The output of module ``name`` on a copy of ``inputs``, deterministic and seeded."""
    torch.manual_seed(7)
    with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
        return program[name](inputs.clone())


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path: Path, members: dict[str, bytes], *, fix_checksums: bool) -> None:
    """Write ``members`` back to ``path``; with ``fix_checksums`` recompute ``checksums.json`` so
    that only deeper checks can catch the change."""
    members = dict(members)
    if fix_checksums:
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()
                   if name != "checksums.json"}
        members["checksums.json"] = json.dumps(digests).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "cartpole.rlmz"
    save(path, CARTPOLE, seed=3)
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(ROOT / "examples").with_suffix("").as_posix())
def test_every_example_saves_and_loads_with_identical_outputs(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.rlmz"
    program = save(out, path, seed=5)
    loaded = rldsl.load(out)
    assert list(loaded) == list(program)
    for name in program:
        torch.manual_seed(0)
        inputs = program.spec_random_input(name, (4,))
        expected, got = _outputs(program, name, inputs), _outputs(loaded, name, inputs)
        keys = set(expected.keys(include_nested=True, leaves_only=True))
        assert keys == set(got.keys(include_nested=True, leaves_only=True)), name
        for key in keys:
            assert torch.equal(expected.get(key), got.get(key)), (name, key)


def test_loading_keeps_the_saved_weights_not_the_seeded_ones(tmp_path: Path) -> None:
    program = rldsl.compile(CARTPOLE, seed=1)
    with torch.no_grad():
        for parameter in program["q"].parameters():
            parameter.add_(1.0)  # as if trained: no seed gives these weights
    report = rldsl.check(CARTPOLE)
    from rldsl.compiler.artifact import write_artifact

    out = tmp_path / "trained.rlmz"
    write_artifact(out, program, str(CARTPOLE), report.sources, seed=2, dtype="f32")
    loaded = rldsl.load(out)
    fresh = rldsl.compile(CARTPOLE, seed=2)
    for key, value in program["q"].state_dict().items():
        assert torch.equal(loaded["q"].state_dict()[key], value), key
    assert any(not torch.equal(fresh["q"].state_dict()[k], v) for k, v in program["q"].state_dict().items())


def _split_cartpole(folder: Path) -> Path:
    """The cartpole example as ``models/main.rlm`` including ``shared/keys.rlm``; returns the root."""
    text = CARTPOLE.read_text()
    keys = "".join(line + "\n" for line in text.splitlines() if line.startswith("key "))
    rest = "".join(line + "\n" for line in text.splitlines() if not line.startswith("key "))
    (folder / "shared").mkdir(parents=True)
    (folder / "models").mkdir()
    (folder / "shared" / "keys.rlm").write_text(keys)
    root = folder / "models" / "main.rlm"
    root.write_text('include "../shared/keys.rlm"\n' + rest)
    return root


def test_an_artifact_holds_the_manifest_every_source_the_weights_and_checksums(tmp_path: Path) -> None:
    root = _split_cartpole(tmp_path / "project")
    out = tmp_path / "split.rlmz"
    save(out, root, seed=4, dtype="f64", include_roots=(tmp_path / "project",))
    members = _members(out)
    assert set(members) == {"manifest.json", "source/models/main.rlm", "source/shared/keys.rlm", "weights.pt",
                            "checksums.json"}
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "rldsl-artifact" and manifest["version"] == 1
    assert manifest["root"] == "models/main.rlm"
    assert manifest["options"] == {"device": "cpu", "seed": 4, "dtype": "f64"}
    assert rldsl.load(out).dtype == torch.float64


def test_loading_never_reads_the_original_directory(tmp_path: Path) -> None:
    root = _split_cartpole(tmp_path / "project")
    out = tmp_path / "split.rlmz"
    program = save(out, root, seed=6, include_roots=(tmp_path / "project",))
    (tmp_path / "project" / "shared" / "keys.rlm").unlink()
    root.unlink()
    loaded = rldsl.load(out)
    for key, value in program["q"].state_dict().items():
        assert torch.equal(loaded["q"].state_dict()[key], value), key


def test_a_truncated_artifact_is_refused(artifact: Path) -> None:
    data = artifact.read_bytes()
    artifact.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="truncated or corrupt"):
        rldsl.load(artifact)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.rlmz"
    path.write_text("key observation : f32[3]\n")
    with pytest.raises(ArtifactError, match="not a zip file"):
        rldsl.load(path)


def test_a_flipped_byte_in_the_weights_is_caught(artifact: Path) -> None:
    members = _members(artifact)
    weights = bytearray(members["weights.pt"])
    weights[len(weights) // 2] ^= 0xFF
    members["weights.pt"] = bytes(weights)
    _rewrite(artifact, members, fix_checksums=False)
    with pytest.raises(ArtifactError, match="checksum of `weights.pt` does not match"):
        rldsl.load(artifact)


def test_an_edited_source_is_caught_by_its_checksum(artifact: Path) -> None:
    members = _members(artifact)
    members["source/cartpole_dqn.rlm"] = members["source/cartpole_dqn.rlm"].replace(b"eps_end=0.05", b"eps_end=0.5")
    _rewrite(artifact, members, fix_checksums=False)
    with pytest.raises(ArtifactError, match="checksum of `source/cartpole_dqn.rlm` does not match"):
        rldsl.load(artifact)


def test_a_missing_member_is_named(artifact: Path) -> None:
    members = _members(artifact)
    del members["weights.pt"]
    _rewrite(artifact, members, fix_checksums=False)
    with pytest.raises(ArtifactError, match="missing `weights.pt`"):
        rldsl.load(artifact)


def test_an_added_member_is_caught(artifact: Path) -> None:
    members = _members(artifact)
    members["source/extra.rlm"] = b"key other : f32[1]\n"
    _rewrite(artifact, members, fix_checksums=False)
    with pytest.raises(ArtifactError, match="`source/extra.rlm`, which `checksums.json` does not list"):
        rldsl.load(artifact)


def test_an_unknown_format_version_is_refused(artifact: Path) -> None:
    members = _members(artifact)
    manifest = json.loads(members["manifest.json"])
    manifest["version"] = 99
    members["manifest.json"] = json.dumps(manifest).encode()
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match="format version 99, but rldsl .* reads version 1 only"):
        rldsl.load(artifact)


def test_an_unsafe_source_name_is_refused(artifact: Path) -> None:
    members = _members(artifact)
    members["source/../escape.rlm"] = b"key other : f32[1]\n"
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match=r"unsafe name `source/../escape.rlm`: it holds an empty, `.` or `..` part"):
        rldsl.load(artifact)


@pytest.mark.parametrize(("cells", "message"), [
    ("[64, 32]", r"weight `module\.0\.module\.2\.weight` of module `q` has shape \(64, 64\), but the stored "
                 r"source gives it shape \(32, 64\)"),
    ("[64, 64, 64]", r"the weights of module `q` lack `.*`"),
])
def test_weights_that_do_not_fit_the_source_name_the_module_and_key(artifact: Path, cells: str, message: str) -> None:
    members = _members(artifact)
    members["source/cartpole_dqn.rlm"] = members["source/cartpole_dqn.rlm"].replace(b"[64, 64]", cells.encode())
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match=message):
        rldsl.load(artifact)


class _Payload:
    """Pickles to a call of ``exec``: loading it without ``weights_only`` would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_a_code_payload_in_the_weights_is_refused_and_never_run(artifact: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"q": {"payload": _Payload(marker)}}, buffer)
    members = _members(artifact)
    members["weights.pt"] = buffer.getvalue()
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match="something other than tensors"):
        rldsl.load(artifact)
    assert not marker.exists()


def test_cli_writes_an_artifact_that_load_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cartpole.rlmz"
    assert cli.main(["compile", str(CARTPOLE), "--seed", "3", "-o", str(out)]) == 0
    assert f"wrote {out} (" in capsys.readouterr().out
    loaded = rldsl.load(out)
    expected = rldsl.compile(CARTPOLE, seed=3)
    for key, value in expected["q"].state_dict().items():
        assert torch.equal(loaded["q"].state_dict()[key], value), key


def test_cli_reports_an_unwritable_output_without_a_traceback(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing" / "cartpole.rlmz"
    assert cli.main(["compile", str(CARTPOLE), "-o", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_importing_rldsl_and_reaching_load_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, rldsl; rldsl.load; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_flipped_byte_in_the_file_itself_is_refused(artifact: Path) -> None:
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(ArtifactError):
        rldsl.load(artifact)


def test_weights_for_an_undeclared_module_are_named(artifact: Path) -> None:
    members = _members(artifact)
    states = torch.load(io.BytesIO(members["weights.pt"]), weights_only=True)
    states["ghost"] = states.pop("q_explore")
    buffer = io.BytesIO()
    torch.save(states, buffer)
    members["weights.pt"] = buffer.getvalue()
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match="no weights for module `q_explore`"):
        rldsl.load(artifact)


# ---------------------------------------------------------------------------------------------
# rldsl inspect


def test_inspect_shows_the_options_sources_weights_and_modules(artifact: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["inspect", str(artifact), "--source"]) == 0
    out = capsys.readouterr().out
    assert "compile options: device cpu, seed 3, dtype f32" in out
    assert "cartpole_dqn.rlm" in out and "[root]" in out
    assert "checksums verified" in out and "forward pass: ok" in out
    assert out.rstrip().endswith(CARTPOLE.read_text().rstrip())  # --source prints the stored root file


def test_inspect_reads_an_artifact_of_an_included_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "policy.rlmz"
    save(out, ROOT / "examples" / "multiagent" / "policy.rlm")
    assert cli.main(["inspect", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "policy.rlm" in printed and "specs.rlm" in printed


@pytest.mark.parametrize("damage", ["truncate", "flip", "not_zip", "missing"])
def test_inspect_refuses_damaged_artifacts_with_exit_2(damage: str, artifact: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = artifact.read_bytes()
    target = artifact
    if damage == "truncate":
        artifact.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        members = _members(artifact)
        members["source/cartpole_dqn.rlm"] = members["source/cartpole_dqn.rlm"].replace(b"eps_end", b"eps_END")
        _rewrite(artifact, members, fix_checksums=False)
    elif damage == "not_zip":
        artifact.write_text("key observation : f32[4]\n")
    else:
        target = tmp_path / "nothing_here.rlmz"
    assert cli.main(["inspect", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("rldsl: ") and "Traceback" not in captured.err
    assert str(target) in captured.err



# ---------------------------------------------------------------------------------------------
# hostile artifacts: read within limits (issue 9)


def _forge(path: Path, entries: list[tuple[str, bytes]], *, declared: dict[str, int] | None = None,
           raw: dict[str, bytes] | None = None) -> None:
    """Write a zip by hand, so that it can lie: each ``(name, data)`` deflated, with the size its
    headers declare taken from ``declared`` (default: the true size) and its compressed payload
    from ``raw`` (default: ``data`` deflated). Names may repeat."""
    declared, raw = declared or {}, raw or {}
    body, directory = b"", b""
    for name, data in entries:
        encoded = name.encode("utf-8")
        if name in raw:
            payload = raw[name]
        else:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = compressor.compress(data) + compressor.flush()
        crc, size = zlib.crc32(data), declared.get(name, len(data))
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0x800, 8, 0, 0x21, crc, len(payload), size,
                            len(encoded), 0) + encoded + payload
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0x800, 8, 0, 0x21, crc, len(payload), size,
                                 len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0)
    path.write_bytes(body + directory + end)


def _with_checksums(members: dict[str, bytes]) -> dict[str, bytes]:
    """``members`` with ``checksums.json`` recomputed over the others."""
    members = {name: data for name, data in members.items() if name != "checksums.json"}
    members["checksums.json"] = json.dumps({name: hashlib.sha256(data).hexdigest()
                                            for name, data in members.items()}).encode()
    return members


@contextlib.contextmanager
def _no_hang(seconds: int = 10) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the body blocks for ``seconds``."""

    def stop(signum: int, frame: object) -> None:
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the members zipfile inflates (``ZipFile.open``), in order."""
    names: list[str] = []
    original = zipfile.ZipFile.open

    def recording(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object) -> object:
        names.append(name.filename if isinstance(name, zipfile.ZipInfo) else str(name))
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording)
    return names


GIB = 1 << 30


def test_a_3_gib_weights_bomb_is_refused_without_being_inflated(artifact: Path, opened: list[str]) -> None:
    members = _members(artifact)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(bytes(1 << 20)) + compressor.flush()  # the start of 3 GiB of zeros, ~1 KiB
    _forge(artifact, list(members.items()), declared={"weights.pt": 3 * GIB}, raw={"weights.pt": bomb})
    assert artifact.stat().st_size < 64 << 10
    opened.clear()
    with pytest.raises(ArtifactError, match=r"`weights\.pt` declares 3,221,225,472 bytes, above its limit of "
                                            r"[\d,]+ bytes; it was not inflated"):
        rldsl.load(artifact)
    assert "weights.pt" not in opened


@pytest.mark.slow
def test_an_honest_3_gib_zip_bomb_is_refused_without_being_inflated(artifact: Path, tmp_path: Path,
                                                                    opened: list[str]) -> None:
    members = _members(artifact)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    chunk, parts = bytes(16 << 20), []
    for _ in range(3 * GIB // len(chunk)):
        parts.append(compressor.compress(chunk))
    bomb = b"".join(parts) + compressor.flush()
    _forge(artifact, list(members.items()), declared={"weights.pt": 3 * GIB}, raw={"weights.pt": bomb})
    opened.clear()
    with pytest.raises(ArtifactError, match="declares 3,221,225,472 bytes"):
        rldsl.load(artifact)
    assert "weights.pt" not in opened


def test_a_source_bomb_is_refused_from_the_directory_alone(artifact: Path, opened: list[str]) -> None:
    members = _members(artifact)
    _forge(artifact, list(members.items()), declared={"source/cartpole_dqn.rlm": 3 * GIB})
    opened.clear()
    with pytest.raises(ArtifactError, match=r"`source/cartpole_dqn\.rlm` declares 3,221,225,472 bytes, above its "
                                            r"limit of 1,048,576 bytes"):
        read_contents(artifact)
    assert opened == []


def test_a_member_that_inflates_past_its_declared_size_is_refused_in_bounded_memory(artifact: Path) -> None:
    members = _members(artifact)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    lie = compressor.compress(bytes(64 << 20)) + compressor.flush()  # 64 MiB of zeros, declared as 100 bytes
    _forge(artifact, list(members.items()), declared={"source/cartpole_dqn.rlm": 100},
           raw={"source/cartpole_dqn.rlm": lie})
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match=r"`source/cartpole_dqn\.rlm` cannot be read .*corrupt"):
            rldsl.load(artifact)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_a_directory_that_lists_too_many_members_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "many.rlmz"
    _forge(path, [(f"source/m{i}.rlm", b"") for i in range(300)])
    with pytest.raises(ArtifactError, match=r"its zip directory lists 300 members in [\d,]+ bytes, above the limit "
                                            r"of 256 members"):
        rldsl.load(path)


def test_a_zip64_end_record_is_read_for_the_directory_size(artifact: Path, opened: list[str]) -> None:
    """zipfile believes the zip64 end record over the plain one: so must the size check."""
    data = artifact.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    _, _, _, _, entries, length, offset, _ = struct.unpack_from("<4s4H2LH", data, end)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1_000_000, 1_000_000, 50_000_000, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    plain = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, length, offset, 0)
    artifact.write_bytes(data[:end] + record + locator + plain)
    opened.clear()
    with pytest.raises(ArtifactError, match=r"its zip directory lists 1,000,000 members in 50,000,000 bytes"):
        rldsl.load(artifact)
    assert opened == []


def test_an_honest_zip64_end_record_loads(artifact: Path) -> None:
    """An artifact over 4 GiB ends with zip64 records: the plain record's fields are all ones."""
    data = artifact.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    _, _, _, _, entries, length, offset, _ = struct.unpack_from("<4s4H2LH", data, end)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, length, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    plain = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    artifact.write_bytes(data[:end] + record + locator + plain)
    assert list(rldsl.load(artifact)) == ["q", "q_explore"]


def test_the_member_limit_is_a_keyword(artifact: Path) -> None:
    with pytest.raises(ArtifactError, match="above the limit of 3 members"):
        load_artifact(artifact, max_members=3)
    assert len(load_artifact(artifact, max_members=5)) == 2


def test_the_size_limit_is_a_keyword(artifact: Path) -> None:
    with pytest.raises(ArtifactError, match=r"larger than the limit of 1,000 bytes \(19,[0-9]{3} bytes\); raise it with max_bytes="):
        rldsl.load(artifact, max_bytes=1000)
    with pytest.raises(ArtifactError, match=r"`source/cartpole_dqn\.rlm` declares [\d,]+ bytes, above its limit of "
                                            r"10 bytes"):
        read_contents(artifact, max_source_bytes=10)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10", None])
def test_a_limit_that_is_not_a_positive_int_is_refused(artifact: Path, bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="max_members should be a positive int"):
        load_artifact(artifact, max_members=bad)
    with pytest.raises((ValueError, TypeError), match="max_params should be a positive"):
        load_artifact(artifact, max_params=bad)


@pytest.mark.parametrize("second", ["weights.pt", "WEIGHTS.pt"])
def test_a_repeated_member_name_is_refused(artifact: Path, second: str) -> None:
    members = _members(artifact)
    _forge(artifact, [*members.items(), (second, members["weights.pt"])])
    with pytest.raises(ArtifactError, match="twice: the artifact was altered|unsafe name"):
        rldsl.load(artifact)


@pytest.mark.parametrize(("name", "reason"), [
    ("/etc/passwd", "it is an absolute path"),
    ("source//twice.rlm", r"an empty, `\.` or `\.\.` part"),
    ("source/./here.rlm", r"an empty, `\.` or `\.\.` part"),
    ("source/../../escape.rlm", r"an empty, `\.` or `\.\.` part"),
    ("source/sub/", r"an empty, `\.` or `\.\.` part"),
    ("source\\windows.rlm", "a backslash"),
    ("source/C:drive.rlm", "a colon"),
    ("source/\x1b[2Jclear.rlm", "a control character"),
    ("evil.py", "an artifact holds only"),
    ("source/" + "x" * 600 + ".rlm", "a name has 1 to 512 characters"),
])
def test_a_member_name_that_is_not_plain_and_relative_is_refused(artifact: Path, name: str, reason: str) -> None:
    members = _with_checksums({**_members(artifact), name: b"key other : f32[1]\n"})
    _forge(artifact, list(members.items()))
    with pytest.raises(ArtifactError, match=f"holds a member under the unsafe name .*: .*{reason}") as caught:
        rldsl.load(artifact)
    assert "\x1b" not in str(caught.value)  # shown escaped, never sent to the terminal


def test_a_nul_in_a_member_name_is_refused(artifact: Path) -> None:
    members = _with_checksums({**_members(artifact), "source/a.rlm\x00.py": b"key other : f32[1]\n"})
    _forge(artifact, list(members.items()))
    with pytest.raises(ArtifactError):
        rldsl.load(artifact)


def _edit_manifest(artifact: Path, edit) -> None:
    members = _members(artifact)
    manifest = json.loads(members["manifest.json"])
    text = edit(manifest)
    members["manifest.json"] = (text if isinstance(text, str) else json.dumps(manifest)).encode()
    _rewrite(artifact, members, fix_checksums=True)


def _set(path: tuple[str, ...], value: object):
    def edit(manifest: dict) -> None:
        target = manifest
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return edit


def _drop(path: tuple[str, ...]):
    def edit(manifest: dict) -> None:
        target = manifest
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]
    return edit


@pytest.mark.parametrize(("edit", "message"), [
    (_set(("version",), "1"), "format version '1', but rldsl .* reads version 1 only"),
    (_set(("version",), True), "format version True"),
    (_set(("format",), "zip"), "its manifest does not name the `rldsl-artifact` format"),
    (_set(("root",), 5), "`root` should name the root source file plainly"),
    (_set(("root",), "../cartpole_dqn.rlm"), "`root` should name the root source file plainly"),
    (_set(("root",), "other.rlm"), "missing its root source file `source/other.rlm`"),
    (_set(("rldsl",), ["0.1"]), "manifest's `rldsl` should be the version that wrote it"),
    (_set(("rldsl",), "\x1b[31m"), "manifest's `rldsl` should be the version that wrote it"),
    (_set(("options",), [1, 2, 3]), "`options` should hold the compile options"),
    (_set(("options", "device"), 7), "device should be a device name"),
    (_set(("options", "device"), "cpu; rm -rf /"), "device should be a device name"),
    (_set(("options", "seed"), "3"), "seed should be an integer of at most 64 bits"),
    (_set(("options", "seed"), 1.5), "seed should be an integer"),
    (_set(("options", "seed"), True), "seed should be an integer"),
    (_set(("options", "seed"), 2**70), "seed should be an integer of at most 64 bits"),
    (_set(("options", "dtype"), "f16"), "dtype should be one of f32, f64"),
    (_set(("options", "extra"), 1), "`options` holds unknown `extra`"),
    (_set(("surprise",), 1), "the manifest holds unknown `surprise`"),
    (_drop(("rldsl",)), "the manifest lacks `rldsl`"),
    (_drop(("options", "seed")), "`options` lacks `seed`"),
    (lambda m: '{"format": "rldsl-artifact", "version": 1, "version": 1}', "not valid JSON .*repeated"),
    (lambda m: json.dumps(m).replace('"seed": 3', '"seed": NaN'), "not valid JSON .*NaN"),
    (lambda m: "[" * 100_000 + "]" * 100_000, "not valid JSON"),
    (lambda m: '{"seed": ' + "9" * 5000 + "}", "not valid JSON"),
    (lambda m: "[1, 2]", "its manifest does not name the `rldsl-artifact` format"),
])
def test_every_manifest_field_is_type_checked(artifact: Path, edit, message: str) -> None:
    _edit_manifest(artifact, edit)
    with pytest.raises(ArtifactError, match=message):
        rldsl.load(artifact)


@pytest.mark.parametrize(("checksums", "message"), [
    (b"[]", "should map each member name to a SHA-256 digest"),
    (b'{"manifest.json": 5}', "should map each member name to a SHA-256 digest"),
    (b'{"manifest.json": "ABC"}', "should map each member name to a SHA-256 digest"),
    (b"\xff\xfe", "`checksums.json` is not valid JSON"),
])
def test_a_malformed_checksum_list_is_refused(artifact: Path, checksums: bytes, message: str) -> None:
    members = _members(artifact)
    members["checksums.json"] = checksums
    _rewrite(artifact, members, fix_checksums=False)
    with pytest.raises(ArtifactError, match=message):
        rldsl.load(artifact)


def test_a_source_that_is_not_utf8_is_refused(artifact: Path) -> None:
    members = _members(artifact)
    members["source/cartpole_dqn.rlm"] += b"\xff"
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match="stored source `source/cartpole_dqn.rlm` is not UTF-8 text"):
        rldsl.load(artifact)


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "missing"])
def test_a_path_that_is_not_a_regular_file_is_refused_before_opening(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "model.rlmz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path = Path(os.devnull)
    expected = {"fifo": "is a FIFO, not a regular file", "folder": "is a folder, not a regular file",
                "device": "is a device, not a regular file", "missing": "cannot read .*No such file"}[kind]
    with _no_hang():
        with pytest.raises(ArtifactError, match=expected):
            rldsl.load(path)
        with pytest.raises(ArtifactError, match=expected):
            read_contents(path)


def test_an_include_resolves_only_to_a_member_of_the_artifact(artifact: Path, tmp_path: Path) -> None:
    """A stored source that includes a file outside the artifact is refused, and the file is never read:
    it exists on disk beside the artifact, as the tampered name would find it in a folder layout."""
    (tmp_path / "outside.rlm").write_text("key secret : f32[1]\n")
    members = _members(artifact)
    for include in ('include "../outside.rlm"\n', f'include "{tmp_path / "outside.rlm"}"\n',
                    'include "sibling.rlm"\n'):
        (tmp_path / "sibling.rlm").write_text("key sibling : f32[1]\n")
        edited = dict(members)
        edited["source/cartpole_dqn.rlm"] = include.encode() + members["source/cartpole_dqn.rlm"]
        _rewrite(artifact, edited, fix_checksums=True)
        with pytest.raises(ArtifactError, match="the stored source does not check") as caught:
            rldsl.load(artifact)
        assert "secret" not in str(caught.value)


def test_an_include_between_members_loads(tmp_path: Path) -> None:
    root = _split_cartpole(tmp_path / "project")
    out = tmp_path / "split.rlmz"
    save(out, root, seed=6, include_roots=(tmp_path / "project",))
    (tmp_path / "project" / "shared" / "keys.rlm").write_text("this is not a model\n")
    assert list(rldsl.load(out)) == ["q", "q_explore"]


def _torch_bytes(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(("weights", "message"), [
    (b"", "`weights.pt` cannot be read"),
    (b"\x00" * 1000, "`weights.pt` cannot be read|something other than tensors"),
    (b"PK\x03\x04" + bytes(200), "`weights.pt` cannot be read"),
    (bytes(range(256)) * 8, "`weights.pt` cannot be read|something other than tensors"),
    (b"\x80\x04K\x05.", "`weights.pt` cannot be read"),  # a pickled int, not a torch file
    ("truncated", "`weights.pt` cannot be read"),
    ([1, 2, 3], "should map each module name to its state dict"),
    ({"q": [1, 2]}, "should map each module name to its state dict"),
    ({"q": {1: torch.zeros(1)}, "q_explore": {}}, "should map each module name to its state dict"),
    ("non-tensor", r"has shape int, but the stored source gives it shape"),
    ("wrong dtype", r"is a torch\.strided torch\.float64 tensor, but the stored source and options give a "
                    r"torch\.float32 one"),
], ids=["empty", "zeros", "zip-header", "noise", "pickled-int", "truncated", "list", "state-list", "int-key",
        "non-tensor", "wrong-dtype"])
def test_hostile_weights_are_refused_with_an_artifact_error(artifact: Path, weights: object, message: str) -> None:
    members = _members(artifact)
    good = torch.load(io.BytesIO(members["weights.pt"]), weights_only=True)
    if weights == "truncated":
        data = members["weights.pt"][: len(members["weights.pt"]) // 2]
    elif weights == "non-tensor":
        key = next(iter(good["q"]))
        data = _torch_bytes({**good, "q": {**good["q"], key: 3}})
    elif weights == "wrong dtype":
        data = _torch_bytes({name: {k: v.double() for k, v in state.items()} for name, state in good.items()})
    else:
        data = weights if isinstance(weights, bytes) else _torch_bytes(weights)
    members["weights.pt"] = data
    _rewrite(artifact, members, fix_checksums=True)
    with pytest.raises(ArtifactError, match=message):
        rldsl.load(artifact)


def test_weights_larger_than_the_model_needs_are_refused_before_reading(artifact: Path, opened: list[str]) -> None:
    members = _members(artifact)
    members["weights.pt"] = _torch_bytes({**torch.load(io.BytesIO(members["weights.pt"]), weights_only=True),
                                          "padding": {"x": torch.zeros(1 << 20)}})  # 4 MiB the model has no use for
    _rewrite(artifact, members, fix_checksums=True)
    opened.clear()
    with pytest.raises(ArtifactError, match=r"`weights\.pt` declares [\d,]+ bytes, above its limit"):
        rldsl.load(artifact)
    assert "weights.pt" not in opened


def test_the_parameter_limit_applies_before_the_model_is_built(artifact: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import rldsl.compiler.program as program_module

    devices: list[str] = []
    original = program_module.Builder.__init__

    def recording(self: object, key_specs: object, device: object = "cpu", *args: object) -> None:
        devices.append(str(device))
        original(self, key_specs, device, *args)

    monkeypatch.setattr(program_module.Builder, "__init__", recording)
    with pytest.raises(ArtifactError, match=r"`q` has 4,610 parameters \(18 KiB as f32\), above the limit of 1,000 "
                                            r".*raise it with `rldsl inspect --max-params` or "
                                            r"`rldsl.load\(\.\.\., max_params=\)`"):
        rldsl.load(artifact, max_params=1000)
    assert devices == ["meta"]  # counted on the meta device, never built for real


def test_write_artifact_refuses_a_source_name_it_could_not_read_back(tmp_path: Path) -> None:
    from rldsl.lang.source import SourceFile

    program = rldsl.compile(CARTPOLE)
    text = CARTPOLE.read_text()
    with pytest.raises(ArtifactError, match="cannot be stored under that name: it holds a control character"):
        write_artifact(tmp_path / "a.rlmz", program, "a\nb.rlm", {"a\nb.rlm": SourceFile("a\nb.rlm", text)},
                       seed=0, dtype="f32")


def test_inspect_artifact_returns_the_contents_and_the_program(artifact: Path) -> None:
    contents, program = inspect_artifact(artifact)
    assert contents.manifest["options"]["seed"] == 3 and list(program) == ["q", "q_explore"]
    assert contents.weights_bytes == len(_members(artifact)["weights.pt"])


def _damage(kind: str, artifact: Path, tmp_path: Path) -> Path:
    """An artifact damaged as ``kind`` says; returns the path to inspect."""
    members = _members(artifact)
    if kind == "bomb":
        _forge(artifact, list(members.items()), declared={"weights.pt": 3 * GIB})
    elif kind == "duplicate":
        _forge(artifact, [*members.items(), ("weights.pt", members["weights.pt"])])
    elif kind == "manifest":
        _edit_manifest(artifact, _set(("options", "seed"), "zero"))
    elif kind == "weights":
        members["weights.pt"] = b"\x80\x04K\x05."
        _rewrite(artifact, members, fix_checksums=True)
    elif kind == "escape":
        members["source/cartpole_dqn.rlm"] = b'include "../../etc/x.rlm"\n' + members["source/cartpole_dqn.rlm"]
        _rewrite(artifact, members, fix_checksums=True)
    elif kind == "fifo":
        artifact = tmp_path / "fifo.rlmz"
        os.mkfifo(artifact)
    elif kind == "folder":
        artifact = tmp_path / "folder.rlmz"
        artifact.mkdir()
    elif kind == "empty":
        artifact.write_bytes(b"")
    elif kind == "end record only":
        artifact.write_bytes(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3, 3, 1000, 0, 0))
    return artifact


@pytest.mark.parametrize("kind", ["bomb", "duplicate", "manifest", "weights", "escape", "fifo", "folder", "empty",
                                  "end record only", "too large"])
def test_inspect_refuses_hostile_artifacts_with_exit_2_and_no_internal_error(
        kind: str, artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = _damage(kind, artifact, tmp_path)
    argv = ["inspect", str(target)] + (["--max-params", "100"] if kind == "too large" else [])
    with _no_hang():
        assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("rldsl: ") and "internal error" not in captured.err
    assert "Traceback" not in captured.err and str(target) in captured.err
