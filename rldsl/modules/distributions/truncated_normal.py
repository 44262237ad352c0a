"""The truncated Normal distribution, with numerics that hold far in the tails.

The standardised bounds ``alpha = (low - loc) / scale`` and ``beta = (high - loc) / scale``
are handled in float64 (where the device supports it) and in log space: the mass
``Z = Phi(beta) - Phi(alpha)`` is computed as a difference of log-CDFs, and both the
mass and the inverse-CDF sampling work in whichever tail keeps full relative precision.
So the mean, the samples and the log-density stay right when ``loc`` lies many scales
outside an asymmetric box.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import distributions as D
from torch.distributions import constraints

from rldsl.modules.utils import (
    as_float_tensor,
    as_loc_tensor,
    check_flag,
    check_low_high,
    check_upscale,
    resolve_scale,
)

__all__ = ["TruncatedNormal"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_2PI_E = 0.5 * math.log(2 * math.pi * math.e)
_INV_SQRT_2 = 1 / math.sqrt(2)
_SCALE_MIN = 1e-6
_STD_BOUND = 1e6  # a standardised bound this far out is as good as infinite


def _wide_dtype(t: torch.Tensor) -> torch.dtype:
    """float64 for the internal maths, unless the device has no float64 (MPS)."""
    return t.dtype if t.device.type == "mps" else torch.float64


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate near 0 and for very negative ``x``."""
    near_zero = x > -math.log(2.0)
    safe_near = torch.where(near_zero, x, torch.full_like(x, -1.0))
    safe_far = torch.where(near_zero, torch.full_like(x, -1.0), x)
    return torch.where(near_zero, (-safe_near.expm1()).log(), (-safe_far.exp()).log1p())


def _ndtr(x: torch.Tensor) -> torch.Tensor:
    """Standard Normal CDF via ``erfc``: full relative precision in the left tail.

    (``torch.special.ndtr`` loses it there: it returns 6.1e-16 for ``Phi(-8) = 6.2e-16``.)
    """
    return 0.5 * torch.special.erfc(-x * _INV_SQRT_2)


def _log_phi(x: torch.Tensor) -> torch.Tensor:
    """Log of the standard Normal density."""
    return -0.5 * x * x - _LOG_SQRT_2PI


def _tail_frame(alpha: torch.Tensor, beta: torch.Tensor):
    """Mirror ``[alpha, beta]`` into the left tail when it lies right of 0.

    Returns ``(lo, hi, sign)``: the standardised value ``x`` in ``[alpha, beta]`` is
    ``sign * y`` with ``y`` in ``[lo, hi]``; ``Phi`` is precise there.
    """
    flip = alpha > 0
    lo = torch.where(flip, -beta, alpha)
    hi = torch.where(flip, -alpha, beta)
    sign = torch.where(flip, -1.0, 1.0).to(alpha.dtype)
    return lo, hi, sign


class _TruncatedNormalElementwise(D.Distribution):
    """Elementwise Normal(loc, scale) restricted to ``[low, high]``; TruncatedNormal's base.

    Shapes: ``loc, scale, low, high`` broadcast to ``[*B]`` (no event dims) -> ``sample((*S,))``
    / ``rsample``: ``[*S, *B]``; ``log_prob(value: [*S, *B]) -> [*S, *B]`` (not summed).
    """

    arg_constraints: dict = {}
    has_rsample = True

    def __init__(
        self, loc: torch.Tensor, scale: torch.Tensor, low: torch.Tensor, high: torch.Tensor
    ) -> None:
        loc, scale, low, high = torch.broadcast_tensors(loc, scale, low, high)
        self.loc, self.low, self.high = loc, low, high
        self.scale = scale.clamp_min(_SCALE_MIN)
        super().__init__(loc.shape, validate_args=False)
        wide = _wide_dtype(loc)
        w_loc, w_scale = self.loc.to(wide), self.scale.to(wide)
        self._alpha = ((low.to(wide) - w_loc) / w_scale).clamp(-_STD_BOUND, _STD_BOUND)
        self._beta = ((high.to(wide) - w_loc) / w_scale).clamp(-_STD_BOUND, _STD_BOUND)
        lo, hi, _ = _tail_frame(self._alpha, self._beta)
        log_hi = torch.special.log_ndtr(hi)
        self._log_z = log_hi + _log1mexp(torch.special.log_ndtr(lo) - log_hi)
        self._ratio_a = (_log_phi(self._alpha) - self._log_z).exp()  # phi(alpha) / Z
        self._ratio_b = (_log_phi(self._beta) - self._log_z).exp()  # phi(beta) / Z

    @property
    def support(self) -> constraints.Constraint:
        """The interval ``[low, high]``."""
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> torch.Tensor:
        """``loc + scale * (phi(alpha) - phi(beta)) / Z``, kept inside the box."""
        shift = (self._ratio_a - self._ratio_b).to(self.loc.dtype)
        mean = self.loc + self.scale * shift
        return torch.minimum(torch.maximum(mean, self.low), self.high)

    @property
    def variance(self) -> torch.Tensor:
        """``scale**2 * (1 + (a phi(a) - b phi(b)) / Z - ((phi(a) - phi(b)) / Z)**2)``.

        (``a``, ``b``: the standardised bounds.)
        """
        xphi = self._alpha * self._ratio_a - self._beta * self._ratio_b
        var = 1 + xphi - (self._ratio_a - self._ratio_b).pow(2)
        return self.scale.pow(2) * var.clamp_min(0).to(self.loc.dtype)

    def entropy(self) -> torch.Tensor:
        """``log(sqrt(2 pi e) scale Z) + (alpha phi(alpha) - beta phi(beta)) / (2 Z)``."""
        xphi = self._alpha * self._ratio_a - self._beta * self._ratio_b
        std_entropy = _LOG_SQRT_2PI_E + self._log_z + xphi / 2
        return std_entropy.to(self.loc.dtype) + self.scale.log()

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-density; ``-inf`` outside ``[low, high]``."""
        z = (value - self.loc) / self.scale
        lp = -0.5 * z * z - _LOG_SQRT_2PI - self.scale.log() - self._log_z.to(z.dtype)
        inside = (value >= self.low) & (value <= self.high)
        return torch.where(inside, lp, torch.full_like(lp, -math.inf))

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        """``(Phi(x) - Phi(alpha)) / Z`` with ``x`` the standardised value, clipped to [0, 1]."""
        wide = self._alpha.dtype
        x = (value.to(wide) - self.loc.to(wide)) / self.scale.to(wide)
        x = x.clamp(self._alpha, self._beta)
        lo, _, sign = _tail_frame(self._alpha, self._beta)
        # In the mirrored frame the mass below x is the mass above -x.
        y = sign * x
        mass = (torch.special.log_ndtr(y) - self._log_z).exp() - (
            torch.special.log_ndtr(lo) - self._log_z
        ).exp()
        cdf = torch.where(sign > 0, mass, 1 - mass)
        return cdf.clamp(0, 1).to(value.dtype if value.is_floating_point() else self.loc.dtype)

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """The value whose CDF is ``value`` (differentiable w.r.t. ``loc`` and ``scale``)."""
        wide = self._alpha.dtype
        lo, hi, sign = _tail_frame(self._alpha, self._beta)
        u = torch.where(sign > 0, value.to(wide), 1 - value.to(wide))
        p_lo, p_hi = _ndtr(lo), _ndtr(hi)
        finfo = torch.finfo(wide)
        p = (p_lo + u * (p_hi - p_lo)).clamp(finfo.tiny, 1 - finfo.eps)
        y = torch.minimum(torch.maximum(torch.special.ndtri(p), lo), hi)
        sample = (self.loc.to(wide) + self.scale.to(wide) * (sign * y)).to(self.loc.dtype)
        # Keep the value inside the box (rounding) without cutting the gradient.
        clipped = torch.minimum(torch.maximum(sample, self.low), self.high)
        return sample + (clipped - sample).detach()

    def rsample(self, sample_shape: torch.Size | tuple = torch.Size()) -> torch.Tensor:
        """Inverse-CDF sample, reparameterised."""
        shape = self._extended_shape(torch.Size(sample_shape))
        u = torch.rand(shape, dtype=self._alpha.dtype, device=self.loc.device)
        return self.icdf(u)

    def sample(self, sample_shape: torch.Size | tuple = torch.Size()) -> torch.Tensor:
        """Inverse-CDF sample without gradient."""
        with torch.no_grad():
            return self.rsample(sample_shape)


class TruncatedNormal(D.Independent):
    """A Normal restricted to the box ``[low, high]``; the last dimension is the event.

    With ``tanh_loc=True`` the location is first squashed to ``upscale * tanh(loc / upscale)``.
    The scale is clamped to at least ``1e-6``. ``log_prob`` sums over the last dimension and
    is ``-inf`` for a value with any component outside the box. ``mean`` (also the
    ``deterministic_sample``), ``variance`` and ``entropy()`` are analytic; ``mode`` is
    ``loc`` clamped into the box. Samples are reparameterised (inverse CDF) and always
    inside the box, also for asymmetric bounds and a location far outside them.

    Shapes: ``loc, scale: [*B, d]`` (broadcast with tensor bounds; ``d`` is the event) ->
    ``sample((*S,))`` / ``rsample``: ``[*S, *B, d]``; ``mean``, ``mode``: ``[*B, d]``;
    ``log_prob(value: [*S, *B, d]) -> [*S, *B]`` (summed over ``d``).

    Examples:
        >>> import torch
        >>> from rldsl.modules import TruncatedNormal
        >>> dist = TruncatedNormal(torch.zeros(4, 2), torch.ones(4, 2), low=-1.0, high=2.0)
        >>> sample = dist.rsample()
        >>> sample.shape, dist.log_prob(sample).shape
        (torch.Size([4, 2]), torch.Size([4]))
        >>> bool(((sample >= -1) & (sample <= 2)).all())
        True
    """

    num_params: int = 2

    def __init__(
        self,
        loc: torch.Tensor,
        scale: torch.Tensor | float,
        upscale: torch.Tensor | float = 5.0,
        low: torch.Tensor | float = -1.0,
        high: torch.Tensor | float = 1.0,
        tanh_loc: bool = False,
    ) -> None:
        loc = as_loc_tensor(loc)
        check_low_high(low, high, "TruncatedNormal")
        self.low = as_float_tensor(low, loc, "low")
        self.high = as_float_tensor(high, loc, "high")
        self.upscale = check_upscale(upscale)
        self.tanh_loc = check_flag(tanh_loc, "tanh_loc")
        self.update(loc, scale)

    def update(self, loc: torch.Tensor, scale: Any) -> None:
        """Re-parameterise in place with a new ``loc`` (before ``tanh_loc``) and ``scale``."""
        loc = as_loc_tensor(loc)
        if self.tanh_loc:
            loc = (loc / self.upscale).tanh() * self.upscale
        scale = resolve_scale(scale, loc)
        shape = torch.broadcast_shapes(loc.shape, scale.shape, self.low.shape, self.high.shape)
        if not shape:
            raise ValueError(
                "TruncatedNormal needs at least one dimension (its event); "
                "pass loc of shape [..., d], e.g. loc.unsqueeze(-1)."
            )
        self.loc, self.scale = loc, scale
        base = _TruncatedNormalElementwise(loc, scale, self.low, self.high)
        super().__init__(base, 1, validate_args=False)

    @property
    def device(self) -> torch.device:
        """The device of ``loc`` (torchrl's TruncatedNormal records ``loc.device`` as ``device``;
        code written for it, such as collectors casting actions, reads it)."""
        return self.loc.device

    @property
    def mode(self) -> torch.Tensor:
        """``loc`` clamped into ``[low, high]``."""
        base = self.base_dist
        return torch.minimum(torch.maximum(base.loc, base.low), base.high)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        """The analytic mean."""
        return self.mean
