"""The tanh squashing shared by :class:`TanhNormal` and :class:`TanhDelta`.

A pre-tanh value ``z`` maps to ``mid + half * tanh(z)`` with ``mid = (high + low) / 2`` and
``half = (high - low) / 2``. The safe variant clamps ``tanh`` to ``±(1 - resolution)`` (the
dtype's ``finfo.resolution``) so that the inverse stays finite at the bounds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LOG_2 = math.log(2.0)


def _limit(dtype: torch.dtype) -> float:
    """The largest ``|tanh|`` the safe transform returns for ``dtype``."""
    return 1.0 - torch.finfo(dtype).resolution


def safe_tanh(x: torch.Tensor) -> torch.Tensor:
    """``tanh(x)`` kept strictly inside ``(-1, 1)``, with gradient ``1 - y**2`` of the clamped ``y``.

    The clamped value ``y`` is returned exactly (``y + 0``); the gradient comes from the
    zero-valued ``(x - x.detach()) * (1 - y**2)`` term, so it stays positive at saturation
    where a plain clamp would zero it. Plain tensor ops (no autograd.Function): cheap at
    batch 1, and vmap- and compile-friendly.
    """
    lim = _limit(x.dtype)
    if not x.requires_grad:  # no graph to cut: one op fewer on the inference path
        return x.tanh().clamp_(-lim, lim)
    y = x.detach().tanh().clamp(-lim, lim)
    return y + (x - x.detach()) * (1 - y * y)


def safe_atanh(y: torch.Tensor) -> torch.Tensor:
    """``atanh(y)`` with ``y`` first clamped strictly inside ``(-1, 1)``: finite at ``±1``.

    Outside the clamp the gradient is that of atanh at the clamp limit (not zero).
    """
    lim = _limit(y.dtype)
    if not y.requires_grad:
        return y.clamp(-lim, lim).atanh_()
    clamped = y.detach().clamp(-lim, lim) + (y - y.detach())
    return clamped.atanh()


def tanh_log_abs_det_jacobian(z: torch.Tensor) -> torch.Tensor:
    """``log |d tanh(z) / dz| = log(1 - tanh(z)**2) = 2 (log 2 - z - softplus(-2 z))``.

    Computed without cancellation, as ``u - 2 softplus(u) + 2 log 2`` with ``u = -2 z``.
    """
    u = -2.0 * z
    return torch.add(u, F.softplus(u), alpha=-2.0).add_(2.0 * _LOG_2)


class TanhBox:
    """The map ``z -> mid + half * tanh(z)`` onto ``[low, high]`` and its inverse.

    ``low``/``high`` are numbers or tensors broadcastable to the values; ``safe`` selects the
    clamped tanh. Number bounds stay Python floats (no tensor work per distribution), and
    the default box ``[-1, 1]`` skips the affine map altogether.
    """

    def __init__(self, low: torch.Tensor | float, high: torch.Tensor | float, safe: bool) -> None:
        self.low = low
        self.high = high
        self.safe = safe
        self.mid = (high + low) / 2
        self.half = (high - low) / 2
        numbers = not isinstance(self.half, torch.Tensor)
        self.log_half = math.log(self.half) if numbers else self.half.log()
        self.identity = numbers and self.mid == 0 and self.half == 1

    def squash(self, z: torch.Tensor) -> torch.Tensor:
        """The action for the pre-tanh value ``z``."""
        t = safe_tanh(z) if self.safe else z.tanh()
        return t if self.identity else self.mid + self.half * t

    def unsquash(self, y: torch.Tensor) -> torch.Tensor:
        """The pre-tanh value of the action ``y`` (clamped to the box when safe)."""
        u = y if self.identity else (y - self.mid) / self.half
        return safe_atanh(u) if self.safe else u.atanh()

    def log_abs_det_jacobian(self, z: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log |d squash(z) / dz|`` at the pre-tanh value ``z``."""
        ladj = tanh_log_abs_det_jacobian(z)
        return ladj if self.identity else ladj + self.log_half

    def to(self, device: torch.device) -> "TanhBox":
        """The same box with its bounds on ``device``."""
        move = lambda bound: bound.to(device) if isinstance(bound, torch.Tensor) else bound  # noqa: E731
        return TanhBox(move(self.low), move(self.high), self.safe)
