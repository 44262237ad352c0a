"""Static spec types (:mod:`rldsl.lang.types`) to runtime specs (:mod:`rldsl.specs`).

The checker's specs are plain data with symbolic dims resolved to integers where known; the
runtime specs hold tensors on a device. The language's ``onehot(n)`` is i64 by default, unlike
the Python ``OneHot`` class (bool), so the dtype is always passed explicitly.

>>> from rldsl.lang import types as T
>>> to_spec(T.Bounded((1,), "f32", -2.0, 2.0))
BoundedContinuous(low=-2.0, high=2.0, shape=(1,), dtype=torch.float32, device=cpu)
"""

from __future__ import annotations

import torch

from rldsl import specs as S
from rldsl.compiler.errors import CompileError
from rldsl.lang import types as T

__all__ = ["DTYPES", "concrete", "from_spec", "shape_of", "to_spec", "torch_dtype"]

#: The language's dtype names, as torch dtypes.
DTYPES: dict[str, torch.dtype] = {
    "f16": torch.float16, "f32": torch.float32, "f64": torch.float64, "bf16": torch.bfloat16,
    "i8": torch.int8, "i16": torch.int16, "i32": torch.int32, "i64": torch.int64, "u8": torch.uint8,
    "bool": torch.bool,
}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a language dtype name (``"f32"`` -> ``torch.float32``)."""
    return DTYPES[name]


def concrete(dim: object) -> int:
    """A dim as an integer; a symbolic dim must have a known value by now (the check proved it)."""
    value = T.dim_value(dim)
    if value is None:
        raise CompileError(f"the dim `{dim}` has no size, and compiling needs every size: give it a value in the "
                           f"model, as in `dim {dim} = 4`")
    return int(value)


def shape_of(shape: tuple) -> tuple[int, ...]:
    """A static shape as a tuple of integers."""
    return tuple(concrete(d) for d in shape)


def _bound(bound: object, device: torch.device | str) -> object:
    """A scalar bound stays a float; per-element bounds become a tensor."""
    if isinstance(bound, tuple):
        return torch.tensor([float(v) for v in bound], device=device)
    return float(bound)


def _mask(spec: T.Spec, device: torch.device | str) -> torch.Tensor | None:
    """The spec's mask of allowed entries, shaped as :func:`rldsl.lang.types.mask_shape` says."""
    mask = getattr(spec, "mask", None)
    if mask is None:
        return None
    return torch.tensor([bool(v) for v in mask], device=device).reshape(shape_of(T.mask_shape(spec)))


def to_spec(spec: T.Spec, device: torch.device | str = "cpu") -> S.TensorSpec:
    """The runtime spec of a static spec, on ``device``."""
    dtype = DTYPES.get(getattr(spec, "dtype", "f32"))
    if isinstance(spec, T.Unbounded):
        return S.Unbounded(shape_of(spec.shape), device=device, dtype=dtype)
    if isinstance(spec, T.Bounded):
        shape = shape_of(spec.shape)
        low, high = _bound(spec.low, device), _bound(spec.high, device)
        if isinstance(low, torch.Tensor):
            low = low.reshape(shape)
        if isinstance(high, torch.Tensor):
            high = high.reshape(shape)
        return S.Bounded(low, high, shape=shape, device=device, dtype=dtype)
    if isinstance(spec, T.OneHot):
        shape = shape_of(spec.shape)
        return S.OneHot(concrete(spec.n), shape, device=device, dtype=dtype, mask=_mask(spec, device))
    if isinstance(spec, T.Categorical):
        return S.Categorical(concrete(spec.n), shape_of(spec.shape), device=device, dtype=dtype,
                             mask=_mask(spec, device))
    if isinstance(spec, T.Binary):
        return S.Binary(concrete(spec.n), shape_of(spec.shape), device=device, dtype=dtype)
    if isinstance(spec, (T.MultiOneHot, T.MultiCategorical)):
        cls = S.MultiOneHot if isinstance(spec, T.MultiOneHot) else S.MultiCategorical
        shape = shape_of(spec.shape)
        return cls([concrete(n) for n in spec.nvec], shape, device=device, dtype=dtype, mask=_mask(spec, device))
    if isinstance(spec, T.Composite):
        entries = {name: to_spec(entry, device) for name, entry in spec.entries}
        return S.Composite(entries, shape=shape_of(spec.shape), device=device)
    raise TypeError(f"no runtime spec for {T.spec_text(spec)}")


_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


def _dtype_name(spec: S.TensorSpec) -> str:
    name = _DTYPE_NAMES.get(spec.dtype)
    if name is None:
        raise ValueError(f"{type(spec).__name__} has dtype {spec.dtype}, which `.rlm` specs cannot write")
    return name


def _static_bound(bound: torch.Tensor) -> T.Bound:
    """A bound tensor as the language writes it: one number when every element is the same."""
    values = [float(v) for v in bound.reshape(-1).tolist()]
    return values[0] if values and all(v == values[0] for v in values) else tuple(values)


def _static_mask(spec: S.TensorSpec) -> tuple | None:
    mask = getattr(spec, "mask", None)
    return None if mask is None else tuple(bool(v) for v in mask.reshape(-1).tolist())


def from_spec(spec: S.TensorSpec) -> T.Spec:
    """A runtime spec as a static spec: the inverse of :func:`to_spec`, so that Python code can
    declare keys with the specs it already has (``rldsl.build.Model.key("action", env_spec)``).

    >>> T.spec_text(from_spec(S.Bounded(-2.0, 2.0, shape=(1,))))
    'f32[1] in [-2.0, 2.0]'
    """
    shape = tuple(int(d) for d in spec.shape)
    if isinstance(spec, S.Composite):
        return T.Composite(tuple((name, from_spec(entry)) for name, entry in spec.items()), shape)
    dtype = _dtype_name(spec)
    if isinstance(spec, S.Bounded):
        return T.Bounded(shape, dtype, _static_bound(spec.low), _static_bound(spec.high))
    if isinstance(spec, S.Unbounded):
        return T.Unbounded(shape, dtype)
    if isinstance(spec, S.Binary):
        return T.Binary(shape[-1], shape, dtype)
    if isinstance(spec, S.OneHot):
        return T.OneHot(int(spec.n), shape, dtype, _static_mask(spec))
    if isinstance(spec, S.MultiOneHot):
        return T.MultiOneHot(tuple(int(n) for n in spec.nvec), shape, dtype, _static_mask(spec))
    if isinstance(spec, S.MultiCategorical):
        rows = torch.as_tensor(spec.nvec).reshape(-1, shape[-1]).cpu()  # one row per leading index
        if not bool((rows == rows[0]).all()):
            raise ValueError("a MultiCategorical whose sizes differ along its leading dims has no `.rlm` form")
        return T.MultiCategorical(tuple(int(n) for n in rows[0].tolist()), shape, dtype, _static_mask(spec))
    if isinstance(spec, S.Categorical):
        return T.Categorical(int(spec.n), shape, dtype, _static_mask(spec))
    raise ValueError(f"a {type(spec).__name__} spec has no `.rlm` form")
