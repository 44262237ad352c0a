"""Noisy linear layers (Fortunato et al., 2017, "Noisy Networks for Exploration"), as torchrl 0.14's.

A :class:`NoisyLinear` layer learns, beside its mean weights ``weight_mu``/``bias_mu``, a scale
``weight_sigma``/``bias_sigma`` for factorised Gaussian noise held in the buffers
``weight_epsilon``/``bias_epsilon``: while the noise is on, the layer computes with
``mu + sigma * epsilon``, else with ``mu``. Parameter and buffer names, their initialisation and
the order of the random draws are torchrl's, so torchrl checkpoints load and a seeded layer draws
what torchrl's draws.

When the noise is on (torchrl 0.14):

- ``use_exploration_type=True`` (the default; ``None`` means the same): only while the
  exploration type is ``RANDOM`` (:func:`~rldsl.modules.set_exploration_type`). Under
  ``DETERMINISTIC``, ``MODE``, ``MEAN``, ``MEDIAN`` and **outside any context** the mean
  weights are used.
- ``use_exploration_type=False`` (the older behaviour): while the layer is in training mode
  (``module.train()``), whatever the exploration type.

The noise is drawn at construction and by :meth:`NoisyLinear.reset_noise` only: a forward pass
never draws. Resample it with ``layer.reset_noise()``, or ``network.apply(reset_noise)`` for every
noisy layer of a network (the paper resamples after each optimiser step).

>>> import torch
>>> from rldsl.modules import ExplorationType, NoisyLinear, reset_noise, set_exploration_type
>>> layer = NoisyLinear(4, 2)
>>> x = torch.ones(4)
>>> torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight_mu, layer.bias_mu))
True
>>> with set_exploration_type(ExplorationType.RANDOM):
...     first = layer(x)
...     same = torch.equal(first, layer(x))
...     _ = layer.apply(reset_noise)
...     resampled = not torch.equal(first, layer(x))
>>> same, resampled
(True, True)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedBuffer, UninitializedParameter

from rldsl._checks import require_int
from rldsl.modules.exploration_type import ExplorationType, exploration_type

__all__ = ["NoisyLazyLinear", "NoisyLinear", "reset_noise"]


def _scaled_noise(size: int, device: torch.device) -> torch.Tensor:
    """``f(x) = sign(x) * sqrt(|x|)`` of ``size`` standard normal draws (the paper's factorised noise).

    Drawn in the default dtype, as torchrl draws it, so that a seed gives torchrl's numbers; the
    caller copies the result into buffers of any dtype.
    """
    x = torch.randn(size, device=device)
    return x.sign().mul_(x.abs().sqrt_())


class NoisyLinear(nn.Linear):
    """A linear layer with learned factorised Gaussian noise on its weights and bias.

    ``input: [*B, in_features] -> [*B, out_features]``, computed as ``input @ W.T + b`` with
    ``W = weight_mu + weight_sigma * weight_epsilon`` and ``b = bias_mu + bias_sigma *
    bias_epsilon`` while the noise is on, ``W = weight_mu`` and ``b = bias_mu`` otherwise (see the
    module docstring for when the noise is on).

    Parameters ``weight_mu``, ``weight_sigma`` ``[out_features, in_features]`` and ``bias_mu``,
    ``bias_sigma`` ``[out_features]``; buffers ``weight_epsilon`` (the outer product of the output
    and input noise) and ``bias_epsilon`` (the output noise). Initialisation: ``mu ~ U(-1/sqrt(in),
    1/sqrt(in))``, ``weight_sigma = std_init / sqrt(in)``, ``bias_sigma = std_init / sqrt(out)``.
    It is an ``nn.Linear`` (``isinstance`` holds, as in torchrl) whose ``weight`` and ``bias`` are
    computed properties, not parameters.

    Args:
        in_features (int): input size.
        out_features (int): output size.
        bias (bool, optional): whether the layer has a (noisy) bias. Defaults to ``True``.
        device (torch.device, optional): where to create the parameters.
        dtype (torch.dtype, optional): the parameters' dtype (torch's default when ``None``).
        std_init (float, optional): the initial noise scale before ``1/sqrt(fan)``. Defaults to
            ``0.5``, as in the paper.
        use_exploration_type (bool, optional): noise under the ``RANDOM`` exploration type
            (``True``, or ``None``) or in training mode (``False``). Defaults to ``True``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | int | None = None,
        dtype: torch.dtype | None = None,
        std_init: float = 0.5,
        use_exploration_type: bool | None = True,
    ) -> None:
        nn.Module.__init__(self)
        smallest = 0 if isinstance(self, LazyModuleMixin) else 1  # a lazy layer starts as a 0 x 0 placeholder
        self.in_features = _size(in_features, "in_features", smallest)
        self.out_features = _size(out_features, "out_features", smallest)
        self.std_init = _noise_scale(std_init)
        self.use_exploration_type = True if use_exploration_type is None else bool(use_exploration_type)
        factory = {"device": device, "dtype": dtype}
        weight_shape = (self.out_features, self.in_features)
        self.weight_mu = nn.Parameter(torch.empty(weight_shape, **factory))
        self.weight_sigma = nn.Parameter(torch.empty(weight_shape, **factory))
        self.register_buffer("weight_epsilon", torch.empty(weight_shape, **factory))
        if bias:
            self.bias_mu = nn.Parameter(torch.empty(self.out_features, **factory))
            self.bias_sigma = nn.Parameter(torch.empty(self.out_features, **factory))
            self.register_buffer("bias_epsilon", torch.empty(self.out_features, **factory))
        else:
            self.register_parameter("bias_mu", None)
            self.register_parameter("bias_sigma", None)
            self.register_buffer("bias_epsilon", None)
        self.reset_parameters()
        self.reset_noise()

    def reset_parameters(self) -> None:
        """Draw the means again and set the noise scales to their initial values."""
        bound = 1 / math.sqrt(self.in_features)
        with torch.no_grad():
            self.weight_mu.uniform_(-bound, bound)
            self.weight_sigma.fill_(self.std_init / math.sqrt(self.in_features))
            if self.bias_mu is not None:
                self.bias_mu.uniform_(-bound, bound)
                self.bias_sigma.fill_(self.std_init / math.sqrt(self.out_features))

    def reset_noise(self) -> None:
        """Draw new factorised noise: ``weight_epsilon = outer(f(e_out), f(e_in))``, ``bias_epsilon = f(e_out)``.

        The only place noise is drawn (besides construction): call it, or
        ``network.apply(reset_noise)``, whenever the network should explore with new weights.
        """
        device = self.weight_mu.device
        eps_in = _scaled_noise(self.in_features, device)
        eps_out = _scaled_noise(self.out_features, device)
        with torch.no_grad():
            self.weight_epsilon.copy_(torch.outer(eps_out, eps_in))
            if self.bias_mu is not None:
                self.bias_epsilon.copy_(eps_out)

    @property
    def noise_active(self) -> bool:
        """Whether the layer computes with noisy weights now (the exploration type, or training mode)."""
        if self.use_exploration_type:
            return exploration_type() == ExplorationType.RANDOM
        return self.training

    @property
    def weight(self) -> torch.Tensor:
        """``weight_mu + weight_sigma * weight_epsilon`` while the noise is on, else ``weight_mu``."""
        return self._weight(self.noise_active)

    @property
    def bias(self) -> torch.Tensor | None:
        """``bias_mu + bias_sigma * bias_epsilon`` while the noise is on, else ``bias_mu`` (None without bias)."""
        return self._bias(self.noise_active)

    def _weight(self, noisy: bool) -> torch.Tensor:
        if noisy:
            return self.weight_mu + self.weight_sigma * self.weight_epsilon
        return self.weight_mu

    def _bias(self, noisy: bool) -> torch.Tensor | None:
        if self.bias_mu is None or not noisy:
            return self.bias_mu
        return self.bias_mu + self.bias_sigma * self.bias_epsilon

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``input: [*B, in_features] -> [*B, out_features]``, with noisy weights while the noise is on.

        The noise is not redrawn here (see :meth:`reset_noise`).
        """
        noisy = self.noise_active
        return F.linear(input, self._weight(noisy), self._bias(noisy))

    def extra_repr(self) -> str:
        """``nn.Linear``'s line (as torchrl prints it), with the bias read from ``bias_mu`` (a lazy layer's too)."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias_mu is not None}"


class NoisyLazyLinear(LazyModuleMixin, NoisyLinear):
    """A :class:`NoisyLinear` whose ``in_features`` is read from its first input.

    ``input: [*B, in_features] -> [*B, out_features]``. Until the first call its parameters and
    buffers are uninitialised; the first call sizes them from ``input.shape[-1]``, draws the means
    and the noise (as :class:`NoisyLinear`'s constructor does), and the layer becomes a
    :class:`NoisyLinear`. A state_dict can also be loaded into it before the first call.

    Args:
        out_features (int): output size.
        bias, device, dtype, std_init, use_exploration_type: as :class:`NoisyLinear`.
    """

    cls_to_become = NoisyLinear

    def __init__(
        self,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | int | None = None,
        dtype: torch.dtype | None = None,
        std_init: float = 0.5,
        use_exploration_type: bool | None = True,
    ) -> None:
        super().__init__(0, 0, False, device=device, dtype=dtype, std_init=std_init,
                         use_exploration_type=use_exploration_type)
        self.out_features = _size(out_features, "out_features")
        factory = {"device": device, "dtype": dtype}
        self.weight_mu = UninitializedParameter(**factory)
        self.weight_sigma = UninitializedParameter(**factory)
        self.register_buffer("weight_epsilon", UninitializedBuffer(**factory))
        if bias:
            self.bias_mu = UninitializedParameter(**factory)
            self.bias_sigma = UninitializedParameter(**factory)
            self.register_buffer("bias_epsilon", UninitializedBuffer(**factory))

    def _ready(self) -> bool:
        """Whether the layer has been sized (it has an input size and materialised tensors)."""
        return self.in_features != 0 and not self.has_uninitialized_params()

    def reset_parameters(self) -> None:
        """As :meth:`NoisyLinear.reset_parameters`, once the layer is sized (a no-op before)."""
        if self._ready():
            super().reset_parameters()

    def reset_noise(self) -> None:
        """As :meth:`NoisyLinear.reset_noise`, once the layer is sized (a no-op before)."""
        if self._ready():
            super().reset_noise()

    def initialize_parameters(self, input: torch.Tensor) -> None:
        """Size every parameter and buffer from ``input: [*B, in_features]``, then draw them."""
        if not self.has_uninitialized_params():
            return
        with torch.no_grad():
            self.in_features = int(input.shape[-1])
            weight_shape = (self.out_features, self.in_features)
            self.weight_mu.materialize(weight_shape)
            self.weight_sigma.materialize(weight_shape)
            self.weight_epsilon.materialize(weight_shape)
            if self.bias_mu is not None:
                self.bias_mu.materialize((self.out_features,))
                self.bias_sigma.materialize((self.out_features,))
                self.bias_epsilon.materialize((self.out_features,))
            self.reset_parameters()
            self.reset_noise()

    @property
    def weight(self) -> torch.Tensor | None:
        """As :attr:`NoisyLinear.weight` once sized; ``None`` before the first call."""
        return super().weight if self._ready() else None

    @property
    def bias(self) -> torch.Tensor | None:
        """As :attr:`NoisyLinear.bias` once sized; ``None`` before the first call."""
        return super().bias if self._ready() else None


def reset_noise(layer: nn.Module) -> None:
    """Draw new noise for ``layer`` when it is a noisy layer (it has ``reset_noise``); else do nothing.

    Made for ``nn.Module.apply``, which calls it on every submodule: ``network.apply(reset_noise)``
    resamples every noisy layer of ``network`` (a compiled program's module included).
    """
    method = getattr(layer, "reset_noise", None)
    if callable(method):
        method()


def _noise_scale(value: Any) -> float:
    """``std_init`` as given when it is a finite real number (torchrl takes any; a negative scale
    draws the same noise as its absolute value, so it is kept), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"std_init must be a finite number, got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"std_init must be a finite number, got {value!r}.")
    return value


def _size(value: Any, name: str, minimum: int = 1) -> int:
    """A size as an int of at least ``minimum`` (a lazy layer's placeholder is 0), else a clear error.

    torchrl takes ``int(value)`` and divides by it: a size of 0 would fail with a ZeroDivisionError.
    """
    require_int(value, name, expected=f"an int >= {minimum}", integral=True, minimum=minimum, error=ValueError,
                suffix=".")
    return int(value)
