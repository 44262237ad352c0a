"""Dims and shapes as the checker knows them, before any tensor exists.

A shape is a tuple of dims; a dim is an ``int`` or a :class:`Sym`, a named dimension such as
``n_agents`` (``dim n_agents = 3``: its value is known) or ``batch`` (``dim batch``: any size).
Dims compare by value when both values are known; a dim of unknown size matches any size.

This is the bottom of the checker's types: :mod:`rldsl.lang.spec_types` builds the static spec
classes on it and :mod:`rldsl.lang.types` re-exports every name here. Pure Python: no torch.

>>> shape = (Sym("n_agents", 3), 4)
>>> shape_text(shape), shape_size(shape), shapes_equal(shape, (3, 4))
('[n_agents, 4]', 12, True)
"""

from __future__ import annotations

from typing import Union

import attrs

__all__ = ["ANY_DIM", "Dim", "Shape", "Sym", "dim_value", "dims_equal", "shape_size", "shape_text", "shapes_equal"]


@attrs.frozen(slots=True)
class Sym:
    """A named dimension: ``text`` is how it is written (``n_agents``, ``2 * n_actions``) and
    ``value`` its size when known (None: any size)."""

    text: str
    value: int | None = None

    def __str__(self) -> str:
        return self.text


Dim = Union[int, Sym]
Shape = tuple  # tuple[Dim, ...]

#: A dim of unknown size, used after an error.
ANY_DIM = Sym("?", None)


def dim_value(dim: Dim) -> int | None:
    """The size of a dim, or None when it is not known.

    >>> dim_value(3), dim_value(Sym("n", 4)), dim_value(Sym("batch"))
    (3, 4, None)
    """
    return dim if isinstance(dim, int) else dim.value


def dims_equal(a: Dim, b: Dim) -> bool:
    """Whether two dims can be the same size: equal values, or the same name, or an unknown size.

    >>> dims_equal(3, Sym("n", 3)), dims_equal(3, 4), dims_equal(Sym("batch"), 7)
    (True, False, True)
    """
    va, vb = dim_value(a), dim_value(b)
    if va is not None and vb is not None:
        return va == vb
    return True


def shapes_equal(a: Shape, b: Shape) -> bool:
    """Same rank and every pair of dims :func:`dims_equal`."""
    return len(a) == len(b) and all(dims_equal(x, y) for x, y in zip(a, b))


def shape_size(shape: Shape) -> int | None:
    """The number of elements of a shape, or None when a dim's size is unknown."""
    total = 1
    for dim in shape:
        value = dim_value(dim)
        if value is None:
            return None
        total *= value
    return total


def shape_text(shape: Shape) -> str:
    """``[n_agents, 8]``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"
