"""Tensor kinds: constant vectors written as calls, for arguments such as ``support=``.

``linspace(-10, 10, 51)`` and ``arange(3)`` are torch's functions; the checker only needs their
length (a distributional Q-value head has one atom per support value).
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Numbers
from rldsl.lang.kinds._base import ArgType, Family, Kind, Param
from rldsl.lang.kinds._contexts import LoweringContext
from rldsl.lang.values import INVALID

A = ArgType


def _build_linspace(lo: LoweringContext, args: Args) -> Numbers | object:
    if not args.ok("start", "end", "steps"):
        return INVALID
    steps = args["steps"]
    size = T.dim_value(steps)
    if size is not None and size < 1:
        lo.report("E0606", f"`steps` must be at least 1, got {size}", args.span_of("steps"),
                  label="no values", help="give the number of values, as in `linspace(-10, 10, 51)`")
        return INVALID
    return Numbers(steps, None, args.kind, args, call=(args["start"], args["end"], size))


LINSPACE = Kind(
    name="linspace",
    family=Family.TENSOR,
    runtime="torch.linspace",
    summary="`steps` evenly spaced numbers from `start` to `end` (both included).",
    params=(
        Param("start", A.FLOAT, doc="the first value", positional=True),
        Param("end", A.FLOAT, doc="the last value", positional=True),
        Param("steps", A.INT, doc="how many values", positional=True),
    ),
    rule="a vector of length `steps`",
    omitted=(("out", "a new tensor"), ("dtype", "float32"), ("layout", "strided"), ("device", "chosen when compiling"),
             ("requires_grad", "a constant")),
    build=_build_linspace,
)


def _build_arange(lo: LoweringContext, args: Args) -> Numbers | object:
    if not args.ok("start", "end", "step"):
        return INVALID
    start, end, step = args["start"], args["end"], args["step"]
    if end is None:
        start, end = 0, start
    if step == 0:
        lo.report("E0606", "`step` must not be 0", args.span_of("step"), label="zero step",
                  help="use a positive step, as in `arange(0, 10, 2)`")
        return INVALID
    if not all(math.isfinite(v) for v in (start, end, step)):
        lo.report("E0606", "arange needs finite numbers", args.span, label="an infinite bound",
                  help="give finite start, end and step, as in `arange(0, 10)`")
        return INVALID
    ratio = (end - start) / step
    if not math.isfinite(ratio) or ratio > T.MAX_SIZE:
        lo.report("E0410", f"arange({start}, {end}, {step}) has more than {T.MAX_SIZE:,} values", args.span,
                  label="too many values", help="use a larger step or a shorter range")
        return INVALID
    length = max(0, math.ceil(ratio))
    if length == 0:
        lo.report("E0606", f"arange({start}, {end}, {step}) is empty", args.span, label="no values",
                  help="the end must lie beyond the start in the direction of the step")
        return INVALID
    return Numbers(length, None, args.kind, args, call=(start, end, step))


ARANGE = Kind(
    name="arange",
    family=Family.TENSOR,
    runtime="torch.arange",
    summary="The numbers from `start` up to `end` (excluded) by `step`; `arange(n)` is 0, 1, ..., n-1.",
    params=(
        Param("start", A.FLOAT, doc="the first value (or the end, when it is the only argument)", positional=True),
        Param("end", A.FLOAT, None, "where to stop (excluded)", positional=True),
        Param("step", A.FLOAT, 1, "the difference between two values", positional=True),
    ),
    rule="a vector of length `ceil((end - start) / step)`",
    omitted=(("out", "a new tensor"), ("dtype", "inferred"), ("layout", "strided"), ("device", "chosen when compiling"),
             ("requires_grad", "a constant")),
    build=_build_arange,
)

KINDS = (LINSPACE, ARANGE)
