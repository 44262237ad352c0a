"""Static spec types (:mod:`rldsl.lang.types`) to runtime specs (:mod:`rldsl.specs`), and back.

The checker's specs are plain data with symbolic dims resolved to integers where known; the
runtime specs hold tensors on a device. Both directions follow the spec type's entry in
:mod:`rldsl.lang.spec_types`: its runtime class (by dotted name), and for each parameter the
constructor argument it becomes, converted by its type (a size to an int, a shape to a tuple, a
mask or a per-element bound to a tensor, ...). The language's ``onehot(n)`` is i64 by default,
unlike the Python ``OneHot`` class (bool), so the dtype is always passed explicitly.

>>> from rldsl.lang import types as T
>>> to_spec(T.Bounded((1,), "f32", -2.0, 2.0))
BoundedContinuous(low=-2.0, high=2.0, shape=(1,), dtype=torch.float32, device=cpu)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import torch

from rldsl import specs as S
from rldsl.compiler.errors import CompileError
from rldsl.lang import types as T
from rldsl.lang.spec_types import SPEC_TYPES, SpecArg, SpecParam, SpecType, spec_type_of

__all__ = ["DTYPES", "concrete", "from_spec", "runtime_class", "shape_of", "to_spec", "torch_dtype"]

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


@functools.cache
def runtime_class(spec_type: SpecType) -> type:
    """The runtime class of a spec type, imported from its dotted name."""
    module, _, name = spec_type.runtime.rpartition(".")
    return getattr(importlib.import_module(module), name)


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


def _runtime_size(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    return concrete(getattr(spec, param.name))


def _runtime_sizes(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    return [concrete(n) for n in getattr(spec, param.name)]


def _runtime_dtype(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    return DTYPES.get(spec.dtype)


def _runtime_shape(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    return shape_of(getattr(spec, param.name))


def _runtime_mask(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    return _mask(spec, device)


def _runtime_bound(spec: T.Spec, param: SpecParam, device: torch.device | str) -> object:
    """A bound: a float, or a tensor of the spec's shape."""
    bound = _bound(getattr(spec, param.name), device)
    return bound.reshape(shape_of(spec.shape)) if isinstance(bound, torch.Tensor) else bound


# How each type of spec parameter becomes its runtime constructor argument.
_TO_RUNTIME: dict[SpecArg, Callable[[T.Spec, SpecParam, Any], object]] = {
    SpecArg.SIZE: _runtime_size,
    SpecArg.SIZES: _runtime_sizes,
    SpecArg.DTYPE: _runtime_dtype,
    SpecArg.INDEX_DTYPE: _runtime_dtype,
    SpecArg.SHAPE: _runtime_shape,
    SpecArg.MASK: _runtime_mask,
    SpecArg.BOUND: _runtime_bound,
}


def to_spec(spec: T.Spec, device: torch.device | str = "cpu") -> S.TensorSpec:
    """The runtime spec of a static spec, on ``device``."""
    if isinstance(spec, T.Composite):
        entries = {name: to_spec(entry, device) for name, entry in spec.entries}
        return S.Composite(entries, shape=shape_of(spec.shape), device=device)
    spec_type = spec_type_of(spec)
    if spec_type is None:
        raise TypeError(f"no runtime spec for {T.spec_text(spec)}")
    arguments = {param.target: _TO_RUNTIME[param.type](spec, param, device) for param in spec_type.params}
    return runtime_class(spec_type)(**arguments, device=device)


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


def _runtime_value(spec: S.TensorSpec, param: SpecParam) -> Any:
    """What a runtime spec holds for ``param``: its attribute ``target``, or what ``read`` reads."""
    return param.read(spec) if param.read is not None else getattr(spec, param.target)


def _static_sizes(spec: S.TensorSpec, param: SpecParam) -> tuple:
    """Sizes along the last dim, the same for every leading index (as a model writes them)."""
    sizes = torch.as_tensor(_runtime_value(spec, param))
    rows = sizes.reshape(-1, sizes.shape[-1]).cpu()  # one row per leading index
    if not bool((rows == rows[0]).all()):
        raise ValueError(f"a {type(spec).__name__} whose sizes differ along its leading dims has no `.rlm` form")
    return tuple(int(n) for n in rows[0].tolist())


# How each type of spec parameter is read back from a runtime spec, given its shape and dtype name.
_FROM_RUNTIME: dict[SpecArg, Callable[[S.TensorSpec, SpecParam, tuple, str], object]] = {
    SpecArg.SIZE: lambda spec, param, shape, dtype: int(_runtime_value(spec, param)),
    SpecArg.SIZES: lambda spec, param, shape, dtype: _static_sizes(spec, param),
    SpecArg.DTYPE: lambda spec, param, shape, dtype: dtype,
    SpecArg.INDEX_DTYPE: lambda spec, param, shape, dtype: dtype,
    SpecArg.SHAPE: lambda spec, param, shape, dtype: shape,
    SpecArg.MASK: lambda spec, param, shape, dtype: _static_mask(spec),
    SpecArg.BOUND: lambda spec, param, shape, dtype: _static_bound(_runtime_value(spec, param)),
}


@functools.cache
def _by_runtime_class() -> dict[type, SpecType]:
    return {runtime_class(spec_type): spec_type for spec_type in SPEC_TYPES}


def _spec_type_of_runtime(spec: S.TensorSpec) -> SpecType | None:
    """The spec type of a runtime spec: that of its class or of the nearest base class in the table
    (``BoundedContinuous`` is a ``Bounded``)."""
    table = _by_runtime_class()
    return next((table[cls] for cls in type(spec).__mro__ if cls in table), None)


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
    spec_type = _spec_type_of_runtime(spec)
    if spec_type is None:
        raise ValueError(f"a {type(spec).__name__} spec has no `.rlm` form")
    values = {param.name: _FROM_RUNTIME[param.type](spec, param, shape, dtype) for param in spec_type.params}
    return spec_type.static(**values)
