"""Checked IR (:mod:`rldsl.lang.ir`) to ``nn.Module`` s built from :mod:`rldsl.modules`.

One generic path for every kind: each parameter's ``Param.target`` names the constructor
argument and ``Param.passed`` says how it gets there (a plain argument, the distribution, a module
that runs first, the positional modules). Values are converted by their ``ArgType``: keys to
tensordict keys, specs to :mod:`rldsl.specs` objects, networks and modules to built modules.
Input sizes come from the checked key specs, so every ``in_features`` is concrete.

A node is built once: a module or network declared once and used in several places is one
Python object in the result, so its parameters are shared.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import Any

import torch
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch import nn

from rldsl.compiler.errors import CompileError
from rldsl.compiler.specs import concrete, shape_of, to_spec
from rldsl.lang import types as T
from rldsl.lang.ir import Args, Dist, Form, KeyRef, ModuleNode, Network, Numbers, SpecArg
from rldsl.lang.kinds import ArgType, Kind, Pass
from rldsl.lang.kinds.qvalue import action_space_of

__all__ = ["Builder", "runtime_class"]

#: The compile dtypes by torch dtype.
_DTYPE_NAME = {torch.float32: "f32", torch.float64: "f64"}

#: Parameters that the language infers from the inputs when they are left out (the input size).
_INPUT_SIZE = ("in_features", "n_agent_inputs")


def runtime_class(kind: Kind) -> Any:
    """The runtime class (or function) a kind names by dotted path."""
    module, _, name = kind.runtime.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise CompileError(f"`{kind.name}` is checked but cannot be built yet: its runtime class `{kind.runtime}` "
                           "is not in this version of rldsl") from error


def tensordict_key(ref: object) -> object:
    """A key as tensordict writes it: a string, or a tuple for a nested key."""
    if isinstance(ref, KeyRef):
        return ref.path[0] if len(ref.path) == 1 else ref.path
    return ref


class Builder:
    """Builds module nodes into modules, each node once.

    ``key_specs`` maps every key path to its checked spec (declared or inferred): it gives the
    networks their input sizes. ``float_dtype``, the compile dtype, is the dtype networks' float
    inputs must have (f32 inputs stand for it), checked when given.
    """

    def __init__(self, key_specs: Mapping[tuple[str, ...], T.Spec], device: torch.device | str = "cpu",
                 float_dtype: torch.dtype | None = None) -> None:
        self.key_specs = key_specs
        self.device = device
        self.float_dtype = float_dtype
        self._built: dict[int, nn.Module] = {}
        self._keep: list[object] = []  # the nodes built, so that their ids stay theirs

    # -- modules -------------------------------------------------------------------------------

    def module(self, node: ModuleNode) -> nn.Module:
        """The module of a node (the same object for the same node)."""
        found = self._built.get(id(node))
        if found is None:
            found = self._make_module(node)
            self._built[id(node)] = found
            self._keep.append(node)
        return found

    def _make_module(self, node: ModuleNode) -> nn.Module:
        if node.form is Form.KEYED:
            assert node.network is not None
            network = self.network(node.network, node.reads)
            return TensorDictModule(network, in_keys=[tensordict_key(r) for r in node.reads],
                                    out_keys=[tensordict_key(w) for w in node.writes])
        if node.form is Form.SEQUENCE:
            return TensorDictSequential(*(self.module(child) for child in node.children))
        return self._make_kind(node)

    def _make_kind(self, node: ModuleNode) -> nn.Module:
        args, kind = node.args, node.kind
        assert args is not None and kind is not None
        kwargs: dict[str, Any] = {}
        positional: list[nn.Module] = []
        before: list[nn.Module] = []
        for param in kind.params:
            arg = args.arg(param.name)
            if param.passed is Pass.LANGUAGE:
                continue
            if param.passed is Pass.BEFORE:
                if isinstance(arg.value, ModuleNode):
                    before.append(self.module(arg.value))
                continue
            if param.passed is Pass.VARARGS:
                positional.extend(self.module(m) for m in arg.value)
                continue
            if param.passed is Pass.DIST:
                kwargs.update(self._distribution(arg.value, kwargs, self._value_shape(node)))
                continue
            if param.name == "action_space" and arg.value is None:
                kwargs.update(_action_space(args))
                continue
            if param.target is None or (arg.value is None and not arg.given):
                continue
            kwargs[param.target] = self._value(param.type, arg.value, node)
        built = runtime_class(kind)(*positional, **kwargs)
        return TensorDictSequential(*before, built) if before else built

    # -- arguments -----------------------------------------------------------------------------

    def _value(self, type_: ArgType, value: object, node: ModuleNode) -> object:
        """An argument's runtime value, converted by its language type."""
        if value is None:
            return None
        if type_ is ArgType.KEYS:
            return [tensordict_key(ref) for ref in value]
        if type_ is ArgType.KEY:
            return tensordict_key(value)
        if type_ is ArgType.SPEC:
            assert isinstance(value, SpecArg)
            return self._in_compile_dtype(to_spec(value.spec, self.device))
        if type_ in (ArgType.NETWORK, ArgType.MODULE, ArgType.NET_OR_MODULE):
            if isinstance(value, Network):
                return self.network(value, self._network_inputs(node))
            return self.module(value)
        if type_ is ArgType.ACTIVATION:
            return runtime_class(value)
        if type_ is ArgType.NUMBERS:
            return self.numbers(value)
        if type_ is ArgType.BOUND:
            return self._bound(value, self._value_shape(node)) if isinstance(value, tuple) else float(value)
        if type_ in (ArgType.SIZE, ArgType.INTS):
            return [concrete(d) for d in value] if isinstance(value, tuple) else concrete(value)
        if type_ is ArgType.INT:
            return concrete(value)
        return value

    def _in_compile_dtype(self, spec: object) -> object:
        """A runtime spec given to a module, its f32 made the compile dtype (as the keys' are), so
        that what the module projects or draws has the dtype the program computes in."""
        if self.float_dtype is not None and self.float_dtype != torch.float32 and spec.dtype == torch.float32:
            return spec.to(self.float_dtype)
        return spec

    def _network_inputs(self, node: ModuleNode) -> tuple[KeyRef, ...]:
        """The keys a kind's network reads: its ``in`` argument."""
        assert node.args is not None
        return tuple(node.args["in"])

    def _value_shape(self, node: ModuleNode | None) -> tuple[int, ...] | None:
        """The static shape of the first key a kind reads through ``in`` (what its bounds bound), if any."""
        if node is None or node.args is None or "in" not in node.args.values:
            return None
        inputs = node.args["in"]
        if not isinstance(inputs, tuple) or not inputs or not isinstance(inputs[0], KeyRef):
            return None
        spec = self.key_specs.get(inputs[0].path)
        return shape_of(spec.shape) if spec is not None and hasattr(spec, "dtype") else None

    def _bound(self, values: tuple, shape: tuple[int, ...] | None) -> torch.Tensor:
        """Per-element bounds as a tensor: the language lists them flattened (row-major), one per
        element, so for a value of several dims they are put back in its shape."""
        tensor = torch.tensor(values, device=self.device)
        if shape is not None and len(shape) > 1 and tensor.numel() == math.prod(shape):
            return tensor.reshape(shape)
        return tensor

    def _distribution(self, dist: Dist, kwargs: Mapping[str, Any], shape: tuple[int, ...] | None) -> dict[str, Any]:
        """``distribution_class`` and ``distribution_kwargs``; arguments naming keys (a mask) are
        read from the tensordict, so ``in_keys`` becomes a mapping from parameter to key. Bounds
        take the ``shape`` of the parameters."""
        constants: dict[str, Any] = {}
        read: dict[str, object] = {}
        for param in dist.kind.params:
            value = dist.args[param.name]
            if isinstance(value, KeyRef):
                read[param.target or param.name] = tensordict_key(value)
            elif value is not None and param.target is not None and param.passed is Pass.ARG:
                constants[param.target] = self._plain(param.type, value, shape)
        out: dict[str, Any] = {"distribution_class": runtime_class(dist.kind), "distribution_kwargs": constants}
        if read:
            in_keys = kwargs.get("in_keys") or []
            mapping = {key if isinstance(key, str) else key[-1]: key for key in in_keys}
            out["in_keys"] = {**mapping, **read}
        return out

    def _plain(self, type_: ArgType, value: object, shape: tuple[int, ...] | None = None) -> object:
        if type_ is ArgType.BOUND and isinstance(value, tuple):
            return self._bound(value, shape)
        if type_ in (ArgType.INT, ArgType.SIZE) and not isinstance(value, tuple):
            return concrete(value)
        return value

    def numbers(self, numbers: Numbers) -> torch.Tensor:
        """A constant vector: a literal, or the torch function its kind names (``arange``), called
        with the arguments the checker read (``arange(3, step=1)`` is ``arange(0, 3, 1)``)."""
        if numbers.values is not None:
            return torch.tensor(numbers.values, device=self.device)
        assert numbers.kind is not None and numbers.call
        return runtime_class(numbers.kind)(*numbers.call, device=self.device)

    # -- networks ------------------------------------------------------------------------------

    def network(self, net: Network, inputs: tuple[KeyRef, ...]) -> nn.Module:
        """The module of a network reading ``inputs`` (the same object for the same network)."""
        found = self._built.get(id(net))
        if found is None:
            specs = [self.key_specs[ref.path] for ref in inputs]
            self._same_float_dtype(inputs, specs)
            lead = shape_of(specs[0].shape[:-1]) if specs and specs[0].shape else ()
            features = sum(concrete(spec.shape[-1]) for spec in specs) if specs else 0
            found, _ = self._network(net, lead, features)
            self._built[id(net)] = found
            self._keep.append(net)
        return found

    def _same_float_dtype(self, inputs: tuple[KeyRef, ...], specs: list[T.Spec]) -> None:
        """A network's weights are in the compile dtype (which stands in for f32): a float input of
        another dtype cannot meet them. The checker reports this (E0515) when it is told the compile
        dtype; this catches a report checked for another one (skipped when the builder was given none)."""
        if self.float_dtype is None:
            return
        wanted = _DTYPE_NAME.get(self.float_dtype, str(self.float_dtype))
        for ref, spec in zip(inputs, specs):
            dtype = getattr(spec, "dtype", None)
            if dtype in T.FLOAT_DTYPES and dtype != "f32" and dtype != wanted:
                fix = f" or compile with dtype `{dtype}`" if dtype in ("f32", "f64") else ""
                raise CompileError(f"a network reads `{ref.dotted}` as {dtype}, but its weights are {wanted} (the "
                                   f"compile dtype): declare `{ref.dotted}` as {wanted}{fix}")

    def _network(self, net: Network, lead: tuple[int, ...], features: int) -> tuple[nn.Module, int]:
        """A network reading ``features`` on its last dim, and the size of its output's last dim."""
        if net.kind is None:
            stages = []
            for stage in net.stages:
                module, features = self._network(stage, lead, features)
                stages.append(module)
            return nn.Sequential(*stages), features
        assert net.args is not None
        kwargs: dict[str, Any] = {}
        positional = []
        for param in net.kind.params:
            value = net.args[param.name]
            if param.name in _INPUT_SIZE and value is None:
                value = features
            if param.target is None or param.passed is not Pass.ARG:
                continue
            if value is None and not net.args.given(param.name):
                continue
            converted = self._value(param.type, value, None)  # type: ignore[arg-type]
            if param.positional:
                positional.append(converted)
            else:
                kwargs[param.target] = converted
        module = runtime_class(net.kind)(*positional, **kwargs)
        return module, _output_features(module, lead, features)


def _action_space(args: Args) -> dict[str, str]:
    """`action_space` left out is the spec's (the language says so; DistributionalQValueModule's
    constructor, as torchrl's, requires it): ``{"action_space": "one_hot"}``, or nothing."""
    spec = args["spec"] if "spec" in args.values else None
    space = action_space_of(spec.spec) if isinstance(spec, SpecArg) else None
    return {"action_space": space} if space is not None else {}


#: Inputs up to this many elements find a network's output size by a real forward pass (fast);
#: larger ones on ``meta`` (slower, but a ``[65536, 32768]`` observation is not 8 GiB of zeros).
_REAL_PROBE_ELEMENTS = 1 << 16


def _output_features(module: nn.Module, lead: tuple[int, ...], features: int) -> int:
    """The last dim of what ``module`` gives for an input of ``[*lead, features]``: one forward
    pass, so it holds for every kind (no per-kind rule to keep in step). A large input is run on
    the ``meta`` device, with the module's parameters and buffers swapped for meta tensors of their
    shapes, so that finding a size never allocates the input."""
    parameter = next(module.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    shape = (*lead, features)
    with torch.no_grad():
        if math.prod(shape) <= _REAL_PROBE_ELEMENTS and (parameter is None or parameter.device.type != "meta"):
            device = parameter.device if parameter is not None else "cpu"
            out = module(torch.zeros(shape, dtype=dtype, device=device))
        else:
            on_meta = {name: torch.empty_like(tensor, device="meta")
                       for name, tensor in (*module.named_parameters(), *module.named_buffers())}
            out = torch.func.functional_call(module, on_meta, (torch.zeros(shape, dtype=dtype, device="meta"),))
    if isinstance(out, (tuple, list)):
        out = out[-1]
    return int(out.shape[-1])
