"""Model artifacts: a compiled model's source, compile options and weights in one ``.rlmz`` file.

An artifact is a zip file holding

* ``manifest.json``: the format name and version, the rldsl version, the compile options
  (device, seed, dtype) and the name of the root source file;
* ``source/...``: every ``.rlm`` file the model read (the root and its includes), by path
  relative to their common folder, so loading never looks at the original directory;
* ``weights.pt``: one ``torch.save`` of ``{module name: state_dict}``;
* ``checksums.json``: the SHA-256 of every other member.

:func:`load_artifact` verifies the checksums before it reads anything else, rebuilds the model
from the stored source through the normal compile path, then reads the weights with
``torch.load(weights_only=True)``: loading never runs code from the file. Every problem is an
:class:`ArtifactError` that says what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import posixpath
import tempfile
import zipfile
import zlib
from collections.abc import Mapping

import attrs
import torch

from rldsl import __version__
from rldsl.compiler.errors import CompileError
from rldsl.compiler.program import Program

__all__ = ["FORMAT", "VERSION", "ArtifactError", "Contents", "load_artifact", "read_contents", "save", "write_artifact"]

#: The format name written in every manifest, and the one format version this rldsl reads.
FORMAT, VERSION = "rldsl-artifact", 1
MANIFEST, WEIGHTS, CHECKSUMS, SOURCE_DIR = "manifest.json", "weights.pt", "checksums.json", "source/"


class ArtifactError(ValueError):
    """An artifact that cannot be read: not a zip, truncated, tampered with, of an unknown
    format version, or with weights that do not fit its source."""


# ---------------------------------------------------------------------------------------------
# writing


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _relative_sources(root: str, sources: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """The root's stored name and ``{stored name: text}`` for every source file, by path
    relative to the folder that holds them all (forward slashes)."""
    absolute = {os.path.abspath(name): source.text for name, source in sources.items()}
    base = os.path.commonpath([os.path.dirname(path) for path in absolute])
    stored = {os.path.relpath(path, base).replace(os.sep, "/"): text for path, text in absolute.items()}
    return os.path.relpath(os.path.abspath(root), base).replace(os.sep, "/"), stored


def _weights_bytes(program: Program) -> bytes:
    """``torch.save`` of every module's state dict, moved to the CPU, as bytes."""
    states = {name: {key: value.detach().cpu() for key, value in module.state_dict().items()}
              for name, module in program.items()}
    buffer = io.BytesIO()
    torch.save(states, buffer)
    return buffer.getvalue()


def write_artifact(path: str | os.PathLike[str], program: Program, root: str, sources: Mapping[str, object], *,
                   seed: int, dtype: str) -> int:
    """Write ``program`` (compiled from the file ``root``, which read ``sources``: display name to
    :class:`~rldsl.lang.source.SourceFile`) as an artifact at ``path``; returns its size in bytes.
    ``seed`` and ``dtype`` are the compile options it was built with."""
    if dtype not in ("f32", "f64"):
        raise ArtifactError(f"dtype `{dtype}` cannot be stored: use `f32` or `f64`")
    root_name, texts = _relative_sources(root, sources)
    manifest = {"format": FORMAT, "version": VERSION, "rldsl": __version__, "root": root_name,
                "options": {"device": str(program.device), "seed": seed, "dtype": dtype}}
    members = {MANIFEST: json.dumps(manifest, indent=2).encode()}
    members.update({SOURCE_DIR + name: text.encode("utf-8") for name, text in texts.items()})
    members[WEIGHTS] = _weights_bytes(program)
    checksums = {name: _sha256(data) for name, data in members.items()}
    members[CHECKSUMS] = json.dumps(checksums, indent=2, sort_keys=True).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return os.path.getsize(path)


def save(path: str | os.PathLike[str], source: str | os.PathLike[str], *, device: str = "cpu", seed: int = 0,
         dtype: str = "f32") -> Program:
    """Compile the model in the file ``source`` and write it as an artifact at ``path``; returns
    the compiled program (whose weights are the ones saved)."""
    from rldsl.api import check
    from rldsl.compiler.program import compile_report

    report = check(os.fspath(source))
    program = compile_report(report, device=device, seed=seed, dtype=dtype)
    write_artifact(path, program, os.fspath(source), report.sources, seed=seed, dtype=dtype)
    return program


# ---------------------------------------------------------------------------------------------
# reading


def _read_members(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every member of the zip file at ``path``, by name."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}
    except zipfile.BadZipFile as error:
        raise ArtifactError(f"`{os.fspath(path)}` is not a readable rldsl artifact ({error}): it is not a zip "
                            "file, or it is truncated or corrupt; write it again with `rldsl compile FILE -o`"
                            ) from error
    except (zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, ValueError) as error:
        raise ArtifactError(f"`{os.fspath(path)}` cannot be read as an rldsl artifact: {error}") from error


def _verify(path: str | os.PathLike[str], members: Mapping[str, bytes]) -> None:
    """Check that ``members`` are exactly the ones ``checksums.json`` lists, with those digests."""
    where = os.fspath(path)
    if CHECKSUMS not in members:
        raise ArtifactError(f"`{where}` has no `{CHECKSUMS}`: it is not an rldsl artifact, or it was damaged")
    try:
        checksums = json.loads(members[CHECKSUMS])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"`{where}`: `{CHECKSUMS}` is not valid JSON ({error})") from error
    if not isinstance(checksums, dict):
        raise ArtifactError(f"`{where}`: `{CHECKSUMS}` should be an object of member names to digests")
    for name in sorted({MANIFEST, WEIGHTS} | set(checksums)):
        if name not in members:
            raise ArtifactError(f"`{where}` is missing `{name}`: the artifact is incomplete; write it again")
    for name, data in members.items():
        if name == CHECKSUMS:
            continue
        if name not in checksums:
            raise ArtifactError(f"`{where}` holds `{name}`, which `{CHECKSUMS}` does not list: "
                                "the artifact was altered after it was written")
        if _sha256(data) != checksums[name]:
            raise ArtifactError(f"`{where}`: the checksum of `{name}` does not match: the artifact was altered "
                                "or damaged after it was written; do not use it, write it again")


def _manifest(where: str, data: bytes) -> dict:
    """The parsed manifest, with its format and version checked."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"`{where}`: `{MANIFEST}` is not valid JSON ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"`{where}` is not an rldsl artifact: its manifest does not name the `{FORMAT}` format")
    if manifest.get("version") != VERSION:
        raise ArtifactError(f"`{where}` has artifact format version {manifest.get('version')!r}, but rldsl "
                            f"{__version__} reads version {VERSION} only: load it with the rldsl that wrote it "
                            f"(rldsl {manifest.get('rldsl', '?')})")
    options = manifest.get("options")
    if (not isinstance(options, dict) or not isinstance(options.get("seed"), int)
            or options.get("dtype") not in ("f32", "f64") or not isinstance(options.get("device"), str)
            or not isinstance(manifest.get("root"), str)):
        raise ArtifactError(f"`{where}`: the manifest lacks the root file or the compile options "
                            "(device, seed, dtype)")
    return manifest


def _safe_name(where: str, name: str) -> str:
    """A stored source path, refused if it is absolute or climbs out of the source folder."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in parts):
        raise ArtifactError(f"`{where}` stores a source file under the unsafe name `{name}`")
    return posixpath.join(*parts)


def _rebuild(where: str, manifest: dict, members: Mapping[str, bytes], device: str) -> Program:
    """Compile the stored sources (written to a fresh temporary folder, so includes resolve to
    them and never to the original directory) with the stored seed and dtype on ``device``."""
    from rldsl.api import compile as compile_model

    sources = {name[len(SOURCE_DIR):]: data for name, data in members.items() if name.startswith(SOURCE_DIR)}
    root = _safe_name(where, manifest["root"])
    if root not in sources:
        raise ArtifactError(f"`{where}` is missing its root source file `{SOURCE_DIR}{root}`")
    with tempfile.TemporaryDirectory(prefix="rldsl-artifact-") as folder:
        for name, data in sources.items():
            target = os.path.join(folder, *_safe_name(where, name).split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
        options = manifest["options"]
        try:
            return compile_model(os.path.join(folder, *root.split("/")), device=device, seed=options["seed"],
                                 dtype=options["dtype"])
        except CompileError as error:
            raise ArtifactError(f"`{where}`: the stored source does not compile: {error}") from error


def _read_weights(where: str, data: bytes, device: object) -> dict:
    """``torch.load`` of the weights with ``weights_only=True``: no code from the file runs."""
    try:
        states = torch.load(io.BytesIO(data), weights_only=True, map_location=device)
    except pickle.UnpicklingError as error:
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` holds something other than tensors, which rldsl refuses to "
                            "load (it could run code); do not use this artifact") from error
    except (RuntimeError, EOFError, ValueError, TypeError) as error:
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` cannot be read ({error})") from error
    if not isinstance(states, dict) or not all(isinstance(state, dict) for state in states.values()):
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` should map each module name to its state dict")
    return states


def _fit(where: str, name: str, module: torch.nn.Module, state: Mapping[str, object]) -> None:
    """Check a stored state dict against a module: every key there, none extra, shapes equal."""
    expected = module.state_dict()
    for key in expected:
        if key not in state:
            raise ArtifactError(f"`{where}`: the weights of module `{name}` lack `{key}`: they do not fit the "
                                "stored source")
    for key, value in state.items():
        if key not in expected:
            raise ArtifactError(f"`{where}`: the weights of module `{name}` hold `{key}`, which the stored source "
                                "does not have")
        if not isinstance(value, torch.Tensor) or value.shape != expected[key].shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ArtifactError(f"`{where}`: weight `{key}` of module `{name}` has shape {shape}, but the stored "
                                f"source gives it shape {tuple(expected[key].shape)}; the artifact was not "
                                "written from this source")


@attrs.frozen(slots=True)
class Contents:
    """What an intact artifact holds, read without building anything: its manifest (format,
    rldsl version, root file, compile options), the stored source texts by name, and the size
    of the weights in bytes."""

    manifest: Mapping[str, object]
    sources: Mapping[str, str]
    weights_bytes: int


def read_contents(path: str | os.PathLike[str]) -> Contents:
    """Verify the artifact at ``path`` (checksums, manifest, source names) and return what it
    holds. Raises :class:`ArtifactError` as :func:`load_artifact` does."""
    where = os.fspath(path)
    members = _read_members(path)
    _verify(path, members)
    manifest = _manifest(where, members[MANIFEST])
    sources = {}
    for name, data in members.items():
        if name.startswith(SOURCE_DIR):
            try:
                sources[_safe_name(where, name[len(SOURCE_DIR):])] = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ArtifactError(f"`{where}`: the stored source `{name}` is not UTF-8 text") from error
    if manifest["root"] not in sources:
        raise ArtifactError(f"`{where}` is missing its root source file `{SOURCE_DIR}{manifest['root']}`")
    return Contents(manifest, sources, len(members[WEIGHTS]))


def load_artifact(path: str | os.PathLike[str], *, device: str | None = None) -> Program:
    """Read the artifact at ``path``: verify it, rebuild its model from the stored source (on
    ``device``, or the device it was saved from) and load the saved weights into it.

    Raises :class:`ArtifactError` for a file that is not an intact artifact of this format or
    whose weights do not fit its source; ``OSError`` when the file cannot be opened.
    """
    where = os.fspath(path)
    members = _read_members(path)
    _verify(path, members)
    manifest = _manifest(where, members[MANIFEST])
    program = _rebuild(where, manifest, members, device or manifest["options"]["device"])
    states = _read_weights(where, members[WEIGHTS], program.device)
    for name in program:
        if name not in states:
            raise ArtifactError(f"`{where}` has no weights for module `{name}`: they do not fit the stored source")
    for name in states:
        if name not in program:
            raise ArtifactError(f"`{where}` has weights for module `{name}`, which the stored source does not declare")
    for name, module in program.items():
        _fit(where, name, module, states[name])
        module.load_state_dict(states[name], strict=True)
    return program
