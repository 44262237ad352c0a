"""What a kind description is made of: :class:`Kind`, :class:`Param` and their vocabularies.

A :class:`Kind` is data. Its parameters say what the language accepts (name, type, default,
whether it may be given by position) and how each reaches the runtime class (``target``, the
constructor argument, and ``passed``); ``reads``, ``writes`` and ``rule`` say in words which keys
it uses and how its output spec follows from its inputs. Only the last step is code: ``build``
(arguments to an IR node, keys included) and ``infer`` (input specs to output specs), plain
functions stored in the entry so that everything about a kind sits in one place. What they receive
from the passes is typed in :mod:`rldsl.lang.kinds._contexts`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from rldsl.lang.ir import Args
    from rldsl.lang.kinds._contexts import BuildRule, InferRule

__all__ = ["ArgType", "DistInfo", "Family", "Kind", "Meaning", "Param", "Pass", "REQUIRED"]


class _Required:
    """The marker of a parameter without a default."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


class Family(str, enum.Enum):
    """What sort of thing a kind makes."""

    NETWORK = "network"  # tensors in, tensors out (an nn.Module)
    ACTIVATION = "activation"  # an element-wise network; also a value of `activation_class`
    DISTRIBUTION = "distribution"  # a value of `dist=`
    MODULE = "module"  # reads and writes keys (a tensordict module)
    TENSOR = "tensor"  # a constant vector (`support=`)
    CONFIG = "config"  # a configuration object's fields, given as `dict(...)` to a KWARGS parameter (DTConfig)


class ArgType(str, enum.Enum):
    """The type of an argument, as the language checks it (the words are shown to users)."""

    INT = "an integer"
    FLOAT = "a number"
    BOOL = "`true` or `false`"
    STR = "a string"
    CHOICE = "one of the listed values"
    SIZE = "a size or a tuple of sizes"
    INTS = "a size or a list of sizes"
    NUMBERS = "a list of numbers"
    BOUND = "a number or a list of numbers"
    KEY = "a key"
    KEYS = "a list of keys"
    SPEC = "a key whose spec is used"
    NETWORK = "a network"
    MODULE = "a module"
    NET_OR_MODULE = "a network or a module"
    DIST = "a distribution"
    ACTIVATION = "an activation class"
    LAYER = "a layer class"  # a network kind given as a class (`layer_class=NoisyLinear`), one of ``Param.choices``
    KWARGS = "keyword arguments, `dict(name=value, ...)`"  # another kind's arguments (``Param.of``)


class Pass(str, enum.Enum):
    """How an argument reaches the runtime class (what the compiler does with it)."""

    ARG = "arg"  # the constructor argument ``target``, converted by type
    DIST = "dist"  # ``distribution_class`` + ``distribution_kwargs``; key arguments become in_keys
    BEFORE = "before"  # not a constructor argument: this module runs first, in a sequence
    VARARGS = "varargs"  # the constructor's positional ``*modules``
    LANGUAGE = "language"  # read by the checker only (no runtime argument)


class Meaning(str, enum.Enum):
    """What a parameter means to the compiler beyond its type: the per-kind facts it must not
    guess from parameter names."""

    INPUTS = "inputs"  # the keys the kind reads (its network's inputs): bounds take the first key's shape
    INPUT_SIZE = "input size"  # left out, the size of dim ``Kind.input_dim`` of the input (a network's, or the
    # first key a module reads: a recurrent module's ``input_size``) as the checker typed it
    MASK = "mask"  # a key read as a boolean mask of allowed actions (random inputs allow at least one)
    LOG_PROBABILITIES = "log-probabilities"  # a key read as log-probabilities over value atoms ([*B, atoms, n])
    KEY_SPECS = "key specs"  # keys passed as one composite of their checked specs (a model env's observation
    # spec); left out, ``Param.derive`` names the keys
    STEP_MODEL = "step model"  # a module its owner runs in place as one environment step: what it writes at
    # `next.X` is also written at `X`, where the owner reads the step's result (a model env's world model)
    SPEC_IN_COMPOSITE = "spec in its composite"  # a spec naming a key nested in a composite with batch dims
    # (`agents.action` in `agents : {...}[n_agents]`) is passed inside that composite: the per-sample shape
    # is the key's shape without those dims, as torchrl's Q-value modules read it from the env's spec


@attrs.frozen(slots=True)
class Param:
    """One parameter of a kind.

    ``name`` is the language's name (torchrl's, except ``in``/``out`` for ``in_keys``/
    ``out_keys`` and ``dist`` for the distribution); ``target`` the constructor argument it
    becomes; ``default`` a Python value, or :data:`REQUIRED`; ``aka`` other spellings users
    try, answered with a suggestion. ``fallback_spec`` (a :mod:`rldsl.lang.types` spec) is, for a
    key read only when present (an OU module's ``is_init``), the spec of that key when the model
    neither declares nor writes it: compiled programs draw their random input from it.
    ``meaning`` tells the compiler what the parameter is (:class:`Meaning`); ``derive``, for a
    parameter left out, computes the runtime constructor's value from the other arguments (a
    Q-value module's ``action_space`` from its ``spec``), None meaning "not passed".

    A :attr:`ArgType.KWARGS` parameter holds the keyword arguments of an inner class, checked as
    that kind's: ``of`` names the kind, or ``"@param"`` the sibling parameter choosing it (MLP's
    ``norm_kwargs`` are ``norm_class``'s); ``fixed`` are the inner arguments the owner sets itself
    (refused in the dict), ``inner_defaults`` the owner's defaults for the others (DuelingCnnDQNet's
    ConvNet has 32, 64, 64 channels); ``per_layer`` accepts a list of dicts, one per layer.
    """

    name: str
    type: ArgType
    default: object = REQUIRED
    doc: str = ""
    target: str | None = attrs.field(default=attrs.Factory(lambda self: self.name, takes_self=True))
    passed: Pass = Pass.ARG
    positional: bool = False
    choices: tuple = ()
    aka: tuple[str, ...] = ()
    fallback_spec: object = None  # KEY parameters read when present: the key's spec when nothing declares it
    meaning: Meaning | None = None
    derive: Callable[[Args], object] | None = attrs.field(default=None, eq=False, repr=False)
    of: str | None = None  # KWARGS: the inner kind's name, or "@param" for the parameter choosing it
    fixed: tuple[str, ...] = ()  # KWARGS: inner arguments the owner sets itself
    inner_defaults: tuple[tuple[str, object], ...] = ()  # KWARGS: the owner's defaults for inner arguments
    per_layer: bool = False  # KWARGS: a list of dicts, one per layer, is accepted too

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def nullable(self) -> bool:
        """Whether `none` is accepted: parameters whose default is None, or a choice among values
        that lists None (QValueModule's ``strict_shape``)."""
        return self.default is None or (self.type is ArgType.CHOICE and None in self.choices)


@attrs.frozen(slots=True)
class DistInfo:
    """What a distribution reads and gives.

    ``params``: the parameters it needs from keys (``loc``, ``scale``); ``one_of``: groups of
    which exactly one is given (``logits`` or ``probs``); ``sample``: ``real``, ``bounded``,
    ``onehot`` or ``index``; ``event_dims``: trailing sample dims the log-probability sums over;
    ``interactions``: the values of ``default_interaction_type`` its runtime class can compute (a
    distribution without a median cannot be asked for one).
    """

    params: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    sample: str = "real"
    event_dims: int = 1
    masked: bool = False
    interactions: tuple[str, ...] = ("deterministic", "mode", "mean", "random")


@attrs.frozen(slots=True)
class Kind:
    """One module kind: everything the checker, the compiler, the formatter and the Python
    builder need to know about it."""

    name: str
    family: Family
    runtime: str  # the runtime class, by dotted name
    summary: str
    params: tuple[Param, ...] = ()
    reads: str = ""  # the keys it reads by default, in words
    writes: str = ""  # the keys it writes by default, in words
    rule: str = ""  # how output specs follow from input specs, in words
    role: str | None = None  # the declaration keyword it fits: actor, value, explore (None: any)
    omitted: tuple[tuple[str, str], ...] = ()  # constructor arguments the language leaves out, and why
    dist: DistInfo | None = None
    output_range: tuple[float, float] | None = None  # activations: where their outputs lie
    input_dim: int = -1  # networks: the input dim an INPUT_SIZE parameter sizes (-1 features, -3 image channels)
    build: BuildRule | None = attrs.field(default=None, eq=False, repr=False)  # called with the lowering context
    infer: InferRule | None = attrs.field(default=None, eq=False, repr=False)  # called with the typing context

    def params_meaning(self, meaning: Meaning) -> tuple[Param, ...]:
        """The parameters that mean ``meaning`` to the compiler."""
        return tuple(p for p in self.params if p.meaning is meaning)

    def param(self, name: str) -> Param | None:
        """The parameter called ``name`` in the language, or None."""
        for param in self.params:
            if param.name == name:
                return param
        return None

    @property
    def positional(self) -> tuple[Param, ...]:
        """Parameters that may be given by position, in order."""
        return tuple(p for p in self.params if p.positional)

    @property
    def varargs(self) -> Param | None:
        """The parameter that collects any number of positional modules (SafeSequential)."""
        return next((p for p in self.params if p.passed is Pass.VARARGS), None)
