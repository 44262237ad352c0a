"""Model artifacts: a compiled model's source, compile options and weights in one ``.rlmz`` file.

An artifact is a zip file holding

* ``manifest.json``: the format name and version, the rldsl version, the compile options
  (device, seed, dtype) and the name of the root source file;
* ``source/...``: every ``.rlm`` file the model read (the root and its includes), by path
  relative to their common folder, so loading never looks at the original directory;
* ``weights.pt``: one ``torch.save`` of ``{module name: state_dict}``;
* ``checksums.json``: the SHA-256 of every other member.

Reading assumes the file may be hostile, and reads it within limits:

* the path must name a regular file (a FIFO, device or folder is refused before it is opened,
  and again on the opened descriptor, so nothing blocks), of at most ``max_bytes``;
* the zip's directory is sized from its end record before :mod:`zipfile` parses it; it may list
  at most ``max_members`` members, each under a plain relative name (no absolute path, ``..``,
  backslash, control character or duplicate), stored or deflated, unencrypted;
* every member is capped by the size its directory entry declares *before* it is inflated (the
  metadata at :data:`MAX_METADATA_BYTES`, each source at ``max_source_bytes``, the weights at what
  the stored model's state dicts need), and again while it is read, in bounded chunks, since a
  zip can lie about sizes: a zip bomb is refused without being inflated;
* the checksums are verified before anything is parsed; the manifest is type-checked field by
  field; the stored model is checked (its includes resolve only to members of the artifact,
  :func:`rldsl.lang.includes.load_members`) and its parameters counted on the ``meta`` device
  against ``max_params`` before it is built (:mod:`rldsl.compiler.limits`); the weights are read
  with ``torch.load(weights_only=True)``: loading never runs code from the file.

Every problem is one :class:`ArtifactError` (a ``ValueError``) that says what is wrong.

Writing stores a program's *current* weights: :func:`save_program` (``Program.save``,
``rldsl.save``) writes a trained program with the source it was compiled from, and
:func:`load_artifact` gives back those weights bit for bit. The state dicts keep the module
library's (torchrl's) names, so a checkpoint of a torchrl-built model loads into the compiled one
(``program[name].load_state_dict(...)``) and saves like any trained weights. A file is written
beside its destination and moved over it only once complete, so a failed save never leaves a
truncated artifact where a good one was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import re
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO

import attrs
import torch

from rldsl import __version__
from rldsl._checks import is_int
from rldsl.compiler.errors import CompileError
from rldsl.compiler.limits import DEFAULT_MAX_PARAMS, ModelTooLarge, validate_limit
from rldsl.compiler.program import DTYPE_NAMES, ModelSource, Program, compile_report
from rldsl.errors import RldslError
from rldsl.files import UnsafeFile, open_regular
from rldsl.lang.source import SourceFile

__all__ = ["DEFAULT_MAX_BYTES", "FORMAT", "MAX_MEMBERS", "MAX_METADATA_BYTES", "MAX_SOURCE_BYTES", "VERSION",
           "ArtifactError", "Contents", "inspect_artifact", "load_artifact", "read_contents", "save",
           "save_program", "write_artifact"]

#: The format name written in every manifest, and the one format version this rldsl reads.
FORMAT, VERSION = "rldsl-artifact", 1
MANIFEST, WEIGHTS, CHECKSUMS, SOURCE_DIR = "manifest.json", "weights.pt", "checksums.json", "source/"
#: The dtypes an artifact can be compiled in.
STORED_DTYPES = ("f32", "f64")

#: At most this many members (a model and its includes, plus three).
MAX_MEMBERS = 256
#: Each stored source file is at most this large (as an include read from disk is).
MAX_SOURCE_BYTES = 1 << 20
#: All stored sources together are at most this large.
MAX_SOURCES_TOTAL_BYTES = 16 << 20
#: ``manifest.json`` and ``checksums.json`` are each at most this large.
MAX_METADATA_BYTES = 1 << 20
#: The zip's central directory is at most this large (it is read whole by :mod:`zipfile`).
MAX_DIRECTORY_BYTES = 1 << 20
#: A member name is at most this many characters.
MAX_NAME_CHARS = 512
#: What ``torch.save`` adds to the tensors' bytes: a fixed part, and a part per tensor.
WEIGHTS_OVERHEAD_BYTES, WEIGHTS_OVERHEAD_PER_TENSOR = 1 << 20, 4096
#: Reads are done in chunks of this size, so a member never inflates far past its cap.
_CHUNK_BYTES = 1 << 20


def default_max_bytes(max_params: int) -> int:
    """The default size limit of an artifact holding at most ``max_params`` parameters: 8 bytes
    each (f64), plus room for the sources and metadata."""
    return max_params * 8 + MAX_SOURCES_TOTAL_BYTES + 4 * MAX_METADATA_BYTES


#: The default size limit of an artifact file, and of its members inflated together (16 GiB and a bit).
DEFAULT_MAX_BYTES = default_max_bytes(DEFAULT_MAX_PARAMS)


class ArtifactError(RldslError, ValueError):
    """An artifact that cannot be read: not a regular file, not a zip, truncated, over a limit,
    tampered with, of an unknown format version, or with weights that do not fit its source."""


@attrs.frozen(slots=True)
class Limits:
    """What reading an artifact may accept (see the module docstring); each a positive int."""

    max_params: int = DEFAULT_MAX_PARAMS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = MAX_MEMBERS
    max_source_bytes: int = MAX_SOURCE_BYTES

    @classmethod
    def of(cls, *, max_params: int = DEFAULT_MAX_PARAMS, max_bytes: int | None = None, max_members: int = MAX_MEMBERS,
           max_source_bytes: int = MAX_SOURCE_BYTES) -> Limits:
        """Limits from keyword arguments, checked (``max_bytes`` None: :func:`default_max_bytes`)."""
        params = _required(max_params, "max_params")
        for name, value in (("max_members", max_members), ("max_source_bytes", max_source_bytes)):
            _required(value, name)
        if max_bytes is not None:
            validate_limit(max_bytes, "max_bytes")
        return cls(params, default_max_bytes(params) if max_bytes is None else max_bytes, max_members,
                   max_source_bytes)


def _required(value: object, name: str) -> int:
    """A limit that must be given: a positive int (an artifact is always read within limits)."""
    limit = validate_limit(value, name)
    if limit is None:
        raise ValueError(f"{name} should be a positive int: an artifact is always read within limits")
    return limit


# ---------------------------------------------------------------------------------------------
# writing


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _relative_sources(root: str, sources: Mapping[str, SourceFile]) -> tuple[str, dict[str, str]]:
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


def write_artifact(path: str | os.PathLike[str], program: Program, root: str, sources: Mapping[str, SourceFile], *,
                   seed: int, dtype: str) -> int:
    """Write ``program`` (compiled from the file ``root``, which read ``sources``: display name to
    :class:`~rldsl.lang.source.SourceFile`) as an artifact at ``path``; returns its size in bytes.
    ``seed`` and ``dtype`` are the compile options it was built with. Raises
    :class:`ArtifactError` for what could not be read back (a dtype or a file name it refuses)."""
    if dtype not in STORED_DTYPES:
        raise ArtifactError(f"dtype `{dtype}` cannot be stored: use `f32` or `f64`")
    root_name, texts = _relative_sources(root, sources)
    for name in texts:
        problem = _name_problem(name)
        if problem:
            raise ArtifactError(f"the source file `{_shown(name)}` cannot be stored under that name: {problem}")
    manifest = {"format": FORMAT, "version": VERSION, "rldsl": __version__, "root": root_name,
                "options": {"device": str(program.device), "seed": seed, "dtype": dtype}}
    members = {MANIFEST: json.dumps(manifest, indent=2).encode()}
    members.update({SOURCE_DIR + name: text.encode("utf-8") for name, text in texts.items()})
    members[WEIGHTS] = _weights_bytes(program)
    checksums = {name: _sha256(data) for name, data in members.items()}
    members[CHECKSUMS] = json.dumps(checksums, indent=2, sort_keys=True).encode()
    return _write_zip(path, members)


def _write_zip(path: str | os.PathLike[str], members: Mapping[str, bytes]) -> int:
    """Write ``members`` as a zip file at ``path``: into a new file beside it, moved over ``path``
    only once complete (a failure leaves whatever was there before). Returns the size in bytes.
    A path that is not a regular file (``/dev/null``, a FIFO) is written in place."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        return sum(len(data) for data in members.values())
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".rldsl-", suffix=".rlmz.part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in members.items():
                    archive.writestr(name, data)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return os.path.getsize(path)


def _umask() -> int:
    """The process's umask (read by setting it and putting it back): a saved artifact gets the
    permissions any new file gets, not the private ones of a temporary file."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_program(program: Program, path: str | os.PathLike[str]) -> int:
    """Write ``program`` as an artifact at ``path`` with its *current* weights (after training,
    say) and the source it was compiled from (:attr:`Program.source`); returns the size in bytes.
    :func:`load_artifact` rebuilds the model from that source and loads exactly these weights.

    Raises :class:`ArtifactError` when the program does not know its source, or when its weights
    no longer fit that source (a module cast to another dtype, a parameter replaced by one of
    another shape), since such an artifact could not be loaded; ``OSError`` when ``path`` cannot be
    written."""
    if not isinstance(program, Program):
        raise TypeError(f"save takes a compiled rldsl Program (rldsl.compile, rldsl.load), got "
                        f"{type(program).__name__}")
    if program.source is None:
        raise ArtifactError("this program does not know the source it was compiled from, so it cannot be saved as "
                            "an artifact: compile it with `rldsl.compile` (or load it with `rldsl.load`), then "
                            "train and save that program")
    problem = program.weight_problem()
    if problem:
        raise ArtifactError(f"the program's weights no longer fit its source ({problem}), so the artifact could not "
                            "be loaded; give the modules back the shapes and dtypes they were compiled with (compile "
                            "with `dtype=\"f64\"` for f64 weights)")
    dtype = next(name for name, value in DTYPE_NAMES.items() if value == program.dtype)
    return write_artifact(path, program, program.source.root, program.source.files, seed=program.seed, dtype=dtype)


def save(path: str | os.PathLike[str], source: str | os.PathLike[str], *, device: str = "cpu", seed: int = 0,
         dtype: str = "f32", include_roots: tuple[str | os.PathLike[str], ...] = ()) -> Program:
    """Compile the model in the file ``source`` (its includes read inside its folder and
    ``include_roots``) and write it as an artifact at ``path``; returns the compiled program
    (whose weights are the ones saved). Raises ``ValueError`` for a ``dtype`` other than ``"f32"``
    and ``"f64"``, ``OSError`` when ``source`` cannot be read, and
    :class:`~rldsl.compiler.CompileError` when the model does not compile."""
    from rldsl.lang.check import check_dtype, check_program
    from rldsl.lang.includes import ReadLimits, load_program

    check_dtype(dtype)
    report = check_program(load_program(os.fspath(source), ReadLimits(include_roots=include_roots)), dtype=dtype)
    program = compile_report(report, device=device, seed=seed, dtype=dtype,
                             source=ModelSource.of_report(report, source))
    write_artifact(path, program, os.fspath(source), report.sources, seed=seed, dtype=dtype)
    return program


# ---------------------------------------------------------------------------------------------
# names and sizes


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_DEVICE = re.compile(r"[a-z][a-z0-9_]{0,31}(:[0-9]{1,4})?")


def _shown(text: object, limit: int = 120) -> str:
    """Untrusted text as it may appear in a message: control characters escaped, cut at ``limit``."""
    text = str(text)
    shown = _CONTROL.sub(lambda match: repr(match.group())[1:-1], text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _name_problem(name: str) -> str:
    """Why ``name`` is not a plain relative ``/``-separated file name ('' when it is)."""
    if not name or len(name) > MAX_NAME_CHARS:
        return f"a name has 1 to {MAX_NAME_CHARS} characters"
    if _CONTROL.search(name) or "\\" in name or ":" in name:
        return "it holds a control character, a backslash or a colon"
    if name.startswith("/"):
        return "it is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "it holds an empty, `.` or `..` part"
    return ""


def _member_cap(name: str, limits: Limits) -> int:
    """The most bytes member ``name`` may hold once inflated (the weights are capped again, more
    tightly, once the stored model has been measured)."""
    if name in (MANIFEST, CHECKSUMS):
        return MAX_METADATA_BYTES
    if name.startswith(SOURCE_DIR):
        return limits.max_source_bytes
    return limits.max_bytes


def _size_text(size: int) -> str:
    return f"{size:,} bytes"


# ---------------------------------------------------------------------------------------------
# the zip file, opened within limits


_END = struct.Struct("<4s4H2LH")  # end of central directory record
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record
_END_MAGIC, _LOCATOR_MAGIC, _END64_MAGIC = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"


def _directory_size(handle: BinaryIO, size: int) -> tuple[int, int] | None:
    """``(entries, bytes)`` of the zip's central directory as its end records state them (the
    zip64 record over the plain one, as :mod:`zipfile` reads them), or None when there is no end
    record (:mod:`zipfile` then says the file is not a zip)."""
    tail = min(size, _END.size + 0xFFFF)
    handle.seek(size - tail)
    data = handle.read(tail)
    at = len(data) - _END.size
    if not (data[at:].startswith(_END_MAGIC) and data[-2:] == b"\0\0"):
        at = data.rfind(_END_MAGIC)
    if at < 0 or at + _END.size > len(data):
        return None
    _, _, _, _, entries, length, _, _ = _END.unpack_from(data, at)
    locator_at = size - tail + at - _LOCATOR.size
    if locator_at >= _END64.size:
        handle.seek(locator_at)
        locator = handle.read(_LOCATOR.size)
        if locator.startswith(_LOCATOR_MAGIC):
            handle.seek(locator_at - _END64.size)
            record = handle.read(_END64.size)
            if len(record) == _END64.size and record.startswith(_END64_MAGIC):
                fields = _END64.unpack(record)
                entries, length = fields[7], fields[8]
    return entries, length


def _regular_file(where: str, path: str | os.PathLike[str], limits: Limits) -> BinaryIO:
    """``path`` opened for reading, refused unless it is a regular file within the size limit
    (:func:`rldsl.files.open_regular`: a FIFO or device is refused before it is opened)."""
    try:
        return open_regular(path, limits.max_bytes, "raise it with max_bytes= (rldsl.load)")
    except UnsafeFile as refusal:
        raise ArtifactError(f"`{where}` is not read as an artifact: {refusal.strerror}") from None
    except OSError as error:
        raise ArtifactError(f"cannot read `{where}`: {error.strerror or error}") from error


class _Archive:
    """An artifact's zip file whose directory passed the checks: members read within caps."""

    def __init__(self, where: str, archive: zipfile.ZipFile, limits: Limits) -> None:
        self.where = where
        self.archive = archive
        self.limits = limits
        self.infos = {info.filename: info for info in archive.infolist()}

    def names(self) -> list[str]:
        return list(self.infos)

    def declared_size(self, name: str) -> int:
        return self.infos[name].file_size

    def read(self, name: str, cap: int) -> bytes:
        """Member ``name``, refused if it declares or inflates to more than ``cap`` bytes."""
        info = self.infos[name]
        if info.file_size > cap:
            raise ArtifactError(f"`{self.where}`: `{_shown(name)}` declares {_size_text(info.file_size)}, above its "
                                f"limit of {_size_text(cap)}; it was not inflated")
        chunks, total = [], 0
        try:
            with self.archive.open(info) as stream:
                while chunk := stream.read(min(_CHUNK_BYTES, cap + 1 - total)):
                    total += len(chunk)
                    if total > cap:
                        raise ArtifactError(f"`{self.where}`: `{_shown(name)}` inflates past its limit of "
                                            f"{_size_text(cap)} (its directory entry lied about its size)")
                    chunks.append(chunk)
        except ArtifactError:
            raise
        except Exception as error:  # noqa: BLE001 (hostile bytes: zlib, struct, OS and zip errors alike)
            raise ArtifactError(f"`{self.where}`: `{_shown(name)}` cannot be read ({type(error).__name__}: "
                                f"{_shown(error, 200)}); the artifact is corrupt") from error
        return b"".join(chunks)


@contextmanager
def _open(path: str | os.PathLike[str], limits: Limits) -> Iterator[_Archive]:
    """The artifact at ``path`` as an :class:`_Archive`, its directory checked."""
    where = os.fspath(path)
    with _regular_file(where, path, limits) as handle:
        try:
            stated = _directory_size(handle, os.fstat(handle.fileno()).st_size)
        except (OSError, struct.error) as error:
            raise ArtifactError(f"cannot read `{where}`: {_shown(error, 200)}") from error
        if stated is not None:
            entries, length = stated
            if entries > limits.max_members or length > MAX_DIRECTORY_BYTES:
                raise ArtifactError(f"`{where}`: its zip directory lists {entries:,} members in "
                                    f"{_size_text(length)}, above the limit of {limits.max_members} members "
                                    f"(max_members) or {_size_text(MAX_DIRECTORY_BYTES)}")
        try:
            handle.seek(0)
            archive = zipfile.ZipFile(handle)
        except zipfile.BadZipFile as error:
            raise ArtifactError(f"`{where}` is not a readable rldsl artifact ({_shown(error, 200)}): it is not a zip "
                                "file, or it is truncated or corrupt; write it again with `rldsl compile FILE -o`"
                                ) from error
        except Exception as error:  # noqa: BLE001 (hostile bytes can raise anything from zipfile's parser)
            raise ArtifactError(f"`{where}` cannot be read as an rldsl artifact ({type(error).__name__}: "
                                f"{_shown(error, 200)})") from error
        with archive:
            _check_directory(where, archive.infolist(), limits)
            yield _Archive(where, archive, limits)


def _check_directory(where: str, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse a directory with too many members, unsafe or repeated names, members that are not
    stored or deflated, encrypted ones, or declared sizes over the limits."""
    if len(infos) > limits.max_members:
        raise ArtifactError(f"`{where}` holds {len(infos):,} members, above the limit of {limits.max_members} "
                            "(max_members)")
    seen: set[str] = set()
    total = sources = 0
    for info in infos:
        name = info.filename
        problem = _name_problem(name)
        if not problem and name not in (MANIFEST, WEIGHTS, CHECKSUMS) and not name.startswith(SOURCE_DIR):
            problem = f"an artifact holds only `{MANIFEST}`, `{CHECKSUMS}`, `{WEIGHTS}` and `{SOURCE_DIR}...`"
        if problem:
            raise ArtifactError(f"`{where}` holds a member under the unsafe name `{_shown(name)}`: {problem}")
        if name.casefold() in seen:
            raise ArtifactError(f"`{where}` holds `{_shown(name)}` twice: the artifact was altered after it was "
                                "written")
        seen.add(name.casefold())
        if info.flag_bits & 0x1:
            raise ArtifactError(f"`{where}`: `{_shown(name)}` is encrypted; rldsl writes no encrypted members")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArtifactError(f"`{where}`: `{_shown(name)}` uses zip compression method {info.compress_type}; "
                                "rldsl reads stored and deflated members only")
        cap = _member_cap(name, limits)
        if info.file_size > cap:
            raise ArtifactError(f"`{where}`: `{_shown(name)}` declares {_size_text(info.file_size)}, above its limit "
                                f"of {_size_text(cap)}; it was not inflated")
        total += info.file_size
        sources += info.file_size if name.startswith(SOURCE_DIR) else 0
    if total > limits.max_bytes or sources > MAX_SOURCES_TOTAL_BYTES:
        raise ArtifactError(f"`{where}`: its members declare {_size_text(total)} ({_size_text(sources)} of source), "
                            f"above the limit of {_size_text(limits.max_bytes)} (max_bytes) or "
                            f"{_size_text(MAX_SOURCES_TOTAL_BYTES)} of source")


# ---------------------------------------------------------------------------------------------
# checksums, manifest and sources


def _json(where: str, name: str, data: bytes) -> object:
    """A JSON member parsed strictly: UTF-8, no repeated keys, no NaN or infinity."""

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        found = dict(items)
        if len(found) != len(items):
            raise ValueError("a key is repeated")
        return found

    def constant(text: str) -> object:
        raise ValueError(f"{text} is not a number JSON allows")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ArtifactError(f"`{where}`: `{name}` is not valid JSON ({_shown(error, 200)})") from error


def _checksums(where: str, archive: _Archive) -> dict[str, str]:
    """``checksums.json``: a digest for every other member, and no member without one."""
    if CHECKSUMS not in archive.infos:
        raise ArtifactError(f"`{where}` has no `{CHECKSUMS}`: it is not an rldsl artifact, or it was damaged")
    checksums = _json(where, CHECKSUMS, archive.read(CHECKSUMS, MAX_METADATA_BYTES))
    if not isinstance(checksums, dict) or not all(isinstance(v, str) and _DIGEST.fullmatch(v)
                                                  for v in checksums.values()):
        raise ArtifactError(f"`{where}`: `{CHECKSUMS}` should map each member name to a SHA-256 digest "
                            "(64 lowercase hex digits)")
    for name in sorted({MANIFEST, WEIGHTS} | set(checksums)):
        if name not in archive.infos:
            raise ArtifactError(f"`{where}` is missing `{_shown(name)}`: the artifact is incomplete; write it again")
    for name in archive.names():
        if name != CHECKSUMS and name not in checksums:
            raise ArtifactError(f"`{where}` holds `{_shown(name)}`, which `{CHECKSUMS}` does not list: "
                                "the artifact was altered after it was written")
    return checksums


def _verified(where: str, archive: _Archive, checksums: Mapping[str, str], name: str, cap: int) -> bytes:
    """Member ``name`` read within ``cap``, refused unless its digest is the listed one."""
    data = archive.read(name, cap)
    if _sha256(data) != checksums[name]:
        raise ArtifactError(f"`{where}`: the checksum of `{_shown(name)}` does not match: the artifact was altered "
                            "or damaged after it was written; do not use it, write it again")
    return data


def _manifest(where: str, data: bytes) -> dict:
    """The parsed manifest, every field type-checked."""
    manifest = _json(where, MANIFEST, data)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"`{where}` is not an rldsl artifact: its manifest does not name the `{FORMAT}` format")
    version = manifest.get("version")
    if not is_int(version) or version != VERSION:
        writer = manifest.get("rldsl")
        raise ArtifactError(f"`{where}` has artifact format version {_shown(repr(version), 40)}, but rldsl "
                            f"{__version__} reads version {VERSION} only: load it with the rldsl that wrote it "
                            f"(rldsl {_shown(writer, 40) if isinstance(writer, str) else '?'})")
    _expect_keys(where, "the manifest", manifest, {"format", "version", "rldsl", "root", "options"})
    writer, root, options = manifest["rldsl"], manifest["root"], manifest["options"]
    if not isinstance(writer, str) or not 0 < len(writer) <= 64 or _CONTROL.search(writer):
        raise ArtifactError(f"`{where}`: the manifest's `rldsl` should be the version that wrote it, such as "
                            f"\"{__version__}\"")
    if not isinstance(root, str) or _name_problem(root):
        raise ArtifactError(f"`{where}`: the manifest's `root` should name the root source file plainly "
                            f"({_name_problem(root) if isinstance(root, str) else 'it is not a string'})")
    if not isinstance(options, dict):
        raise ArtifactError(f"`{where}`: the manifest's `options` should hold the compile options (device, seed, "
                            "dtype)")
    _expect_keys(where, "the manifest's `options`", options, {"device", "seed", "dtype"})
    if not isinstance(options["device"], str) or not _DEVICE.fullmatch(options["device"]):
        raise ArtifactError(f"`{where}`: the manifest's device should be a device name such as `cpu` or `cuda:0`")
    if not is_int(options["seed"]) or not -(2**63) <= options["seed"] < 2**64:
        raise ArtifactError(f"`{where}`: the manifest's seed should be an integer of at most 64 bits")
    if options["dtype"] not in STORED_DTYPES:
        raise ArtifactError(f"`{where}`: the manifest's dtype should be one of {', '.join(STORED_DTYPES)}")
    return manifest


def _expect_keys(where: str, what: str, found: Mapping[str, object], expected: set[str]) -> None:
    missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
    if missing or extra:
        parts = ([f"lacks {', '.join(f'`{k}`' for k in missing)}"] if missing else []) + (
            [f"holds unknown {', '.join(f'`{_shown(k, 40)}`' for k in extra[:5])}"] if extra else [])
        raise ArtifactError(f"`{where}`: {what} {' and '.join(parts)}")


def _sources(where: str, archive: _Archive, checksums: Mapping[str, str], manifest: Mapping[str, object]
             ) -> dict[str, bytes]:
    """The stored sources by name (``source/`` dropped), verified, UTF-8, the root among them."""
    sources = {}
    for name in archive.names():
        if name.startswith(SOURCE_DIR):
            data = _verified(where, archive, checksums, name, archive.limits.max_source_bytes)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ArtifactError(f"`{where}`: the stored source `{_shown(name)}` is not UTF-8 text") from error
            sources[name[len(SOURCE_DIR):]] = data
    if manifest["root"] not in sources:
        raise ArtifactError(f"`{where}` is missing its root source file `{SOURCE_DIR}{_shown(manifest['root'])}`")
    return sources


# ---------------------------------------------------------------------------------------------
# the model and its weights


def _rebuild(where: str, manifest: Mapping[str, object], sources: Mapping[str, bytes], device: str,
             limits: Limits) -> Program:
    """Check the stored sources (includes resolve among them only), count the parameters against
    the limit, then build with the stored seed and dtype on ``device``."""
    from rldsl.lang.check import check_program
    from rldsl.lang.includes import load_members

    report = check_program(load_members(sources, manifest["root"]), dtype=manifest["options"]["dtype"])
    if not report.ok:
        shown = "; ".join(f"{d.span}: {_shown(d.message, 200)}" for d in report.errors[:3])
        more = f" (and {len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
        raise ArtifactError(f"`{where}`: the stored source does not check: {shown}{more}")
    options = manifest["options"]
    stored = ModelSource(manifest["root"], {name: SourceFile(name, data.decode("utf-8"))
                                            for name, data in sources.items()})
    try:
        return compile_report(report, device=device, seed=options["seed"], dtype=options["dtype"],
                              max_params=limits.max_params, source=stored)
    except ModelTooLarge as error:
        hint = "; raise it with `rldsl inspect --max-params` or `rldsl.load(..., max_params=)`" if error.hint else ""
        raise ArtifactError(f"`{where}`: {error.detail}{hint}") from error
    except CompileError as error:
        raise ArtifactError(f"`{where}`: the stored source does not compile: {error}") from error


def _weights_cap(program: Program) -> int:
    """The most bytes ``weights.pt`` may hold for ``program``: its state dicts' bytes (each
    declaration's, as they are saved) and ``torch.save``'s overhead."""
    states = [tensor for module in program.values() for tensor in module.state_dict().values()]
    return (sum(t.numel() * t.element_size() for t in states) + WEIGHTS_OVERHEAD_BYTES
            + WEIGHTS_OVERHEAD_PER_TENSOR * len(states))


def _read_weights(where: str, data: bytes, device: object) -> dict:
    """``torch.load`` of the weights with ``weights_only=True``: no code from the file runs, and
    whatever the bytes make torch raise is an :class:`ArtifactError`."""
    try:
        with warnings.catch_warnings():  # torch's warnings about a file's pickle protocol are noise here
            warnings.simplefilter("ignore")
            states = torch.load(io.BytesIO(data), weights_only=True, map_location=device)
    except pickle.UnpicklingError as error:
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` holds something other than tensors, which rldsl refuses to "
                            "load (it could run code); do not use this artifact") from error
    except Exception as error:  # noqa: BLE001 (hostile bytes: torch raises many types, every one is a refusal)
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` cannot be read ({type(error).__name__}: "
                            f"{_shown(error, 200)})") from error
    if not isinstance(states, dict) or not all(isinstance(name, str) and isinstance(state, dict)
                                               and all(isinstance(key, str) for key in state)
                                               for name, state in states.items()):
        raise ArtifactError(f"`{where}`: `{WEIGHTS}` should map each module name to its state dict")
    return states


def _fit(where: str, name: str, module: torch.nn.Module, state: Mapping[str, object]) -> None:
    """Check a stored state dict against a module: every key there, none extra, shapes and dtypes equal."""
    expected = module.state_dict()
    for key in expected:
        if key not in state:
            raise ArtifactError(f"`{where}`: the weights of module `{name}` lack `{key}`: they do not fit the "
                                "stored source")
    for key, value in state.items():
        if key not in expected:
            raise ArtifactError(f"`{where}`: the weights of module `{name}` hold `{_shown(key)}`, which the stored "
                                "source does not have")
        if not isinstance(value, torch.Tensor) or value.shape != expected[key].shape:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ArtifactError(f"`{where}`: weight `{key}` of module `{name}` has shape {shape}, but the stored "
                                f"source gives it shape {tuple(expected[key].shape)}; the artifact was not "
                                "written from this source")
        if value.dtype != expected[key].dtype or value.layout != torch.strided:
            raise ArtifactError(f"`{where}`: weight `{key}` of module `{name}` is a {value.layout} {value.dtype} "
                                f"tensor, but the stored source and options give a {expected[key].dtype} one")


def _load_weights(where: str, program: Program, states: Mapping[str, Mapping[str, object]]) -> None:
    """Put the stored weights into ``program``'s modules, after checking they fit."""
    for name in program:
        if name not in states:
            raise ArtifactError(f"`{where}` has no weights for module `{name}`: they do not fit the stored source")
    for name in states:
        if name not in program:
            raise ArtifactError(f"`{where}` has weights for module `{_shown(name)}`, which the stored source does "
                                "not declare")
    for name, module in program.items():
        _fit(where, name, module, states[name])
        try:
            module.load_state_dict(states[name], strict=True)
        except (RuntimeError, ValueError, TypeError) as error:
            raise ArtifactError(f"`{where}`: the weights of module `{name}` cannot be loaded ({_shown(error, 200)})"
                                ) from error


# ---------------------------------------------------------------------------------------------
# reading


@attrs.frozen(slots=True)
class Contents:
    """What an intact artifact holds, read without building anything: its manifest (format,
    rldsl version, root file, compile options), the stored source texts by name, and the size
    of the weights in bytes."""

    manifest: Mapping[str, object]
    sources: Mapping[str, str]
    weights_bytes: int


def _contents(where: str, archive: _Archive) -> tuple[Contents, dict[str, str], dict[str, bytes]]:
    """The verified contents, the checksums and the stored sources' bytes."""
    checksums = _checksums(where, archive)
    manifest = _manifest(where, _verified(where, archive, checksums, MANIFEST, MAX_METADATA_BYTES))
    sources = _sources(where, archive, checksums, manifest)
    texts = {name: data.decode("utf-8") for name, data in sources.items()}
    return Contents(manifest, texts, archive.declared_size(WEIGHTS)), checksums, sources


def read_contents(path: str | os.PathLike[str], *, max_params: int = DEFAULT_MAX_PARAMS, max_bytes: int | None = None,
                  max_members: int = MAX_MEMBERS, max_source_bytes: int = MAX_SOURCE_BYTES) -> Contents:
    """Verify the artifact at ``path`` (its directory, checksums, manifest and sources; the
    weights are only sized, :func:`load_artifact` reads them) and return what it holds. The
    limits are those of :func:`load_artifact`. Raises :class:`ArtifactError`."""
    limits = Limits.of(max_params=max_params, max_bytes=max_bytes, max_members=max_members,
                       max_source_bytes=max_source_bytes)
    with _open(path, limits) as archive:
        return _contents(os.fspath(path), archive)[0]


def inspect_artifact(path: str | os.PathLike[str], *, device: str | None = None, max_params: int = DEFAULT_MAX_PARAMS,
                     max_bytes: int | None = None, max_members: int = MAX_MEMBERS,
                     max_source_bytes: int = MAX_SOURCE_BYTES) -> tuple[Contents, Program]:
    """What :func:`read_contents` and :func:`load_artifact` return, from one reading of the file."""
    limits = Limits.of(max_params=max_params, max_bytes=max_bytes, max_members=max_members,
                       max_source_bytes=max_source_bytes)
    where = os.fspath(path)
    with _open(path, limits) as archive:
        contents, checksums, sources = _contents(where, archive)
        program = _rebuild(where, contents.manifest, sources, device or contents.manifest["options"]["device"],
                           limits)
        data = _verified(where, archive, checksums, WEIGHTS, _weights_cap(program))
    _load_weights(where, program, _read_weights(where, data, program.device))
    return contents, program


def load_artifact(path: str | os.PathLike[str], *, device: str | None = None, max_params: int = DEFAULT_MAX_PARAMS,
                  max_bytes: int | None = None, max_members: int = MAX_MEMBERS,
                  max_source_bytes: int = MAX_SOURCE_BYTES) -> Program:
    """Read the artifact at ``path``: verify it, rebuild its model from the stored source (on
    ``device``, or the device it was saved from) and load the saved weights into it.

    Reading is bounded (the module docstring says how): a model of more than ``max_params``
    parameters (default 2**31) is refused before it is built, a file over ``max_bytes`` (default
    :func:`default_max_bytes` of ``max_params``) or with more than ``max_members`` members, or a
    stored source over ``max_source_bytes``, before it is read.

    Raises :class:`ArtifactError` for anything that is not an intact artifact of this format
    within those limits, whose weights fit its source, a path that cannot be opened included.
    """
    return inspect_artifact(path, device=device, max_params=max_params, max_bytes=max_bytes,
                            max_members=max_members, max_source_bytes=max_source_bytes)[1]
