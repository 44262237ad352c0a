"""Checked IR (:mod:`rldsl.lang.ir`) to ``nn.Module`` s built from :mod:`rldsl.modules`.

One generic path for every kind: each parameter's ``Param.target`` names the constructor
argument and ``Param.passed`` says how it gets there (a plain argument, the distribution, a module
that runs first, the positional modules). Values are converted by their ``ArgType``: keys to
tensordict keys, specs to :mod:`rldsl.specs` objects, networks and modules to built modules.
A network's input size is the width the checker typed its input with (``Typing.network_inputs``),
so every ``in_features`` left out is concrete and no module is run to find a size. What the compiler
must know of a parameter beyond its type is in its kind description (``Param.meaning``, ``derive``).

A node is built once: a module or network declared once and used in several places is one
Python object in the result, so its parameters are shared.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from typing import Any

import attrs
import torch
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch import nn
from torch.nn.parameter import is_lazy

from rldsl.compiler.errors import CompileError
from rldsl.compiler.specs import concrete, shape_of, to_spec
from rldsl.lang import types as T
from rldsl.lang.ir import Dist, Form, KeyRef, Kwargs, ModuleNode, Network, Numbers, SpecArg
from rldsl.lang.kinds import ArgType, Kind, Meaning, Pass
from rldsl.modules.utils import MultiInputSequential
from rldsl.specs import Composite

__all__ = ["Builder", "CheckedTypes", "runtime_class"]

#: The compile dtypes by torch dtype.
_DTYPE_NAME = {torch.float32: "f32", torch.float64: "f64"}


def runtime_class(kind: Kind) -> Any:
    """The runtime class (or function) of a kind: the class object a kind registered from Python
    carries (``rldsl.register_kind``; its ``runtime`` is only a name and is never imported), else
    the class rldsl's own kind names by dotted path, inside rldsl, torch or tensordict."""
    carried = getattr(kind, "runtime_object", None)
    if carried is not None:
        return carried
    module, _, name = kind.runtime.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise CompileError(f"`{kind.name}` is checked but cannot be built yet: its runtime class `{kind.runtime}` "
                           "is not in this version of rldsl") from error


def with_hooks(parts: list[Any], inputs: int = 1) -> nn.Module:
    """Networks run in order, as one module; a part that is a forward hook rather than a module
    (a QValueHook) is registered on the parts before it, as torchrl registers it on a network
    (``net.register_forward_hook(hook)``), or on an identity when nothing precedes it. One module
    alone is itself, so a hooked network keeps its parameter names. A pipe whose first stage reads
    ``inputs`` > 1 tensors is a `MultiInputSequential` (same parameter names)."""
    sequential = MultiInputSequential if inputs > 1 else nn.Sequential
    modules: list[nn.Module] = []
    for part in parts:
        if isinstance(part, nn.Module):
            modules.append(part)
            continue
        target = modules[0] if len(modules) == 1 else sequential(*modules) if modules else nn.Identity()
        target.register_forward_hook(part)
        modules = [target]
    return modules[0] if len(modules) == 1 else sequential(*modules)


def _same(*tensors: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """The tensors it is given (a copy between keys, as a tensordict module's function)."""
    return tensors[0] if len(tensors) == 1 else tensors


def _wraps_a_network(kind: Kind, args: Any) -> bool:
    """Whether a module kind is given a network of its own (a recurrent module's ``lstm=``)."""
    return any(param.type is ArgType.NETWORK and isinstance(args[param.name], Network) for param in kind.params)


def tensordict_key(ref: object) -> object:
    """A key as tensordict writes it: a string, or a tuple for a nested key."""
    if isinstance(ref, KeyRef):
        return ref.path[0] if len(ref.path) == 1 else ref.path
    return ref


@attrs.frozen(slots=True)
class CheckedTypes:
    """What the checker proved about a model's tensors, as the compiler uses it: the spec of every
    key path (declared or inferred; bounds take their shapes) and the input specs every network
    (pipe or stage) was typed with (by IR node; they give the networks their input sizes)."""

    key_specs: Mapping[tuple[str, ...], T.Spec]
    network_inputs: Mapping[Network, tuple[T.Spec, ...]]


class Builder:
    """Builds module nodes into modules, each node once, sized by the checker's ``types``.

    ``float_dtype``, the compile dtype, is the dtype networks' float inputs must have (f32 inputs
    stand for it), checked when given.
    """

    def __init__(self, types: CheckedTypes, device: torch.device | str = "cpu",
                 float_dtype: torch.dtype | None = None) -> None:
        self.key_specs = types.key_specs
        self.network_inputs = types.network_inputs
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
            if param.meaning is Meaning.INPUT_SIZE and arg.value is None and node.reads:
                if not _wraps_a_network(kind, args):  # a wrapped layer (`lstm=`) brings its own sizes
                    kwargs[param.target] = self._read_size(node.reads[0], kind.input_dim)
                continue
            if param.meaning is Meaning.KEY_SPECS:
                refs = arg.value if arg.value is not None or param.derive is None else param.derive(args)
                if refs and param.target is not None:
                    kwargs[param.target] = self._specs_of(refs)
                continue
            if param.meaning is Meaning.STEP_MODEL and isinstance(arg.value, ModuleNode):
                kwargs[param.target] = self._stepped_in_place(arg.value)
                continue
            if param.meaning is Meaning.SPEC_IN_COMPOSITE and isinstance(arg.value, SpecArg):
                kwargs[param.target] = self._spec_in_its_composite(arg.value)
                continue
            if param.derive is not None and arg.value is None:
                derived = param.derive(args)
                if derived is not None and param.target is not None:
                    kwargs[param.target] = derived
                continue
            if param.target is None or (arg.value is None or param.type is ArgType.KWARGS) and not arg.given:
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
        if type_ in (ArgType.ACTIVATION, ArgType.LAYER):
            return runtime_class(value)
        if type_ is ArgType.NUMBERS:
            return self.numbers(value)
        if type_ is ArgType.KWARGS:
            return [self._kwargs(one, node) for one in value] if isinstance(value, tuple) else self._kwargs(value, node)
        if type_ is ArgType.BOUND:
            return self._bound(value, self._value_shape(node)) if isinstance(value, tuple) else float(value)
        if type_ in (ArgType.SIZE, ArgType.INTS):
            return [concrete(d) for d in value] if isinstance(value, tuple) else concrete(value)
        if type_ is ArgType.INT:
            return concrete(value)
        return value

    def _spec_in_its_composite(self, arg: SpecArg) -> object:
        """The runtime spec of ``spec=agents.action``: inside the composites holding the key, the one
        right above it with its batch dims (``Composite(agents=Composite(action=..., shape=[3]))``),
        so that the per-sample action shape leaves them out; a key outside a batched composite gives
        its own spec."""
        leaf = self._in_compile_dtype(to_spec(arg.spec, self.device))
        key = arg.key
        parent = self.key_specs.get(key[:-1]) if key is not None and len(key) > 1 else None
        if not isinstance(parent, T.Composite) or not parent.shape:
            return leaf
        spec = Composite({key[-1]: leaf}, shape=[concrete(d) for d in parent.shape], device=self.device)
        for name in reversed(key[:-1]):
            spec = Composite({name: spec}, device=self.device)
        return spec

    def _kwargs(self, kwargs: Kwargs, node: ModuleNode) -> dict[str, object]:
        """An inner class's keyword arguments as a dict: the entries the text gives and the owner's
        defaults the checker typed with (``Kwargs.defaults``), each converted by its type."""
        inner = kwargs.args
        return {param.target: self._value(param.type, inner[param.name], node) for param in kwargs.kind.params
                if param.target is not None and (inner.given(param.name) or param.name in kwargs.defaults)}

    def _specs_of(self, refs: tuple[KeyRef, ...]) -> Composite:
        """Keys as one composite spec (:attr:`Meaning.KEY_SPECS`): each key's checked spec at its
        (nested) key, in the compile dtype."""
        composite = Composite(device=self.device)
        for ref in refs:
            composite[tensordict_key(ref)] = self._in_compile_dtype(to_spec(self.key_specs[ref.path], self.device))
        return composite

    def _stepped_in_place(self, node: ModuleNode) -> nn.Module:
        """A module run as one environment step by its owner (:attr:`Meaning.STEP_MODEL`): the
        language writes the step's result at ``next.X``; the owner reads it at ``X``, where a torchrl
        model environment's models write it, so each ``next.X`` the module writes is copied there
        after it runs. The module itself is the node's (its parameters are shared), put on the
        compile device now: the owner takes its device from its models, and the specs it is given
        are on that device already (on ``meta`` they cannot be moved to the models' CPU)."""
        module = self.module(node).to(self.device)
        moved = [ref.path for ref in node.writes if len(ref.path) > 1 and ref.path[0] == "next"]
        if not moved:
            return module
        in_place = TensorDictModule(_same, in_keys=[tuple(path) for path in moved],
                                    out_keys=[path[1] if len(path) == 2 else tuple(path[1:]) for path in moved])
        return TensorDictSequential(module, in_place)

    def _read_size(self, ref: KeyRef, dim: int) -> int:
        """The size of dim ``dim`` of the key a module reads first (a recurrent module's
        ``input_size``), as the checker typed it."""
        return concrete(self.key_specs[ref.path].shape[dim])

    def _in_compile_dtype(self, spec: object) -> object:
        """A runtime spec given to a module, its f32 made the compile dtype (as the keys' are), so
        that what the module projects or draws has the dtype the program computes in."""
        if self.float_dtype is not None and self.float_dtype != torch.float32 and spec.dtype == torch.float32:
            return spec.to(self.float_dtype)
        return spec

    def _network_inputs(self, node: ModuleNode) -> tuple[KeyRef, ...]:
        """The keys a kind's network reads: its :attr:`Meaning.INPUTS` argument."""
        assert node.args is not None and node.kind is not None
        return tuple(ref for param in node.kind.params_meaning(Meaning.INPUTS) for ref in node.args[param.name] or ())

    def _value_shape(self, node: ModuleNode | None) -> tuple[int, ...] | None:
        """The static shape of the first key a kind reads (its :attr:`Meaning.INPUTS` argument: what
        its bounds bound), if any."""
        if node is None or node.args is None or node.kind is None:
            return None
        params = node.kind.params_meaning(Meaning.INPUTS)
        inputs = node.args[params[0].name] if params else None
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
            self._same_float_dtype(inputs, [self.key_specs[ref.path] for ref in inputs])
            found = with_hooks([self._network(net)])
            self._built[id(net)] = found
            self._keep.append(net)
        return found

    def _input_size(self, net: Network) -> int:
        """The size of the input dim a network's INPUT_SIZE parameter stands for (``Kind.input_dim``),
        as the checker typed it: the last dim sums over inputs concatenated on it (an MLP's), any
        other dim is the first input's (a ConvNet's channels)."""
        specs = self.network_inputs.get(net)
        if specs is None:
            raise CompileError(f"{net.span}: this network was not typed by the checker, so its input size is "
                               "unknown; compile a report from `rldsl.check` (or `rldsl.lang.check`)")
        assert net.kind is not None
        if net.kind.input_dim == -1:
            return sum(concrete(spec.shape[-1]) for spec in specs)
        return concrete(specs[0].shape[net.kind.input_dim])

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

    def _network(self, net: Network) -> nn.Module:
        """The module of a network: a kind's runtime class, or the stages of a pipe in order."""
        if net.kind is None:
            return with_hooks([self._network(stage) for stage in net.stages], len(self.network_inputs.get(net, ())))
        assert net.args is not None
        kwargs: dict[str, Any] = {}
        positional = []
        for param in net.kind.params:
            value = net.args[param.name]
            if param.meaning is Meaning.INPUT_SIZE and value is None:
                value = self._input_size(net)
            if param.target is None or param.passed is not Pass.ARG:
                continue
            if value is None and not net.args.given(param.name):
                continue
            converted = self._value(param.type, value, None)  # type: ignore[arg-type]
            if param.positional:
                positional.append(converted)
            else:
                kwargs[param.target] = converted
        return self._sized(runtime_class(net.kind)(*positional, **kwargs), net)

    def _sized(self, module: Any, net: Network) -> Any:
        """``module`` with every parameter sized. A runtime class without an input-size argument
        (torchrl's ``DdpgMlpActor``: its first layer is ``nn.LazyLinear``) sizes its lazy layers on
        its first call, so it is called once here, without gradients and in eval mode, on zeros of
        the input shapes the checker typed (a batch of two: a batch norm without running statistics
        needs more than one value per channel): its parameters can then be counted on
        ``meta``, drawn under the compile seed, saved and moved like any other."""
        if not isinstance(module, nn.Module):  # a forward hook (QValueHook) has no parameters
            return module
        tensors = (*module.parameters(), *module.buffers())
        if not any(is_lazy(t) for t in tensors):
            return module
        specs = self.network_inputs.get(net)
        if specs is None:
            raise CompileError(f"{net.span}: this network sizes itself on its first call, but it was not typed by "
                               "the checker; compile a report from `rldsl.check` (or `rldsl.lang.check`)")
        device = next(t.device for t in tensors if is_lazy(t))
        inputs = [torch.zeros((2, *shape_of(spec.shape)), device=device) for spec in specs]
        training = module.training
        module.train(False)
        try:
            with torch.no_grad():
                module(*inputs)
        finally:
            module.train(training)
        return module
