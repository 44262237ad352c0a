"""`LSTMNet`: an MLP, then an LSTM (batch first), then a linear layer (torchrl 0.14's ``torchrl.testing.LSTMNet``).

In torchrl 0.14 ``LSTMNet`` is a test helper (``torchrl.testing``), no longer part of
``torchrl.modules``; rldsl keeps it in its module library with the same constructor, submodule
names (``mlp``, ``lstm``, ``linear``: the ``state_dict`` keys are torchrl's) and forward contract:
it returns ``(y, hidden0_in, hidden1_in, hidden0_out, hidden1_out)`` — the output, the hidden and
cell states it started from, and those it ended with. Because ``torch.nn.LSTM`` returns only the
last states, over several steps the output states are zero at every step but the last, so that
every returned tensor has the ``[batch, time]`` leading dims a tensordict of steps needs.

:func:`lstm_net_from_sizes` builds one from plain sizes: it is what the language's ``LSTMNet``
kind compiles to (the language has no dict arguments for ``lstm_kwargs``/``mlp_kwargs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rldsl._checks import require_int
from rldsl.modules.models import MLP
from rldsl.modules.utils import ArgumentError

__all__ = ["LSTMNet", "lstm_net_from_sizes"]

#: The LSTM classes ``lstm_backend`` may name.
_BACKENDS = ("torch", "torchrl")


class LSTMNet(nn.Module):
    """An embedder for an LSTM preceded by an MLP: ``MLP -> LSTM(batch_first=True) -> Linear``.

    A 3-D input ``[batch, time, features]`` is a batch of sequences; a 2-D input
    ``[batch, features]`` is one step of a batch; a 1-D input ``[features]`` one step without a
    batch dim. Hidden states are ``[*lead, num_layers, hidden_size]`` (layers before features,
    so that they sit in a tensordict after its batch dims); for sequences, only the states at the
    first step of the given ``hidden0_in``/``hidden1_in`` are used.

    Args:
        out_features (int): the output size of the last linear layer.
        lstm_kwargs (dict): keyword arguments of ``torch.nn.LSTM`` (``input_size``,
            ``hidden_size``, ``num_layers``, ...); ``batch_first`` is always ``True``. The dict is
            not modified (torchrl writes ``batch_first`` into it).
        mlp_kwargs (dict): keyword arguments of :class:`~rldsl.modules.MLP`; its ``out_features``
            must be the LSTM's ``input_size``.
        device (torch.device, optional): where to create the parameters.

    Keyword Args:
        lstm_backend (str, optional): ``"torch"`` (``torch.nn.LSTM``, the default) or
            ``"torchrl"`` (:class:`rldsl.modules.LSTM`, torchrl's Python LSTM: the same parameters
            and numbers, vmap and compile friendly).

    The last layer is a ``Linear`` sized from the LSTM (``hidden_size``, or ``proj_size``, times
    two when bidirectional) where torchrl uses ``LazyLinear``: the same parameters, known before
    the first call.

    Example:
        >>> net = LSTMNet(10, {"input_size": 5, "hidden_size": 5}, {"out_features": 5, "in_features": 4})
        >>> y, h_in, c_in, h_out, c_out = net(torch.randn(7, 6, 4))  # 7 sequences of 6 steps
        >>> y.shape, h_in.shape, h_out.shape
        (torch.Size([7, 6, 10]), torch.Size([7, 6, 1, 5]), torch.Size([7, 6, 1, 5]))
        >>> y, h_in, c_in, h_out, c_out = net(torch.randn(7, 4))  # one step of 7
        >>> y.shape, h_out.shape
        (torch.Size([7, 10]), torch.Size([7, 1, 5]))
    """

    def __init__(self, out_features: int, lstm_kwargs: Mapping[str, Any], mlp_kwargs: Mapping[str, Any],
                 device: torch.device | str | int | None = None, *, lstm_backend: str | None = None) -> None:
        super().__init__()
        require_int(out_features, "LSTMNet `out_features`", expected="an int >= 1", minimum=1, error=ArgumentError)
        lstm_kwargs = _kwargs(lstm_kwargs, "lstm_kwargs")
        mlp_kwargs = _kwargs(mlp_kwargs, "mlp_kwargs")
        self.lstm_backend = _backend(lstm_backend)
        self.mlp = MLP(device=device, **mlp_kwargs)
        lstm_class = nn.LSTM if self.lstm_backend == "torch" else _python_lstm()
        self.lstm = lstm_class(device=device, **{**lstm_kwargs, "batch_first": True})
        directions = 2 if self.lstm.bidirectional else 1
        self.linear = nn.Linear((self.lstm.proj_size or self.lstm.hidden_size) * directions, out_features,
                                device=device)
        self.out_features = out_features

    def forward(self, input: torch.Tensor, hidden0_in: torch.Tensor | None = None,
                hidden1_in: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Run the MLP, the LSTM from the given (or zero) states, and the linear layer.

        ``input: [*lead, in_features] -> (y: [*lead, out_features], hidden0_in, hidden1_in:
        [*lead, num_layers, hidden_size], hidden0_out, hidden1_out: [*lead, num_layers,
        hidden_size])`` where ``*lead`` is ``[batch, time]``, ``[batch]`` or nothing. Over time, the
        output states are zero at every step but the last.
        """
        return self._lstm(self.mlp(input), hidden0_in, hidden1_in)

    def _state_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The per-sample shapes of the hidden and the cell state: ``(layers * directions, size)``."""
        layers = self.lstm.num_layers * (2 if self.lstm.bidirectional else 1)
        return (layers, self.lstm.proj_size or self.lstm.hidden_size), (layers, self.lstm.hidden_size)

    def _lstm(self, x: torch.Tensor, hidden0_in: torch.Tensor | None,
              hidden1_in: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        unbatched = x.dim() == 1
        if unbatched:
            x = x.unsqueeze(0)
        single_step = x.dim() == 2
        if single_step:
            x = x.unsqueeze(1)
        if x.dim() != 3:
            raise ValueError(f"LSTMNet reads [features], [batch, features] or [batch, time, features], got an input "
                             f"of {x.dim()} dims")
        hidden0_in, hidden1_in = self._initial_states(x, hidden0_in, hidden1_in, single_step, unbatched)
        first0, first1 = (hidden0_in, hidden1_in) if single_step else (hidden0_in[:, 0], hidden1_in[:, 0])
        start = (first0.transpose(0, 1).contiguous(), first1.transpose(0, 1).contiguous())  # [layers, batch, size]
        features, (hidden0, hidden1) = self.lstm(x, start)
        y = self.linear(features)
        hidden0_out, hidden1_out = hidden0.transpose(0, 1), hidden1.transpose(0, 1)  # [batch, layers, size]
        if single_step:
            y = y.squeeze(1)
        else:
            hidden0_out, hidden1_out = (_last_step_only(h, x.shape[1]) for h in (hidden0_out, hidden1_out))
        out = (y, hidden0_in, hidden1_in, hidden0_out, hidden1_out)
        return tuple(t.squeeze(0) for t in out) if unbatched else out

    def _initial_states(self, x: torch.Tensor, hidden0_in: torch.Tensor | None, hidden1_in: torch.Tensor | None,
                        single_step: bool, unbatched: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The given states (with a batch dim), or zeros ``[batch, (time,) layers, size]``."""
        if hidden0_in is None and hidden1_in is None:
            lead = tuple(x.shape[:1]) if single_step else tuple(x.shape[:2])
            return tuple(torch.zeros(*lead, *shape, device=x.device, dtype=x.dtype)  # type: ignore[return-value]
                         for shape in self._state_shapes())
        if hidden0_in is None or hidden1_in is None:
            raise RuntimeError(f"LSTMNet needs both hidden states or neither, got type(hidden0)={type(hidden0_in)} "
                               f"and type(hidden1)={type(hidden1_in)}")
        if unbatched:
            return hidden0_in.unsqueeze(0), hidden1_in.unsqueeze(0)
        return hidden0_in, hidden1_in


def _last_step_only(state: torch.Tensor, steps: int) -> torch.Tensor:
    """``[batch, layers, size]`` -> ``[batch, steps, layers, size]``, zero but at the last step."""
    zeros = state.new_zeros(state.shape[0], steps - 1, *state.shape[1:])
    return torch.cat([zeros, state.unsqueeze(1)], 1)


def _kwargs(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"LSTMNet `{name}` must be a dict of keyword arguments, got {type(value).__name__}")
    return dict(value)


def _backend(value: str | None) -> str:
    backend = "torch" if value is None else value
    if backend not in _BACKENDS:
        raise ValueError(f"LSTMNet `lstm_backend` must be \"torch\", \"torchrl\" or None, got {value!r}")
    return backend


def _python_lstm() -> type[nn.Module]:
    """torchrl's Python LSTM (imported here: ``rnn`` imports the tensordict modules)."""
    from rldsl.modules.rnn import LSTM

    return LSTM


def lstm_net_from_sizes(out_features: int, hidden_size: int, *, in_features: int | None = None, num_layers: int = 1,
                        mlp_out_features: int | None = None, mlp_depth: int | None = None,
                        mlp_num_cells: int | Sequence[int] | None = None,
                        mlp_activation_class: type[nn.Module] = nn.Tanh,
                        device: torch.device | str | int | None = None) -> LSTMNet:
    """An :class:`LSTMNet` from sizes: ``LSTMNet(out_features, lstm_kwargs, mlp_kwargs)`` with
    ``mlp_kwargs = {in_features, out_features: mlp_out_features, depth: mlp_depth, num_cells:
    mlp_num_cells, activation_class: mlp_activation_class}`` and ``lstm_kwargs = {input_size:
    mlp_out_features, hidden_size, num_layers}``; ``mlp_out_features`` defaults to ``hidden_size``.

    ``input: [*lead, in_features] -> (y: [*lead, out_features], 4 x [*lead, num_layers, hidden_size])``.

    >>> net = lstm_net_from_sizes(2, 8, in_features=3, mlp_num_cells=[16])
    >>> [t.shape for t in net(torch.randn(4, 3))]
    [torch.Size([4, 2]), torch.Size([4, 1, 8]), torch.Size([4, 1, 8]), torch.Size([4, 1, 8]), torch.Size([4, 1, 8])]
    """
    require_int(hidden_size, "LSTMNet `hidden_size`", expected="an int >= 1", minimum=1, error=ArgumentError)
    require_int(num_layers, "LSTMNet `num_layers`", expected="an int >= 1", minimum=1, error=ArgumentError)
    embed = hidden_size if mlp_out_features is None else mlp_out_features
    mlp_kwargs = {"in_features": in_features, "out_features": embed, "depth": mlp_depth, "num_cells": mlp_num_cells,
                  "activation_class": mlp_activation_class}
    lstm_kwargs = {"input_size": embed, "hidden_size": hidden_size, "num_layers": num_layers}
    return LSTMNet(out_features, lstm_kwargs, mlp_kwargs, device=device)
