"""Consistent dropout: :class:`ConsistentDropout` (torchrl 0.14's), dropout whose mask can be reused.

"Consistent Dropout for Policy Gradient Reinforcement Learning" (Hausknecht & Wagener, 2022,
https://arxiv.org/abs/2202.11818): the dropout mask drawn while collecting a rollout is stored
with the data and applied again when the same data is used to update the policy, so that the
update's log-probabilities are those of the network that acted. :class:`ConsistentDropout`
returns its mask with its output and takes a mask back; the tensordict module
:class:`~rldsl.modules.tensordict_module.ConsistentDropoutModule` stores the mask under a key.

Like torch's dropout it follows ``train()``/``eval()`` (exploration contexts have no effect): in
training it returns ``(x * mask, mask)``; in evaluation it returns ``x`` alone. The mask is a
float tensor of ``0`` and ``1 / (1 - p)`` (torch's dropout applied to ones), so ``x * mask`` is
the usual inverted dropout; torchrl's docstrings show a boolean mask, but its masks are float too.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F
from torch.nn.modules.dropout import _DropoutNd

__all__ = ["ConsistentDropout", "ConsistentDropoutLayer", "check_dropout_probability"]


def check_dropout_probability(p: object, owner: str, *, allow_one: bool) -> float:
    """``p`` as a float if it is a probability (``[0, 1]``, or ``[0, 1)`` without ``allow_one``),
    else a ``ValueError`` (``TypeError`` for a non-number) naming ``owner``."""
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"{owner} `p` must be a number, got {p!r}")
    value = float(p)
    inside = 0.0 <= value <= 1.0 if allow_one else 0.0 <= value < 1.0
    if not inside or math.isnan(value):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{owner} `p` must be in {interval}, got p={p}")
    return value


class ConsistentDropout(_DropoutNd):
    """Dropout that returns its mask and reuses a mask it is given.

    It is a ``torch.nn.modules.dropout._DropoutNd`` (as torchrl's), so code that finds dropout
    layers by class finds it. It has no parameters.

    Args:
        p (float): the probability of zeroing an element, in ``[0, 1]``. Defaults to ``0.5``.

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> dropout = ConsistentDropout(p=0.5)
        >>> y, mask = dropout(torch.ones(2, 4))
        >>> bool(((mask == 0) | (mask == 2)).all()), bool((y == mask).all())
        (True, True)
        >>> y_again, same = dropout(torch.ones(2, 4), mask=mask)
        >>> bool((y_again == y).all()) and same is mask
        True
        >>> dropout.eval()(torch.ones(2, 4)).shape  # evaluation: the input alone
        torch.Size([2, 4])
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=check_dropout_probability(p, "ConsistentDropout", allow_one=True))

    def forward(self, x: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x: [*B, *S] -> ([*B, *S], mask: [*B, *S])`` in training (``mask`` is drawn when not given,
        reused when given: it must broadcast with ``x``), ``x: [*B, *S] -> [*B, *S]`` (the input
        itself) in evaluation."""
        if not self.training:
            return x
        if mask is None:
            mask = self.make_mask(input=x)
        return x * mask, mask

    def make_mask(self, *, input: torch.Tensor | None = None, shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """A new mask like ``input`` (its shape, dtype and device) or of ``shape`` (default dtype, on
        the CPU): ``0`` with probability ``p``, else ``1 / (1 - p)``. In evaluation the mask is ones.

        ``input: [*S] -> mask: [*S]``.
        """
        if input is not None:
            ones = torch.ones_like(input)
        elif shape is not None:
            ones = torch.ones(shape)
        else:
            raise RuntimeError("ConsistentDropout.make_mask needs `input` or `shape`.")
        return F.dropout(ones, self.p, self.training, inplace=False)


class ConsistentDropoutLayer(ConsistentDropout):
    """:class:`ConsistentDropout` as a plain layer: it returns the dropped-out tensor alone, in
    training and in evaluation, so that it fits in a ``nn.Sequential`` and under one output key.

    This is what the language's ``ConsistentDropout`` kind compiles to (a shape-preserving
    network): torchrl's class returns ``(x * mask, mask)`` in training and ``x`` in evaluation,
    which no fixed set of output keys fits in both modes. A mask given as the second input is
    reused; otherwise each call draws a new one, as torch's dropout does. To store masks and
    replay them, use :class:`~rldsl.modules.tensordict_module.ConsistentDropoutModule`.

    >>> layer = ConsistentDropoutLayer(0.5)
    >>> layer(torch.ones(2, 4), torch.full((2, 4), 2.0)).tolist()
    [[2.0, 2.0, 2.0, 2.0], [2.0, 2.0, 2.0, 2.0]]
    >>> layer.eval()(torch.ones(2, 4)).shape
    torch.Size([2, 4])
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x: [*B, *S] -> [*B, *S]``: ``x * mask`` in training (``mask`` drawn when not given),
        ``x`` in evaluation."""
        out = super().forward(x, mask)
        return out[0] if isinstance(out, tuple) else out
