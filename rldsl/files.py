"""Opening a file someone named, safely: regular files only, within a size limit.

A model file, an include or an artifact may name anything on the disk. Opening a FIFO waits for
a writer and a device may never end, so the mode is checked before opening and again on the
descriptor (opened non-blocking, in case the path changed in between), and the size is checked
before reading. Every refusal is an :class:`UnsafeFile`, an ``OSError`` whose ``strerror`` says why.

>>> read_bytes("/dev/zero", max_bytes=1024)
Traceback (most recent call last):
...
rldsl.files.UnsafeFile: it is a device, not a regular file
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from rldsl.errors import RldslError

__all__ = ["UnsafeFile", "open_regular", "read_bytes"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0) \
    | getattr(os, "O_BINARY", 0)


class UnsafeFile(RldslError, OSError):
    """A path refused before (or while) reading it: not a regular file, or over the size limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.strerror = reason


def open_regular(path: str | os.PathLike[str], max_bytes: int, hint: str = "") -> BinaryIO:
    """``path`` opened for reading in binary, refused (:class:`UnsafeFile`) unless it is a regular
    file of at most ``max_bytes`` (``hint`` says how to raise that limit). Raises ``OSError`` when
    it cannot be opened."""
    _require_regular(os.stat(path).st_mode)
    handle = os.fdopen(os.open(path, _FLAGS), "rb")
    try:
        info = os.fstat(handle.fileno())
        _require_regular(info.st_mode)
        if info.st_size > max_bytes:
            raise UnsafeFile(too_large(info.st_size, max_bytes, hint))
    except BaseException:
        handle.close()
        raise
    return handle


def read_bytes(path: str | os.PathLike[str], max_bytes: int, hint: str = "") -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; a file that reads longer than it said
    (``/proc``) is cut off at the limit and refused."""
    with open_regular(path, max_bytes, hint) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile(too_large(None, max_bytes, hint))
    return data


def _require_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file")
    raise UnsafeFile(f"it is {what}, not a regular file")


def too_large(size: int | None, limit: int, hint: str = "") -> str:
    """Why a file over ``limit`` bytes is refused (``size`` when it is known), and ``hint``."""
    actual = f" ({size:,} bytes)" if size is not None else ""
    return f"it is larger than the limit of {limit:,} bytes{actual}" + (f"; {hint}" if hint else "")
