"""Model artifacts: every example saves and loads with identical outputs, and a corrupt, truncated,
tampered or mismatched artifact is refused with a clear error, never by running code from it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from rldsl.modules import ExplorationType, set_exploration_type

import rldsl
from rldsl import cli
from rldsl.compiler import Program
from rldsl.compiler.artifact import ArtifactError, save

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
    save(out, root, seed=4, dtype="f64")
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
    program = save(out, root, seed=6)
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
    with pytest.raises(ArtifactError, match="unsafe name `../escape.rlm`"):
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
