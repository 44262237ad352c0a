"""Convolutional networks: :class:`ConvNet` (alias :data:`Conv2dNet`), :class:`Conv3dNet`, and the
small layers they end with: :class:`SquashDims`, :class:`SqueezeLayer`, :class:`Squeeze2dLayer`.

Each network is an ``nn.Sequential`` laid out as torchrl 0.14's: per layer ``conv -> activation ->
[norm]`` (the norm comes *after* the activation, unlike the MLP), then the aggregator (by default
:class:`SquashDims`, which flattens channels and space into one feature dim) and, with
``squeeze_output``, a squeeze of the trailing singleton dims. The submodule indices, and so the
``state_dict`` keys (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...), are torchrl's.

>>> import torch
>>> net = ConvNet(in_features=4, num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[4, 2, 1])
>>> net(torch.zeros(2, 4, 84, 84)).shape
torch.Size([2, 3136])
>>> list(net.state_dict())[:4]
['0.weight', '0.bias', '2.weight', '2.bias']
"""

from __future__ import annotations

import warnings
from copy import deepcopy
from typing import Any, Callable, Sequence

import torch
from torch import nn

from rldsl._checks import is_int
from rldsl.modules.models import MLP, _ExecutableLayer, per_layer_kwargs
from rldsl.modules.utils import ArgumentError, check_flag, create_on_device

__all__ = ["Conv2dNet", "Conv3dNet", "ConvNet", "SquashDims", "Squeeze2dLayer", "SqueezeLayer"]

_DEFAULT_NUM_CELLS = 32
_DEFAULT_DEPTH = 3


# ---------------------------------------------------------------------------------------------
# Small layers


class SqueezeLayer(nn.Module):
    """Removes given singleton dims, counted from the end (every dim must be negative).

    Args:
        dims (sequence of int, optional): the dims to squeeze, in order. Defaults to ``(-1,)``.

    Examples:
        >>> import torch
        >>> SqueezeLayer((-2, -1))(torch.zeros(5, 3, 1, 1)).shape
        torch.Size([5, 3])
    """

    def __init__(self, dims: Sequence[int] = (-1,)) -> None:
        super().__init__()
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or not all(is_int(d) for d in dims):
            raise TypeError(f"dims must be a sequence of negative ints, got {dims!r}; e.g. dims=(-2, -1).")
        for dim in dims:
            if dim >= 0:
                raise ArgumentError(
                    f"dims must all be < 0 (counted from the end, so that batch dims do not move them), "
                    f"got {tuple(dims)}; e.g. dims=(-2, -1)."
                )
        self.dims = dims

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Squeeze each of ``dims`` in order: ``[*B, C, 1, 1] -> [*B, C]`` for ``dims=(-2, -1)``.

        Raises ``RuntimeError`` when a dim is missing or not of size 1.
        """
        for dim in self.dims:
            if input.dim() < -dim or input.shape[dim] != 1:
                raise RuntimeError(
                    f"Tried to squeeze an input over dims {tuple(self.dims)} with shape {tuple(input.shape)}: "
                    f"dim {dim} is not a singleton dim."
                )
            input = input.squeeze(dim)
        return input


class Squeeze2dLayer(SqueezeLayer):
    """Removes the two trailing singleton dims of an image: ``[*B, C, 1, 1] -> [*B, C]``."""

    def __init__(self) -> None:
        super().__init__((-2, -1))


class SquashDims(nn.Module):
    """Flattens the ``ndims_in`` last dims into one.

    Args:
        ndims_in (int, optional): how many trailing dims to flatten. Defaults to ``3``
            (channels, height and width of an image).

    Examples:
        >>> import torch
        >>> SquashDims()(torch.zeros(5, 64, 7, 7)).shape
        torch.Size([5, 3136])
    """

    def __init__(self, ndims_in: int = 3) -> None:
        super().__init__()
        if not is_int(ndims_in) or ndims_in < 1:
            raise ValueError(f"ndims_in must be a positive int, got {ndims_in!r}; e.g. ndims_in=3.")
        self.ndims_in = ndims_in

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        """``value: [*B, C, H, W] -> [*B, C*H*W]`` (the last ``ndims_in`` dims flattened)."""
        return value.flatten(-self.ndims_in, -1)


# ---------------------------------------------------------------------------------------------
# Convolutional networks


class _ConvStack(nn.Sequential):
    """What :class:`ConvNet` and :class:`Conv3dNet` share; subclasses set the class attributes."""

    _spatial: int = 2  # spatial dims of the input (H, W)
    _conv: type[nn.Module] = nn.Conv2d
    _lazy_conv: type[nn.Module] = nn.LazyConv2d

    def _setup(self, config: dict[str, Any]) -> None:
        """Validate torchrl's constructor arguments, lay out the layers and keep the attributes."""
        owner = type(self).__name__
        config = dict(config)
        device = config.pop("device")
        _check_in_features(config["in_features"])
        _check_factories(config["activation_class"], config["norm_class"], config["aggregator_class"])
        check_flag(config["bias_last_layer"], "bias_last_layer")
        check_flag(config["squeeze_output"], "squeeze_output")
        if config["bias_last_layer"] is False:
            warnings.warn(
                f"{owner}(bias_last_layer=False) is ignored, as in torchrl 0.14: every convolution keeps its "
                "bias (so that torchrl checkpoints load). Remove the bias by hand if you need to.",
                UserWarning,
                stacklevel=3,
            )
        per_layer = _resolve_layers(owner, config, self._spatial)
        depth = len(per_layer["num_cells"])
        aggregator_kwargs = config["aggregator_kwargs"]
        if aggregator_kwargs is None:
            aggregator_kwargs = {"ndims_in": self._spatial + 1}
        elif not isinstance(aggregator_kwargs, dict):
            raise TypeError(f"aggregator_kwargs must be a dict or None, got {type(aggregator_kwargs).__name__}.")
        needs = f"the network has {depth} layers"
        activation_kwargs = per_layer_kwargs(config["activation_kwargs"], depth, "activation_kwargs", needs, owner)
        norm_kwargs = per_layer_kwargs(config["norm_kwargs"], depth, "norm_kwargs", needs, owner)
        layers = self._layers(config, per_layer, activation_kwargs, norm_kwargs, aggregator_kwargs, device)
        super().__init__(*[m if isinstance(m, nn.Module) else _ExecutableLayer(m) for m in layers])
        self.in_features = config["in_features"]
        self.activation_class = config["activation_class"]
        self.norm_class = config["norm_class"]
        self.bias_last_layer = config["bias_last_layer"]
        self.aggregator_class = config["aggregator_class"]
        self.aggregator_kwargs = aggregator_kwargs
        self.squeeze_output = config["squeeze_output"]
        self.activation_kwargs = config["activation_kwargs"] if config["activation_kwargs"] is not None else {}
        self.norm_kwargs = config["norm_kwargs"] if config["norm_kwargs"] is not None else {}
        for name, values in per_layer.items():
            setattr(self, name, values)
        self.depth = depth
        self.out_features = per_layer["num_cells"][-1]

    def _layers(self, config: dict[str, Any], per_layer: dict[str, list], activation_kwargs: list[dict],
                norm_kwargs: list[dict], aggregator_kwargs: dict, device: Any) -> list[Any]:
        """The layers in torchrl's order: ``conv -> activation -> [norm]`` per layer, then the
        aggregator and the squeeze (so that the indices match its state_dict)."""
        layers: list[Any] = []
        fan_in = config["in_features"]
        steps = zip(per_layer["num_cells"], per_layer["kernel_sizes"], per_layer["strides"], per_layer["paddings"])
        for i, (fan_out, kernel, stride, padding) in enumerate(steps):
            geometry = {"kernel_size": kernel, "stride": stride, "padding": padding, "bias": True}
            if fan_in is None:
                layers.append(create_on_device(self._lazy_conv, device, fan_out, **geometry))
            else:
                layers.append(create_on_device(self._conv, device, fan_in, fan_out, **geometry))
            layers.append(create_on_device(config["activation_class"], device, **activation_kwargs[i]))
            if config["norm_class"] is not None:
                layers.append(create_on_device(config["norm_class"], device, **norm_kwargs[i]))
            fan_in = fan_out
        if config["aggregator_class"] is not None:
            layers.append(_make_aggregator(config["aggregator_class"], aggregator_kwargs, device))
        if config["squeeze_output"]:
            layers.append(self._squeeze())
        return layers

    def _squeeze(self) -> SqueezeLayer:
        return Squeeze2dLayer()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run the layers: ``inputs: [*B, C, H, W] -> [*B, C_out*H_out*W_out]``.

        That is with the default aggregator; without one the output is ``[*B, C_out, H_out, W_out]``
        (3-D convolutions read ``[*B, C, D, H, W]``). Two or more batch dims are flattened into one
        before the layers and restored after them; no batch dim at all is allowed too (torch's
        unbatched convolution).
        """
        image_dims = self._spatial + 1
        if inputs.dim() < image_dims:
            raise ValueError(
                f"The input of {type(self).__name__} must have at least {image_dims} dimensions "
                f"([*B, C, {'D, ' if self._spatial == 3 else ''}H, W]), got shape {tuple(inputs.shape)}."
            )
        batch = inputs.shape[:-image_dims]
        if len(batch) > 1:
            out = super().forward(inputs.flatten(0, len(batch) - 1))
            return out.unflatten(0, batch)
        return super().forward(inputs)


class ConvNet(_ConvStack):
    """A convolutional network: 2-D convolutions with an activation (and optional norm) after each.

    ``depth`` layers of ``num_cells[i]`` channels each, laid out ``Conv2d -> activation ->
    [norm]``, then the aggregator (``SquashDims`` by default: ``[*B, C, H, W] -> [*B, C*H*W]``)
    and, with ``squeeze_output``, a :class:`Squeeze2dLayer`. Each layer maps a spatial size ``s``
    to ``(s + 2*padding - kernel) // stride + 1``. Without ``in_features`` the first convolution
    is lazy (``nn.LazyConv2d``). The submodule indices, and so the ``state_dict`` keys, are torchrl's.

    Args:
        in_features (int, optional): input channels; ``None`` makes the first convolution lazy.
        depth (int, optional): number of convolutions; taken from the list arguments when left out.
        num_cells (int or sequence of int, optional): output channels of each convolution.
            Defaults to ``[32, 32, 32]`` (``[32] * depth`` when ``depth`` is given).
        kernel_sizes (int or sequence, optional): kernel size(s); an entry may be a tuple
            (rectangular kernel). Defaults to ``3``.
        strides (int or sequence, optional): stride(s). Defaults to ``1``.
        paddings (int or sequence, optional): zero padding(s). Defaults to ``0``.
        activation_class (type or callable, optional): activation factory. Defaults to ``nn.ELU``.
        activation_kwargs (dict or list of dict, optional): its kwargs, one dict for all or one per layer.
        norm_class (type or callable, optional): normalisation factory, placed after each activation.
        norm_kwargs (dict or list of dict, optional): its kwargs, one dict for all or one per layer.
        bias_last_layer (bool, optional): ignored, as in torchrl 0.14 (every convolution keeps
            its bias); ``False`` warns.
        aggregator_class (type or callable, optional): the last layer. Defaults to
            :class:`SquashDims`; ``None`` keeps the image shape.
        aggregator_kwargs (dict, optional): its kwargs. Defaults to ``{"ndims_in": 3}``.
        squeeze_output (bool, optional): append a :class:`Squeeze2dLayer`. Defaults to ``False``.
        device (torch.device, optional): where to create the parameters.

    Examples:
        >>> import torch
        >>> net = ConvNet(in_features=3, num_cells=[16, 32], kernel_sizes=3, strides=[2, 1], paddings=1)
        >>> net(torch.zeros(7, 5, 3, 32, 32)).shape
        torch.Size([7, 5, 8192])
        >>> ConvNet(in_features=3, depth=1, num_cells=[8], aggregator_class=None)(torch.zeros(3, 10, 10)).shape
        torch.Size([8, 8, 8])
    """

    def __init__(
        self,
        in_features: int | None = None,
        depth: int | None = None,
        num_cells: Sequence[int] | int | None = None,
        kernel_sizes: Sequence[int | Sequence[int]] | int = 3,
        strides: Sequence[int] | int = 1,
        paddings: Sequence[int] | int = 0,
        activation_class: type[nn.Module] | Callable = nn.ELU,
        activation_kwargs: dict | list[dict] | None = None,
        norm_class: type[nn.Module] | Callable | None = None,
        norm_kwargs: dict | list[dict] | None = None,
        bias_last_layer: bool = True,
        aggregator_class: type[nn.Module] | Callable | None = SquashDims,
        aggregator_kwargs: dict | None = None,
        squeeze_output: bool = False,
        device: torch.device | str | int | None = None,
    ) -> None:
        self._setup({name: value for name, value in locals().items() if name != "self"})

    @classmethod
    def default_atari_dqn(cls, num_actions: int) -> nn.Sequential:
        """The DQN network of Mnih et al. (2015): ``[*B, C, 84, 84] -> [*B, num_actions]``.

        A ``ConvNet`` (ReLU, 32/64/64 channels, kernels 8/4/3, strides 4/2/1, lazy input
        channels) then an ``MLP`` (one hidden layer of 512, ReLU), as torchrl builds it.
        """
        return nn.Sequential(
            cls(activation_class=nn.ReLU, num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[4, 2, 1]),
            MLP(activation_class=nn.ReLU, out_features=num_actions, num_cells=[512]),
        )


#: torchrl's other name for :class:`ConvNet`.
Conv2dNet = ConvNet


class Conv3dNet(_ConvStack):
    """A 3-D convolutional network: :class:`ConvNet` with ``Conv3d`` layers, on ``[*B, C, D, H, W]``.

    Same arguments and layout as :class:`ConvNet`; the default aggregator flattens the last four
    dims (``aggregator_kwargs={"ndims_in": 4}``: ``[*B, C, D, H, W] -> [*B, C*D*H*W]``) and
    ``squeeze_output`` appends ``SqueezeLayer((-3, -2, -1))``. Without ``in_features`` the first
    convolution is ``nn.LazyConv3d``.

    Examples:
        >>> import torch
        >>> net = Conv3dNet(in_features=2, num_cells=[4, 8], kernel_sizes=3)
        >>> net(torch.zeros(5, 2, 7, 9, 9)).shape
        torch.Size([5, 600])
    """

    _spatial = 3
    _conv = nn.Conv3d
    _lazy_conv = nn.LazyConv3d

    def __init__(
        self,
        in_features: int | None = None,
        depth: int | None = None,
        num_cells: Sequence[int] | int | None = None,
        kernel_sizes: Sequence[int | Sequence[int]] | int = 3,
        strides: Sequence[int] | int = 1,
        paddings: Sequence[int] | int = 0,
        activation_class: type[nn.Module] | Callable = nn.ELU,
        activation_kwargs: dict | list[dict] | None = None,
        norm_class: type[nn.Module] | Callable | None = None,
        norm_kwargs: dict | list[dict] | None = None,
        bias_last_layer: bool = True,
        aggregator_class: type[nn.Module] | Callable | None = SquashDims,
        aggregator_kwargs: dict | None = None,
        squeeze_output: bool = False,
        device: torch.device | str | int | None = None,
    ) -> None:
        self._setup({name: value for name, value in locals().items() if name != "self"})

    def _squeeze(self) -> SqueezeLayer:
        return SqueezeLayer((-3, -2, -1))


# ---------------------------------------------------------------------------------------------
# Argument resolution

_LAYER_ARGS = ("num_cells", "kernel_sizes", "strides", "paddings")


def _resolve_layers(owner: str, config: dict[str, Any], spatial: int) -> dict[str, list]:
    """The four per-layer lists, each of length ``depth``, as torchrl resolves them: a list gives
    the depth, a scalar is repeated ``depth`` times, lists of different lengths are refused."""
    depth = config["depth"]
    if depth is not None and (not is_int(depth) or depth < 0):
        raise ValueError(f"depth must be a positive int or None, got {depth!r}.")
    if depth == 0:
        raise ValueError(f"Null depth is not permitted with {owner}: give depth >= 1 (or a list of num_cells).")
    values = dict((name, config[name]) for name in _LAYER_ARGS)
    if values["num_cells"] is None:
        values["num_cells"] = [_DEFAULT_NUM_CELLS] * (_DEFAULT_DEPTH if depth is None else depth)
    for name, value in values.items():
        if isinstance(value, (str, bytes)) or not (isinstance(value, Sequence) or is_int(value)):
            raise TypeError(f"{owner}: {name} must be an int or a sequence, got {value!r}.")
    lengths = {name: len(value) for name, value in values.items() if isinstance(value, Sequence)}
    if depth is None:
        depth = _depth_from_lists(owner, lengths)
    for name, length in lengths.items():
        if length != depth:
            raise ArgumentError(
                f"{owner}: depth={depth} and {name}={length} length conflict; give {name} one entry per "
                f"layer, or a single value to use for every layer."
            )
    resolved = {name: list(value) if isinstance(value, Sequence) else [value] * depth
                for name, value in values.items()}
    for size in resolved["num_cells"]:
        if not is_int(size) or size < 1:
            raise ValueError(f"{owner}: num_cells must be made of positive ints, got {values['num_cells']!r}.")
    _check_geometry(owner, resolved, spatial)
    return resolved


def _depth_from_lists(owner: str, lengths: dict[str, int]) -> int:
    """The depth given by the list arguments (they must agree)."""
    if not lengths:
        raise ValueError(
            f"{owner}: depth=None requires one of num_cells, kernel_sizes, strides, paddings to be a list or "
            "a tuple; give depth=..., or list the layers, as in num_cells=[32, 64]."
        )
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ArgumentError(
            f"{owner}: the per-layer lists disagree on the depth ({shown} entries); give each list one entry "
            "per layer, or a single value to use for every layer."
        )
    return next(iter(lengths.values()))


def _check_geometry(owner: str, resolved: dict[str, list], spatial: int) -> None:
    """Kernels and strides are positive, paddings non-negative: an int or a tuple of ``spatial``."""
    minimum = {"kernel_sizes": 1, "strides": 1, "paddings": 0}
    for name, least in minimum.items():
        for entry in resolved[name]:
            tupled = isinstance(entry, Sequence) and not isinstance(entry, (str, bytes))
            items = tuple(entry) if tupled else (entry,)
            shaped = len(items) == spatial if tupled else True
            if not shaped or not all(is_int(v) and v >= least for v in items):
                what = "positive ints" if least else "ints >= 0"
                raise ValueError(
                    f"{owner}: {name} must be made of {what} (or tuples of {spatial} of them), got "
                    f"{entry!r} in {resolved[name]!r}."
                )


def _check_in_features(in_features: Any) -> None:
    if in_features is not None and (not is_int(in_features) or in_features < 1):
        raise ValueError(f"in_features must be a positive int (input channels) or None, got {in_features!r}.")


def _check_factories(activation_class: Any, norm_class: Any, aggregator_class: Any) -> None:
    if not callable(activation_class):
        raise TypeError(f"activation_class must be a class or a callable, got {activation_class!r}.")
    for value, name in ((norm_class, "norm_class"), (aggregator_class, "aggregator_class")):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be a class, a callable or None, got {value!r}.")


def _make_aggregator(aggregator_class: Any, kwargs: dict, device: Any) -> Any:
    """The aggregator, with a clear message when the default kwargs do not fit another class."""
    try:
        return create_on_device(aggregator_class, device, **deepcopy(kwargs))
    except TypeError as error:
        name = getattr(aggregator_class, "__name__", repr(aggregator_class))
        raise TypeError(
            f"aggregator_class {name}(**{kwargs!r}) failed ({error}); pass the aggregator's own "
            "arguments as aggregator_kwargs, e.g. aggregator_kwargs={'output_size': (1, 1)} for "
            "nn.AdaptiveAvgPool2d."
        ) from error

