"""Discrete distributions: one-hot and masked categoricals.

``OneHotCategorical`` reads and writes one-hot vectors; ``MaskedCategorical`` and
``MaskedOneHotCategorical`` restrict a categorical to valid actions given either as a dense
boolean ``mask`` or as sparse ``indices`` (a list of valid action ids per row, possibly
padded with ``padding_value``).
"""

from __future__ import annotations

import math
from enum import Enum
from numbers import Number
from typing import Any

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch.distributions import constraints

from rldsl._checks import require_int
from rldsl.modules.utils import check_flag

__all__ = [
    "MaskedCategorical",
    "MaskedOneHotCategorical",
    "OneHotCategorical",
    "ReparamGradientStrategy",
]


class ReparamGradientStrategy(Enum):
    """How ``rsample`` of a one-hot distribution gets gradients.

    ``PassThrough``: the hard sample plus ``probs - probs.detach()`` (gradient of the
    probabilities). ``RelaxedOneHot``: a Gumbel-softmax (temperature 1) sample, hard in
    the forward pass, with the relaxed sample's gradient.
    """

    PassThrough = 1
    RelaxedOneHot = 2


def _grad_method(value: Any) -> ReparamGradientStrategy:
    """``value`` as a :class:`ReparamGradientStrategy` (member or member name)."""
    if isinstance(value, ReparamGradientStrategy):
        return value
    if isinstance(value, str) and value in ReparamGradientStrategy.__members__:
        return ReparamGradientStrategy[value]
    names = ", ".join(f"ReparamGradientStrategy.{n}" for n in ReparamGradientStrategy.__members__)
    if isinstance(value, str):
        raise ValueError(f"grad_method={value!r} is unknown; use one of {names}.")
    raise TypeError(f"grad_method must be one of {names}, got {value!r}.")


def _check_params(logits: Any, probs: Any, owner: str) -> None:
    """Exactly one of ``logits`` / ``probs``, and a tensor."""
    if (logits is None) == (probs is None):
        raise ValueError(f"{owner}: pass either `probs` or `logits`, not both and not neither.")
    given, name = (logits, "logits") if logits is not None else (probs, "probs")
    if not isinstance(given, torch.Tensor):
        raise TypeError(f"{owner}: {name} must be a tensor, got {type(given).__name__}.")
    if given.ndim == 0:
        raise ValueError(f"{owner}: {name} needs a last dimension of categories, got a scalar.")


def _squeeze_singleton(params: torch.Tensor | None) -> torch.Tensor | None:
    """Drop a trailing singleton dimension (torchrl reads ``[..., n, 1]`` as ``[..., n]``)."""
    if params is not None and params.shape[-1] == 1:
        return params[..., 0]
    return params


class _StraightThrough(torch.autograd.Function):
    """Returns ``hard`` exactly; the gradient goes to ``soft`` as if it had been returned."""

    generate_vmap_rule = True

    @staticmethod
    def forward(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        """``hard: [*S, *B, n]`` (0/1), ``soft: [*B, n]`` -> ``[*S, *B, n]``, ``hard`` in ``soft``'s dtype.

        The result has the broadcast shape of the two; the backward pass sums the gradient
        back to ``soft``'s shape.
        """
        return hard.to(soft.dtype).expand(torch.broadcast_shapes(hard.shape, soft.shape)).clone()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.soft_shape = inputs[1].shape

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:
        return None, grad.sum_to_size(ctx.soft_shape)


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """``hard`` (as a float tensor, exactly 0/1) with the gradient of ``soft``."""
    return _StraightThrough.apply(hard, soft)


def _relaxed_straight_through(
    logits: torch.Tensor, sample_shape: torch.Size
) -> tuple[torch.Tensor, torch.Tensor]:
    """A Gumbel-softmax sample over the last dim: ``(argmax index, relaxed sample)``."""
    relaxed = D.RelaxedOneHotCategorical(
        torch.ones((), dtype=logits.dtype, device=logits.device), logits=logits, validate_args=False
    )
    soft = relaxed.rsample(sample_shape)
    return soft.argmax(-1), soft


class OneHotCategorical(D.Categorical):
    """A categorical distribution over one-hot vectors.

    Behaves as :class:`torch.distributions.Categorical` except that samples, modes and the
    values given to ``log_prob`` are one-hot (``log_prob`` reads ``value.argmax(-1)``).
    A trailing singleton dimension of ``logits``/``probs`` is dropped. ``rsample`` gives
    gradients with ``grad_method`` (see :class:`ReparamGradientStrategy`);
    ``has_rsample`` stays ``False`` as in torchrl, so probabilistic modules draw with
    ``sample()`` (an integer one-hot without gradient) and ``rsample`` is opt-in.

    Shapes: ``logits`` / ``probs``: ``[*B, n]`` -> ``sample((*S,))``: ``[*S, *B, n]`` one-hot
    int64 (``rsample``: float), ``mode`` ``[*B, n]``; ``log_prob(value: [*S, *B, n]) -> [*S, *B]``.

    Examples:
        >>> import torch
        >>> from rldsl.modules import OneHotCategorical
        >>> dist = OneHotCategorical(logits=torch.tensor([0.0, 2.0, 2.0]))
        >>> dist.mode
        tensor([0, 1, 0])
        >>> dist.sample((2,)).shape
        torch.Size([2, 3])
    """

    num_params: int = 1
    support = constraints.one_hot

    def __init__(
        self,
        logits: torch.Tensor | None = None,
        probs: torch.Tensor | None = None,
        grad_method: ReparamGradientStrategy = ReparamGradientStrategy.PassThrough,
        **kwargs: Any,
    ) -> None:
        _check_params(logits, probs, type(self).__name__)
        self.grad_method = _grad_method(grad_method)
        kwargs.setdefault("validate_args", False)
        super().__init__(
            probs=_squeeze_singleton(probs), logits=_squeeze_singleton(logits), **kwargs
        )
        self.num_samples = self._num_events

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-probability of the one-hot ``value`` (read as ``value.argmax(-1)``)."""
        return super().log_prob(value.argmax(dim=-1))

    def sample(self, sample_shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """A one-hot (``long``) sample."""
        sample_shape = torch.Size(() if sample_shape is None else sample_shape)
        return F.one_hot(super().sample(sample_shape), self.num_samples)

    def rsample(self, sample_shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """A one-hot (float) sample that carries gradients, per ``grad_method``."""
        sample_shape = torch.Size(() if sample_shape is None else sample_shape)
        if self.grad_method is ReparamGradientStrategy.RelaxedOneHot:
            index, soft = _relaxed_straight_through(self.logits, sample_shape)
            return _straight_through(F.one_hot(index, self.num_samples), soft)
        return _straight_through(self.sample(sample_shape), self.probs)

    @property
    def mode(self) -> torch.Tensor:
        """One-hot of the most likely category (the first one on ties)."""
        return F.one_hot(self.probs.argmax(-1), self.num_samples)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        """The mode."""
        return self.mode

    def enumerate_support(self, expand: bool = True) -> torch.Tensor:
        """All one-hot values, as ``[n, *batch, n]`` (or ``[n, 1.., n]`` unexpanded)."""
        return F.one_hot(super().enumerate_support(expand), self.num_samples)


class MaskedCategorical(D.Categorical):
    """A categorical distribution restricted to valid actions.

    Give exactly one of ``mask`` (dense, boolean, ``False`` = invalid) or ``indices``
    (sparse: the valid action ids of each row, possibly padded with ``padding_value``).
    Invalid logits are set to ``neg_inf``; given ``probs``, invalid entries are zeroed and
    the rest renormalised. With ``indices`` the distribution is over the listed slots
    (``logits`` has the slots' width) and ``sample``/``mode`` return original action ids;
    a repeated id gets the mass of all its slots. ``log_prob`` is ``neg_inf`` for invalid
    actions and ``entropy()`` counts valid actions only.

    Shapes: ``logits`` / ``probs``: ``[*B, n]`` with ``mask: [*B, n]`` (bool) or
    ``indices: [*B, k]`` (both broadcast) -> ``sample((*S,))``: ``[*S, *B]`` int64 action
    ids in ``[0, n)``, ``mode`` ``[*B]``; ``log_prob(value: [*S, *B]) -> [*S, *B]``.

    Args:
        logits (torch.Tensor, optional): unnormalised log-probabilities ``[..., n]``.
        probs (torch.Tensor, optional): probabilities ``[..., n]`` (exclusive with ``logits``).

    Keyword Args:
        mask (torch.Tensor, optional): boolean ``[..., n]``, ``True`` for valid actions.
        indices (torch.Tensor, optional): integer ``[..., k]`` valid action ids.
        neg_inf (float, optional): log-probability of invalid actions. Defaults to ``-inf``.
        padding_value (int, optional): the filler value in ``indices``.
        use_cross_entropy (bool, optional): compute the dense ``log_prob`` with
            ``F.cross_entropy`` (else by gathering the normalised logits). Defaults to ``True``.
        padding_side (str, optional): ``"left"`` or ``"right"``, where ``indices`` are padded
            (kept for API parity; the result does not depend on it). Defaults to ``"left"``.

    Examples:
        >>> import torch
        >>> from rldsl.modules import MaskedCategorical
        >>> mask = torch.tensor([True, False, True, True])
        >>> dist = MaskedCategorical(logits=torch.zeros(4), mask=mask)
        >>> dist.log_prob(torch.tensor([0, 1]))
        tensor([-1.0986,    -inf])
        >>> sparse = MaskedCategorical(logits=torch.zeros(4), indices=torch.tensor([0, 2, 3]))
        >>> sparse.log_prob(torch.tensor([2, 1]))
        tensor([-1.0986,    -inf])
    """

    def __init__(
        self,
        logits: torch.Tensor | None = None,
        probs: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
        neg_inf: float = float("-inf"),
        padding_value: int | None = None,
        use_cross_entropy: bool = True,
        padding_side: str = "left",
    ) -> None:
        owner = type(self).__name__
        if (mask is None) == (indices is None):
            raise ValueError(
                f"A ``mask`` or some ``indices`` must be provided for {owner}, but not both: "
                "pass mask=<bool tensor> (dense) or indices=<int tensor> (sparse)."
            )
        _check_params(logits, probs, owner)
        _check_neg_inf(neg_inf)
        _check_padding(padding_value, padding_side)
        self.use_cross_entropy = check_flag(use_cross_entropy, "use_cross_entropy")
        self.neg_inf = float(neg_inf)
        self._padding_value = padding_value
        self._padding_side = padding_side
        self._sparse_mask = indices is not None
        params = logits if logits is not None else probs
        self.num_samples = params.shape[-1]
        if self._sparse_mask:
            logits = self._setup_sparse(logits, probs, indices)
        else:
            logits = self._setup_dense(logits, probs, mask)
        super().__init__(logits=logits, validate_args=False)

    def _setup_dense(self, logits, probs, mask: torch.Tensor) -> torch.Tensor:
        """Masked full-width logits; stores the (broadcast) mask."""
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(
                "mask must be a boolean tensor (True = valid action); for a list of valid "
                "action ids pass indices= instead."
            )
        params = logits if logits is not None else probs
        shape = _broadcast_or_raise(params.shape, mask.shape, "mask")
        mask = mask.expand(shape)
        self.num_samples = shape[-1]
        if probs is not None:
            probs = probs.expand(shape).masked_fill(~mask, 0)
            logits = (probs / probs.sum(-1, keepdim=True)).log()
        self._mask, self._indices, self._padding_mask = mask, None, None
        return logits.expand(shape).masked_fill(~mask, self.neg_inf)

    def _setup_sparse(self, logits, probs, indices: torch.Tensor) -> torch.Tensor:
        """Slot logits gathered at ``indices``; stores indices, safe indices and padding."""
        if (
            not isinstance(indices, torch.Tensor)
            or indices.dtype == torch.bool
            or indices.is_floating_point()
            or indices.is_complex()
        ):
            raise TypeError(
                "indices must be an integer tensor of valid action ids; for a boolean "
                "mask pass mask= instead."
            )
        params = logits if logits is not None else probs
        batch = _broadcast_or_raise(params.shape[:-1], indices.shape[:-1], "indices")
        indices = indices.long().expand(*batch, indices.shape[-1])
        params = params.expand(*batch, params.shape[-1])
        padding = None if self._padding_value is None else indices == self._padding_value
        safe = indices if padding is None else indices.masked_fill(padding, 0)
        slots = params.gather(-1, safe)
        if probs is not None:
            slots = slots if padding is None else slots.masked_fill(padding, 0)
            slots = (slots / slots.sum(-1, keepdim=True)).log()
        if padding is not None:
            slots = slots.masked_fill(padding, self.neg_inf)
        self._mask, self._indices = None, indices
        self._padding_mask, self._safe_indices = padding, safe
        return slots

    @property
    def padding_value(self) -> int:
        """The padding value of ``indices`` (``0`` when none was given)."""
        return self._padding_value if self._padding_value is not None else 0

    @property
    def padding_side(self) -> str:
        """Where ``indices`` are padded: ``"left"`` or ``"right"``."""
        return self._padding_side

    @property
    def mask(self) -> torch.Tensor:
        """The dense boolean mask (raises ``ValueError`` for a sparse ``indices`` mask)."""
        if self._sparse_mask:
            raise ValueError(
                f"{type(self).__name__}.mask does not support sparse masks; read .indices."
            )
        return self._mask

    @property
    def indices(self) -> torch.Tensor:
        """The sparse valid ids (raises ``ValueError`` for a dense ``mask``)."""
        if not self._sparse_mask:
            raise ValueError(f"{type(self).__name__} was built with a dense mask; read .mask.")
        return self._indices

    def _full_probs(self) -> torch.Tensor:
        """Probabilities over all ``num_samples`` actions (slot masses summed per id)."""
        probs = self.probs
        if not self._sparse_mask:
            return probs
        if self._padding_mask is not None:
            probs = probs.masked_fill(self._padding_mask, 0)
        full = probs.new_zeros((*probs.shape[:-1], self.num_samples))
        return full.scatter_add(-1, self._safe_indices, probs)

    def _slots_to_ids(self, slots: torch.Tensor) -> torch.Tensor:
        """Map slot numbers ``[*sample, *batch]`` to action ids (sparse only)."""
        indices = self._indices.expand(*slots.shape, self._indices.shape[-1])
        return indices.gather(-1, slots.unsqueeze(-1)).squeeze(-1)

    def sample(self, sample_shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """Action ids drawn among the valid ones."""
        sample_shape = torch.Size(() if sample_shape is None else sample_shape)
        out = super().sample(sample_shape)
        return self._slots_to_ids(out) if self._sparse_mask else out

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-probability of the action ids ``value``; ``neg_inf`` for invalid ones."""
        result = self._sparse_log_prob(value) if self._sparse_mask else self._dense_log_prob(value)
        return torch.where(torch.isfinite(result), result, self.neg_inf)

    def _dense_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Dense log-prob, by cross-entropy (any batch shape) or by gathering."""
        if not self.use_cross_entropy:
            return super().log_prob(value)
        shape = torch.broadcast_shapes(value.shape, self.batch_shape)
        logits = self.logits.expand(*shape, self.num_samples).reshape(-1, self.num_samples)
        target = value.long().expand(shape).reshape(-1)
        return -F.cross_entropy(logits, target, reduction="none").reshape(shape)

    def _sparse_log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Sparse log-prob: log of the summed mass of the slots listing ``value``."""
        match = self._indices == value.long().unsqueeze(-1)
        if self._padding_mask is not None:
            match = match & ~self._padding_mask
        logits = self.logits.expand(match.shape)
        return torch.where(match, logits, -math.inf).logsumexp(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy over the valid actions (masked ones have zero probability)."""
        if not self._sparse_mask:
            return super().entropy()
        probs = self._full_probs()
        positive = probs > 0
        safe = torch.where(positive, probs, torch.ones_like(probs))
        return -torch.where(positive, probs * safe.log(), torch.zeros_like(probs)).sum(-1)

    @property
    def mode(self) -> torch.Tensor:
        """The most likely valid action id (the first one on ties)."""
        return self._full_probs().argmax(-1)

    @property
    def deterministic_sample(self) -> torch.Tensor:
        """The mode."""
        return self.mode


class MaskedOneHotCategorical(MaskedCategorical):
    """The one-hot version of :class:`MaskedCategorical`.

    Samples and modes are one-hot over all ``num_samples`` actions (also with sparse
    ``indices``); ``log_prob`` reads ``value.argmax(-1)``. ``rsample`` carries gradients
    per ``grad_method`` (see :class:`ReparamGradientStrategy`); ``has_rsample`` stays
    ``False`` as in torchrl. Arguments are positional-or-keyword, as in torchrl.

    Shapes: as :class:`MaskedCategorical`'s, with one-hot values: ``sample((*S,))``:
    ``[*S, *B, n]`` int64 (``rsample``: float), ``mode`` ``[*B, n]``;
    ``log_prob(value: [*S, *B, n]) -> [*S, *B]``.

    Examples:
        >>> import torch
        >>> from rldsl.modules import MaskedOneHotCategorical
        >>> mask = torch.tensor([False, True, True, False])
        >>> dist = MaskedOneHotCategorical(logits=torch.zeros(4), mask=mask)
        >>> dist.mode
        tensor([0, 1, 0, 0])
        >>> dist.log_prob(torch.tensor([1, 0, 0, 0]))
        tensor(-inf)
    """

    support = constraints.one_hot

    def __init__(
        self,
        logits: torch.Tensor | None = None,
        probs: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        indices: torch.Tensor | None = None,
        neg_inf: float = float("-inf"),
        padding_value: int | None = None,
        grad_method: ReparamGradientStrategy = ReparamGradientStrategy.PassThrough,
    ) -> None:
        self.grad_method = _grad_method(grad_method)
        super().__init__(
            logits=logits,
            probs=probs,
            mask=mask,
            indices=indices,
            neg_inf=neg_inf,
            padding_value=padding_value,
        )

    def sample(self, sample_shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """A one-hot (``long``) sample over all actions."""
        return F.one_hot(super().sample(sample_shape), self.num_samples)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log-probability of the one-hot ``value`` (read as ``value.argmax(-1)``)."""
        return super().log_prob(value.argmax(dim=-1))

    @property
    def mode(self) -> torch.Tensor:
        """One-hot of the most likely valid action (the first one on ties)."""
        return F.one_hot(super().mode, self.num_samples)

    def rsample(self, sample_shape: torch.Size | tuple | None = None) -> torch.Tensor:
        """A one-hot (float) sample over all actions that carries gradients."""
        sample_shape = torch.Size(() if sample_shape is None else sample_shape)
        if self.grad_method is ReparamGradientStrategy.RelaxedOneHot:
            slot, soft = _relaxed_straight_through(self.logits, sample_shape)
            if self._sparse_mask:
                slot = self._slots_to_ids(slot)
                soft = self._scatter_slots(soft)
            return _straight_through(F.one_hot(slot, self.num_samples), soft)
        return _straight_through(self.sample(sample_shape), self._full_probs())

    def _scatter_slots(self, slots: torch.Tensor) -> torch.Tensor:
        """Sum slot values ``[*sample, *batch, k]`` into action ids ``[*sample, *batch, n]``."""
        if self._padding_mask is not None:
            slots = slots.masked_fill(self._padding_mask, 0)
        index = self._safe_indices.expand(slots.shape)
        full = slots.new_zeros((*slots.shape[:-1], self.num_samples))
        return full.scatter_add(-1, index, slots)


def _check_neg_inf(neg_inf: Any) -> None:
    """``neg_inf`` must be a (very) negative number."""
    if isinstance(neg_inf, bool) or not isinstance(neg_inf, Number) or not neg_inf < 0:
        raise ValueError(
            f"neg_inf must be a negative number such as float('-inf') or -1e9, got {neg_inf!r}."
        )


def _check_padding(padding_value: Any, padding_side: Any) -> None:
    """``padding_value`` is an int or None; ``padding_side`` is 'left' or 'right'."""
    require_int(padding_value, "padding_value", expected="an int or None", optional=True, suffix=".")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")


def _broadcast_or_raise(params_shape: torch.Size, other: torch.Size, name: str) -> torch.Size:
    """The broadcast of two shapes, or a ``ValueError`` naming ``name``."""
    try:
        return torch.broadcast_shapes(params_shape, other)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(other)} does not broadcast with the logits/probs of "
            f"shape {tuple(params_shape)}; give {name} the same leading (batch) dimensions."
        ) from None
