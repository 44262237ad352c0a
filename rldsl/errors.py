"""The root of rldsl's exceptions, so that ``except rldsl.RldslError`` catches every error class
rldsl defines.

Each class also keeps the builtin base that torchrl (or plain Python) code expects, so
``except ValueError`` still catches a ``BuildError``. This module imports nothing: ``import
rldsl`` exports :class:`RldslError` and stays free of torch.

>>> from rldsl.build import BuildError
>>> issubclass(BuildError, RldslError) and issubclass(BuildError, ValueError)
True
"""

from __future__ import annotations

__all__ = ["RldslError"]


class RldslError(Exception):
    """The base of every exception class rldsl defines; each one also derives from the builtin
    error (``ValueError``, ``OSError``, ...) that callers written against torchrl catch."""
