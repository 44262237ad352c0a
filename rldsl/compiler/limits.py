"""How big a model may be before it is built: parameters counted without allocating them.

``rldsl compile`` (and :func:`rldsl.compile`, :func:`rldsl.load`) first builds every declared
module on torch's ``meta`` device, where a tensor has a shape and a dtype but no storage, and
counts the parameters there. A model above the limit (:data:`DEFAULT_MAX_PARAMS`, 2**31
parameters: 8 GiB as f32, 16 GiB as f64) is refused with a :class:`ModelTooLarge` that names the
declaration, its line and the count, instead of dying in the allocator when it is built for real.
``--max-params N`` / ``max_params=N`` raises the limit.

The same limit bounds one sample of the model's keys (:func:`check_sample_limit`): compiling runs
each module once on spec-random input, and a bounded key's runtime spec holds its bounds at full
shape, so a ``f32[65536, 32768] in [0, 1]`` observation (24 GiB of bounds and sample) is refused
as well, with 32,769 parameters.

What the limit covers: every tensor that building the model allocates grows with the parameter
count (weights, and the specs and constants the modules hold, which the meta build also keeps
off the allocator). It does not bound what a forward pass allocates for a batch: an
``MLP(num_cells=[2**28])`` has 2**28 parameters per input feature and passes the default limit,
and running it on a batch of 2**20 observations asks for 2**48 activations. The batch is the
caller's, chosen after compiling; the parameter count printed by ``rldsl compile`` is the number to
multiply by it.

The meta build runs the same :class:`~rldsl.compiler.build.Builder` as the real one, with every
tensor made from a shape (``empty``, ``zeros``, ``randn``, ...) put on ``meta``; tensors made from
data (``torch.tensor([...])``) stay where they were asked for, since their size is bounded by
the text that wrote the data and some constructors read them back (``.item()``).

Its cost, measured on the examples (median of 15 builds, one thread): 0.3 to 2.5 ms per model,
about the real build of these small models (no module is run: networks are sized by the widths
the checker typed), and nothing next to the seconds ``import torch`` takes. For a large model the
real build, which draws every weight, dominates.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

from rldsl._checks import is_int
from rldsl.compiler.errors import CompileError
from rldsl.lang import types as T
from rldsl.lang.ir import ModuleNode, Network

__all__ = ["DEFAULT_MAX_PARAMS", "RAISE_HINT", "ModelTooLarge", "ParameterCount", "check_parameter_limit",
           "check_sample_limit",
           "count_parameters", "parameter_total", "parse_max_params", "size_text", "validate_limit"]

#: The default limit on a model's parameters: 2**31, which is 8 GiB of f32 weights (16 GiB as f64).
DEFAULT_MAX_PARAMS = 2**31

#: Constructors that make a tensor from data rather than from a shape: left on their device.
_FROM_DATA = frozenset({torch.tensor, torch.as_tensor, torch.asarray, torch.scalar_tensor})

#: Bytes per element of each dtype name, and the names of torch dtypes.
_DTYPE_NAMES = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}


#: How to raise the limit, as the refusal says it (callers with other ways say theirs).
RAISE_HINT = "raise it with --max-params (max_params= from Python)"


class ModelTooLarge(CompileError):
    """A model with more parameters than the limit allows: refused before anything is allocated.
    ``detail`` says what is too large, ``hint`` how to raise the limit; ``count`` is the
    :class:`ParameterCount` (None when a single tensor was too large even to count) and ``limit``
    the limit it broke."""

    def __init__(self, detail: str, count: ParameterCount | None, limit: int, hint: str = RAISE_HINT) -> None:
        super().__init__(f"{detail}; {hint}" if hint else detail)
        self.detail = detail
        self.hint = hint
        self.count = count
        self.limit = limit


@attrs.frozen(slots=True)
class ParameterCount:
    """The parameters of a model as the meta build found them.

    ``total`` counts each parameter once (a network shared by two declarations counts once);
    ``modules`` gives each declaration's own count (shared parameters counted in each, as the
    summary of ``rldsl compile`` prints them). ``state_elements`` and ``state_tensors`` add up
    every declaration's state dict (parameters and buffers, shared ones in each): what an
    artifact's weights hold, and so what bounds their size.
    """

    total: int
    modules: Mapping[str, int]
    state_elements: int
    state_tensors: int


class _ShapesOnMeta(TorchFunctionMode):
    """Puts every tensor made from a shape on the ``meta`` device (unless a device is named)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's signature)
        kwargs = dict(kwargs or {})
        if func not in _FROM_DATA and func in _device_constructors() and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def validate_limit(value: object, name: str = "max_params") -> int | None:
    """The limit ``name`` as given: a positive int, or None for no limit. Raises ``TypeError``
    or ``ValueError`` saying what was wrong otherwise."""
    if value is None:
        return None
    if not is_int(value):
        raise TypeError(f"{name} should be a positive int (or None for no limit), not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} should be a positive int, not {value}")
    return value


def size_text(count: int, dtype: torch.dtype = torch.float32) -> str:
    """``count`` elements of ``dtype`` in bytes, the way people say it: ``46 GiB as f32``."""
    size = count * dtype.itemsize
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            break
        size /= 1024
    amount = f"{size:,.0f}" if unit == "bytes" or size >= 10 else f"{size:.1f}"
    return f"{amount} {unit} as {_DTYPE_NAMES.get(dtype, str(dtype).replace('torch.', ''))}"


def count_parameters(nodes: Mapping[str, ModuleNode], key_specs: Mapping[tuple[str, ...], T.Spec],
                     network_inputs: Mapping[Network, tuple[T.Spec, ...]]) -> ParameterCount:
    """Build every declared module of ``nodes`` on the ``meta`` device (networks sized by the
    ``network_inputs`` the checker typed) and count its parameters.

    Raises :class:`ModelTooLarge` when one tensor is too large even to describe (more bytes than
    a 64-bit size holds), and :class:`CompileError` when a module cannot be built on ``meta`` at all.
    """
    from rldsl.compiler.build import Builder, CheckedTypes  # after torch: build imports the runtime library

    builder = Builder(CheckedTypes(key_specs, network_inputs), torch.device("meta"))
    built: dict[str, nn.Module] = {}
    with torch.random.fork_rng(devices=[]), _ShapesOnMeta():
        for name, node in nodes.items():
            built[name] = _build_on_meta(builder, name, node)
    unique = {id(p): p for module in built.values() for p in module.parameters()}
    states = [tensor for module in built.values() for tensor in module.state_dict().values()]
    return ParameterCount(
        total=sum(p.numel() for p in unique.values()),
        modules={name: sum(p.numel() for p in module.parameters()) for name, module in built.items()},
        state_elements=sum(t.numel() for t in states),
        state_tensors=len(states),
    )


def _build_on_meta(builder: object, name: str, node: ModuleNode) -> nn.Module:
    """One declared module built on ``meta``, or the reason it cannot be counted."""
    try:
        return builder.module(node)
    except CompileError:
        raise
    except RuntimeError as error:
        if "overflow" in str(error).lower():
            raise ModelTooLarge(f"{_where(node)}`{name}` asks for a tensor too large to address ({error}): no "
                                "machine can hold it", None, 0, hint="") from error
        raise CompileError(f"{_where(node)}`{name}` cannot be measured before it is built ({error}); this is a bug "
                           "in rldsl, please report it with the model") from error
    except Exception as error:  # noqa: BLE001 (any failure here is rldsl's: say so, never a traceback)
        raise CompileError(f"{_where(node)}`{name}` cannot be measured before it is built ({type(error).__name__}: "
                           f"{error}); this is a bug in rldsl, please report it with the model") from error


def check_parameter_limit(nodes: Mapping[str, ModuleNode], key_specs: Mapping[tuple[str, ...], T.Spec],
                          network_inputs: Mapping[Network, tuple[T.Spec, ...]], *, max_params: int | None,
                          dtype: torch.dtype = torch.float32) -> ParameterCount | None:
    """Count the parameters of ``nodes`` without allocating them and raise :class:`ModelTooLarge`
    when there are more than ``max_params``; returns the count (None when ``max_params`` is None:
    no limit, nothing counted)."""
    limit = validate_limit(max_params)
    if limit is None:
        return None
    count = count_parameters(nodes, key_specs, network_inputs)
    if count.total > limit:
        raise ModelTooLarge(_too_large(count, nodes, limit, dtype), count, limit)
    return count


def check_sample_limit(key_specs: Mapping[tuple[str, ...], T.Spec], *, max_params: int | None,
                       dtype: torch.dtype = torch.float32) -> int | None:
    """Refuse (:class:`ModelTooLarge`) a model whose keys are too large to draw one sample of:
    compiling runs every module once on spec-random input, and the runtime spec of a bounded key
    holds its bounds at full shape, so a key costs its element count once (three times when
    bounded: low, high and the sample). The same limit as the parameters' bounds the total;
    returns it (None without a limit)."""
    limit = validate_limit(max_params)
    if limit is None:
        return None
    costs = {path: _sample_cost(spec) for path, spec in key_specs.items()}
    total = sum(costs.values())
    if total > limit:
        path, largest = max(costs.items(), key=lambda item: item[1])
        detail = (f"one sample of the model's keys takes {total:,} elements ({size_text(total, dtype)}), the most "
                  f"for `{'.'.join(path)}` ({largest:,}), above the limit of {limit:,} ({size_text(limit, dtype)}); "
                  "compiling draws one sample to run each module once")
        raise ModelTooLarge(detail, None, limit)
    return total


def _sample_cost(spec: T.Spec) -> int:
    """Elements a runtime spec and one sample of it allocate (bounds included); exact, since the
    checker bounds every key at 2**40 elements."""
    return sum(T.element_count(leaf.shape) * (3 if isinstance(leaf, T.Bounded) else 1)
               for _, leaf in T.leaves(spec) if not isinstance(leaf, (T.Composite, T.Unknown)))


def _too_large(count: ParameterCount, nodes: Mapping[str, ModuleNode], limit: int, dtype: torch.dtype) -> str:
    """The refusal: the largest declaration (with its line) when it alone is over the limit, else
    the total with every declaration's share, largest first."""
    ranked = sorted(count.modules.items(), key=lambda item: -item[1])
    tail = f"above the limit of {limit:,} ({size_text(limit, dtype)})"
    name, largest = ranked[0]
    if largest > limit:
        return f"{_where(nodes[name])}`{name}` has {largest:,} parameters ({size_text(largest, dtype)}), {tail}"
    shares = ", ".join(f"`{n}` {c:,}" for n, c in ranked[:6] if c) + (", ..." if len(ranked) > 6 else "")
    return (f"the model has {count.total:,} parameters ({size_text(count.total, dtype)}) "
            f"across its modules ({shares}), {tail}")


def _where(node: ModuleNode) -> str:
    """``file:line:column: `` of a declaration, for the start of a message."""
    span = getattr(node, "span", None)
    return f"{span}: " if span is not None else ""


def parameter_total(modules: object) -> int:
    """The parameters of some built modules, each counted once (a shared network once)."""
    unique = {id(p): p for module in modules for p in module.parameters()}
    return sum(p.numel() for p in unique.values())


def parse_max_params(text: str) -> int:
    """A ``--max-params`` value: a positive integer, digits with optional ``_`` or ``,``
    separators (``4_000_000_000``), or a power of two written ``2**N``."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    base, power, exponent = cleaned.partition("**")
    if cleaned.isdigit():
        value = int(cleaned)
    elif power and base.isdigit() and exponent.isdigit() and len(exponent) <= 3:
        value = int(base) ** int(exponent)
    else:
        raise ValueError(f"`{text}` is not a number of parameters: write digits, such as 4_000_000_000, or 2**32")
    if value < 1:
        raise ValueError("the limit should be at least 1 parameter")
    return value
