"""The compiler's errors: a model that cannot be built, and a call with inputs that do not fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rldsl.errors import RldslError

if TYPE_CHECKING:
    from rldsl.lang.report import Report

__all__ = ["CompileError"]


class CompileError(RldslError, ValueError):
    """A model that cannot be compiled: it has check errors (``report`` holds the diagnostics), the
    device asked for is not there, or a kind has no runtime class in this version."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report
