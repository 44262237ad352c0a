"""Small helpers shared by the rldsl module library.

``mappings``, ``inv_softplus`` and ``biased_softplus`` are tensordict's own functions:
they already behave as torchrl documents them (torchrl re-exports the same objects), so
rldsl re-exports them instead of keeping a second copy that could drift.

>>> import torch
>>> from rldsl.modules.utils import biased_softplus, inv_softplus, mappings
>>> mappings("exp")(torch.zeros(1))
tensor([1.])
>>> round(inv_softplus(1.0), 4)
0.5413
"""

from __future__ import annotations

import math

import inspect
from numbers import Number
from typing import Any, Callable

import torch
from tensordict.nn import biased_softplus, inv_softplus, mappings

from rldsl._checks import require_bool, require_int, require_positive, type_name
from rldsl.errors import RldslError
from rldsl.specs._base import has_values

__all__ = [
    "ArgumentError",
    "LazyLayerError",
    "MultiInputSequential",
    "biased_softplus",
    "create_on_device",
    "inv_softplus",
    "mappings",
]


class ArgumentError(RldslError, ValueError, RuntimeError):
    """A bad constructor argument where torchrl raises ``RuntimeError``.

    rldsl reports bad arguments as ``ValueError``; this class is also a ``RuntimeError``
    so that code written against torchrl (``except RuntimeError``) keeps working.
    """


class LazyLayerError(RldslError, ValueError, KeyError):
    """A layer class without a lazy variant where torchrl raises ``KeyError``.

    Also a ``ValueError`` (the argument is wrong); ``str()`` shows the plain message.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def create_on_device(factory: Callable[..., Any], device: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``factory(*args, **kwargs)`` on ``device``.

    ``device=`` is passed when the factory accepts it (no copy); otherwise the result is
    moved with ``.to(device)`` when it has one (a plain function result is returned as is).
    """
    if device is not None and _accepts_device(factory):
        return factory(*args, device=device, **kwargs)
    result = factory(*args, **kwargs)
    if device is not None and hasattr(result, "to"):
        result = result.to(device)
    return result


def _accepts_device(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` takes a ``device`` keyword argument."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    param = params.get("device")
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


def as_float_tensor(value: Any, like: torch.Tensor, name: str) -> torch.Tensor:
    """``value`` (number or tensor) as a floating tensor on ``like``'s device and dtype.

    Raises a ``TypeError`` naming ``name`` for anything else.
    """
    if isinstance(value, torch.Tensor):
        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        return value.to(device=like.device, dtype=dtype)
    if isinstance(value, Number) and not isinstance(value, bool):
        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        return torch.as_tensor(value, device=like.device, dtype=dtype)
    raise TypeError(
        f"{name} must be a number or a tensor, got {type(value).__name__}; "
        f"pass e.g. {name}=1.0 or a tensor of bounds."
    )


def check_low_high(low: Any, high: Any, owner: str) -> None:
    """Raise :class:`ArgumentError` unless ``high > low`` everywhere.

    The message says which argument to fix. Tensors are compared once, at construction;
    bounds without values (``meta`` tensors) are not compared.
    """
    if type(low) is float and type(high) is float and high > low:  # the common case, cheaply
        return
    for value, name in ((low, "low"), (high, "high")):
        if not isinstance(value, torch.Tensor) and (
            isinstance(value, bool) or not isinstance(value, Number)
        ):
            raise TypeError(
                f"{name} must be a number or a tensor, got {type(value).__name__}; "
                f"pass e.g. {name}={-1.0 if name == 'low' else 1.0}."
            )
    if not has_values(low, high):
        return
    if isinstance(low, torch.Tensor) or isinstance(high, torch.Tensor):
        ok = bool(torch.as_tensor(high > low).all())
    else:
        ok = high > low
    if not ok:
        raise ArgumentError(
            f"{owner} high values must be strictly greater than low values "
            f"(got low={low!r}, high={high!r}); pass bounds with high > low everywhere."
        )


def resolve_scale(scale: Any, loc: torch.Tensor) -> torch.Tensor:
    """A scale given as a tensor, a number or a callable of ``loc``, as a tensor like ``loc``."""
    if isinstance(scale, torch.Tensor):
        return scale if scale.device == loc.device else scale.to(loc.device)
    if callable(scale):
        out = scale(loc)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"a callable scale must return a tensor, got {type(out).__name__}; "
                "use e.g. scale=torch.ones_like."
            )
        return out
    if isinstance(scale, Number) and not isinstance(scale, bool):
        return torch.as_tensor(scale, device=loc.device, dtype=loc.dtype)
    raise TypeError(
        f"scale must be a tensor, a number or a callable of loc, got {type(scale).__name__}; "
        "pass e.g. scale=1.0 or scale=torch.ones_like."
    )


def as_loc_tensor(loc: Any, name: str = "loc") -> torch.Tensor:
    """``loc`` as a tensor (numbers become tensors of the default dtype)."""
    if isinstance(loc, torch.Tensor):
        return loc
    if isinstance(loc, Number) and not isinstance(loc, bool):
        return torch.as_tensor(loc, dtype=torch.get_default_dtype())
    raise TypeError(f"{name} must be a tensor or a number, got {type(loc).__name__}.")


def check_event_dims(value: Any, ndim: int, name: str) -> int:
    """``value`` as a number of event dimensions in ``[0, ndim]``, else a clear error."""
    require_int(value, name, show=type_name, suffix=".")
    if not 0 <= value <= ndim:
        raise ValueError(
            f"{name}={value} is out of range for a parameter with {ndim} dimension(s); "
            f"pass {name} between 0 and {ndim}."
        )
    return value


def check_upscale(upscale: Any) -> Any:
    """``upscale`` must be a positive number or tensor (it divides the location)."""
    if isinstance(upscale, torch.Tensor):
        return upscale
    if isinstance(upscale, bool) or not isinstance(upscale, Number):
        raise TypeError(f"upscale must be a number or a tensor, got {type(upscale).__name__}.")
    return require_positive(upscale, "upscale", suffix="; the default is upscale=5.0.")


def check_flag(value: Any, name: str) -> bool:
    """A boolean flag, else a ``TypeError`` naming ``name``."""
    return require_bool(value, name, suffix=".")


def common_shape(*shapes: torch.Size) -> torch.Size:
    """``torch.broadcast_shapes``, with a fast path when every shape is the same or scalar.

    ``torch.broadcast_shapes`` runs through Python reference code (tens of µs); building a
    distribution every forward pass at batch 1 cannot afford it for the common case.
    """
    longest = max(shapes, key=len)
    if all(shape == longest or len(shape) == 0 for shape in shapes):
        return torch.Size(longest)
    return torch.broadcast_shapes(*shapes)


LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def normal_log_prob(value: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Element-wise log-density of ``Normal(loc, scale)``: ``-z**2/2 - log(scale) - log(sqrt(2 pi))``.

    ``z = (value - loc) / scale``; the same density as torch.distributions.Normal in fewer ops.
    """
    z = (value - loc) / scale
    return torch.addcmul(torch.rsub(scale.log(), -LOG_SQRT_2PI), z, z, value=-0.5)


class MultiInputSequential(torch.nn.Sequential):
    """``nn.Sequential`` whose first module may take several tensors: the stages of a pipe that
    reads several keys (``MLP(...) >> Sigmoid() : observation, action -> d``), where the first
    network concatenates them and each later stage takes the one tensor before it. Parameter names
    are ``nn.Sequential``'s (``0.weight``...).

    >>> pipe = MultiInputSequential(torch.nn.Bilinear(2, 3, 4), torch.nn.Tanh())
    >>> pipe(torch.zeros(5, 2), torch.zeros(5, 3)).shape
    torch.Size([5, 4])
    """

    def forward(self, *inputs: torch.Tensor) -> Any:
        """``inputs: [*B, F1], [*B, F2], ... -> [*B, *out]``: the first module on the inputs, each
        later one on the output before it; ``out`` is the last module's."""
        stages = iter(self)
        value = next(stages)(*inputs)
        for stage in stages:
            value = stage(value)
        return value
