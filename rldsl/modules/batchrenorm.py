"""Batch renormalisation: :class:`BatchRenorm1d` (torchrl 0.14's, https://arxiv.org/abs/1702.03275).

Batch renormalisation is batch normalisation that, after a warm-up, corrects each batch's
statistics towards the running ones: in training a batch is normalised with its own mean and
standard deviation, then rescaled by ``r = clamp(batch_std / running_std, 1/max_r, max_r)`` and
shifted by ``d = clamp((batch_mean - running_mean) / running_std, -max_d, max_d)`` (both held
constant for the gradient). The warm-up factor ``f`` blends them in: ``r = 1 + (r - 1) * f``,
``d = d * f``, with ``f = 0`` until ``warmup_steps`` batches have been seen and ``1`` afterwards
(``smooth=True``: ``f`` grows linearly from 0 to 1). So during the warm-up the layer is batch norm,
and after it a training output equals what the running statistics give. In evaluation the
running statistics normalise.

Parameters and buffers are named as torchrl's (``weight``, ``bias``, ``running_mean``,
``running_var``, ``num_batches_tracked``), so its checkpoints load. Two of torchrl's quirks are
not copied (both listed in ``docs/differences_from_torchrl.md``): torchrl's step counter is
clamped out of place, so it keeps counting and the warm-up factor passes 1 (2, 3, ...) after
twice ``warmup_steps`` batches; here the factor stays at most 1 (the counter is capped in place,
and a larger counter loaded from a torchrl checkpoint counts as ``warmup_steps``). And the
unbiased variance uses the number of values averaged per feature, not the batch size alone, which
differs for ``[N, C, L]`` inputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rldsl._checks import require_bool, require_int
from rldsl.modules.utils import ArgumentError

__all__ = ["BatchRenorm1d"]


def _require_number(value: object, what: str, low: float, *, open_low: bool = False,
                    high: float | None = None) -> float:
    """``value`` as a float if it is a finite number at least ``low`` (above it with ``open_low``)
    and at most ``high``, else a ``ValueError`` (a ``TypeError`` for a non-number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"BatchRenorm1d `{what}` must be a number, got {value!r}")
    number = float(value)
    too_low = number <= low if open_low else number < low
    if not math.isfinite(number) or too_low or (high is not None and number > high):
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        where = f"in [{low:g}, {high:g}]" if high is not None else bound
        raise ValueError(f"BatchRenorm1d `{what}` must be a finite number {where}, got {value!r}")
    return number


class BatchRenorm1d(nn.Module):
    """Batch renormalisation over dim 1 of ``[N, num_features]`` (or ``[N, num_features, L]``) inputs.

    Args:
        num_features (int): the size of dim 1 of the input (the features).

    Keyword Args:
        momentum (float): the step of the running mean and variance towards each batch's,
            in ``[0, 1]``. Defaults to ``0.01``.
        eps (float): added to the variances before their square roots, ``>= 0``. Defaults to ``1e-5``.
        max_r (float): ``r`` is clamped into ``[1 / max_r, max_r]``; at least 1. Defaults to ``3.0``.
        max_d (float): ``d`` is clamped into ``[-max_d, max_d]``; at least 0. Defaults to ``5.0``.
        warmup_steps (int): training batches before the correction is fully on; 0 turns it on
            from the first batch. Defaults to ``10000``.
        smooth (bool): blend the correction in linearly over the warm-up instead of switching it
            on at its end. Defaults to ``False``.

    Example:
        >>> layer = BatchRenorm1d(3, warmup_steps=2)
        >>> out = layer(torch.randn(8, 3))
        >>> out.shape, int(layer.num_batches_tracked)
        (torch.Size([8, 3]), 1)
        >>> sorted(layer.state_dict())
        ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    def __init__(self, num_features: int, *, momentum: float = 0.01, eps: float = 1e-5, max_r: float = 3.0,
                 max_d: float = 5.0, warmup_steps: int = 10000, smooth: bool = False) -> None:
        super().__init__()
        self.num_features = require_int(num_features, "BatchRenorm1d `num_features`", expected="an int >= 1",
                                        minimum=1, error=ArgumentError)
        self.momentum = _require_number(momentum, "momentum", 0.0, high=1.0)
        self.eps = _require_number(eps, "eps", 0.0)
        self.max_r = _require_number(max_r, "max_r", 1.0)
        self.max_d = _require_number(max_d, "max_d", 0.0)
        self.warmup_steps = require_int(warmup_steps, "BatchRenorm1d `warmup_steps`", expected="an int >= 0",
                                        minimum=0, error=ArgumentError)
        self.smooth = require_bool(smooth, "BatchRenorm1d `smooth`")
        self.register_buffer("running_mean", torch.zeros(num_features, dtype=torch.float32))
        self.register_buffer("running_var", torch.ones(num_features, dtype=torch.float32))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.int64))
        self.weight = nn.Parameter(torch.ones(num_features, dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=torch.float32))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, momentum={self.momentum}, eps={self.eps}, max_r={self.max_r}, "
                f"max_d={self.max_d}, warmup_steps={self.warmup_steps}, smooth={self.smooth}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Renormalise ``x``: ``x: [N, num_features, *L] -> [N, num_features, *L]`` (features on dim 1,
        statistics over every other dim, as torch's ``BatchNorm1d``).

        In training the batch's statistics normalise (corrected by ``r`` and ``d`` after the
        warm-up) and the running statistics take a step towards them; in evaluation the running
        statistics normalise. Then ``weight * x + bias``, per feature.
        """
        self._check_input(x)
        running_std = (self.running_var + self.eps).sqrt()
        if self.training:
            normalised = self._renormalise(x, running_std)
        else:
            normalised = (x - self._per_feature(self.running_mean, x)) / self._per_feature(running_std, x)
        return self._per_feature(self.weight, x) * normalised + self._per_feature(self.bias, x)

    def _check_input(self, x: torch.Tensor) -> None:
        """A clear error for an input without a batch dim or with another number of features."""
        if x.dim() < 2:
            raise ValueError(f"BatchRenorm1d expects a 2D (or more) tensor [N, num_features, ...], got {x.dim()}D "
                             f"of shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchRenorm1d({self.num_features}) normalises dim 1 of its input, but the input has "
                             f"shape {tuple(x.shape)}")
        if self.training and x.numel() // x.shape[1] < 2:
            raise ValueError(f"BatchRenorm1d needs more than one value per feature in training, got input shape "
                             f"{tuple(x.shape)}")

    @staticmethod
    def _per_feature(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A ``[num_features]`` vector shaped to broadcast along dim 1 of ``x``."""
        return values.view(1, -1, *([1] * (x.dim() - 2)))

    def _warmup_factor(self) -> torch.Tensor:
        """How much of the correction applies: 0 during the warm-up, then 1 (linear with ``smooth``)."""
        seen = self.num_batches_tracked.clamp_max(self.warmup_steps)
        if self.smooth:
            return seen / self.warmup_steps
        return torch.div(seen, self.warmup_steps, rounding_mode="floor")

    def _renormalise(self, x: torch.Tensor, running_std: torch.Tensor) -> torch.Tensor:
        """Training: the batch normalised by its own statistics, corrected by ``r`` and ``d``; the
        running statistics and the counter updated."""
        dims = [dim for dim in range(x.dim()) if dim != 1]
        batch_mean = x.mean(dims)
        batch_var = x.var(dims, unbiased=False)
        batch_std = (batch_var + self.eps).sqrt()
        r = (batch_std.detach() / running_std).clamp(1 / self.max_r, self.max_r)
        d = ((batch_mean.detach() - self.running_mean) / running_std).clamp(-self.max_d, self.max_d)
        if self.warmup_steps > 0:
            factor = self._warmup_factor()
            r = 1.0 + (r - 1.0) * factor
            d = d * factor
        out = (x - self._per_feature(batch_mean, x)) / self._per_feature(batch_std, x)
        out = out * self._per_feature(r, x) + self._per_feature(d, x)
        self._update_statistics(batch_mean.detach(), batch_var.detach(), x.numel() // x.shape[1])
        return out

    @torch.no_grad()
    def _update_statistics(self, batch_mean: torch.Tensor, batch_var: torch.Tensor, count: int) -> None:
        """One momentum step of the running mean and (unbiased) variance; the counter grows up to
        ``warmup_steps``."""
        unbiased = batch_var * (count / (count - 1))
        self.running_var += self.momentum * (unbiased - self.running_var)
        self.running_mean += self.momentum * (batch_mean - self.running_mean)
        self.num_batches_tracked += 1
        self.num_batches_tracked.clamp_max_(max(self.warmup_steps, 0))
