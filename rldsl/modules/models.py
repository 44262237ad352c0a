"""Regular (tensor-in, tensor-out) networks: :class:`MLP`.

The MLP is an ``nn.Sequential`` laid out exactly as torchrl's, so a torchrl ``state_dict``
(keys ``"<index>.weight"``, ``"<index>.bias"``, ...) loads into it unchanged.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass
from numbers import Number
from typing import Any, Callable, Sequence

import torch
from torch import nn

from rldsl._checks import require_int, require_positive
from rldsl.modules.noisy import NoisyLazyLinear, NoisyLinear
from rldsl.modules.utils import ArgumentError, LazyLayerError, check_flag, create_on_device

__all__ = ["MLP", "LazyMapping", "register_lazy_layer"]

#: Lazy (``in_features``-inferring) variant of each layer class, used for the first layer
#: of an :class:`MLP` built without ``in_features``. Extend it with :func:`register_lazy_layer`.
LazyMapping: dict[Any, Any] = {nn.Linear: nn.LazyLinear, NoisyLinear: NoisyLazyLinear}

_DEFAULT_NUM_CELLS = 32


def register_lazy_layer(layer_class: Any, lazy_class: Any) -> None:
    """Declare ``lazy_class(out_features, bias=...)`` as the lazy variant of ``layer_class``.

    >>> from torch import nn
    >>> register_lazy_layer(nn.Linear, nn.LazyLinear)
    """
    if not callable(layer_class) or not callable(lazy_class):
        raise TypeError("register_lazy_layer needs two layer classes (callables).")
    LazyMapping[layer_class] = lazy_class


class _SharedBias(nn.Module):
    """One learnable scalar added to every output feature (zero-initialised)."""

    def __init__(self, device: Any = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        """Zero the bias again."""
        nn.init.zeros_(self.bias)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``input + bias``: ``input: [*B, out_features] -> [*B, out_features]`` (one scalar, broadcast)."""
        return input + self.bias


class _ExecutableLayer(nn.Module):
    """Runs a plain function as a layer (for factories that return non-modules)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        super().__init__()
        self.func = func

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)``: one MLP layer, so ``[*B, fan_in] -> [*B, fan_out]`` as ``func`` maps it.

        The shapes are ``func``'s own (an activation keeps them); nothing is checked here.
        """
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(func={self.func})"


class MLP(nn.Sequential):
    """A multi-layer perceptron; several inputs are concatenated on the last dimension.

    ``depth`` hidden layers of ``num_cells`` units, each ``layer -> [Dropout] -> [norm] ->
    activation``, then an output layer of ``out_features`` units (a tuple reshapes the
    output to ``[..., *out_features]``). Without ``depth`` and ``num_cells`` the MLP is a
    single layer; ``depth`` alone gives 32 cells per hidden layer; a list ``num_cells``
    sets the depth. Without ``in_features`` the first layer is lazy (``nn.LazyLinear``, or
    ``NoisyLazyLinear`` for ``layer_class=NoisyLinear``).
    The submodule indices, and so the ``state_dict`` keys, are torchrl's.

    Args:
        in_features (int, optional): input features; ``None`` makes the first layer lazy.
        out_features (int or sequence of int): output features (required).
        depth (int, optional): number of hidden layers.
        num_cells (int or sequence of int, optional): hidden layer widths.
        activation_class (type or callable, optional): activation factory. Defaults to ``nn.Tanh``.
        activation_kwargs (dict or list of dict, optional): its kwargs, one dict for all
            or one per activation (``depth + activate_last_layer``).
        norm_class (type or callable, optional): normalisation factory (placed before the
            activation).
        norm_kwargs (dict or list of dict, optional): its kwargs, as ``activation_kwargs``.
        dropout (float, optional): dropout probability after each activated layer.
        bias_last_layer (bool, optional): bias on the output layer. Defaults to ``True``.
        single_bias_last_layer (bool, optional): replace the output bias by one shared
            scalar (a ``_SharedBias`` module after the output layer). Defaults to ``False``.
        layer_class (type or callable, optional): layer factory ``(in, out, bias=...)``.
            Defaults to ``nn.Linear``.
        layer_kwargs (dict or list of dict, optional): its kwargs, one dict for all or one
            per layer (``depth + 1``); a ``"bias"`` entry overrides that layer's bias.
        activate_last_layer (bool, optional): also activate the output. Defaults to ``False``.
        device (torch.device, optional): where to create the parameters.

    Examples:
        >>> import torch
        >>> from rldsl.modules import MLP
        >>> mlp = MLP(in_features=3, out_features=(2, 4), num_cells=[16, 16])
        >>> mlp(torch.randn(5, 1), torch.randn(5, 2)).shape
        torch.Size([5, 2, 4])
        >>> list(mlp.state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']
    """

    def __init__(
        self,
        in_features: int | None = None,
        out_features: int | Sequence[int] | torch.Size = None,
        depth: int | None = None,
        num_cells: Sequence[int] | int | None = None,
        activation_class: type[nn.Module] | Callable = nn.Tanh,
        activation_kwargs: dict | list[dict] | None = None,
        norm_class: type[nn.Module] | Callable | None = None,
        norm_kwargs: dict | list[dict] | None = None,
        dropout: float | None = None,
        bias_last_layer: bool = True,
        single_bias_last_layer: bool = False,
        layer_class: type[nn.Module] | Callable = nn.Linear,
        layer_kwargs: dict | list[dict] | None = None,
        activate_last_layer: bool = False,
        device: torch.device | str | int | None = None,
    ) -> None:
        out_num = _check_out_features(out_features)
        _check_optional_size(in_features, "in_features")
        num_cells, depth = _resolve_cells(depth, num_cells)
        _check_factories(activation_class, norm_class, layer_class)
        _check_dropout(dropout)
        check_flag(bias_last_layer, "bias_last_layer")
        check_flag(single_bias_last_layer, "single_bias_last_layer")
        check_flag(activate_last_layer, "activate_last_layer")
        n_act = depth + int(activate_last_layer)
        n_act_text = "depth + activate_last_layer"
        plan = _LayerPlan(
            sizes_in=[in_features, *num_cells],
            sizes_out=[*num_cells, out_num],
            layer_class=layer_class,
            layer_kwargs=per_layer_kwargs(layer_kwargs, depth + 1, "layer_kwargs",
                                          f"the MLP needs {depth + 1} (depth + 1)"),
            activation_class=activation_class,
            activation_kwargs=per_layer_kwargs(activation_kwargs, n_act, "activation_kwargs",
                                               f"the MLP needs {n_act} ({n_act_text})"),
            norm_class=norm_class,
            norm_kwargs=per_layer_kwargs(norm_kwargs, n_act, "norm_kwargs", f"the MLP needs {n_act} ({n_act_text})"),
            dropout=dropout,
            bias_last_layer=bias_last_layer,
            single_bias_last_layer=single_bias_last_layer,
            activate_last_layer=activate_last_layer,
        )
        layers = _build_layers(plan, device)
        super().__init__(*[m if isinstance(m, nn.Module) else _ExecutableLayer(m) for m in layers])
        self.in_features = in_features
        self.out_features = out_features
        self._out_features_num = out_num
        self._reshape_out = not isinstance(out_features, Number)
        self.depth = depth
        self.num_cells = num_cells
        self.activation_class = activation_class
        self.activation_kwargs = activation_kwargs
        self.norm_class = norm_class
        self.norm_kwargs = norm_kwargs
        self.dropout = dropout
        self.bias_last_layer = bias_last_layer
        self.single_bias_last_layer = single_bias_last_layer
        self.layer_class = layer_class
        self.layer_kwargs = layer_kwargs
        self.activate_last_layer = activate_last_layer

    def __getitem__(self, idx: int | slice) -> nn.Module:
        """A layer, or a plain ``nn.Sequential`` of the sliced layers (without the reshape)."""
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Concatenate the inputs on the last dim, run the layers, reshape the output.

        ``input: [*B, in_features] -> [*B, out_features]``, or ``[*B, *out_features]`` when
        ``out_features`` is a sequence. Several inputs ``[*B, d_i]`` (same ``*B``, no
        broadcasting) are concatenated on the last dim, so their ``d_i`` sum to ``in_features``.
        """
        if not inputs:
            raise TypeError("MLP.forward needs at least one input tensor.")
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, -1)
        out = super().forward(x)
        if self._reshape_out:
            out = out.unflatten(-1, tuple(self.out_features))
        return out


@dataclass
class _LayerPlan:
    """Everything needed to lay out an MLP's layers, resolved and validated."""

    sizes_in: list[int | None]
    sizes_out: list[int]
    layer_class: Any
    layer_kwargs: list[dict]
    activation_class: Any
    activation_kwargs: list[dict]
    norm_class: Any
    norm_kwargs: list[dict]
    dropout: float | None
    bias_last_layer: bool
    single_bias_last_layer: bool
    activate_last_layer: bool


def _build_layers(plan: _LayerPlan, device: Any) -> list[Any]:
    """The MLP's layers in torchrl's order (so that the indices match its state_dict)."""
    depth = len(plan.sizes_in) - 1
    layers: list[Any] = []
    acts = iter(zip(plan.activation_kwargs, plan.norm_kwargs))
    for i, (fan_in, fan_out) in enumerate(zip(plan.sizes_in, plan.sizes_out)):
        last = i == depth
        kwargs = plan.layer_kwargs[i]
        bias = kwargs.pop("bias", plan.bias_last_layer if last else True)
        shared = last and plan.single_bias_last_layer and bias
        layer = _make_layer(plan.layer_class, fan_in, fan_out, bias and not shared, kwargs, device)
        if last and plan.single_bias_last_layer and hasattr(layer, "reset_noise"):
            raise ValueError(
                "single_bias_last_layer=True is incompatible with NoisyLinear (noisy layers "
                "keep their own noisy bias); set single_bias_last_layer=False."
            )
        layers.append(layer)
        if shared:
            layers.append(_shared_bias_like(layer, device))
        if not last or plan.activate_last_layer:
            act_kwargs, norm_kwargs = next(acts)
            layers.extend(_activation_block(plan, act_kwargs, norm_kwargs, device))
    return layers


def _make_layer(
    layer_class: Any, fan_in: int | None, fan_out: int, bias: bool, kwargs: dict, device: Any
) -> Any:
    """One layer; lazy when ``fan_in`` is unknown."""
    if fan_in is not None:
        return create_on_device(layer_class, device, fan_in, fan_out, bias=bias, **kwargs)
    lazy = LazyMapping.get(layer_class)
    if lazy is None:
        name = getattr(layer_class, "__name__", repr(layer_class))
        raise LazyLayerError(
            f"The lazy version of {name} is not implemented yet. Consider providing the input "
            "feature dimensions explicitly (in_features=...) when creating an MLP module, or "
            "declare a lazy variant with rldsl.modules.models.register_lazy_layer."
        )
    return create_on_device(lazy, device, fan_out, bias=bias, **kwargs)


def _shared_bias_like(layer: nn.Module, device: Any) -> _SharedBias:
    """A shared bias on the device and dtype of ``layer``'s parameters."""
    param = next(layer.parameters(), None) if isinstance(layer, nn.Module) else None
    if param is None:
        return _SharedBias(device=device)
    return _SharedBias(device=param.device, dtype=param.dtype)


def _activation_block(
    plan: _LayerPlan, act_kwargs: dict, norm_kwargs: dict, device: Any
) -> list[Any]:
    """``[Dropout] -> [norm] -> activation`` after a layer."""
    block: list[Any] = []
    if plan.dropout is not None:
        block.append(create_on_device(nn.Dropout, device, p=plan.dropout))
    if plan.norm_class is not None:
        block.append(create_on_device(plan.norm_class, device, **norm_kwargs))
    block.append(create_on_device(plan.activation_class, device, **act_kwargs))
    return block


def _check_out_features(out_features: Any) -> int:
    """The number of output units; ``out_features`` must be an int or a sequence of ints."""
    if out_features is None:
        raise ValueError("out_features must be specified for MLP.")
    if isinstance(out_features, Number):
        _check_size(out_features, "out_features")
        return int(out_features)
    if isinstance(out_features, (str, bytes)) or not isinstance(out_features, Sequence):
        raise TypeError(
            "out_features must be an int or a sequence of ints, got "
            f"{type(out_features).__name__}; e.g. out_features=4 or out_features=(3, 4)."
        )
    if not out_features:
        raise ValueError("out_features must not be empty; e.g. out_features=4 or (3, 4).")
    for size in out_features:
        _check_size(size, "out_features")
    return math.prod(int(s) for s in out_features)


def _check_size(value: Any, name: str) -> None:
    """A positive int, else a clear error naming ``name``."""
    require_int(value, name, expected="made of positive ints", suffix=".")
    require_positive(value, name, expected="made of positive ints", suffix=".")


def _check_optional_size(value: Any, name: str) -> None:
    """``None`` or a positive int."""
    if value is not None:
        _check_size(value, name)


def _resolve_cells(depth: Any, num_cells: Any) -> tuple[list[int], int]:
    """``(num_cells list, depth)`` from the two arguments, as torchrl resolves them."""
    require_int(depth, "depth", expected="an int >= 0 or None", optional=True, minimum=0, error=ValueError, suffix=".")
    if num_cells is None:
        depth = 0 if depth is None else depth
        return [_DEFAULT_NUM_CELLS] * depth, depth
    if isinstance(num_cells, Number):
        if depth is None:
            raise ArgumentError(
                "If num_cells is provided as an integer, depth must be provided too "
                f"(got num_cells={num_cells}); pass depth=..., or a list such as "
                "num_cells=[64, 64]."
            )
        cells = [num_cells] * depth
    elif isinstance(num_cells, (str, bytes)) or not isinstance(num_cells, Sequence):
        raise TypeError(
            f"num_cells must be an int or a sequence of ints, got {type(num_cells).__name__}."
        )
    else:
        cells = list(num_cells)
        if depth is not None and len(cells) != depth:
            raise ArgumentError(
                f"depth and num_cells length conflict (depth={depth}, "
                f"len(num_cells)={len(cells)}); drop depth, or pass an int num_cells together "
                "with the desired depth."
            )
    for size in cells:
        _check_size(size, "num_cells")
    return cells, len(cells)


def _check_factories(activation_class: Any, norm_class: Any, layer_class: Any) -> None:
    """The class arguments must be callables (``norm_class`` may be ``None``)."""
    for value, name in ((activation_class, "activation_class"), (layer_class, "layer_class")):
        if not callable(value):
            raise TypeError(f"{name} must be a class or a callable, got {value!r}.")
    if norm_class is not None and not callable(norm_class):
        raise TypeError(f"norm_class must be a class, a callable or None, got {norm_class!r}.")


def _check_dropout(dropout: Any) -> None:
    """``None`` or a probability in ``[0, 1]``."""
    if dropout is None:
        return
    if isinstance(dropout, bool) or not isinstance(dropout, Number) or not 0 <= dropout <= 1:
        raise ValueError(f"dropout must be a probability in [0, 1] or None, got {dropout!r}.")


def per_layer_kwargs(kwargs: Any, n: int, name: str, needs: str, owner: str = "") -> list[dict]:
    """``n`` independent kwargs dicts from one dict (copied) or a list of ``n`` dicts; ``needs``
    says why ``n`` in the error (``"the MLP needs 3 (depth + 1)"``), ``owner`` prefixes it.

    >>> per_layer_kwargs({"p": 0.1}, 2, "norm_kwargs", "the MLP needs 2")
    [{'p': 0.1}, {'p': 0.1}]
    """
    if kwargs is None:
        return [{} for _ in range(n)]
    if isinstance(kwargs, dict):
        return [deepcopy(kwargs) for _ in range(n)]
    if isinstance(kwargs, (list, tuple)) and all(isinstance(k, dict) for k in kwargs):
        if len(kwargs) != n:
            prefix = f"{owner}: " if owner else ""
            raise ValueError(f"{prefix}{name} has {len(kwargs)} entries but {needs}; pass one dict per layer, or a "
                             "single dict for all.")
        return [deepcopy(k) for k in kwargs]
    raise TypeError(f"{name} must be a dict, a list of dicts or None, got {type(kwargs).__name__}.")
