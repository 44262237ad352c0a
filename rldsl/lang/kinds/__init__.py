"""The kind registry: one description per module kind, read by the checker, the compiler, the
formatter and the Python builder.

A :class:`Kind` is data: its runtime class by dotted name, its parameters (language name, type,
default, the constructor argument each becomes and how), the keys it reads and writes by default,
its type rule in words, and the two functions that apply that rule (``build`` names the keys,
``infer`` gives them specs). Families live in their own modules: ``networks``, ``tensors``,
``distributions``, ``modules``, ``exploration``, ``qvalue``.

>>> kind = lookup("MLP")
>>> kind.runtime, kind.param("out_features").required
('rldsl.modules.MLP', True)
>>> lookup("ProbabilisticActor").param("dist").target
'distribution_class'
>>> suggest_kind("ProbablisticActor")
'ProbabilisticActor'
"""

from __future__ import annotations

from collections.abc import Mapping

from rldsl.lang.kinds import (
    algorithms,
    conv,
    diffusion,
    distributions,
    dreamer,
    dt,
    exploration,
    layers,
    modules,
    multiagent,
    networks,
    noisy,
    norms,
    planners,
    qvalue,
    recurrent,
    tensors,
    wrappers,
)
from rldsl.lang.kinds._base import REQUIRED, ArgType, DistInfo, Family, Kind, Meaning, Param, Pass
from rldsl.lang.values import suggest

__all__ = ["ArgType", "DistInfo", "Family", "KINDS", "Kind", "Meaning", "Param", "Pass", "REGISTERED", "RENAMED",
           "REQUIRED", "add_registered", "kinds_markdown", "lookup", "remove_registered", "suggest_kind"]

#: Every kind, by family.
KINDS: tuple[Kind, ...] = (
    *networks.KINDS,
    *multiagent.KINDS,
    *conv.KINDS,
    *noisy.KINDS,
    *layers.KINDS,
    *norms.KINDS,
    *tensors.KINDS,
    *distributions.KINDS,
    *modules.KINDS,
    *exploration.KINDS,
    *qvalue.KINDS,
    *recurrent.KINDS,
    *wrappers.KINDS,
    *algorithms.KINDS,
    *dreamer.KINDS,
    *planners.KINDS,
    *dt.KINDS,
    *diffusion.KINDS,
)


def _index(kinds: tuple[Kind, ...]) -> dict[str, Kind]:
    index: dict[str, Kind] = {}
    for kind in kinds:
        if kind.name in index:
            raise ValueError(f"kind {kind.name} is described twice")
        names = [p.name for p in kind.params]
        if len(set(names)) != len(names):
            raise ValueError(f"kind {kind.name} has a parameter twice")
        index[kind.name] = kind
    return index


#: Kinds by name: rldsl's own, and those registered from Python for this process (:data:`REGISTERED`).
BY_NAME: dict[str, Kind] = _index(KINDS)

#: Kinds registered from Python by ``rldsl.register_kind`` (:mod:`rldsl.registry`), by name. They
#: are in :data:`BY_NAME` too; :data:`KINDS` (and the generated reference) holds rldsl's own only.
REGISTERED: dict[str, Kind] = {}


def add_registered(kind: Kind, replace: bool = False) -> None:
    """Make a kind registered from Python known by name (for this process). A name rldsl's own
    kinds use is refused, and so is one registered already unless ``replace``."""
    if kind.name in BY_NAME and not (replace and kind.name in REGISTERED):
        owner = "registered already" if kind.name in REGISTERED else "one of rldsl's kinds"
        raise ValueError(f"`{kind.name}` is {owner}")
    BY_NAME[kind.name] = kind
    REGISTERED[kind.name] = kind


def remove_registered(name: str) -> Kind:
    """Forget a kind registered from Python (rldsl's own kinds cannot be removed); KeyError if none."""
    kind = REGISTERED.pop(name)
    del BY_NAME[name]
    return kind

#: torchrl and tensordict names that are written differently in rldsl, with what to write.
RENAMED: Mapping[str, str] = {
    "TensorDictModule": "give the network keys, `module body = MLP(...) : observation -> hidden`, or use `SafeModule`",
    "TensorDictSequential": "chain modules with `>>`, or use `SafeSequential`",
    "ProbabilisticTensorDictModule": "use `SafeProbabilisticModule`",
    "ProbabilisticTensorDictSequential": "use `ProbabilisticActor`",
    "SafeProbabilisticTensorDictSequential": "use `ProbabilisticActor`",
    "NormalParamWrapper": "use `NormalParamExtractor` after the network: `MLP(...) >> NormalParamExtractor()`",
    "EGreedyWrapper": "use `EGreedyModule(policy, spec=...)`",
    "AdditiveGaussianWrapper": "use `AdditiveGaussianModule(policy, spec=...)`",
    "OrnsteinUhlenbeckProcessWrapper": "use `OrnsteinUhlenbeckProcessModule(policy, spec=...)`",
    "LazyLinear": "use `Linear(in_features, out_features)` or `MLP(out_features=...)`: the checker knows input sizes",
    "NoisyLazyLinear": "use `NoisyLinear(out_features=...)` or `MLP(..., layer_class=NoisyLinear)`: the checker "
                       "knows input sizes",
    "Sequential": "chain networks with `>>`, as in `MLP(...) >> Tanh()`",
    "Conv2dNet": "write `ConvNet`: torchrl's `Conv2dNet` is another name for it",
}


def lookup(name: str) -> Kind | None:
    """The kind called ``name`` (exact spelling), or None."""
    return BY_NAME.get(name)


def suggest_kind(name: str, family: Family | None = None) -> str | None:
    """The kind name closest to ``name`` (optionally within one family), or None; kinds registered
    from Python count too."""
    names = [k.name for k in BY_NAME.values() if family is None or k.family is family]
    return suggest(name, names)


# ---------------------------------------------------------------------------------------------
# Documentation: the "Kinds" section of docs/language.md

_FAMILY_TITLES = {
    Family.NETWORK: "Networks",
    Family.ACTIVATION: "Activations",
    Family.TENSOR: "Constant tensors",
    Family.DISTRIBUTION: "Distributions",
    Family.MODULE: "Modules",
    Family.CONFIG: "Configurations",
}


def _default_text(param: Param) -> str:
    """A parameter's default as the language reference shows it: the `.rlm` text, as code."""
    from rldsl.lang.kinds.texts import default_text

    text = default_text(param)
    return text if param.default is REQUIRED else f"`{text}`"


def _param_row(param: Param) -> str:
    how = {Pass.ARG: f"`{param.target}`", Pass.DIST: "`distribution_class` + `distribution_kwargs`",
           Pass.BEFORE: "runs first, in a sequence", Pass.VARARGS: "positional `*modules`",
           Pass.LANGUAGE: "checker only"}[param.passed]
    if param.passed is Pass.ARG and param.target is None:
        how = "—"
    position = " (positional)" if param.positional else ""
    doc = param.doc.replace("|", "\\|")
    kind_of = param.type.value
    if param.type is ArgType.CHOICE:
        kind_of = "one of " + ", ".join(_choice(c) for c in param.choices)
    return f"| `{param.name}`{position} | {kind_of} | {_default_text(param)} | {how} | {doc} |"


def _choice(value: object) -> str:
    from rldsl.lang.types import number_text

    if value is None:
        return "`none`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{number_text(value)}`"


def kinds_markdown() -> str:
    """The reference of every kind, generated from the registry (``docs/language.md``, "Kinds")."""
    lines = [
        "<!-- Generated from rldsl/lang/kinds (kinds_markdown()); do not edit by hand. -->",
        "",
        "Every kind the checker knows, with its parameters. The *becomes* column says what each "
        "argument is given to the runtime class as; *positional* parameters may be written "
        "without their name, in this order.",
        "",
    ]
    for family, title in _FAMILY_TITLES.items():
        members = [k for k in KINDS if k.family is family]
        lines += [f"### {title}", ""]
        for kind in members:
            lines += [f"#### `{kind.name}`", "", f"{kind.summary} Runtime class: `{kind.runtime}`."]
            facts = []
            if kind.reads:
                facts.append(f"- reads: {kind.reads}")
            if kind.writes:
                facts.append(f"- writes: {kind.writes}")
            if kind.rule:
                facts.append(f"- rule: {kind.rule}")
            if kind.role:
                facts.append(f"- declared with: `{kind.role}` (or `module`)")
            lines += ["", *facts] if facts else []
            if kind.params:
                lines += ["", "| Parameter | Type | Default | Becomes | Meaning |", "| --- | --- | --- | --- | --- |"]
                lines += [_param_row(p) for p in kind.params]
            if kind.omitted:
                left = "; ".join(f"`{name}` ({why})" for name, why in kind.omitted)
                lines += ["", f"Not in the language: {left}."]
            lines.append("")
    return "\n".join(lines)
