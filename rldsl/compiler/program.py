"""``compile_report``: a checked model to a :class:`Program`, one module per declared name.

>>> import rldsl
>>> program = rldsl.compile("key observation : f32[3]\\nvalue v = ValueOperator(MLP(out_features=1))\\n")
>>> td = program.spec_random_input("v", batch_size=(2,))
>>> program["v"](td)["state_value"].shape
torch.Size([2, 1])
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

import attrs
import torch
from tensordict import TensorDict
from torch import nn

from rldsl.compiler.build import Builder, CheckedTypes, tensordict_key
from rldsl.compiler.errors import CompileError
from rldsl.compiler.guard import InputCheck
from rldsl.compiler.limits import DEFAULT_MAX_PARAMS, check_parameter_limit, check_sample_limit
from rldsl.compiler.specs import to_spec
from rldsl.lang import types as T
from rldsl.lang.ir import DISCARD, Dist, KeyRef, ModuleNode
from rldsl.lang.kinds import Meaning
from rldsl.lang.report import Report
from rldsl.lang.source import SourceFile

__all__ = ["CompileError", "ModelSource", "Program", "compile_report", "resolve_device"]

#: ``--dtype`` names.
DTYPE_NAMES = {"f32": torch.float32, "f64": torch.float64}


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device, with a clear error for CUDA on a machine without it."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise CompileError(f"`{device}` is not a device: use `cpu`, `cuda` or `cuda:N`") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise CompileError(f"device `{device}` asked for, but this machine has no CUDA device: use `--device cpu`")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise CompileError(f"device `{device}` asked for, but this machine has {torch.cuda.device_count()} "
                               "CUDA device(s)")
    return resolved


@attrs.frozen(slots=True)
class ModelSource:
    """The text a program was compiled from: the name of its root file and every `.rlm` file read
    (the root and its includes, by display name). :meth:`Program.save` stores them beside the
    weights, so that an artifact rebuilds the very model the weights belong to."""

    root: str
    files: Mapping[str, SourceFile]

    @classmethod
    def of_report(cls, report: Report, root: str | os.PathLike[str]) -> ModelSource:
        """The root named ``root`` (a path, or a text's name such as ``<input>``) and the model
        files of ``report`` (a Python file a diagnostic pointed into is left out)."""
        root = os.fspath(root)
        return cls(root, {name: source for name, source in report.sources.items()
                          if name == root or name.endswith(".rlm")})

    @classmethod
    def of_text(cls, report: Report, root: str, text: str) -> ModelSource:
        """A root given as text that no file holds (a :class:`rldsl.build.Model`'s canonical text,
        stored as ``root``) and the `.rlm` files ``report`` read (its includes)."""
        files = {name: source for name, source in report.sources.items() if name.endswith(".rlm")}
        files[root] = SourceFile(root, text)
        return cls(root, files)


class Program(Mapping):
    """The compiled modules of a model, by declared name, with the checked spec of every key.

    ``reads(name)`` / ``writes(name)`` are a module's keys (tensordict keys, in order) and
    ``spec(key)`` the checked spec of a key as a :mod:`rldsl.specs` object. ``source`` is the
    text it was compiled from (None when it is not known) and ``seed`` the seed its weights were
    first drawn with; :meth:`save` writes the program, with its current weights, as an artifact.
    """

    def __init__(self, modules: Mapping[str, nn.Module], nodes: Mapping[str, ModuleNode],
                 key_specs: Mapping[tuple[str, ...], T.Spec], device: torch.device, dtype: torch.dtype, *,
                 source: ModelSource | None = None, seed: int = 0) -> None:
        self._modules = dict(modules)
        self._nodes = dict(nodes)
        self._key_specs = dict(key_specs)
        self.device = device
        self.dtype = dtype
        self.source = source
        self.seed = seed
        self._weight_layout = {name: _layout(module) for name, module in self._modules.items()}

    def __getitem__(self, name: str) -> nn.Module:
        return self._modules[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __repr__(self) -> str:
        return f"Program({', '.join(self._modules)}; device={self.device})"

    def save(self, path: str | os.PathLike[str]) -> int:
        """Write the program as a model artifact at ``path`` (replacing a file there only once the
        new one is complete): its source, its compile options and its *current* weights, so that
        :func:`rldsl.load` gives back these modules with exactly these weights (bit for bit, on
        any device). Returns the artifact's size in bytes.

        Raises :class:`~rldsl.compiler.artifact.ArtifactError` (a ``ValueError``) when the program
        does not know its source (it was built from a report alone: compile it with
        :func:`rldsl.compile` or load it with :func:`rldsl.load`), or when a weight no longer
        has the shape or dtype the source gives it (a module cast with ``.double()``, say: the
        artifact would not load), and ``OSError`` when ``path`` cannot be written."""
        from rldsl.compiler.artifact import save_program

        return save_program(self, path)

    def weight_problem(self) -> str:
        """Why the current weights no longer fit the source ('' when they do): a module whose
        state dict gained or lost an entry, or changed an entry's shape or dtype, since it was
        compiled. Saved weights are checked against the source the same way when they are loaded."""
        for name, module in self._modules.items():
            expected, found = self._weight_layout[name], _layout(module)
            for key in expected.keys() - found.keys():
                return f"the weights of module `{name}` lack `{key}`"
            for key in found.keys() - expected.keys():
                return f"the weights of module `{name}` hold `{key}`, which the source does not give it"
            for key, (shape, dtype) in found.items():
                if (shape, dtype) != expected[key]:
                    return (f"weight `{key}` of module `{name}` is a {dtype} tensor of shape {shape}, but the "
                            f"source gives it {expected[key][1]} and shape {expected[key][0]}")
        return ""

    def reads(self, name: str) -> list[object]:
        """The keys module ``name`` reads (optional ones, such as an OU module's ``is_init``, last)."""
        node = self._nodes[name]
        return [tensordict_key(ref) for ref in (*node.reads, *node.optional_reads)]

    def writes(self, name: str) -> list[object]:
        """The keys module ``name`` writes, in order."""
        return [tensordict_key(ref) for ref in self._nodes[name].writes if ref.path != DISCARD]

    def static_spec(self, key: object) -> T.Spec:
        """The checked (static) spec of a key."""
        path = (key,) if isinstance(key, str) else tuple(key)
        return self._key_specs[path]

    def spec(self, key: object) -> object:
        """The checked spec of a key as a runtime spec, on the program's device."""
        spec = to_spec(self.static_spec(key), self.device)
        if self.dtype != torch.float32 and spec.dtype == torch.float32:
            spec = spec.to(self.dtype)
        return spec

    def spec_random_input(self, name: str, batch_size: tuple[int, ...] = ()) -> TensorDict:
        """A tensordict holding a random value of every key module ``name`` reads, drawn from
        the key's checked spec (so it is a valid input).

        >>> import rldsl
        >>> program = rldsl.compile("key observation : f32[3]\\nactor a = Actor(MLP(out_features=2))\\n")
        >>> program.spec_random_input("a", (4,))["observation"].shape
        torch.Size([4, 3])
        """
        td = TensorDict({}, batch_size=batch_size, device=self.device)
        masks = _mask_keys(self._nodes[name])
        log_probabilities = _log_probability_keys(self._nodes[name])
        for key in self.reads(name):
            value = self.spec(key).rand(torch.Size(batch_size))
            if key in masks:
                value = _allow_one(value)
            elif key in log_probabilities and value.is_floating_point() and value.ndim >= 2:
                value = value.log_softmax(-2)  # a distributional head reads log-probabilities over atoms
            td.set(key, value)
        return td


def _layout(module: nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The shape and dtype of every entry of a module's state dict (what an artifact's weights must match)."""
    return {key: (tuple(value.shape), value.dtype) for key, value in module.state_dict().items()}


def _mask_keys(node: ModuleNode) -> list[object]:
    """The keys that ``node`` (or a module or distribution inside it) reads as a mask of allowed
    actions (:attr:`Meaning.MASK`)."""
    return _keys_meaning(node, Meaning.MASK)


def _log_probability_keys(node: ModuleNode) -> list[object]:
    """The keys that ``node`` (or a module inside it) reads as log-probabilities over value atoms
    (``[..., atoms, actions]``, :attr:`Meaning.LOG_PROBABILITIES`): a distributional Q-value head's."""
    return _keys_meaning(node, Meaning.LOG_PROBABILITIES)


def _keys_meaning(node: ModuleNode, meaning: Meaning) -> list[object]:
    """The keys named by arguments that mean ``meaning``, in ``node``, the modules inside it and
    their distributions."""
    found: list[object] = []
    for inner in node.walk():
        for kind, args in ((inner.kind, inner.args), *((v.kind, v.args) for v in _dists(inner))):
            if kind is None or args is None:
                continue
            for param in kind.params_meaning(meaning):
                if isinstance(args[param.name], KeyRef):
                    found.append(tensordict_key(args[param.name]))
    return found


def _dists(node: ModuleNode) -> list[Dist]:
    if node.kind is None or node.args is None:
        return []
    return [node.args[p.name] for p in node.kind.params if isinstance(node.args[p.name], Dist)]


def _allow_one(mask: torch.Tensor) -> torch.Tensor:
    """A random mask with at least one allowed action in each row (a row of False is no valid input)."""
    if mask.dtype != torch.bool or mask.ndim == 0 or mask.shape[-1] == 0:
        return mask
    empty = ~mask.any(-1, keepdim=True)
    pick = torch.randint(mask.shape[-1], (*mask.shape[:-1], 1), device=mask.device)
    chosen = torch.zeros_like(mask).scatter_(-1, pick, True)
    return mask | (empty & chosen)


def _key_specs(report: Report, nodes: Mapping[str, ModuleNode]) -> dict[tuple[str, ...], T.Spec]:
    """The checked spec of every key, and for a key read only when present that the model neither
    declares nor writes (an OU module's ``is_init``) the spec its kind gives it (``fallback_spec``):
    random inputs and input checks cover every key a module reads."""
    specs: dict[tuple[str, ...], T.Spec] = {}
    for info in report.keys:
        specs.setdefault(info.path, info.spec)
    for node in nodes.values():
        for inner in node.walk():
            for ref, spec in _fallback_specs(inner):
                specs.setdefault(ref.path, spec)
    return specs


def _fallback_specs(node: ModuleNode) -> list[tuple[KeyRef, T.Spec]]:
    """The keys a node's arguments name whose parameter has a ``fallback_spec``, with that spec."""
    if node.kind is None or node.args is None:
        return []
    return [(node.args[p.name], p.fallback_spec) for p in node.kind.params
            if p.fallback_spec is not None and isinstance(node.args[p.name], KeyRef)]


def _float_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """The compile dtype as a torch dtype; anything but f32 and f64 is a :class:`CompileError`."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPE_NAMES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPE_NAMES:
        return DTYPE_NAMES[dtype]
    raise CompileError(f"`{dtype}` is not a compile dtype: use `f32` or `f64`")


def _unsized_dims(nodes: Mapping[str, ModuleNode],
                  key_specs: Mapping[tuple[str, ...], T.Spec]) -> dict[str, tuple[ModuleNode, KeyRef]]:
    """The dims without a size in the keys the modules read or write (in order), each with the
    first module and key that need it."""
    found: dict[str, tuple[ModuleNode, KeyRef]] = {}
    for node in nodes.values():
        for inner in node.walk():
            for ref in (*inner.reads, *inner.optional_reads, *inner.writes):
                spec = key_specs.get(ref.path)
                for dim in _spec_dims(spec) if spec is not None else ():
                    if T.dim_value(dim) is None:
                        for name in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", str(dim)) or [str(dim)]:
                            found.setdefault(name, (node, ref))
    return found


def _spec_dims(spec: T.Spec) -> list[object]:
    """Every dim of a spec: its shape, its number of values (``n``, ``nvec``), its entries' dims."""
    dims = list(getattr(spec, "shape", ()))
    dims += [spec.n] if getattr(spec, "n", None) is not None else []
    dims += list(getattr(spec, "nvec", ()) or ())
    for _, entry in getattr(spec, "entries", ()):
        dims += _spec_dims(entry)
    return dims


def _refuse_unsized(nodes: Mapping[str, ModuleNode], key_specs: Mapping[tuple[str, ...], T.Spec],
                    report: Report) -> None:
    """A :class:`CompileError` naming every dim that has no size but sizes a key a module uses:
    checking works with symbolic sizes, building a tensor needs numbers."""
    unsized = _unsized_dims(nodes, key_specs)
    if not unsized:
        return
    names = list(unsized)
    node, ref = unsized[names[0]]
    where = f"{ref.span}: " if getattr(ref, "span", None) is not None else ""
    listed = ", ".join(f"`{name}`" for name in names)
    subject = f"the dims {listed} have" if len(names) > 1 else f"the dim {listed} has"
    raise CompileError(f"{where}{subject} no size (`{ref.dotted}` is {T.spec_text(key_specs[ref.path])}), and "
                       f"compiling needs every size: give {'each' if len(names) > 1 else 'it'} a value in the model, "
                       f"as in `dim {names[0]} = 4`", report)


def compile_report(report: Report, *, device: str | torch.device = "cpu", seed: int = 0,
                   dtype: str | torch.dtype = "f32", check_inputs: bool = True,
                   max_params: int | None = DEFAULT_MAX_PARAMS, source: ModelSource | None = None) -> Program:
    """Build every module declaration of a checked :class:`~rldsl.lang.report.Report`.

    A model with more than ``max_params`` parameters (None: no limit) is refused with
    :class:`~rldsl.compiler.limits.ModelTooLarge` before anything is allocated (they are counted
    on the ``meta`` device first, :mod:`rldsl.compiler.limits`).

    The weights are drawn under ``torch.manual_seed(seed)`` (the global generator's state is put
    back afterwards), so two compilations give the same weights. With ``check_inputs`` each
    declared module checks the keys it is called with (:mod:`rldsl.compiler.guard`).
    ``source`` is the text the report was checked from (:meth:`ModelSource.of_report`): with it,
    :meth:`Program.save` can write the program as an artifact.
    """
    if not report.ok:
        count = len(report.errors)
        raise CompileError(f"the model has {count} error{'s' if count != 1 else ''}; `rldsl check` shows them",
                           report)
    resolved = resolve_device(device)
    torch_type = _float_dtype(dtype)
    nodes = {name: node for name, node in report.modules.items() if isinstance(node, ModuleNode)}
    key_specs = _key_specs(report, nodes)
    _refuse_unsized(nodes, key_specs, report)
    check_parameter_limit(nodes, key_specs, report.network_inputs, max_params=max_params, dtype=torch_type)
    check_sample_limit(key_specs, max_params=max_params, dtype=torch_type)
    builder = Builder(CheckedTypes(key_specs, report.network_inputs), resolved, torch_type)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        modules = {name: builder.module(node) for name, node in nodes.items()}
    for module in dict.fromkeys(modules.values()):
        module.to(resolved)
        if torch_type != torch.float32:
            module.to(torch_type)
    if check_inputs:
        for name, module in modules.items():
            _guard(name, nodes[name], module, key_specs, torch_type)
    return Program(modules, nodes, key_specs, resolved, torch_type, source=source, seed=seed)


def _guard(name: str, node: ModuleNode, module: nn.Module, key_specs: Mapping[tuple[str, ...], T.Spec],
           dtype: torch.dtype) -> None:
    """Give a declared module its input check (it runs only when a call fails)."""
    keys = [(tensordict_key(ref), key_specs[ref.path], optional)
            for refs, optional in ((node.reads, False), (node.optional_reads, True)) for ref in refs]
    InputCheck.of(name, keys, dtype).install(module)

