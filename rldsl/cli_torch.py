"""What the command line says before it imports torch.

Importing torch takes seconds in a fresh process (about 16 on a cold machine); a command that
prints nothing meanwhile looks hung. Every command that builds modules (``compile``, ``run``,
``inspect``) calls :func:`announce_torch_import` first: one line on standard error, and only when
torch is not imported yet, so that standard output stays the command's own (machine-readable
output included) and a second call, or a call from a process that already has torch, says nothing.

>>> import io, sys
>>> stream = io.StringIO()
>>> announce_torch_import(stream) == ("torch" not in sys.modules)
True
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["TORCH_LOADING", "announce_torch_import"]

#: The line shown before torch is imported (after ``rldsl: ``).
TORCH_LOADING = "loading torch\u2026"


def announce_torch_import(stream: TextIO | None = None) -> bool:
    """Say ``rldsl: loading torch…`` on ``stream`` (standard error by default) when torch is not
    imported yet; returns whether anything was said. The line is flushed at once (standard error
    may be a pipe), and written with ``...`` where the stream cannot encode the ellipsis."""
    if "torch" in sys.modules:
        return False
    stream = sys.stderr if stream is None else stream
    line = f"rldsl: {TORCH_LOADING}"
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        line = line.replace("\u2026", "...")
    try:
        print(line, file=stream, flush=True)
    except (OSError, ValueError):  # a closed or broken stderr: the announcement is a courtesy, never a failure
        return False
    return True
