"""docs/coverage.md: every public name of torchrl.modules and of ``rldsl.modules``, and every kind,
with its `.rlm` form and the examples that use it.

The document is generated here from data: ``rldsl.modules.__all__``, the kind registry
(``rldsl.lang.kinds``: which names are kinds, and ``RENAMED`` for torchrl names written
differently), :data:`PYTHON_ONLY` below (why a name has no `.rlm` form) and the examples, parsed
(``examples/**/*.rlm``, not ``examples/errors``, whose files are wrong on purpose) or read as
Python (``examples/**/*.py``). A kind's one-line example is its shortest call in an example, or,
for a kind no example uses yet, :data:`SNIPPETS`. Regenerate with
``RLDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_coverage_doc.py``.
"""

from __future__ import annotations

import ast as python_ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

import rldsl.modules
from rldsl.lang import ast
from rldsl.lang.kind_hints import NOT_KINDS, TORCHRL_MODULES
from rldsl.lang.kinds import KINDS, RENAMED, Kind, lookup
from rldsl.lang.parse import parse
from rldsl.lang.printer import expr_source

ROOT = Path(__file__).resolve().parents[1]
COVERAGE_DOC = ROOT / "docs" / "coverage.md"
EXAMPLES = ROOT / "examples"
SEED_REFERENCE = Path("/work/shared/seed/torchrl_modules_reference.txt")  # where the seed is kept, if anywhere

#: The public names of torchrl.modules (torchrl 0.14's API reference): its classes, and its functions.
SEED_NAMES: frozenset[str] = frozenset(TORCHRL_MODULES) | {"biased_softplus"}

#: Names of ``rldsl.modules`` without a `.rlm` form, and why.
PYTHON_ONLY: dict[str, str] = {
    "LMHeadActorValueOperator": "wraps a Python language-model object (a `*LMHeadModel`), and a model file never "
                                "names Python objects; or make a kind of your own with `rldsl.register_kind`",
    "MPCPlannerBase": "the abstract base of the planners: use `CEMPlanner` or `MPPIPlanner`",
    "Mixer": "the abstract base of the mixers: use `QMixer` or `VDNMixer`",
    "MultiAgentNetBase": "the abstract base of the multi-agent networks: use `MultiAgentMLP` or `MultiAgentConvNet`",
    "PlanningEnv": "the protocol a planner's environment follows: a model plans in a `ModelEnv`",
    "ExplorationType": "an enum: a model names interaction types as strings "
                       "(`default_interaction_type=\"random\"`)",
    "ReparamGradientStrategy": "an enum of the one-hot distributions' `grad_method`, which the language leaves at "
                               "its default (pass-through gradients)",
    "TensorDictPrimer": "an environment transform, made in Python from a built recurrent module "
                        "(`make_tensordict_primer()`); the checker knows the state keys it keeps",
    "get_primers_from_module": "a function over a built module: the primers of its recurrent modules",
    "biased_softplus": "a function: a model names it as a scale mapping, `scale_mapping=\"biased_softplus_1.0\"`",
    "inv_softplus": "a function (the inverse of softplus): the scale mappings use it",
    "mappings": "a function: the scale mappings by name, as `scale_mapping=\"...\"` names them",
    "exploration_type": "a run-time context (reading the exploration type), not part of a model",
    "set_exploration_type": "a run-time context (`with set_exploration_type(ExplorationType.RANDOM):`), "
                            "not part of a model",
    "recurrent_mode": "a run-time context (reading the recurrent mode): a model sets `default_recurrent_mode=`",
    "set_recurrent_mode": "a run-time context (`with set_recurrent_mode(True):`): a model sets "
                          "`default_recurrent_mode=`",
    "reset_noise": "a function called on a built model between steps (noisy layers draw new noise)",
}

# Models a one-line example is checked in: ``{}`` stands for the example.
FEATURES = "key observation : f32[8]\nmodule m = {} : observation -> out\n"
LOC_SCALE = "key observation : f32[8]\nmodule m = {} : observation -> loc, scale\n"
CELL = "key observation : f32[8]\nmodule m = {} : observation -> h, c\n"
STATES = "key observation : f32[8]\nmodule m = {} : observation -> out, h0, c0, h, c\n"
OBSERVATION_ACTION = "key observation : f32[8]\nkey action : f32[2]\nmodule m = {} : observation, action -> out\n"
POOLED = "key pooled : f32[8, 1, 1]\nmodule m = {} : pooled -> out\n"
IMAGE = "key pixels : f32[3, 32, 32]\nmodule m = {} : pixels -> out\n"
VOLUME = "key frames : f32[2, 8, 16, 16]\nmodule m = {} : frames -> out\n"
AGENTS = "key observation : f32[3, 8]\nmodule m = {} : observation -> out\n"
AGENT_PIXELS = "key pixels : f32[3, 2, 16, 16]\nmodule m = {} : pixels -> out\n"
CONTINUOUS = ("key observation : f32[4]\nkey action : f32[2]\n"
              "module params = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale\n"
              "actor policy = {}\n")
ONE_HOT = ("key observation : f32[4]\nkey action : onehot(3)\nkey mask : bool[3]\n"
           "module scores = MLP(out_features=3) : observation -> logits\nactor policy = {}\n")
INDEX = ONE_HOT.replace("onehot(3)", "categorical(3)")
DETERMINISTIC = ("key observation : f32[4]\nkey action : f32[2]\n"
                 "module net = MLP(out_features=2) : observation -> param\nactor policy = {}\n")
MODULES = "key observation : f32[4]\nkey action : f32[2]\nmodule m = {}\n"
QVALUES = "key observation : f32[4]\nkey action : onehot(4)\nmodule m = {}\n"
ATOMS = ("key observation : f32[4]\nkey action : onehot(4)\n"
         "module atoms = MLP(out_features=(51, 4)) >> LogSoftmax(dim=-2) : observation -> action_value\n"
         "module m = {}\n")
RECURRENT = "key observation : f32[8]\nkey is_init : bool[1]\nmodule m = {}\n"
SEQUENCE = ("key observation : f32[10, 4]\nkey action : f32[10, 2]\nkey return_to_go : f32[10, 1]\n"
            "module m = {} : observation, action, return_to_go -> out\n")

#: One-line examples of the kinds no example file uses yet (an example's own call is shown when
#: there is one), each with the model it is checked in (no errors, no warnings but unread outputs).
SNIPPETS: dict[str, tuple[str, str]] = {
    "LeakyReLU": (FEATURES,
                  "MLP(out_features=2, activation_class=LeakyReLU, activation_kwargs=dict(negative_slope=0.1))"),
    "Sigmoid": (FEATURES, "MLP(out_features=2) >> Sigmoid()"),
    "GELU": (FEATURES, "MLP(out_features=2, activation_class=GELU)"),
    "SiLU": (FEATURES, "MLP(out_features=2, activation_class=SiLU)"),
    "SELU": (FEATURES, "MLP(out_features=2, activation_class=SELU)"),
    "Mish": (FEATURES, "MLP(out_features=2, activation_class=Mish)"),
    "Softplus": (FEATURES, "MLP(out_features=2) >> Softplus(beta=2.0)"),
    "Softsign": (FEATURES, "MLP(out_features=2, activation_class=Softsign)"),
    "Identity": (FEATURES, "Identity()"),
    "AddStateIndependentNormalScale": (LOC_SCALE, "MLP(out_features=2) >> AddStateIndependentNormalScale(2)"),
    "LogSoftmax": (FEATURES, "MLP(out_features=(51, 4)) >> LogSoftmax(dim=-2)"),
    "ConvNet": (IMAGE, "ConvNet(num_cells=[32, 64], kernel_sizes=[8, 4], strides=[4, 2])"),
    "Conv3dNet": (VOLUME, "Conv3dNet(num_cells=[16, 32], kernel_sizes=3)"),
    "MultiAgentConvNet": (AGENT_PIXELS, "MultiAgentConvNet(3, false, true, num_cells=[8, 8], kernel_sizes=3)"),
    "SquashDims": (IMAGE, "SquashDims() >> MLP(out_features=2)"),
    "SqueezeLayer": (FEATURES, "MLP(out_features=1) >> SqueezeLayer(-1)"),
    "Squeeze2dLayer": (POOLED, "Squeeze2dLayer()"),
    "BatchRenorm1d": (FEATURES, "MLP(out_features=2, num_cells=[64], norm_class=BatchRenorm1d, "
                                "norm_kwargs=dict(num_features=64))"),
    "ConsistentDropout": (FEATURES, "Linear(8, 16) >> ConsistentDropout(0.1)"),
    "ConsistentDropoutModule": (MODULES, "ConsistentDropoutModule(0.1, observation, out=dropped)"),
    "LSTMNet": (STATES, "LSTMNet(2, hidden_size=16, mlp_num_cells=[32])"),
    "BatchNorm1d": (FEATURES, "MLP(out_features=2, num_cells=[64], norm_class=BatchNorm1d, "
                              "norm_kwargs=dict(num_features=64))"),
    "BatchNorm2d": (IMAGE, "BatchNorm2d(3) >> ConvNet(num_cells=[8], kernel_sizes=3)"),
    "BatchNorm3d": (VOLUME, "BatchNorm3d(2) >> Conv3dNet(num_cells=[8], kernel_sizes=3)"),
    "LazyBatchNorm1d": (FEATURES, "MLP(out_features=2, num_cells=[64], norm_class=LazyBatchNorm1d)"),
    "LazyBatchNorm2d": (IMAGE, "LazyBatchNorm2d() >> ConvNet(num_cells=[8], kernel_sizes=3)"),
    "LazyBatchNorm3d": (VOLUME, "LazyBatchNorm3d() >> Conv3dNet(num_cells=[8], kernel_sizes=3)"),
    "LayerNorm": (FEATURES, "MLP(out_features=2, num_cells=[64], norm_class=LayerNorm, "
                            "norm_kwargs=dict(normalized_shape=64))"),
    "GroupNorm": (IMAGE, "ConvNet(num_cells=[16], kernel_sizes=3, norm_class=GroupNorm, "
                         "norm_kwargs=dict(num_groups=4, num_channels=16))"),
    "InstanceNorm1d": (AGENTS, "InstanceNorm1d(3)"),
    "InstanceNorm2d": (IMAGE, "InstanceNorm2d(3) >> ConvNet(num_cells=[8], kernel_sizes=3)"),
    "InstanceNorm3d": (VOLUME, "InstanceNorm3d(2) >> Conv3dNet(num_cells=[8], kernel_sizes=3)"),
    "LSTM": (RECURRENT, "LSTMModule(lstm=LSTM(8, 32), in_key=observation, out_key=embed)"),
    "GRU": (RECURRENT, "GRUModule(gru=GRU(8, 32), in_key=observation, out_key=embed)"),
    "LSTMCell": (CELL, "LSTMCell(8, 32)"),
    "GRUCell": (FEATURES, "GRUCell(8, 32)"),
    "linspace": (ATOMS, "DistributionalQValueModule(support=linspace(-10, 10, 51), spec=action)"),
    "DistributionalQValueModule": (ATOMS, "DistributionalQValueModule(support=linspace(-10, 10, 51), spec=action)"),
    "IndependentNormal": (CONTINUOUS,
                          "ProbabilisticActor(params, in=[loc, scale], dist=IndependentNormal, spec=action)"),
    "TruncatedNormal": (CONTINUOUS, "ProbabilisticActor(params, in=[loc, scale], "
                                    "dist=TruncatedNormal(low=-1.0, high=1.0), spec=action)"),
    "Delta": (DETERMINISTIC, "ProbabilisticActor(net, in=[param], dist=Delta, spec=action)"),
    "OneHotCategorical": (ONE_HOT, "ProbabilisticActor(scores, in=[logits], dist=OneHotCategorical, spec=action)"),
    "Categorical": (INDEX, "ProbabilisticActor(scores, in=[logits], dist=Categorical, spec=action)"),
    "MaskedCategorical": (INDEX, "ProbabilisticActor(scores, in=[logits], dist=MaskedCategorical(mask=mask), "
                                 "spec=action)"),
    "MaskedOneHotCategorical": (ONE_HOT, "ProbabilisticActor(scores, in=[logits], "
                                         "dist=MaskedOneHotCategorical(mask=mask), spec=action)"),
    "SafeModule": (MODULES, "SafeModule(MLP(out_features=2), in=[observation], out=[action], spec=action, safe=true)"),
    "SafeSequential": (MODULES, "SafeSequential(SafeModule(MLP(out_features=16), [observation], [hidden]), "
                                "SafeModule(MLP(out_features=2), [hidden], [action]))"),
    "ActorCriticWrapper": (MODULES, "ActorCriticWrapper(Actor(MLP(out_features=2), spec=action), "
                                    "ValueOperator(MLP(out_features=1)))"),
    "VmapModule": (MODULES, "VmapModule(Actor(MLP(out_features=2)), 0)"),
    "QValueHook": (QVALUES, 'ValueOperator(MLP(out_features=4) >> QValueHook("one_hot"), '
                            "out=[action, action_value, chosen_action_value])"),
    "DistributionalQValueHook": (QVALUES, "ValueOperator(MLP(out_features=(51, 4)) >> LogSoftmax(dim=-2) "
                                          '>> DistributionalQValueHook("one_hot", support=linspace(-10, 10, 51)), '
                                          "out=[action, action_value])"),
    "DistributionalDQNnet": (ATOMS.replace(">> LogSoftmax(dim=-2) ", ""), "DistributionalDQNnet()"),
    "DuelingMlpDQNet": (FEATURES, "DuelingMlpDQNet(4, mlp_kwargs_feature=dict(num_cells=[64]))"),
    "DdpgMlpActor": (FEATURES, "DdpgMlpActor(2)"),
    "DdpgMlpQNet": (OBSERVATION_ACTION, "DdpgMlpQNet()"),
    "DTConfig": (SEQUENCE, "DecisionTransformer(4, 2, config=dict(n_embd=64, n_layer=2))"),
    "DecisionTransformer": (SEQUENCE, "DecisionTransformer(4, 2, config=dict(n_embd=64, n_layer=2))"),
    "OnlineDTActor": (SEQUENCE.replace("-> out", "-> loc, scale"),
                      "OnlineDTActor(4, 2, transformer_config=dict(n_embd=64, n_layer=2))"),
}

#: At most this many example files are named per row.
MAX_EXAMPLES = 3


# ---------------------------------------------------------------------------------------------
# What the examples use


@attrs.frozen
class Uses:
    """Where each name is used in the examples: the files, and the calls that show it (kinds)."""

    files: dict[str, list[str]]
    calls: dict[str, list[str]]


def example_files(suffix: str) -> list[Path]:
    """The example files ending with ``suffix``, but for ``examples/errors`` (wrong on purpose)."""
    return sorted(p for p in EXAMPLES.rglob(f"*{suffix}") if "errors" not in p.relative_to(EXAMPLES).parts)


def rlm_uses() -> Uses:
    """The kinds each `.rlm` example uses, with the calls that show them."""
    files: dict[str, list[str]] = {}
    calls: dict[str, list[str]] = {}
    for path in example_files(".rlm"):
        shown = str(path.relative_to(ROOT))
        for name, call in kinds_used(path.read_text(), shown):
            if shown not in files.setdefault(name, []):
                files[name].append(shown)
            if call is not None:
                calls.setdefault(name, []).append(expr_source(call))
    return Uses(files, calls)


def kinds_used(source: str, name: str = "<model>") -> Iterator[tuple[str, ast.Call | None]]:
    """``(kind, call)`` for every use of one of rldsl's kinds in a model's module declarations."""
    module, _ = parse(source, name)
    kind_names = frozenset(kind.name for kind in KINDS)
    for decl in module.body:
        if isinstance(decl, ast.ModuleDecl):
            yield from _kinds_in(decl.body, None, kind_names)


def _kinds_in(node: object, call: ast.Call | None,
              kind_names: frozenset[str]) -> Iterator[tuple[str, ast.Call | None]]:
    """``(kind, call)`` for each kind in an expression: a call of it (the call), its name as a
    value (`dist=TanhNormal`: the call the name is an argument of), or a configuration given as
    `dict(...)` to a parameter of its kind (`config=dict(...)`: the call of the owner)."""
    if isinstance(node, ast.Call):
        name = _single(node.func)
        if name in kind_names:
            yield name, node
            owner = lookup(name)
            for keyword in node.kwargs:
                param = owner.param(keyword.name.value)
                if param is not None and param.of in kind_names:
                    yield param.of, node
        for argument in (*node.args, *(keyword.value for keyword in node.kwargs)):
            yield from _kinds_in(argument, node, kind_names)
    elif isinstance(node, ast.Ref):
        if _single(node) in kind_names and call is not None:
            yield _single(node), call
    elif isinstance(node, tuple):
        for item in node:
            yield from _kinds_in(item, call, kind_names)
    elif attrs.has(type(node)):
        for field in attrs.fields(type(node)):
            if field.name != "span":
                yield from _kinds_in(getattr(node, field.name), call, kind_names)


def _single(ref: ast.Ref) -> str | None:
    return ref.path[0] if len(ref.path) == 1 else None


def python_uses(names: set[str]) -> dict[str, list[str]]:
    """The files of the Python examples that use each of ``names`` from rldsl."""
    files: dict[str, list[str]] = {}
    for path in example_files(".py"):
        for name in sorted(python_names(path.read_text()) & names):
            files.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return files


def python_names(source: str) -> set[str]:
    """The names a Python file imports from rldsl (``from rldsl.modules import X``) or reads as
    attributes of a module called ``modules`` (``rldsl.modules.X``)."""
    found: set[str] = set()
    for node in python_ast.walk(python_ast.parse(source)):
        if isinstance(node, python_ast.ImportFrom) and (node.module or "").split(".")[0] == "rldsl":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, python_ast.Attribute) and _dotted(node.value).endswith("modules"):
            found.add(node.attr)
    return found


def _dotted(node: python_ast.expr) -> str:
    if isinstance(node, python_ast.Name):
        return node.id
    if isinstance(node, python_ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


# ---------------------------------------------------------------------------------------------
# The document


def library_names() -> list[str]:
    """The rows of the first table: the seed's public names and ``rldsl.modules.__all__``."""
    return sorted(set(rldsl.modules.__all__) | SEED_NAMES, key=str.casefold)


def snippet(kind: Kind, uses: Uses) -> str:
    """The one-line example of a kind: its shortest use in the examples, else :data:`SNIPPETS`."""
    calls = uses.calls.get(kind.name)
    if calls:
        return min(calls, key=len)
    if kind.name in SNIPPETS:
        return SNIPPETS[kind.name][1]
    return f"{kind.name}(...)"  # no example yet: test_every_kind_has_a_one_line_example says so


def rlm_form(name: str, uses: Uses) -> str:
    """A name's `.rlm` form: a kind and its example, the spelling the language uses, or why not."""
    kind = lookup(name)
    if kind is not None and name in KIND_NAMES:
        return f"kind `{name}`: `{snippet(kind, uses)}`"
    if name in RENAMED:
        return f"written differently: {RENAMED[name]}"
    return f"Python only: {PYTHON_ONLY[name]}"


def examples_cell(files: list[str]) -> str:
    if not files:
        return "—"
    shown = ", ".join(f"`{f}`" for f in files[:MAX_EXAMPLES])
    more = len(files) - MAX_EXAMPLES
    return f"{shown} and {more} more" if more > 0 else shown


def cell(text: str) -> str:
    return text.replace("|", "\\|")


KIND_NAMES = frozenset(kind.name for kind in KINDS)


def coverage_markdown() -> str:
    """docs/coverage.md, generated."""
    library = library_names()
    uses = rlm_uses()
    py_files = python_uses(set(library))
    seed = [name for name in library if name in SEED_NAMES]
    kinds = sum(1 for name in seed if name in KIND_NAMES)
    renamed = sum(1 for name in seed if name in RENAMED)
    lines = [
        "# Coverage of torchrl.modules",
        "",
        "<!-- Generated by tests/test_coverage_doc.py from rldsl.modules.__all__, the kind registry and the "
        "examples; regenerate with `RLDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_coverage_doc.py`. "
        "Do not edit by hand. -->",
        "",
        "Every public name of `torchrl.modules` (torchrl 0.14's reference) and of `rldsl.modules`, with how a "
        "`.rlm` model writes it and the examples that use it; then the kinds that are not `rldsl.modules` names "
        "(torch's layers, activations and distributions, constant tensors). A *kind* is called by its name in "
        "a model: `rldsl explain KIND` prints its parameters, type rule and default keys, and "
        "[language.md](language.md) describes every one. A name *written differently* has another spelling in "
        "the language; a *Python only* name is used from Python (`import rldsl.modules`), for the reason given. "
        "A one-line example is the shortest use in the examples, or, for a kind no example uses yet, one that "
        "the tests check.",
        "",
        f"Of the {len(seed)} public names of torchrl.modules, {kinds} are kinds, {renamed} are written "
        f"differently and {len(seed) - kinds - renamed} are Python only.",
        "",
        "## torchrl.modules and rldsl.modules",
        "",
        "| Name | In the torchrl.modules reference | `.rlm` form | Examples |",
        "| --- | --- | --- | --- |",
    ]
    for name in library:
        files = uses.files.get(name) or py_files.get(name) or []
        in_seed = "yes" if name in SEED_NAMES else "—"
        lines.append(f"| `{name}` | {in_seed} | {cell(rlm_form(name, uses))} | {examples_cell(files)} |")
    lines += [
        "",
        "## Kinds that are not rldsl.modules names",
        "",
        "| Kind | Runtime class | `.rlm` form | Examples |",
        "| --- | --- | --- | --- |",
    ]
    for kind in sorted((k for k in KINDS if k.name not in library), key=lambda k: k.name.casefold()):
        form = cell(f"kind `{kind.name}`: `{snippet(kind, uses)}`")
        lines.append(f"| `{kind.name}` | `{kind.runtime}` | {form} | {examples_cell(uses.files.get(kind.name, []))} |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Tests


def test_coverage_doc_is_as_generated() -> None:
    generated = coverage_markdown()
    current = COVERAGE_DOC.read_text() if COVERAGE_DOC.exists() else ""
    if os.environ.get("RLDSL_UPDATE_GOLDEN") == "1" and current != generated:
        COVERAGE_DOC.write_text(generated)
        current = generated
    assert current == generated, "regenerate with RLDSL_UPDATE_GOLDEN=1 python -m pytest tests/test_coverage_doc.py"


def doc_rows() -> dict[str, list[str]]:
    """The rows of docs/coverage.md's tables, by name: their cells (escaped pipes kept whole)."""
    rows = {}
    for line in COVERAGE_DOC.read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_public_name_and_every_kind_has_a_row() -> None:
    rows = doc_rows()
    assert set(rldsl.modules.__all__) <= set(rows), "names of rldsl.modules.__all__ missing from docs/coverage.md"
    assert SEED_NAMES <= set(rows)
    assert KIND_NAMES <= set(rows), "kinds missing from docs/coverage.md"
    for name in KIND_NAMES:
        assert rows[name][2].startswith(f"kind `{name}`: `"), name


def test_every_name_that_is_no_kind_says_how_it_is_written_or_why_not() -> None:
    rows = doc_rows()
    for name in library_names():
        if name in KIND_NAMES:
            continue
        assert name in RENAMED or name in PYTHON_ONLY, f"{name}: add it to PYTHON_ONLY with the reason"
        form = rows[name][2]
        assert form.startswith("written differently: " if name in RENAMED else "Python only: "), name
    assert set(NOT_KINDS) <= set(PYTHON_ONLY), "torchrl classes that are no kinds by design are Python only"
    assert not set(PYTHON_ONLY) & KIND_NAMES, "a kind is not Python only: drop it from PYTHON_ONLY"
    assert set(PYTHON_ONLY) <= set(library_names()), "PYTHON_ONLY names a name that is gone"


def test_every_example_named_exists_and_uses_the_name() -> None:
    for name, cells in doc_rows().items():
        named = re.findall(r"`(examples/[^`]+)`", cells[3])
        for shown in named:
            path = ROOT / shown
            assert path.is_file(), f"{name}: {shown} does not exist"
            if path.suffix == ".rlm":
                assert name in {kind for kind, _ in kinds_used(path.read_text(), shown)}, f"{shown} uses no {name}"
            else:
                assert name in python_names(path.read_text()), f"{shown} uses no {name}"


def test_every_one_line_example_is_a_use_of_its_kind() -> None:
    rows = doc_rows()
    for name in KIND_NAMES:
        example = rows[name][2].split(": `", 1)[1].removesuffix("`")
        assert name in {kind for kind, _ in kinds_used(f"module m = {example}\n")}, name


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippets_check_in_their_model(name: str) -> None:
    from rldsl import check

    model, example = SNIPPETS[name]
    assert name in KIND_NAMES and "{}" in model
    text = model.replace("{}", example)
    assert name in {kind for kind, _ in kinds_used(text)}
    report = check(text, name=f"<{name}>")
    assert not [d for d in report.diagnostics if d.code != "W0301"], [d.message for d in report.diagnostics]


def test_every_kind_has_a_one_line_example() -> None:
    uses = rlm_uses()
    assert [k.name for k in KINDS if k.name not in uses.calls and k.name not in SNIPPETS] == []


def test_the_seed_names_are_those_of_the_torchrl_reference() -> None:
    if not SEED_REFERENCE.is_file():
        pytest.skip("the seed reference is not on this machine")
    listed = set(re.findall(r"^([A-Za-z_]\w*)\(", SEED_REFERENCE.read_text(), flags=re.MULTILINE))
    assert listed == SEED_NAMES
