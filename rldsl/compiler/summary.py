"""What ``rldsl compile`` prints: one block per declared module, and one forward pass each.

Each block names the module's class, device and parameter count (parameters shared with another
declaration are counted in each), the keys it reads and writes with their checked specs, the
shape each output had in the forward pass, and its direct submodules.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from tensordict import TensorDictBase
from torch import nn

from rldsl.lang.types import spec_text

__all__ = ["parameter_count", "run_once", "summary"]

#: The batch size of the spec-random input of ``rldsl compile``'s forward pass.
BATCH = (2,)


def parameter_count(module: nn.Module) -> int:
    """The number of parameter entries of ``module`` (a tensor used twice inside it is counted once)."""
    return sum(p.numel() for p in module.parameters())


def run_once(program: Mapping[str, nn.Module]) -> dict[str, TensorDictBase]:
    """One forward pass of every module on spec-random input (batch size 2), without gradients."""
    outputs = {}
    with torch.no_grad():
        for name, module in program.items():
            outputs[name] = module(program.spec_random_input(name, BATCH))
    return outputs


def _key_text(key: object) -> str:
    return key if isinstance(key, str) else ".".join(key)


def _submodules(module: nn.Module) -> str:
    names = []
    for child in module.modules():
        if child is not module and type(child).__name__ not in ("ModuleList", "Sequential"):
            names.append(type(child).__name__)
        if len(names) >= 8:
            names.append("...")
            break
    return ", ".join(dict.fromkeys(names)) or "-"


def summary(program: object, outputs: Mapping[str, TensorDictBase]) -> str:
    """The summary table of a compiled program (after :func:`run_once`)."""
    lines = [f"compiled {len(program)} module{'s' if len(program) != 1 else ''} on {program.device}"]
    for name, module in program.items():
        lines += ["", f"{name}: {type(module).__name__}  ({parameter_count(module):,} parameters, "
                      f"device {program.device})"]
        reads = program.reads(name)
        width = max([len(_key_text(k)) for k in (*reads, *program.writes(name))] or [1])
        for key in reads:
            lines.append(f"  reads   {_key_text(key):<{width}}  {spec_text(program.static_spec(key))}")
        out = outputs.get(name)
        for key in program.writes(name):
            shape = ""
            if out is not None and key in out.keys(include_nested=True):
                shape = f"  -> {tuple(out.get(key).shape)} {str(out.get(key).dtype).replace('torch.', '')}"
            lines.append(f"  writes  {_key_text(key):<{width}}  {spec_text(program.static_spec(key))}{shape}")
        lines.append(f"  submodules: {_submodules(module)}")
    lines.append("")
    lines.append(f"forward pass: ok ({len(outputs)} module{'s' if len(outputs) != 1 else ''}, batch {list(BATCH)})")
    return "\n".join(lines)
