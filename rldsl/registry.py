"""Kinds of your own: ``rldsl.register_kind`` makes a Python class callable by name from `.rlm` text.

rldsl never imports code named by a model, so a class of yours becomes a kind only when *your*
Python code registers it, with its parameters and its type rule, before the model is checked:

>>> import torch
>>> import rldsl
>>> from rldsl.registry import ArgType, Meaning, Param
>>> class Twice(torch.nn.Module):
...     def __init__(self, in_features: int, out_features: int) -> None:
...         super().__init__()
...         self.linear = torch.nn.Linear(in_features, 2 * out_features)
...     def forward(self, x: torch.Tensor) -> torch.Tensor:
...         return self.linear(x)
>>> _ = rldsl.register_kind(
...     "Twice", Twice,
...     params=[Param("in_features", ArgType.INT, None, "input size", meaning=Meaning.INPUT_SIZE),
...             Param("out_features", ArgType.INT, doc="half the output size")],
...     shape=lambda inputs, args: (*inputs[0][:-1], 2 * args["out_features"]))
>>> text = "key observation : f32[3]\\nmodule m = Twice(out_features=2) : observation -> h\\n"
>>> report = rldsl.check(text)
>>> report.ok, report.types["h"]
(True, 'f32[4]')
>>> rldsl.compile(text)["m"].module.linear.in_features
3
>>> _ = rldsl.unregister_kind("Twice")

A *network* kind (``family="network"``, the default) is an ``nn.Module`` whose ``forward`` takes
one tensor per input and returns one tensor or a tuple; it is used like ``MLP``: with keys in a
declaration (``: observation -> hidden``), inside ``Actor``/``ValueOperator``, or as a stage of
``>>``. A *module* kind (``family="module"``) is a tensordict module taking ``in_keys`` and
``out_keys``; the language gives it ``in=`` and ``out=`` (defaults: ``in_keys``/``out_keys`` of
the registration).

The type rule ``shape(inputs, args)`` gets the shape of each input (a tuple of ints, per sample:
batch dims excluded; a named dim such as ``n_agents`` is an int that keeps its name when returned
as it is, a dim of unknown size is its name, a string) and the arguments (a read-only mapping from
parameter name to value: numbers, strings, booleans, tuples; an activation by its name; a list of
numbers as a tuple, None when computed by ``linspace``/``arange``) and returns the output shape (a
tuple of dims) or, for several outputs, a list of shapes. Outputs have the first input's dtype
(``dtype=`` fixes it). Raise :class:`KindRuleError` to refuse inputs or
arguments: it becomes diagnostic E0441 at the argument it names. Any other exception, or a value
that is not shapes, is E0442 (a bug in the rule). A model naming a kind nobody registered gets
"unknown kind" (E0204), and a dotted name (``mypkg.Net(...)``) is never a kind: nothing is imported.

From the command line, ``--import-kinds mypkg.kinds`` imports the module that registers your kinds;
from Python, ``rldsl.check(..., kind_modules=["mypkg.kinds"])`` (also ``compile`` and ``load``).
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

import attrs

from rldsl.errors import RldslError
from rldsl.lang import types as T
from rldsl.lang.ir import Args, ModuleNode, Network, Numbers, Origin, Step, Typed
from rldsl.lang.kinds import (BY_NAME, REGISTERED, REQUIRED, ArgType, Family, Kind, Meaning, Param, Pass,
                              add_registered, remove_registered)
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import float_inputs, keys, node
from rldsl.lang.source import Span

__all__ = ["ArgType", "KindRegistrationError", "KindRuleError", "Meaning", "Param", "RegisteredKind", "ShapeRule",
           "import_kind_modules", "register_kind", "registered_kinds", "unregister_kind"]

#: A type rule: the input shapes and the arguments to the output shape, or a list of them.
ShapeRule = Callable[[list, Mapping[str, Any]], Union[tuple, list]]

_KIND_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LITERALS = frozenset({"true", "false", "none", "inf", "in", "out"})  # `in`/`out`: a module kind's own keys
_NETWORK_TYPES = frozenset({ArgType.INT, ArgType.FLOAT, ArgType.BOOL, ArgType.STR, ArgType.CHOICE, ArgType.SIZE,
                            ArgType.INTS, ArgType.NUMBERS, ArgType.BOUND, ArgType.ACTIVATION})
_MAX_MESSAGE = 300


class KindRegistrationError(RldslError, ValueError):
    """A registration ``rldsl.register_kind`` refuses (a bad name, parameter or class), or
    unregistering a kind that was not registered."""


class KindRuleError(RldslError, ValueError):
    """Raised by a registered kind's type rule to refuse its inputs or arguments: diagnostic
    E0441 with ``message``, at the argument called ``argument`` (else where the kind is used),
    with ``help`` as its help line."""

    def __init__(self, message: str, *, argument: str | None = None, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument
        self.help = help


@attrs.frozen(slots=True)
class RegisteredKind(Kind):
    """A kind registered from Python: a :class:`Kind` that carries its runtime class itself
    (``runtime_object``; ``runtime`` is only its name, never imported), its type rule and the
    dtype of its outputs."""

    runtime_object: Any = attrs.field(default=None, eq=False, repr=False)
    shape_rule: Any = attrs.field(default=None, eq=False, repr=False)
    output_dtype: str | None = None
    float_only: bool = True


# ---------------------------------------------------------------------------------------------
# The public functions


def register_kind(name: str, cls: type, *, family: str | Family = "network", params: Sequence[Param] = (),
                  shape: ShapeRule, summary: str = "", rule: str = "", dtype: str | None = None,
                  float_inputs: bool = True, in_keys: Sequence[str] | None = None,
                  out_keys: Sequence[str] | None = None, input_dim: int = -1, role: str | None = None,
                  replace: bool = False) -> Kind:
    """Make ``cls`` the kind ``name`` for this process, so that `.rlm` text can call it.

    ``family`` is ``"network"`` (an ``nn.Module``: tensors in, tensors out) or ``"module"`` (a
    tensordict module taking ``in_keys`` and ``out_keys``). ``params`` describe the arguments the
    language accepts, with :class:`Param` and :class:`ArgType` as rldsl's own kinds do:
    ``Param("out_features", ArgType.INT, doc="output size")`` (required), ``Param("depth",
    ArgType.INT, 2, "layers")`` (a default), ``positional=True`` (may be given by position),
    ``target=`` (the constructor argument, by default the same name), ``passed=Pass.LANGUAGE``
    (read by the type rule only), ``meaning=Meaning.INPUT_SIZE`` (an INT left out is the input's
    size along ``input_dim``, as the checker typed it). The types are numbers, booleans, strings,
    choices, sizes, lists of numbers, bounds and activation classes.

    ``shape(inputs, args)`` is the type rule (see the module docstring); ``dtype`` fixes the
    outputs' dtype (default: the first input's); ``float_inputs`` asks for floating-point inputs
    of one dtype (networks with weights), as rldsl's networks do. For a module, ``in_keys`` and
    ``out_keys`` are the default keys of ``in=`` and ``out=`` (None: the model must give them)
    and ``role`` the declaration keyword it fits (``"actor"``, ``"value"``, ``"explore"``).
    ``summary`` and ``rule`` describe it in words. A name in use is refused, unless ``replace``
    and it was registered from Python.

    Returns the kind. Raises :class:`KindRegistrationError` for a registration that could not be
    built or checked, naming what is wrong.
    """
    family = _family(family)
    _check_name(name, replace)
    _check_class(name, cls, family)
    params = tuple(params)
    _check_params(name, params, family)
    if family is Family.MODULE:
        params = (*_key_params(name, in_keys, out_keys), *params)
    elif in_keys is not None or out_keys is not None or role is not None:
        raise KindRegistrationError(f"`{name}`: `in_keys`, `out_keys` and `role` are for module kinds; a network "
                                    "gets its keys where it is used")
    _check_constructor(name, cls, params, family)
    _check_rule(name, shape, dtype, input_dim, role)
    kind = RegisteredKind(
        name=name, family=family, runtime=f"{cls.__module__}.{cls.__qualname__}", summary=_summary(cls, summary),
        params=params, reads="the `in` keys" if family is Family.MODULE else "tensors",
        writes="the `out` keys" if family is Family.MODULE else "the tensors its `shape=` rule gives",
        rule=rule or "registered from Python: its `shape=` function gives the output shapes", role=role,
        input_dim=input_dim, build=_build_module if family is Family.MODULE else None,
        infer=_infer_module if family is Family.MODULE else _infer_network,
        runtime_object=cls, shape_rule=shape, output_dtype=dtype, float_only=bool(float_inputs))
    try:
        add_registered(kind, replace=replace)
    except ValueError as error:
        raise KindRegistrationError(f"cannot register `{name}`: {error}") from None
    return kind


def unregister_kind(name: str) -> Kind:
    """Forget the kind ``name`` registered from Python; returns it. rldsl's own kinds stay."""
    if name not in REGISTERED:
        why = "is one of rldsl's kinds" if name in BY_NAME else "was not registered"
        raise KindRegistrationError(f"cannot unregister `{name}`: it {why}")
    return remove_registered(name)


def registered_kinds() -> tuple[Kind, ...]:
    """The kinds registered from Python in this process, in the order they were registered."""
    return tuple(REGISTERED.values())


def import_kind_modules(names: Iterable[str]) -> None:
    """Import the modules that register your kinds (``register_kind`` runs when they are
    imported), so that models can call them. This is the only way rldsl imports a module for a
    kind, and only the caller names them (``--import-kinds``, ``kind_modules=``), never a model.

    Raises ``ValueError`` for a name that is not a dotted module name and ``ImportError`` when a
    module cannot be imported.
    """
    if isinstance(names, str):
        raise ValueError(f"kind modules are given as a list of names, as in [{names!r}]")
    for name in names:
        if not isinstance(name, str) or not _MODULE_NAME.fullmatch(name):
            raise ValueError(f"kind module names are dotted Python module names such as `mypkg.kinds`, got {name!r}")
        importlib.import_module(name)


# ---------------------------------------------------------------------------------------------
# Checking a registration


def _family(family: str | Family) -> Family:
    try:
        found = Family(family)
    except ValueError:
        found = None
    if found not in (Family.NETWORK, Family.MODULE):
        raise KindRegistrationError(f'`family` is "network" or "module", got {family!r}')
    return found


def _check_name(name: object, replace: bool) -> None:
    if not isinstance(name, str) or not name.isascii() or not _KIND_NAME.fullmatch(name):
        raise KindRegistrationError(f"a kind name is a class name (an ASCII letter in upper case, then letters, "
                                    f"digits and `_`, no dots), got {name!r}")
    if name in BY_NAME and not (replace and name in REGISTERED):
        owner = "registered already (pass replace=True to replace it)" if name in REGISTERED \
            else "one of rldsl's kinds"
        raise KindRegistrationError(f"cannot register `{name}`: it is {owner}")


def _check_class(name: str, cls: object, family: Family) -> None:
    if not inspect.isclass(cls):
        raise KindRegistrationError(f"`{name}`: the runtime class is given as the class object itself, got "
                                    f"{type(cls).__name__} {cls!r:.80}")
    torch = sys.modules.get("torch")
    if family is Family.NETWORK and (torch is None or not issubclass(cls, torch.nn.Module)):
        raise KindRegistrationError(f"`{name}`: a network kind's class is a torch.nn.Module, got {cls.__qualname__}")
    tensordict_nn = sys.modules.get("tensordict.nn")
    if family is Family.MODULE and (tensordict_nn is None
                                    or not issubclass(cls, tensordict_nn.TensorDictModuleBase)):
        raise KindRegistrationError(f"`{name}`: a module kind's class is a tensordict module "
                                    f"(tensordict.nn.TensorDictModuleBase), got {cls.__qualname__}")


def _check_params(name: str, params: tuple, family: Family) -> None:
    seen: set[str] = set()
    for param in params:
        if not isinstance(param, Param):
            raise KindRegistrationError(f"`{name}`: parameters are rldsl.registry.Param objects, got {param!r:.80}")
        where = f"`{name}` parameter `{param.name}`"
        if not isinstance(param.name, str) or not _PARAM_NAME.fullmatch(param.name) or param.name in _LITERALS:
            raise KindRegistrationError(f"`{name}`: {param.name!r} cannot name a parameter (a Python-style name, not "
                                        f"one of {sorted(_LITERALS)})")
        if param.name in seen:
            raise KindRegistrationError(f"{where} is described twice")
        seen.add(param.name)
        if param.type not in _NETWORK_TYPES:
            allowed = ", ".join(sorted(t.name for t in _NETWORK_TYPES))
            raise KindRegistrationError(f"{where}: type {param.type.name} is not available to registered kinds "
                                        f"(they take {allowed})")
        if param.passed not in (Pass.ARG, Pass.LANGUAGE) or param.derive is not None \
                or param.fallback_spec is not None:
            raise KindRegistrationError(f"{where}: registered kinds pass arguments to the constructor "
                                        "(Pass.ARG) or to the type rule only (Pass.LANGUAGE)")
        if param.meaning not in (None, Meaning.INPUT_SIZE) or (param.meaning is Meaning.INPUT_SIZE and (
                family is not Family.NETWORK or param.type is not ArgType.INT or param.default is not None
                or param.passed is not Pass.ARG)):
            raise KindRegistrationError(f"{where}: Meaning.INPUT_SIZE is for an INT constructor argument of a network "
                                        "kind whose default is None (the compiler fills in the size the checker typed)")
        if param.passed is Pass.ARG and (not isinstance(param.target, str) or not _PARAM_NAME.fullmatch(param.target)):
            raise KindRegistrationError(f"{where}: `target` names a constructor argument, got {param.target!r}")
        problem = _default_problem(param)
        if problem:
            raise KindRegistrationError(f"{where}: {problem}")


def _default_problem(param: Param) -> str:
    """Why a parameter's default (or choices) does not fit its type, or ""."""
    value, kind = param.default, param.type
    if kind is ArgType.CHOICE:
        if not param.choices or not all(isinstance(c, (str, int, float, bool)) or c is None for c in param.choices):
            return "a CHOICE parameter lists its `choices` (strings, numbers, booleans or None)"
        return "" if value is REQUIRED or any(value == c and type(value) is type(c) for c in param.choices) \
            else f"the default {value!r} is not one of the choices"
    if value is REQUIRED or value is None:
        return ""
    fits = {
        ArgType.INT: lambda v: _is_int(v),
        ArgType.FLOAT: lambda v: _is_number(v),
        ArgType.BOOL: lambda v: isinstance(v, bool),
        ArgType.STR: lambda v: isinstance(v, str),
        ArgType.SIZE: lambda v: _is_size(v) or (isinstance(v, tuple) and bool(v) and all(map(_is_size, v))),
        ArgType.INTS: lambda v: _is_size(v) or (isinstance(v, tuple) and all(map(_is_size, v))),
        ArgType.NUMBERS: lambda v: isinstance(v, tuple) and bool(v) and all(map(_is_number, v)),
        ArgType.BOUND: lambda v: _is_number(v) or (isinstance(v, tuple) and bool(v) and all(map(_is_number, v))),
        ArgType.ACTIVATION: lambda v: isinstance(v, str) and v in BY_NAME and BY_NAME[v].family is Family.ACTIVATION,
    }[kind]
    if fits(value):
        return ""
    hint = " (lists are tuples)" if isinstance(value, list) else ""
    return f"the default {value!r:.80} is not {kind.value}{hint}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_size(value: object) -> bool:
    return _is_int(value) and 0 < value <= T.MAX_SIZE


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _key_params(name: str, in_keys: Sequence[str] | None, out_keys: Sequence[str] | None) -> tuple[Param, Param]:
    """The `in` and `out` parameters of a module kind: its keys, given to ``in_keys`` and ``out_keys``."""
    defaults = []
    for which, given in (("in_keys", in_keys), ("out_keys", out_keys)):
        if given is None:
            defaults.append(REQUIRED)
            continue
        listed = (given,) if isinstance(given, str) else tuple(given)
        if not listed or not all(isinstance(k, str) and k.isascii() and _KEY_NAME.fullmatch(k) for k in listed):
            raise KindRegistrationError(f"`{name}`: `{which}` lists key names such as \"observation\", got {given!r}")
        defaults.append(listed)
    return (Param("in", ArgType.KEYS, defaults[0], "the keys it reads", target="in_keys", positional=True,
                  aka=("in_keys",), meaning=Meaning.INPUTS),
            Param("out", ArgType.KEYS, defaults[1], "the keys it writes", target="out_keys", positional=True,
                  aka=("out_keys",)))


def _check_constructor(name: str, cls: type, params: tuple[Param, ...], family: Family) -> None:
    """The parameters passed to the constructor are arguments it takes, every argument it needs
    is always passed, and positional parameters of a network line up with its positional ones."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return  # a constructor without an inspectable signature: the first compile will tell
    accepted = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    passed = [p for p in params if p.passed is Pass.ARG]
    for param in passed:
        found = accepted.get(param.target)
        if (found is None and not takes_any) or (found is not None and found.kind is inspect.Parameter.VAR_POSITIONAL):
            raise KindRegistrationError(f"`{name}` parameter `{param.name}`: {cls.__qualname__}() takes no argument "
                                        f"`{param.target}`")
    always = {p.target for p in passed if p.default is not None or p.meaning is Meaning.INPUT_SIZE}
    for argument in accepted.values():
        if argument.default is inspect.Parameter.empty and argument.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) and argument.name not in always:
            raise KindRegistrationError(f"`{name}`: {cls.__qualname__}() needs `{argument.name}`, which no parameter "
                                        "always passes: describe it (required, or with a default)")
    if family is Family.NETWORK:
        _positional_line_up(name, cls, [p for p in params if p.positional], list(accepted.values()))
    else:
        for param in passed:
            found = accepted.get(param.target)
            if found is not None and found.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise KindRegistrationError(f"`{name}` parameter `{param.name}`: a module kind passes arguments by "
                                            f"keyword, but `{param.target}` is positional-only")


def _positional_line_up(name: str, cls: type, positional: list[Param], arguments: list[inspect.Parameter]) -> None:
    """A network's positional parameters are passed by position: they are the constructor's
    first arguments, in order, and only the last of them may be left out (a None default)."""
    for index, param in enumerate(positional):
        argument = arguments[index] if index < len(arguments) else None
        if param.passed is not Pass.ARG or argument is None or argument.name != param.target or argument.kind not in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            raise KindRegistrationError(f"`{name}` parameter `{param.name}` is positional, so it is passed by position "
                                        f"as argument {index + 1} of {cls.__qualname__}(): make it that argument, or "
                                        "not positional")
        skippable = param.default is None and param.meaning is not Meaning.INPUT_SIZE
        if skippable and index != len(positional) - 1:
            raise KindRegistrationError(f"`{name}` parameter `{param.name}` may be left out, so only the last "
                                        "positional parameter may default to None")


def _check_rule(name: str, shape: object, dtype: object, input_dim: object, role: object) -> None:
    if not callable(shape):
        raise KindRegistrationError(f"`{name}`: `shape` is the type rule, a function (inputs, args) -> shape")
    try:
        inspect.signature(shape).bind([], {})
    except TypeError:
        raise KindRegistrationError(f"`{name}`: the `shape` rule is called with two arguments, (inputs, args)") \
            from None
    except ValueError:
        pass  # a builtin without a signature
    if dtype is not None and dtype not in T.DTYPES:
        raise KindRegistrationError(f"`{name}`: `dtype` is one of {', '.join(T.DTYPES)}, got {dtype!r}")
    if not _is_int(input_dim) or input_dim >= 0:
        raise KindRegistrationError(f"`{name}`: `input_dim` is a negative dim (-1: the features), got {input_dim!r}")
    if role not in (None, "actor", "value", "explore"):
        raise KindRegistrationError(f'`{name}`: `role` is "actor", "value", "explore" or None, got {role!r}')


def _summary(cls: type, summary: str) -> str:
    text = summary or (inspect.getdoc(cls) or "").strip().split("\n\n")[0].replace("\n", " ")
    text = text or f"`{cls.__qualname__}`, registered from Python"
    return text if text.endswith(".") else text + "."


# ---------------------------------------------------------------------------------------------
# The rules of registered kinds


def _build_module(lo: LoweringContext, args: Args) -> ModuleNode:
    """A module kind reads its `in` keys and writes its `out` keys."""
    outputs = keys(args, "out")
    lo.unique(outputs, args.kind.name)
    return node(lo, args, [Step(keys(args, "in"), outputs)])


def _infer_network(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                   at: Span) -> list[T.Spec] | None:
    kind = net.kind
    assert isinstance(kind, RegisteredKind) and net.args is not None
    if not inputs:
        ty.report("E0407", f"{kind.name} reads at least one tensor", at, label="no inputs",
                  help="give the module its input keys, as in `: observation -> hidden`")
        return None
    if T.is_unknown(*inputs) or not _inputs_fit(ty, kind, inputs, labels, at):
        return None
    shapes = _apply_rule(ty, kind, net.args, inputs, at)
    if shapes is None:
        return None
    return [T.Unbounded(shape, _output_dtype(ty, kind, inputs)) for shape in shapes]


def _infer_module(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None and isinstance(args.kind, RegisteredKind)
    kind = args.kind
    if not args.ok("in", "out"):
        return
    inputs, outputs = keys(args, "in"), keys(args, "out")
    specs = [ty.read(ref) for ref in inputs]
    at = args.span_of("in")
    if T.is_unknown(*specs) or not _inputs_fit(ty, kind, specs, [f"`{ref.dotted}`" for ref in inputs], at):
        return
    shapes = _apply_rule(ty, kind, args, specs, at)
    if shapes is None:
        return
    if len(shapes) != len(outputs):
        count = f"{len(shapes)} tensor{'s' if len(shapes) != 1 else ''}"
        ty.report("E0305", f"the type rule of {kind.name} gives {count}, but `out` lists {len(outputs)} key"
                           f"{'s' if len(outputs) != 1 else ''}", args.span_of("out"), label=f"{len(outputs)} keys",
                  help="list one key per output of the module")
        return
    dtype = _output_dtype(ty, kind, specs)
    for ref, shape in zip(outputs, shapes):
        ty.write(module, ref, Typed(T.Unbounded(shape, dtype), Origin.NETWORK, ty.by(module)),
                 remedy="declare the key with the spec the module's outputs have")


def _inputs_fit(ty: TypingContext, kind: RegisteredKind, inputs: list[T.Spec], labels: list[str], at: Span) -> bool:
    """Float inputs of one dtype (in the compile dtype) when the kind asks for them; tensors in any case."""
    if kind.float_only:
        return float_inputs(ty, inputs, labels, kind.name, at, weighted=True)
    for spec, label in zip(inputs, labels):
        if isinstance(spec, T.Composite):
            ty.report("E0504", f"{kind.name} reads tensors, but {label} is a composite", at,
                      label="a composite spec is not a tensor", help="read one of its entries instead")
            return False
    return True


def _output_dtype(ty: TypingContext, kind: RegisteredKind, inputs: list[T.Spec]) -> str:
    """The registered dtype, else the first input's when it is a float, else the compile dtype."""
    if kind.output_dtype is not None:
        return kind.output_dtype
    first = inputs[0].dtype if inputs else None
    return first if first is not None and T.is_float_dtype(first) else ty.float_dtype


def _apply_rule(ty: TypingContext, kind: RegisteredKind, args: Args, inputs: list[T.Spec],
                at: Span) -> list[tuple] | None:
    """The output shapes the kind's rule gives for ``inputs`` (None after a diagnostic)."""
    arguments = _plain_arguments(args)
    if arguments is None:
        return None
    unknown = {dim.text: dim for spec in inputs for dim in spec.shape if isinstance(dim, T.Sym) and dim.value is None}
    shapes = [tuple(_plain_dim(dim) for dim in spec.shape) for spec in inputs]
    try:
        result = kind.shape_rule(shapes, arguments)
    except KindRuleError as refusal:
        named = refusal.argument if refusal.argument in args.values else None
        ty.report("E0441", f"{kind.name} refuses {'its arguments' if named else 'these inputs'}: "
                           f"{_short(refusal.message)}", args.span_of(named) if named else at,
                  label=f"refused by {kind.name}'s type rule",
                  help=_short(refusal.help) if refusal.help else f"see what {kind.name} (registered from Python) "
                                                                 "accepts")
        return None
    except Exception as error:  # the user's rule: any failure is a diagnostic, never a crash of the checker
        _rule_failed(ty, kind, at, f"raised {type(error).__name__}: {_short(str(error))}")
        return None
    return _output_shapes(ty, kind, result, unknown, at)


def _output_shapes(ty: TypingContext, kind: RegisteredKind, result: object, unknown: Mapping[str, T.Sym],
                   at: Span) -> list[tuple] | None:
    """The rule's value as a list of shapes: a tuple of dims (one output) or a list of them."""
    def is_dim(value: object) -> bool:
        return _is_int(value) or isinstance(value, str)

    if isinstance(result, (tuple, list)) and all(is_dim(d) for d in result) and (isinstance(result, tuple)
                                                                                 or result):
        candidates = [result]
    elif isinstance(result, list) and result and all(isinstance(s, (tuple, list)) for s in result):
        candidates = result
    else:
        _rule_failed(ty, kind, at, f"returned {_short(repr(result))}, not a shape (a tuple of sizes) or a list of "
                                   "shapes")
        return None
    shapes = []
    for candidate in candidates:
        shape = []
        for dim in candidate:
            if isinstance(dim, NamedSize) and dim >= 1:
                shape.append(T.Sym(dim.name, int(dim)))
            elif _is_int(dim) and dim >= 1:
                shape.append(int(dim))
            elif isinstance(dim, str) and dim in unknown:
                shape.append(unknown[dim])
            else:
                _rule_failed(ty, kind, at, f"returned the shape {_short(repr(candidate))}, whose dim {dim!r:.40} is "
                                           "not a positive size (or the name of an input's dim)")
                return None
        spec = T.Unbounded(tuple(shape))
        problem = T.size_problem(spec)
        if problem is not None:
            ty.report(problem[0], f"the output of {kind.name} is too large: {problem[1]}", at,
                      label="output too large", help="check the sizes given to it")
            return None
        shapes.append(tuple(shape))
    return shapes


def _rule_failed(ty: TypingContext, kind: RegisteredKind, at: Span, what: str) -> None:
    ty.report("E0442", f"the type rule registered for {kind.name} {what}", at, label="the type rule failed",
              help=f"this is a bug in the `shape=` function given to `rldsl.register_kind(\"{kind.name}\", ...)`: "
                   "it returns the output shape, or raises rldsl.registry.KindRuleError to refuse")


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _plain_arguments(args: Args) -> Mapping[str, Any] | None:
    """The arguments as plain Python values for the rule (None when one was reported invalid)."""
    if not args.ok(*args.values):
        return None
    values = {name: _plain(arg.value) for name, arg in args.values.items() if name not in ("in", "out")}
    return types.MappingProxyType(values)


def _plain(value: object) -> object:
    if isinstance(value, T.Sym):
        return _plain_dim(value)
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    if isinstance(value, Kind):
        return value.name
    if isinstance(value, Numbers):
        return value.values
    return value


class NamedSize(int):
    """A named dim of known size as a type rule sees it: an ``int`` (arithmetic on it gives plain
    ints) that remembers its name, so that a rule returning it keeps the name in the output's
    shape (``f32[n_agents, 4]``, not ``f32[3, 4]``)."""

    name: str

    def __new__(cls, value: int, name: str) -> NamedSize:
        size = super().__new__(cls, value)
        size.name = name
        return size


def _plain_dim(dim: object) -> object:
    """A dim as the rule sees it: its size (a :class:`NamedSize` for a named dim), or its name when
    the size is not known."""
    if isinstance(dim, T.Sym):
        return NamedSize(dim.value, dim.text) if dim.value is not None else dim.text
    return dim

