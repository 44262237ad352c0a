"""Algorithm-specific networks: dueling DQN heads and DDPG actors and critics.

Each class mirrors torchrl 0.14's of the same name: constructor arguments and defaults, the
``*_kwargs`` dictionaries that override the defaults of the inner networks, initialisation and
submodule names (``features``/``advantage``/``value``, ``mlp``, ``mlp1``/``mlp2``,
``convnet``/``mlp``), so that a torchrl ``state_dict`` loads unchanged.

* Dueling nets (https://arxiv.org/abs/1511.06581) return ``value + advantage -
  advantage.mean(-1, keepdim=True)``; every bias of their ``Linear`` and ``Conv2d`` layers is
  zero at construction, except the lazy first layers', which get torch's default init when the
  first call sizes them (as in torchrl).
* DDPG nets (https://arxiv.org/abs/1509.02971) draw the weight and bias of their last layer
  from ``U(-scale / 2, scale / 2)`` (:func:`ddpg_init_last_layer`).

The inner networks are built without an input size unless the ``*_kwargs`` give one, so their
first layers are lazy (``nn.LazyLinear``, ``nn.LazyConv2d``): the first call sizes them.

>>> import torch
>>> net = DuelingMlpDQNet(out_features=4, mlp_kwargs_feature={"in_features": 6},
...                       mlp_kwargs_output={"in_features": 256})
>>> q = net(torch.randn(5, 6))
>>> q.shape
torch.Size([5, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

from rldsl.modules.conv import ConvNet, SquashDims
from rldsl.modules.models import MLP
from rldsl.modules.utils import check_flag

__all__ = [
    "DdpgCnnActor",
    "DdpgCnnQNet",
    "DdpgMlpActor",
    "DdpgMlpQNet",
    "DuelingCnnDQNet",
    "DuelingMlpDQNet",
    "ddpg_init_last_layer",
]

#: The default convolutional trunk of the dueling CNN (torchrl's Atari DQN sizes).
_DUELING_CNN_DEFAULTS: dict[str, Any] = {"num_cells": [32, 64, 64], "strides": [4, 2, 1], "kernel_sizes": [8, 4, 3]}

#: The default hidden layer of the dueling advantage and value heads.
_DUELING_HEAD_DEFAULTS: dict[str, Any] = {"depth": 1, "activation_class": nn.ELU, "num_cells": 512,
                                          "bias_last_layer": True}


# ---------------------------------------------------------------------------------------------
# shared helpers


def _overridden(defaults: Mapping[str, Any], kwargs: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """``defaults`` updated with the user's ``kwargs`` (a dict or None; anything else is refused),
    as torchrl merges its ``*_kwargs`` arguments."""
    if kwargs is None:
        return dict(defaults)
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"{name} must be a dict of keyword arguments or None, got {type(kwargs).__name__}; "
                        f"e.g. {name}={{'num_cells': [64, 64]}}.")
    return {**defaults, **kwargs}


def _is_lazy(module: nn.Module) -> bool:
    """Whether ``module`` still waits for its first call to size its parameters."""
    return isinstance(module, LazyModuleMixin) and module.has_uninitialized_params()


def _zero_biases(network: nn.Module) -> None:
    """Zero the bias of every sized ``Linear`` and ``Conv2d`` layer of ``network`` (lazy layers
    are initialised when their first call sizes them, so they keep torch's default init)."""
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)) and layer.bias is not None and not _is_lazy(layer):
                layer.bias.zero_()


def _out_width(out_features: Any) -> int | None:
    """The last output dim of ``out_features`` (an int, or a sequence whose last entry is taken),
    None when it is neither (the MLP then reports the error)."""
    if isinstance(out_features, Number) and not isinstance(out_features, bool):
        return int(out_features)
    if isinstance(out_features, (tuple, list, torch.Size)) and out_features:
        last = out_features[-1]
        return int(last) if isinstance(last, Number) else None
    return None


def _check_value_width(owner: str, out_features: Any, out_features_value: Any) -> None:
    """The value is added to every advantage: its width must broadcast against the advantages' last
    dim (1, or that dim's size). torchrl accepts any width and fails at the first call."""
    width = _out_width(out_features)
    if isinstance(out_features_value, bool) or not isinstance(out_features_value, int) or out_features_value < 1:
        raise ValueError(f"{owner}: out_features_value must be a positive int, got {out_features_value!r}.")
    if width is not None and out_features_value not in (1, width) and width != 1:
        raise ValueError(f"{owner}: out_features_value={out_features_value} cannot be added to {width} advantages; "
                         f"use out_features_value=1 (one state value) or {width} (one per action).")


class _Dueling(nn.Module):
    """The dueling combination shared by :class:`DuelingMlpDQNet` and :class:`DuelingCnnDQNet`."""

    features: nn.Module
    advantage: MLP
    value: MLP

    def _heads(self, out_features: Any, out_features_value: int, kwargs: dict[str, Any], device: Any) -> None:
        """The advantage and value MLPs, then every sized bias zeroed (as torchrl)."""
        self.out_features = out_features
        self.out_features_value = out_features_value
        self.advantage = MLP(out_features=out_features, device=device, **kwargs)
        self.value = MLP(out_features=out_features_value, device=device, **kwargs)
        _zero_biases(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values ``value + advantage - advantage.mean(-1, keepdim=True)``.

        ``x: [*B, in_features] -> [*B, out_features]`` (``[*B, C, H, W]`` for the CNN net), or
        ``[*B, *out_features]`` for a tuple ``out_features``: the value (``[*B,
        out_features_value]``) is added along the advantages' last dim, whatever their rank.
        """
        hidden = self.features(x)
        advantage = self.advantage(hidden)
        value = self.value(hidden)
        extra = advantage.ndim - value.ndim
        if extra > 0:  # a tuple out_features: the value's dim goes with the advantages' last one
            value = value.reshape(*value.shape[:-1], *([1] * extra), value.shape[-1])
        return value + advantage - advantage.mean(dim=-1, keepdim=True)


# ---------------------------------------------------------------------------------------------
# Dueling DQN


class DuelingMlpDQNet(_Dueling):
    """Dueling MLP Q-network: a feature MLP, then an advantage and a value MLP.

    Maps ``x: [*B, d] -> [*B, *out_features]``: ``value + advantage - advantage.mean(-1)``.

    Args:
        out_features (int or sequence of int): advantages per sample (the number of actions);
            a sequence reshapes them to ``[*B, *out_features]``.
        out_features_value (int, optional): the value's width, ``1`` (one state value, the
            default) or the advantages' last dim.
        mlp_kwargs_feature (dict, optional): overrides of the feature MLP's arguments, by
            default ``{"num_cells": [256, 256], "out_features": 256, "activation_class": nn.ELU,
            "activate_last_layer": True}`` (lazy input size).
        mlp_kwargs_output (dict, optional): overrides of the advantage and value MLPs'
            arguments, by default ``{"depth": 1, "activation_class": nn.ELU, "num_cells": 512,
            "bias_last_layer": True}`` (lazy input size).
        device (torch.device, optional): where to create the parameters.

    >>> import torch
    >>> net = DuelingMlpDQNet(out_features=3)
    >>> net(torch.randn(2, 5)).shape
    torch.Size([2, 3])
    >>> sorted({k.split(".")[0] for k in net.state_dict()})
    ['advantage', 'features', 'value']
    """

    def __init__(self, out_features: int | torch.Size, out_features_value: int = 1,
                 mlp_kwargs_feature: dict | None = None, mlp_kwargs_output: dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        _check_value_width(type(self).__name__, out_features, out_features_value)
        feature = _overridden({"num_cells": [256, 256], "out_features": 256, "activation_class": nn.ELU,
                               "activate_last_layer": True}, mlp_kwargs_feature, "mlp_kwargs_feature")
        heads = _overridden(_DUELING_HEAD_DEFAULTS, mlp_kwargs_output, "mlp_kwargs_output")
        self.features = MLP(device=device, **feature)
        self._heads(out_features, out_features_value, heads, device)


class DuelingCnnDQNet(_Dueling):
    """Dueling CNN Q-network: a ConvNet trunk on pixels, then an advantage and a value MLP.

    Maps ``x: [*B, C, H, W] -> [*B, out_features]``: ``value + advantage - advantage.mean(-1)``.

    Args:
        out_features (int): advantages per sample (the number of actions).
        out_features_value (int, optional): the value's width, ``1`` (the default) or
            ``out_features``.
        cnn_kwargs (dict, optional): overrides of the ConvNet's arguments, by default
            ``{"num_cells": [32, 64, 64], "strides": [4, 2, 1], "kernel_sizes": [8, 4, 3]}``
            (ConvNet's other defaults: ELU, no padding, lazy input channels, flattened output).
        mlp_kwargs (dict, optional): overrides of the advantage and value MLPs' arguments, by
            default ``{"depth": 1, "activation_class": nn.ELU, "num_cells": 512,
            "bias_last_layer": True}``.
        device (torch.device, optional): where to create the parameters.

    >>> import torch
    >>> net = DuelingCnnDQNet(out_features=6)
    >>> net(torch.randn(2, 4, 84, 84)).shape
    torch.Size([2, 6])
    """

    def __init__(self, out_features: int, out_features_value: int = 1, cnn_kwargs: dict | None = None,
                 mlp_kwargs: dict | None = None, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        _check_value_width(type(self).__name__, out_features, out_features_value)
        trunk = _overridden(_DUELING_CNN_DEFAULTS, cnn_kwargs, "cnn_kwargs")
        heads = _overridden(_DUELING_HEAD_DEFAULTS, mlp_kwargs, "mlp_kwargs")
        self.features = ConvNet(device=device, **trunk)
        self._heads(out_features, out_features_value, heads, device)


# ---------------------------------------------------------------------------------------------
# DDPG


def ddpg_init_last_layer(module: nn.Sequential, scale: float = 6e-4,
                         device: torch.device | str | int | None = None) -> None:
    """Draw the weight and bias of the last ``Linear``/``Conv2d`` of ``module`` from
    ``U(-scale / 2, scale / 2)`` (DDPG's small final layer, so that first actions and values are
    near zero). ``device`` is where the draws are made (default: the layer's).

    >>> mlp = MLP(in_features=4, out_features=2, num_cells=[8])
    >>> ddpg_init_last_layer(mlp, 6e-3)
    >>> bool(mlp[-1].weight.abs().max() <= 3e-3)
    True
    """
    layer = next((m for m in reversed(list(module)) if isinstance(m, (nn.Linear, nn.Conv2d))), None)
    if layer is None:
        raise RuntimeError("Could not find a nn.Linear / nn.Conv2d to initialize.")
    if _is_lazy(layer):
        raise ValueError("ddpg_init_last_layer: the last layer is lazy (its input size is not known yet); give the "
                         "network an input size (in_features=...) so that its last layer can be initialised.")
    with torch.no_grad():
        for param in (layer.weight, layer.bias):
            if param is not None:
                draw = torch.rand(param.shape, dtype=param.dtype, device=device if device is not None else param.device)
                param.copy_(draw * scale - scale / 2)


class DdpgMlpActor(nn.Module):
    """DDPG actor: an MLP from an observation vector to an action vector.

    Args:
        action_dim (int): the action's size.
        mlp_net_kwargs (dict, optional): overrides of the MLP's arguments, by default
            ``{"in_features": None, "out_features": action_dim, "depth": 2, "num_cells": [400, 300],
            "activation_class": nn.ELU, "bias_last_layer": True}``.
        device (torch.device, optional): where to create the parameters.

    The last layer is drawn from ``U(-3e-3, 3e-3)``.

    >>> import torch
    >>> DdpgMlpActor(action_dim=2)(torch.randn(7, 3)).shape
    torch.Size([7, 2])
    """

    def __init__(self, action_dim: int, mlp_net_kwargs: dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        kwargs = _overridden({"in_features": None, "out_features": action_dim, "depth": 2, "num_cells": [400, 300],
                              "activation_class": nn.ELU, "bias_last_layer": True}, mlp_net_kwargs, "mlp_net_kwargs")
        self.mlp = MLP(device=device, **kwargs)
        ddpg_init_last_layer(self.mlp, 6e-3, device=device)

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        """The action: ``observation: [*B, obs_dim] -> [*B, action_dim]``."""
        return self.mlp(observation)


class DdpgMlpQNet(nn.Module):
    """DDPG critic: ``mlp2(cat([mlp1(observation), action], -1))``, the action joining after the
    first layer.

    Args:
        mlp_net_kwargs_net1 (dict, optional): overrides of the observation MLP's arguments, by
            default ``{"in_features": None, "out_features": 400, "depth": 0, "num_cells": [],
            "activation_class": nn.ELU, "bias_last_layer": True, "activate_last_layer": True}``.
        mlp_net_kwargs_net2 (dict, optional): overrides of the second MLP's arguments, by default
            ``{"in_features": None, "out_features": 1, "num_cells": [300], "activation_class":
            nn.ELU, "bias_last_layer": True}``.
        device (torch.device, optional): where to create the parameters.

    The last layer of ``mlp2`` is drawn from ``U(-3e-3, 3e-3)``.

    >>> import torch
    >>> DdpgMlpQNet()(torch.randn(7, 3), torch.randn(7, 1)).shape
    torch.Size([7, 1])
    """

    def __init__(self, mlp_net_kwargs_net1: dict | None = None, mlp_net_kwargs_net2: dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        first = _overridden({"in_features": None, "out_features": 400, "depth": 0, "num_cells": [],
                             "activation_class": nn.ELU, "bias_last_layer": True, "activate_last_layer": True},
                            mlp_net_kwargs_net1, "mlp_net_kwargs_net1")
        second = _overridden({"in_features": None, "out_features": 1, "num_cells": [300], "activation_class": nn.ELU,
                              "bias_last_layer": True}, mlp_net_kwargs_net2, "mlp_net_kwargs_net2")
        self.mlp1 = MLP(device=device, **first)
        self.mlp2 = MLP(device=device, **second)
        ddpg_init_last_layer(self.mlp2, 6e-3, device=device)

    def forward(self, observation: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The state-action value: ``observation: [*B, obs_dim], action: [*B, action_dim] -> [*B, 1]``."""
        return self.mlp2(torch.cat([self.mlp1(observation), action], -1))


def _ddpg_conv_defaults(num_cells: list[int], use_avg_pooling: bool) -> dict[str, Any]:
    """The ConvNet arguments of the DDPG pixel nets: three convolutions, then the feature maps
    flattened (``SquashDims``) or averaged to one value per channel (``AdaptiveAvgPool2d`` and a
    squeeze)."""
    return {
        "in_features": None, "num_cells": num_cells, "kernel_sizes": [8, 4, 3], "strides": [4, 2, 1],
        "paddings": [0, 0, 1], "activation_class": nn.ELU, "norm_class": None,
        "aggregator_class": nn.AdaptiveAvgPool2d if use_avg_pooling else SquashDims,
        "aggregator_kwargs": {"output_size": (1, 1)} if use_avg_pooling else {"ndims_in": 3},
        "squeeze_output": use_avg_pooling,
    }


class DdpgCnnActor(nn.Module):
    """DDPG pixel actor: a ConvNet embedding of the observation, then an MLP to the action;
    returns both (the embedding can be reused by a critic).

    Args:
        action_dim (int): the action's size.
        conv_net_kwargs (dict, optional): overrides of the ConvNet's arguments, by default
            ``{"in_features": None, "num_cells": [32, 64, 64], "kernel_sizes": [8, 4, 3],
            "strides": [4, 2, 1], "paddings": [0, 0, 1], "activation_class": nn.ELU,
            "norm_class": None, "aggregator_class": SquashDims, "aggregator_kwargs":
            {"ndims_in": 3}, "squeeze_output": False}`` (with ``use_avg_pooling``:
            ``nn.AdaptiveAvgPool2d``, ``{"output_size": (1, 1)}`` and ``squeeze_output=True``).
        mlp_net_kwargs (dict, optional): overrides of the MLP's arguments, by default
            ``{"in_features": None, "out_features": action_dim, "depth": 2, "num_cells": 200,
            "activation_class": nn.ELU, "bias_last_layer": True}``.
        use_avg_pooling (bool, optional): average each feature map instead of flattening them.
            Defaults to ``False``.
        device (torch.device, optional): where to create the parameters.

    The MLP's last layer is drawn from ``U(-3e-4, 3e-4)``.

    >>> import torch
    >>> action, hidden = DdpgCnnActor(action_dim=4)(torch.randn(10, 3, 64, 64))
    >>> action.shape, hidden.shape
    (torch.Size([10, 4]), torch.Size([10, 2304]))
    """

    def __init__(self, action_dim: int, conv_net_kwargs: dict | None = None, mlp_net_kwargs: dict | None = None,
                 use_avg_pooling: bool = False, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        check_flag(use_avg_pooling, "use_avg_pooling")
        conv = _overridden(_ddpg_conv_defaults([32, 64, 64], use_avg_pooling), conv_net_kwargs, "conv_net_kwargs")
        mlp = _overridden({"in_features": None, "out_features": action_dim, "depth": 2, "num_cells": 200,
                           "activation_class": nn.ELU, "bias_last_layer": True}, mlp_net_kwargs, "mlp_net_kwargs")
        self.convnet = ConvNet(device=device, **conv)
        self.mlp = MLP(device=device, **mlp)
        ddpg_init_last_layer(self.mlp, 6e-4, device=device)

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(action, hidden)``: ``observation: [*B, C, H, W] -> action: [*B, action_dim], hidden:
        [*B, features]`` (``features`` is ``64 * h * w`` flattened, or 64 with average pooling)."""
        hidden = self.convnet(observation)
        return self.mlp(hidden), hidden


class DdpgCnnQNet(nn.Module):
    """DDPG pixel critic: ``mlp(cat([convnet(observation), action], -1))``.

    Args:
        conv_net_kwargs (dict, optional): overrides of the ConvNet's arguments, by default
            ``{"in_features": None, "num_cells": [32, 64, 128], "kernel_sizes": [8, 4, 3],
            "strides": [4, 2, 1], "paddings": [0, 0, 1], "activation_class": nn.ELU,
            "norm_class": None, "aggregator_class": nn.AdaptiveAvgPool2d, "aggregator_kwargs":
            {"output_size": (1, 1)}, "squeeze_output": True}`` (without ``use_avg_pooling``:
            ``SquashDims``, ``{"ndims_in": 3}`` and ``squeeze_output=False``).
        mlp_net_kwargs (dict, optional): overrides of the MLP's arguments, by default
            ``{"in_features": None, "out_features": 1, "depth": 2, "num_cells": 200,
            "activation_class": nn.ELU, "bias_last_layer": True}``.
        use_avg_pooling (bool, optional): average each feature map (the default) instead of
            flattening them.
        device (torch.device, optional): where to create the parameters.

    The MLP's last layer is drawn from ``U(-3e-4, 3e-4)``.

    >>> import torch
    >>> DdpgCnnQNet()(torch.randn(2, 3, 64, 64), torch.randn(2, 4)).shape
    torch.Size([2, 1])
    """

    def __init__(self, conv_net_kwargs: dict | None = None, mlp_net_kwargs: dict | None = None,
                 use_avg_pooling: bool = True, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        check_flag(use_avg_pooling, "use_avg_pooling")
        conv = _overridden(_ddpg_conv_defaults([32, 64, 128], use_avg_pooling), conv_net_kwargs, "conv_net_kwargs")
        mlp = _overridden({"in_features": None, "out_features": 1, "depth": 2, "num_cells": 200,
                           "activation_class": nn.ELU, "bias_last_layer": True}, mlp_net_kwargs, "mlp_net_kwargs")
        self.convnet = ConvNet(device=device, **conv)
        self.mlp = MLP(device=device, **mlp)
        ddpg_init_last_layer(self.mlp, 6e-4, device=device)

    def forward(self, observation: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The state-action value: ``observation: [*B, C, H, W], action: [*B, action_dim] -> [*B, 1]``."""
        return self.mlp(torch.cat([self.convnet(observation), action], -1))
