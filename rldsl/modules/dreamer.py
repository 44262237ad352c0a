"""Dreamer's networks: the pixel encoder and decoder, the recurrent state-space model (RSSM)
prior and posterior, and the actor.

Each class mirrors torchrl 0.14's ``torchrl.modules`` class of the same name (PlaNet,
https://arxiv.org/abs/1811.04551, and Dreamer, https://arxiv.org/abs/1912.01603): constructor
arguments and defaults, the layer layout and the submodule names (``encoder``,
``state_to_latent``/``decoder``, ``rnn``/``action_state_projector``/``rnn_to_prior_projector``,
``obs_rnn_to_post_projector``, ``backbone``), so that a torchrl ``state_dict`` loads unchanged.

With the defaults (``channels=32``, ``state_dim=30``, ``rnn_hidden_dim=200``) the shapes are:

* :class:`ObsEncoder`: pixels ``[*B, 3, 64, 64] -> [*B, 1024]``;
* :class:`RSSMPrior`: ``state [*B, 30]``, ``belief [*B, 200]``, ``action [*B, A]`` ->
  ``prior_mean, prior_std, state [*B, 30]`` and the next ``belief [*B, 200]``;
* :class:`RSSMPosterior`: ``belief [*B, 200]``, ``obs_embedding [*B, 1024]`` ->
  ``posterior_mean, posterior_std, state [*B, 30]``;
* :class:`ObsDecoder`: ``state [*B, 30]``, ``rnn_hidden [*B, 200] -> [*B, 3, 64, 64]``;
* :class:`DreamerActor`: ``state``, ``belief`` -> ``loc, scale [*B, out_features]`` (the
  parameters of a ``TanhNormal``).

Any number of leading batch dims (a batch, a batch and a time dim, or none) is accepted: it
is flattened before the convolutions and the GRU cell and restored after.

>>> import torch
>>> encoder = ObsEncoder(in_channels=3)
>>> encoder(torch.zeros(2, 5, 3, 64, 64)).shape
torch.Size([2, 5, 1024])
>>> decoder = ObsDecoder(latent_dim=230)
>>> decoder(torch.zeros(2, 5, 30), torch.zeros(2, 5, 200)).shape
torch.Size([2, 5, 3, 64, 64])
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch
from tensordict.nn import NormalParamExtractor
from torch import nn

from rldsl._checks import is_int
from rldsl.modules.models import MLP
from rldsl.modules.utils import ArgumentError

__all__ = ["DreamerActor", "ObsDecoder", "ObsEncoder", "RSSMPosterior", "RSSMPrior"]

#: Every conv of the encoder: a 4x4 kernel with stride 2 (torchrl's, after World Models).
_ENCODER_KERNEL = 4
_STRIDE = 2
#: The decoder's latent is ``channels * 32`` features seen as a 1x1 image (torchrl's width).
_LATENT_WIDTH_FACTOR = 32
#: The decoder's default kernels with 4 layers: 1x1 -> 5 -> 13 -> 30 -> 64x64 pixels.
_DEFAULT_DECODER_KERNELS = (5, 5, 6, 6)
_DEFAULT_DECODER_KERNEL = 5


# ---------------------------------------------------------------------------------------------
# argument checks


def _positive_int(value: Any, what: str, owner: str, *, optional: bool = False) -> Any:
    """``value`` if it is an int >= 1 (or None when ``optional``); else ``TypeError`` for a
    non-int and ``ValueError`` for an int below 1, naming the argument."""
    if value is None and optional:
        return value
    if not is_int(value, integral=True):
        raise TypeError(f"{owner}: {what} must be a positive int, got {value!r}.")
    if value < 1:
        raise ValueError(f"{owner}: {what} must be a positive int, got {value}.")
    return int(value)


def _real(value: Any, what: str, owner: str, *, minimum: float | None = None) -> float:
    """``value`` as a float if it is a finite real number (at least ``minimum``), else an error."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r}.")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{owner}: {what} must be finite, got {value}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{owner}: {what} must be >= {minimum}, got {value}.")
    return value


def _num_layers(value: Any, owner: str) -> int:
    """``num_layers`` as an int >= 1; below 1 is an :class:`ArgumentError` (torchrl raises
    ``RuntimeError``; rldsl's error is both a ``ValueError`` and a ``RuntimeError``)."""
    if not is_int(value, integral=True):
        raise TypeError(f"{owner}: num_layers must be a positive int, got {value!r}.")
    if value < 1:
        raise ArgumentError(f"{owner}: num_layers cannot be smaller than 1, got {value}.")
    return int(value)


def _channels(channels: Any, depth: Any, owner: str) -> int:
    """The layer width: ``depth`` (torchrl's deprecated name for it) wins over ``channels``,
    with a warning, as in torchrl."""
    if depth is not None:
        warnings.warn(
            f"{owner}: the depth argument will soon mean the number of layers, as num_layers does "
            f"now; pass channels={depth} for the layer width instead.",
            UserWarning,
            stacklevel=3,
        )
        channels = depth
    return _positive_int(channels, "channels", owner)


# ---------------------------------------------------------------------------------------------
# shared forward helpers


def _sample(mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor | None, owner: str) -> torch.Tensor:
    """A reparameterised draw ``mean + noise * std`` (``noise`` standard normal unless given)."""
    if noise is None:
        noise = torch.randn_like(std)
    elif noise.shape != std.shape:
        raise ValueError(f"{owner}: noise has shape {tuple(noise.shape)}, expected {tuple(std.shape)} "
                         f"(the shape of the state).")
    return mean + noise * std


def _same_batch(first: torch.Tensor, second: torch.Tensor, names: tuple[str, str], owner: str) -> None:
    """The two inputs are concatenated on their last dim: their leading dims must be equal."""
    if first.shape[:-1] != second.shape[:-1]:
        raise ValueError(f"{owner}: {names[0]} {tuple(first.shape)} and {names[1]} {tuple(second.shape)} must have "
                         f"the same leading (batch) dims; only the last dim may differ.")


def _autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """A context that turns autocast off on ``device_type`` while it is on (the GRU cell runs
    in its own dtype: bfloat16 GRU kernels fail on some GPUs), a no-op otherwise."""
    if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# pixels


class ObsEncoder(nn.Module):
    """The observation encoder: pixels to an embedding, ``[*B, C, H, W] -> [*B, features]``.

    ``num_layers`` blocks of ``Conv2d(kernel 4, stride 2) -> ReLU`` with ``channels``,
    ``2 * channels``, ``4 * channels``, ... output channels; the last feature map is flattened
    (channels first). A 64x64 image gives ``8 * channels * 2 * 2`` features with 4 layers (1024 by
    default). The first conv is lazy (``nn.LazyConv2d``) unless ``in_channels`` is given.
    Reference: https://arxiv.org/abs/1803.10122.

    Args:
        channels (int, optional): output channels of the first conv. Defaults to ``32``.
        num_layers (int, optional): number of conv blocks. Defaults to ``4``.
        in_channels (int, optional): input channels; ``None`` makes the first conv lazy.
        depth (int, optional): deprecated name of ``channels`` (warns, and wins over it).
        device (torch.device, optional): where to create the parameters.

    State dict (4 layers): ``encoder.{0,2,4,6}.{weight,bias}``, torchrl's names.

    >>> import torch
    >>> ObsEncoder(channels=16, in_channels=3)(torch.zeros(4, 3, 64, 64)).shape
    torch.Size([4, 512])
    """

    def __init__(self, channels: int = 32, num_layers: int = 4, in_channels: int | None = None,
                 depth: int | None = None, device: Any = None) -> None:
        owner = type(self).__name__
        channels = _channels(channels, depth, owner)
        num_layers = _num_layers(num_layers, owner)
        in_channels = _positive_int(in_channels, "in_channels", owner, optional=True)
        super().__init__()
        layers: list[nn.Module] = []
        fan_in = in_channels
        for index in range(num_layers):
            width = channels * 2**index
            if fan_in is None:
                conv: nn.Module = nn.LazyConv2d(width, _ENCODER_KERNEL, stride=_STRIDE, device=device)
            else:
                conv = nn.Conv2d(fan_in, width, _ENCODER_KERNEL, stride=_STRIDE, device=device)
            layers += [conv, nn.ReLU()]
            fan_in = width
        self.encoder = nn.Sequential(*layers)
        self.min_image_size = _encoder_min_size(num_layers)

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        """Encode pixels: ``observation: [*B, C, H, W] -> [*B, features]``.

        Every leading dim is a batch dim (none, a batch, a batch and a time dim...): they are
        flattened for the convolutions and restored. ``features = 8 * channels * 2 * 2`` for a
        64x64 image with the default 4 layers.
        """
        if observation.ndim < 3:
            raise ValueError(f"ObsEncoder expects pixels [*B, C, H, W], got shape {tuple(observation.shape)}.")
        *batch, n_channels, height, width = observation.shape
        if min(height, width) < self.min_image_size:
            raise ValueError(
                f"ObsEncoder: a {height}x{width} image is too small for {len(self.encoder) // 2} conv layers "
                f"(kernel 4, stride 2); it needs at least {self.min_image_size}x{self.min_image_size} "
                f"(Dreamer uses 64x64).")
        features = self.encoder(observation.reshape(-1, n_channels, height, width)).flatten(1)
        return features.reshape(*batch, features.shape[-1])


def _encoder_min_size(num_layers: int) -> int:
    """The smallest image side the encoder's ``num_layers`` 4x4/stride-2 convs accept."""
    size = _ENCODER_KERNEL
    for _ in range(num_layers - 1):
        size = _STRIDE * (size - 1) + _ENCODER_KERNEL
    return size


class ObsDecoder(nn.Module):
    """The observation decoder: a latent state to pixels, ``[*B, state], [*B, hidden] -> [*B, C, H, W]``.

    ``cat([state, rnn_hidden])`` goes through ``Linear(latent_dim, 32 * channels) -> ReLU``,
    is seen as a 1x1 image of ``32 * channels`` channels, then through ``num_layers``
    ``ConvTranspose2d(stride 2)`` with ``ReLU`` between them: ``32c -> ... -> 4c -> 2c -> c ->
    out_channels`` (``c = channels``). With 4 layers and the default kernels ``[5, 5, 6, 6]`` the
    image is 1 -> 5 -> 13 -> 30 -> 64 pixels wide. The first Linear is lazy unless ``latent_dim``
    is given. Reference: https://arxiv.org/abs/1803.10122.

    Args:
        channels (int, optional): channels of the last hidden feature map. Defaults to ``32``.
        num_layers (int, optional): transposed convs, at least 2. Defaults to ``4``.
        kernel_sizes (int or list of int, optional): kernel of each transposed conv. Defaults to
            ``[5, 5, 6, 6]`` with 4 layers, else ``5`` for every layer.
        latent_dim (int, optional): ``state_dim + rnn_hidden_dim``; ``None`` makes the Linear lazy.
        out_channels (int, optional): image channels (3 for RGB, 1 for grayscale). Defaults to ``3``.
        depth (int, optional): deprecated name of ``channels`` (warns, and wins over it).
        device (torch.device, optional): where to create the parameters.

    State dict (4 layers): ``state_to_latent.0.{weight,bias}``, ``decoder.{0,2,4,6}.{weight,bias}``.
    """

    def __init__(self, channels: int = 32, num_layers: int = 4, kernel_sizes: int | Sequence[int] | None = None,
                 latent_dim: int | None = None, out_channels: int = 3, depth: int | None = None,
                 device: Any = None) -> None:
        owner = type(self).__name__
        channels = _channels(channels, depth, owner)
        num_layers = _num_layers(num_layers, owner)
        if num_layers < 2:
            raise ArgumentError(
                f"{owner}: num_layers must be at least 2, got {num_layers} (torchrl builds a one-layer decoder "
                f"whose only transposed conv expects {channels} input channels but receives "
                f"{_LATENT_WIDTH_FACTOR * channels}); use num_layers=2 or more.")
        kernels = _decoder_kernels(kernel_sizes, num_layers, owner)
        latent_dim = _positive_int(latent_dim, "latent_dim", owner, optional=True)
        out_channels = _positive_int(out_channels, "out_channels", owner)
        super().__init__()
        latent_width = _LATENT_WIDTH_FACTOR * channels
        first = (nn.LazyLinear(latent_width, device=device) if latent_dim is None
                 else nn.Linear(latent_dim, latent_width, device=device))
        self.state_to_latent = nn.Sequential(first, nn.ReLU())
        widths = [latent_width] + [channels * 2**power for power in range(num_layers - 2, -1, -1)] + [out_channels]
        layers: list[nn.Module] = []
        for index, kernel in enumerate(kernels):
            if index:
                layers.append(nn.ReLU())
            layers.append(nn.ConvTranspose2d(widths[index], widths[index + 1], kernel, stride=_STRIDE, device=device))
        self.decoder = nn.Sequential(*layers)
        self._depth = channels

    def forward(self, state: torch.Tensor, rnn_hidden: torch.Tensor) -> torch.Tensor:
        """Decode a latent state: ``state: [*B, state_dim], rnn_hidden: [*B, rnn_hidden_dim] -> [*B, C, H, W]``.

        ``C = out_channels``; ``H = W = 64`` with 4 layers and the default kernels. The leading
        dims of both inputs must be equal; they are flattened for the convolutions and restored.
        """
        _same_batch(state, rnn_hidden, ("state", "rnn_hidden"), "ObsDecoder")
        latent = self.state_to_latent(torch.cat([state, rnn_hidden], dim=-1))
        batch = latent.shape[:-1]
        pixels = self.decoder(latent.reshape(-1, latent.shape[-1], 1, 1))
        return pixels.reshape(*batch, *pixels.shape[1:])


def _decoder_kernels(kernel_sizes: Any, num_layers: int, owner: str) -> list[int]:
    """One kernel size per transposed conv: torchrl's defaults, an int for all, or a list."""
    if kernel_sizes is None:
        if num_layers == len(_DEFAULT_DECODER_KERNELS):
            return list(_DEFAULT_DECODER_KERNELS)
        kernel_sizes = _DEFAULT_DECODER_KERNEL
    if is_int(kernel_sizes, integral=True):
        return [_positive_int(kernel_sizes, "kernel_sizes", owner)] * num_layers
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence):
        raise TypeError(f"{owner}: kernel_sizes must be an int or a list of ints, got {kernel_sizes!r}.")
    if len(kernel_sizes) != num_layers:
        raise ValueError(f"{owner}: kernel_sizes has {len(kernel_sizes)} entries for {num_layers} layers; "
                         f"give one kernel size per layer (or a single int).")
    return [_positive_int(kernel, "each kernel size", owner) for kernel in kernel_sizes]


# ---------------------------------------------------------------------------------------------
# the recurrent state-space model


def _action_shape(action_spec: Any, owner: str) -> torch.Size:
    """The action spec's shape (any spec, or object, with a ``shape``)."""
    shape = getattr(action_spec, "shape", None)
    if shape is None:
        raise TypeError(f"{owner}: action_spec must be an action spec (with a shape), got {action_spec!r}; "
                        f"e.g. Bounded(-1.0, 1.0, shape=(6,)).")
    return torch.Size(shape)


class RSSMPrior(nn.Module):
    """The RSSM prior (transition) network: the next belief and the prior over the next state.

    ``h = ELU(Linear(cat[state, action]))``, ``belief = GRUCell(h, belief)``, then
    ``Linear(rnn_hidden_dim, hidden_dim) -> ELU -> Linear(hidden_dim, 2 * state_dim)`` split into
    the prior mean and std (``std = max(softplus(x), scale_lb)``), and a reparameterised sample
    ``state = mean + noise * std``. The belief is deterministic, the state stochastic ("deterministic
    state" and "stochastic state" in Dream to Control). The first Linear is lazy unless
    ``action_dim`` is given. Reference: https://arxiv.org/abs/1811.04551.

    Args:
        action_spec (TensorSpec): the action spec (its shape is kept as ``action_shape``).
        hidden_dim (int, optional): width of the Linear layers, input size of the GRU cell.
            Defaults to ``200``.
        rnn_hidden_dim (int, optional): size of the belief (the GRU cell's hidden state).
            Defaults to ``200``.
        state_dim (int, optional): size of the stochastic state. Defaults to ``30``.
        scale_lb (float, optional): lower bound of the std. Defaults to ``0.1``.
        action_dim (int, optional): size of the action; with it the first Linear is sized
            (``state_dim + action_dim`` inputs) instead of lazy.
        device (torch.device, optional): where to create the parameters.

    State dict: ``rnn.{weight_ih,weight_hh,bias_ih,bias_hh}``,
    ``action_state_projector.0.{weight,bias}``, ``rnn_to_prior_projector.{0,2}.{weight,bias}``.

    >>> import torch
    >>> from rldsl.specs import Bounded
    >>> prior = RSSMPrior(Bounded(-1.0, 1.0, shape=(6,)), action_dim=6)
    >>> mean, std, state, belief = prior(torch.zeros(4, 30), torch.zeros(4, 200), torch.zeros(4, 6))
    >>> state.shape, belief.shape
    (torch.Size([4, 30]), torch.Size([4, 200]))
    """

    def __init__(self, action_spec: Any, hidden_dim: int = 200, rnn_hidden_dim: int = 200, state_dim: int = 30,
                 scale_lb: float = 0.1, action_dim: int | None = None, device: Any = None) -> None:
        owner = type(self).__name__
        action_shape = _action_shape(action_spec, owner)
        hidden_dim = _positive_int(hidden_dim, "hidden_dim", owner)
        rnn_hidden_dim = _positive_int(rnn_hidden_dim, "rnn_hidden_dim", owner)
        state_dim = _positive_int(state_dim, "state_dim", owner)
        scale_lb = _real(scale_lb, "scale_lb", owner, minimum=0.0)
        action_dim = _positive_int(action_dim, "action_dim", owner, optional=True)
        if action_dim is not None and len(action_shape) and action_shape[-1] != action_dim:
            raise ValueError(f"{owner}: action_dim={action_dim} but the action spec's shape is "
                             f"{tuple(action_shape)}; pass action_dim={action_shape[-1]}.")
        super().__init__()
        self.rnn = nn.GRUCell(hidden_dim, rnn_hidden_dim, device=device)
        first = (nn.LazyLinear(hidden_dim, device=device) if action_dim is None
                 else nn.Linear(state_dim + action_dim, hidden_dim, device=device))
        self.action_state_projector = nn.Sequential(first, nn.ELU())
        self.rnn_to_prior_projector = nn.Sequential(
            nn.Linear(rnn_hidden_dim, hidden_dim, device=device),
            nn.ELU(),
            nn.Linear(hidden_dim, 2 * state_dim, device=device),
            NormalParamExtractor(scale_mapping="softplus", scale_lb=scale_lb),
        )
        self.hidden_dim = hidden_dim
        self.state_dim = state_dim
        self.rnn_hidden_dim = rnn_hidden_dim
        self.action_shape = action_shape

    def forward(self, state: torch.Tensor, belief: torch.Tensor | None, action: torch.Tensor,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """One transition: ``state: [*B, state_dim], belief: [*B, rnn_hidden_dim], action: [*B, A]
        -> (prior_mean, prior_std, state): [*B, state_dim] each, belief: [*B, rnn_hidden_dim]``.

        ``belief=None`` starts from a zero belief (the GRU cell's default). ``noise`` (``[*B,
        state_dim]``, standard normal by default) makes the sample deterministic. The GRU cell
        runs in its parameters' dtype with autocast off; the belief comes back in the dtype of
        the projected input.
        """
        if state is None or action is None:
            raise ValueError("RSSMPrior needs a state and an action (the rollout's state primer and the "
                             "action taken); got None.")
        _same_batch(state, action, ("state", "action"), "RSSMPrior")
        action_state = self.action_state_projector(torch.cat([state, action], dim=-1))
        belief = self._next_belief(action_state, belief)
        prior_mean, prior_std = self.rnn_to_prior_projector(belief)
        return prior_mean, prior_std, _sample(prior_mean, prior_std, noise, "RSSMPrior"), belief

    def _next_belief(self, action_state: torch.Tensor, belief: torch.Tensor | None) -> torch.Tensor:
        """The GRU cell step on any number of leading dims (the cell itself takes ``[N, H]``)."""
        batch = action_state.shape[:-1]
        flat_input = action_state.reshape(-1, action_state.shape[-1])
        flat_belief = None
        if belief is not None:
            if belief.shape[:-1] != batch:
                raise ValueError(f"RSSMPrior: belief {tuple(belief.shape)} must have the same leading (batch) dims "
                                 f"as state and action, {tuple(batch)}.")
            flat_belief = belief.reshape(-1, belief.shape[-1])
        dtype = self.rnn.weight_ih.dtype
        with _autocast_off(action_state.device.type):
            next_belief = self.rnn(flat_input.to(dtype), None if flat_belief is None else flat_belief.to(dtype))
        return next_belief.to(action_state.dtype).reshape(*batch, next_belief.shape[-1])


class RSSMPosterior(nn.Module):
    """The RSSM posterior (representation) network: the state given the belief and the observation.

    ``Linear(cat[belief, obs_embedding], hidden_dim) -> ELU -> Linear(hidden_dim, 2 * state_dim)``
    split into the posterior mean and std (``std = max(softplus(x), scale_lb)``), and a
    reparameterised sample ``state = mean + noise * std``. The first Linear is lazy unless both
    ``rnn_hidden_dim`` and ``obs_embed_dim`` are given. Reference: https://arxiv.org/abs/1811.04551.

    Args:
        hidden_dim (int, optional): width of the hidden Linear layer. Defaults to ``200``.
        state_dim (int, optional): size of the stochastic state. Defaults to ``30``.
        scale_lb (float, optional): lower bound of the std. Defaults to ``0.1``.
        rnn_hidden_dim (int, optional): size of the belief.
        obs_embed_dim (int, optional): size of the observation embedding (1024 for the default
            :class:`ObsEncoder` on 64x64 pixels).
        device (torch.device, optional): where to create the parameters.

    State dict: ``obs_rnn_to_post_projector.{0,2}.{weight,bias}``.
    """

    def __init__(self, hidden_dim: int = 200, state_dim: int = 30, scale_lb: float = 0.1,
                 rnn_hidden_dim: int | None = None, obs_embed_dim: int | None = None, device: Any = None) -> None:
        owner = type(self).__name__
        hidden_dim = _positive_int(hidden_dim, "hidden_dim", owner)
        state_dim = _positive_int(state_dim, "state_dim", owner)
        scale_lb = _real(scale_lb, "scale_lb", owner, minimum=0.0)
        rnn_hidden_dim = _positive_int(rnn_hidden_dim, "rnn_hidden_dim", owner, optional=True)
        obs_embed_dim = _positive_int(obs_embed_dim, "obs_embed_dim", owner, optional=True)
        super().__init__()
        if rnn_hidden_dim is None or obs_embed_dim is None:
            first: nn.Module = nn.LazyLinear(hidden_dim, device=device)
        else:
            first = nn.Linear(rnn_hidden_dim + obs_embed_dim, hidden_dim, device=device)
        self.obs_rnn_to_post_projector = nn.Sequential(
            first,
            nn.ELU(),
            nn.Linear(hidden_dim, 2 * state_dim, device=device),
            NormalParamExtractor(scale_mapping="softplus", scale_lb=scale_lb),
        )
        self.hidden_dim = hidden_dim

    def forward(self, belief: torch.Tensor, obs_embedding: torch.Tensor,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The posterior: ``belief: [*B, rnn_hidden_dim], obs_embedding: [*B, obs_embed_dim] ->
        (posterior_mean, posterior_std, state): [*B, state_dim] each``.

        ``noise`` (``[*B, state_dim]``, standard normal by default) makes the sample deterministic.
        """
        _same_batch(belief, obs_embedding, ("belief", "obs_embedding"), "RSSMPosterior")
        posterior_mean, posterior_std = self.obs_rnn_to_post_projector(torch.cat([belief, obs_embedding], dim=-1))
        return posterior_mean, posterior_std, _sample(posterior_mean, posterior_std, noise, "RSSMPosterior")


# ---------------------------------------------------------------------------------------------
# the actor


class DreamerActor(nn.Module):
    """Dreamer's actor: a latent state to the location and scale of the action distribution.

    ``MLP(cat[state, belief])`` (lazy input, ``depth`` hidden layers of ``num_cells`` units and
    ``activation_class``) to ``2 * out_features`` values, split into ``loc`` and ``scale`` with
    ``scale = softplus(x + inv_softplus(std_bias - std_min_val)) + std_min_val`` (tensordict's
    ``"biased_softplus_{std_bias}_{std_min_val}"`` mapping: ``std_bias`` at ``x = 0``, never below
    ``std_min_val``). Dreamer feeds them to a ``TanhNormal``. Reference:
    https://arxiv.org/abs/1912.01603.

    Args:
        out_features (int): size of the action.
        depth (int, optional): number of hidden layers. Defaults to ``4``.
        num_cells (int, optional): units per hidden layer. Defaults to ``200``.
        activation_class (type, optional): activation. Defaults to ``nn.ELU``.
        std_bias (float, optional): the scale at a zero pre-activation. Defaults to ``5.0``.
        std_min_val (float, optional): the smallest scale. Defaults to ``1e-4``.
        device (torch.device, optional): where to create the parameters.

    State dict (defaults): ``backbone.{0,2,4,6,8}.{weight,bias}`` (the MLP's, then the parameter
    extractor, which has none).

    >>> import torch
    >>> loc, scale = DreamerActor(6)(torch.zeros(4, 30), torch.zeros(4, 200))
    >>> loc.shape, bool((scale > 0).all())
    (torch.Size([4, 6]), True)
    """

    def __init__(self, out_features: int, depth: int = 4, num_cells: int = 200,
                 activation_class: type[nn.Module] = nn.ELU, std_bias: float = 5.0, std_min_val: float = 1e-4,
                 device: Any = None) -> None:
        owner = type(self).__name__
        out_features = _positive_int(out_features, "out_features", owner)
        std_min_val = _real(std_min_val, "std_min_val", owner, minimum=0.0)
        std_bias = _real(std_bias, "std_bias", owner)
        if std_bias <= std_min_val:
            raise ValueError(f"{owner}: std_bias ({std_bias}) must be greater than std_min_val ({std_min_val}): "
                             f"it is the scale at a zero pre-activation, and the scale never goes below std_min_val.")
        super().__init__()
        self.backbone = MLP(out_features=2 * out_features, depth=depth, num_cells=num_cells,
                            activation_class=activation_class, device=device)
        self.backbone.append(NormalParamExtractor(scale_mapping=f"biased_softplus_{std_bias}_{std_min_val}"))

    def forward(self, state: torch.Tensor, belief: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The action distribution's parameters: ``state: [*B, state_dim], belief: [*B, rnn_hidden_dim]
        -> (loc, scale): [*B, out_features] each`` (``scale > 0``).
        """
        _same_batch(state, belief, ("state", "belief"), "DreamerActor")
        loc, scale = self.backbone(state, belief)
        return loc, scale
