"""A compiled program's first call, tried before :func:`rldsl.compile` hands the program over.

The checker proves keys, shapes and specs; a module that still fails when it is first called is a
bug in rldsl, and the user should hear it from ``rldsl.compile`` (as ``rldsl compile`` shows it)
rather than from the first step of a training run. The trial changes nothing the user can see: the
random generators are put back, and so are the buffers a call may update (BatchNorm's running
statistics, noise samples).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from rldsl.compiler.errors import CompileError

__all__ = ["try_first_call"]

#: The batch size of the trial input (as `rldsl compile`'s forward pass).
BATCH = (2,)


def try_first_call(program: Mapping[str, nn.Module], device: torch.device) -> None:
    """Call every module of ``program`` once on spec-random input, without gradients, and raise
    :class:`CompileError` naming the module whose call fails.

    >>> import rldsl
    >>> program = rldsl.compile("key observation : f32[3]\\nactor a = Actor(MLP(out_features=2))\\n")
    >>> try_first_call(program, program.device)  # what rldsl.compile already did
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        for name, module in program.items():
            saved = {key: buffer.clone() for key, buffer in module.named_buffers()}
            try:
                module(program.spec_random_input(name, BATCH))  # type: ignore[attr-defined]
            except Exception as error:
                raise CompileError(f"`{name}` checks clean but fails its first call on spec-random input "
                                   f"({type(error).__name__}: {error}): a registered kind whose class does not do "
                                   f"what its description says, or else a bug in rldsl (please report it with the "
                                   f"model)") from error
            finally:
                for key, value in saved.items():
                    module.get_buffer(key).copy_(value)
