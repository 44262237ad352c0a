"""torchrl's Python recurrent layers: `LSTMCell`, `GRUCell`, `LSTM`, `GRU`.

The cells subclass torch's ``nn.LSTMCell`` / ``nn.GRUCell``; `LSTM` and `GRU` subclass
``nn.RNNBase`` (as torchrl's do: ``torch.compile`` refuses any ``nn.LSTM`` / ``nn.GRU``
instance). Each has torch's parameters (so torch's ``state_dict`` names: ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
``weight_hr_l0`` with ``proj_size``, ``*_reverse`` for the backward direction), torch's
initialisation and torch's argument checks. Only ``forward`` differs: it is written with plain
tensor operations (a Python loop over time steps), where torch calls one fused kernel (cuDNN on
a GPU). The results are torch's to floating-point rounding; in exchange, the layers work under
``torch.vmap`` (a batch of parameters or of inputs) and ``torch.compile``, which the fused
kernels refuse or break on. They are slower than torch's: use them where those transforms are
needed (``LSTMModule(python_based=True)``).

As in torchrl, `LSTM` and `GRU` default to ``batch_first=True`` (torch's classes to ``False``),
and `LSTM`'s arguments are in torchrl's order (``batch_first`` before ``bias``). Beyond torchrl,
bidirectional layers and ``proj_size`` are computed (torchrl refuses the first and ignores the
projection), ``PackedSequence`` inputs are accepted, and ``forward`` takes an optional ``mask``
(``[batch, time]``, ``False`` at padding) that freezes the state over padded steps, so the final
states of right-padded sequences are those after each sequence's last real step.

The step functions (`lstm_step`, `gru_step`) and `run_layers` are shared with
:class:`~rldsl.modules.LSTMModule` and :class:`~rldsl.modules.GRUModule`.

>>> import torch
>>> lstm = LSTM(input_size=3, hidden_size=5, num_layers=2)
>>> out, (h, c) = lstm(torch.randn(4, 7, 3))  # batch 4, 7 steps (batch first)
>>> out.shape, h.shape, c.shape
(torch.Size([4, 7, 5]), torch.Size([2, 4, 5]), torch.Size([2, 4, 5]))
>>> calls = torch.vmap(lambda x: lstm(x)[0])(torch.randn(6, 4, 7, 3))  # nn.LSTM cannot be vmapped
>>> calls.shape
torch.Size([6, 4, 7, 5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "LayerWeights", "gru_step", "layer_weights", "lstm_step",
           "run_layers", "run_layers_with_resets"]

#: One step of a cell: ``(input projection at t, state) -> new state``; the output is the new state's first tensor.
Step = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]


class LayerWeights(NamedTuple):
    """The parameters of one layer and direction of a torch RNN (``None`` where absent)."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    weight_hr: Tensor | None


def layer_weights(rnn: nn.RNNBase) -> list[LayerWeights]:
    """The current parameters of each layer and direction of ``rnn``, in torch's state order
    (``layer * directions + direction``). Read at every call: no copy is kept."""
    directions = 2 if rnn.bidirectional else 1
    found = []
    for layer in range(rnn.num_layers):
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            found.append(LayerWeights(
                getattr(rnn, "weight_ih" + suffix), getattr(rnn, "weight_hh" + suffix),
                getattr(rnn, "bias_ih" + suffix) if rnn.bias else None,
                getattr(rnn, "bias_hh" + suffix) if rnn.bias else None,
                getattr(rnn, "weight_hr" + suffix, None) if getattr(rnn, "proj_size", 0) else None))
    return found


def lstm_step(gates_x: Tensor, state: tuple[Tensor, ...], weights: LayerWeights) -> tuple[Tensor, Tensor]:
    """One LSTM step from the input's share of the gates: ``gates_x: [B, 4 * hidden]``,
    ``state = (h: [B, H_out], c: [B, hidden]) -> (h', c')``, torch's gate order ``(i, f, g, o)``."""
    hidden, cell = state
    gates = gates_x + F.linear(hidden, weights.weight_hh, weights.bias_hh)
    input_gate, forget_gate, cell_gate, output_gate = gates.chunk(4, -1)
    cell = torch.sigmoid(forget_gate) * cell + torch.sigmoid(input_gate) * torch.tanh(cell_gate)
    hidden = torch.sigmoid(output_gate) * torch.tanh(cell)
    if weights.weight_hr is not None:
        hidden = F.linear(hidden, weights.weight_hr)
    return hidden, cell


def gru_step(gates_x: Tensor, state: tuple[Tensor, ...], weights: LayerWeights) -> tuple[Tensor]:
    """One GRU step from the input's share of the gates: ``gates_x: [B, 3 * hidden]``,
    ``state = (h: [B, hidden],) -> (h',)``, torch's gate order ``(r, z, n)`` and its reset of
    the hidden share of ``n`` (bias included)."""
    (hidden,) = state
    gates_h = F.linear(hidden, weights.weight_hh, weights.bias_hh)
    x_reset, x_update, x_new = gates_x.chunk(3, -1)
    h_reset, h_update, h_new = gates_h.chunk(3, -1)
    reset = torch.sigmoid(x_reset + h_reset)
    update = torch.sigmoid(x_update + h_update)
    new = torch.tanh(x_new + reset * h_new)
    return (new + update * (hidden - new),)


def _run_direction(gates_x: Tensor, state: tuple[Tensor, ...], step: Step, reverse: bool,
                   mask: Tensor | None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run one direction over time: ``gates_x: [B, T, G]`` -> ``(outputs: [B, T, H_out], final state)``.

    Where ``mask`` (``[B, T]``) is False the state is kept and the output is zero.
    """
    steps = gates_x.shape[1]
    outputs: list[Tensor] = [gates_x] * steps  # placeholders, all overwritten
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        new_state = step(gates_x[:, t], state)
        if mask is None:
            state = new_state
            outputs[t] = new_state[0]
        else:
            keep = mask[:, t, None]
            state = tuple(torch.where(keep, new, old) for new, old in zip(new_state, state))
            outputs[t] = torch.where(keep, new_state[0], torch.zeros_like(new_state[0]))
    return torch.stack(outputs, 1), state


def run_layers(x: Tensor, states: tuple[Tensor, ...], weights: Sequence[LayerWeights],
               cell: Callable[[Tensor, tuple[Tensor, ...], LayerWeights], tuple[Tensor, ...]], *, num_layers: int,
               bidirectional: bool, dropout: float = 0.0, training: bool = False,
               mask: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A stacked (maybe bidirectional) RNN in plain tensor operations.

    ``x: [B, T, input_size]``, each of ``states: [num_layers * D, B, S]`` (LSTM: ``(h, c)``,
    GRU: ``(h,)``), ``mask: [B, T]`` or None -> ``(output: [B, T, D * H_out], final states:
    [num_layers * D, B, S])`` with ``D = 2`` when bidirectional. Dropout (training only) applies
    to each layer's output but the last's, as torch's.
    """
    directions = 2 if bidirectional else 1
    finals: list[list[Tensor]] = [[] for _ in states]
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            index = layer * directions + direction
            w = weights[index]
            gates_x = F.linear(layer_input, w.weight_ih, w.bias_ih)  # every step at once

            def step(g: Tensor, s: tuple[Tensor, ...], w: LayerWeights = w) -> tuple[Tensor, ...]:
                return cell(g, s, w)

            output, final = _run_direction(gates_x, tuple(s[index] for s in states), step, direction == 1, mask)
            outputs.append(output)
            for collected, tensor in zip(finals, final):
                collected.append(tensor)
        layer_input = outputs[0] if directions == 1 else torch.cat(outputs, -1)
        if dropout and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    return layer_input, tuple(torch.stack(collected, 0) for collected in finals)


def run_layers_with_resets(x: Tensor, is_init: Tensor, stored: tuple[Tensor, ...] | None, sizes: Sequence[int],
                       weights: Sequence[LayerWeights],
                       cell: Callable[[Tensor, tuple[Tensor, ...], LayerWeights], tuple[Tensor, ...]], *,
                       num_layers: int, dropout: float = 0.0,
                       training: bool = False) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A stacked one-direction RNN over rows holding several trajectories, without splitting them.

    ``x: [B, T, input_size]``, ``is_init: [B, T]`` (True where a trajectory starts), each of
    ``stored: [num_layers, B, T, S]`` (None: zeros) -> ``(output: [B, T, H_out], states after
    every step: [num_layers, B, T, S])``. Each row starts from its stored states at step 0 and
    every trajectory from the stored states at its first step (torchrl's recurrent mode), with
    ``torch.where`` only: no data-dependent branch, so it runs under ``torch.vmap`` and
    ``torch.compile``.
    """
    batch, steps = x.shape[:2]
    starts = torch.cat([torch.ones_like(is_init[:, :1]), is_init[:, 1:]], 1)
    per_step: list[list[Tensor]] = [[] for _ in sizes]
    layer_input = x
    for layer in range(num_layers):
        w = weights[layer]
        gates_x = F.linear(layer_input, w.weight_ih, w.bias_ih)
        state = tuple(x.new_zeros(batch, size) for size in sizes)
        outputs = []
        for t in range(steps):
            start = starts[:, t, None]
            restart = (tuple(torch.zeros_like(s) for s in state) if stored is None
                       else tuple(s[layer, :, t] for s in stored))
            state = tuple(torch.where(start, r, s) for r, s in zip(restart, state))
            state = cell(gates_x[:, t], state, w)
            outputs.append(state[0])
            for collected, tensor in zip(per_step, state):
                collected.append(tensor)
        layer_input = torch.stack(outputs, 1)
        if dropout and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, training=True)
    states = tuple(torch.stack(collected, 1).unflatten(1, (num_layers, steps)).transpose(0, 1)
                   for collected in per_step)
    return layer_input, states


# --- cells ---------------------------------------------------------------------------------------------------------
def _cell_input(owner: str, input: Tensor, hx: Sequence[Tensor | None], input_size: int) -> bool:
    """Check a cell's input and states as torch does; returns whether the input is batched."""
    if input.dim() not in (1, 2):
        raise ValueError(f"{owner}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    for index, state in enumerate(hx):
        if state is not None and state.dim() != input.dim():
            raise ValueError(f"{owner}: Expected hx[{index}] to be {input.dim()}D like the input, "
                             f"got {state.dim()}D instead")
    if input.shape[-1] != input_size:
        raise RuntimeError(f"{owner}: input has inconsistent input_size: got {input.shape[-1]} expected {input_size}")
    return input.dim() == 2


class LSTMCell(nn.LSTMCell):
    """torch's ``nn.LSTMCell`` computed in plain tensor operations (vmap and compile friendly).

    Same arguments, parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) and
    results (to rounding) as ``torch.nn.LSTMCell``; torchrl's ``torchrl.modules.LSTMCell``.

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the hidden and cell states.
        bias (bool): whether the cell has the biases ``b_ih`` and ``b_hh``. Default: ``True``.
        device, dtype: where and of what type the parameters are created.

    >>> cell = LSTMCell(3, 5)
    >>> h, c = cell(torch.randn(4, 3))
    >>> h.shape, c.shape
    (torch.Size([4, 5]), torch.Size([4, 5]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias=bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | Tensor | None = None,
                cx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step: ``input: [B, input_size]`` (or ``[input_size]``), ``hx = (h, c): [B, hidden_size]``
        each (zeros when None) -> ``(h', c'): [B, hidden_size]`` each (unbatched in, unbatched out).

        ``h`` and ``c`` may also come as two arguments, ``cell(input, h, c)``: how a tensordict
        module passes the keys it reads (an rldsl addition; torch takes the pair only).
        """
        if cx is not None:
            if not isinstance(hx, Tensor):
                raise TypeError("LSTMCell: with `cx`, `hx` is the hidden state tensor h")
            hx = (hx, cx)
        batched = _cell_input("LSTMCell", input, hx if hx is not None else (), self.input_size)
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        if hx is None:
            zeros = input.new_zeros(input.shape[0], self.hidden_size)
            hx = (zeros, zeros)
        weights = LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None)
        hidden, cell = lstm_step(F.linear(input, self.weight_ih, self.bias_ih), (hx[0], hx[1]), weights)
        return (hidden, cell) if batched else (hidden.squeeze(0), cell.squeeze(0))


class GRUCell(nn.GRUCell):
    """torch's ``nn.GRUCell`` computed in plain tensor operations (vmap and compile friendly).

    Same arguments, parameters and results (to rounding) as ``torch.nn.GRUCell``; torchrl's
    ``torchrl.modules.GRUCell``.

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the hidden state.
        bias (bool): whether the cell has the biases ``b_ih`` and ``b_hh``. Default: ``True``.
        device, dtype: where and of what type the parameters are created.

    >>> GRUCell(3, 5)(torch.randn(4, 3)).shape
    torch.Size([4, 5])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias=bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: ``input: [B, input_size]`` (or ``[input_size]``), ``hx: [B, hidden_size]``
        (zeros when None) -> ``h': [B, hidden_size]`` (unbatched in, unbatched out)."""
        batched = _cell_input("GRUCell", input, (hx,), self.input_size)
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        if hx is None:
            hx = input.new_zeros(input.shape[0], self.hidden_size)
        weights = LayerWeights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None)
        (hidden,) = gru_step(F.linear(input, self.weight_ih, self.bias_ih), (hx,), weights)
        return hidden if batched else hidden.squeeze(0)


# --- multi-step layers ----------------------------------------------------------------------------------------------
class _PythonRNN(nn.RNNBase):
    """What `LSTM` and `GRU` share: input layouts, packed sequences, masks; the cell is the subclass's.

    A subclass of ``nn.RNNBase`` (torch's parameters, initialisation, ``flatten_parameters``,
    ``_apply``...) but not of ``nn.LSTM`` / ``nn.GRU``: ``torch.compile`` refuses instances of those
    classes, whatever their forward.
    """

    _cell: Callable[[Tensor, tuple[Tensor, ...], LayerWeights], tuple[Tensor, ...]]
    _name: str

    def _state_sizes(self) -> tuple[int, ...]:
        raise TypeError(f"{type(self).__name__} must define its state sizes")

    def _run(self, input: Tensor | PackedSequence, hx: tuple[Tensor, ...] | None,
             mask: Tensor | None) -> tuple[Tensor | PackedSequence, tuple[Tensor, ...]]:
        if isinstance(input, PackedSequence):
            if mask is not None:
                raise ValueError(f"{self._name}: a PackedSequence carries its own lengths; pass no `mask`")
            return self._run_packed(input, hx)
        if input.dim() not in (2, 3):
            raise ValueError(f"{self._name}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
            if hx is not None:
                if any(h.dim() != 2 for h in hx):
                    raise RuntimeError(f"{self._name}: for unbatched 2-D input, the states should also be 2-D")
                hx = tuple(h.unsqueeze(1) for h in hx)
            if mask is not None:
                mask = mask.unsqueeze(batch_dim)
        output, states = self._run_batched(input, hx, mask)
        if not batched:
            return output.squeeze(batch_dim), tuple(s.squeeze(1) for s in states)
        return output, states

    def _run_batched(self, input: Tensor, hx: tuple[Tensor, ...] | None,
                     mask: Tensor | None) -> tuple[Tensor, tuple[Tensor, ...]]:
        batch = input.shape[0 if self.batch_first else 1]
        directions = 2 if self.bidirectional else 1
        if hx is None:
            hx = tuple(input.new_zeros(self.num_layers * directions, batch, size)
                       for size in self._state_sizes())
        self._check_arguments(input, hx)
        if not self.batch_first:
            input = input.transpose(0, 1)
            mask = None if mask is None else mask.transpose(0, 1)
        if mask is not None and mask.shape != input.shape[:2]:
            raise ValueError(f"{self._name}: `mask` must have the input's batch and time dims "
                             f"{tuple(input.shape[:2])}, got {tuple(mask.shape)}")
        output, states = run_layers(input, hx, layer_weights(self), type(self)._cell, num_layers=self.num_layers,
                                    bidirectional=self.bidirectional, dropout=self.dropout, training=self.training,
                                    mask=mask)
        if not self.batch_first:
            output = output.transpose(0, 1)
        return output, states

    def _check_arguments(self, input: Tensor, hx: tuple[Tensor, ...]) -> None:
        """torch's checks and messages: the input's features, then each state's shape."""
        self.check_input(input, None)
        expected = self.get_expected_hidden_size(input, None)
        self.check_hidden_size(hx[0], expected, "Expected hidden[0] size {}, got {}")
        if len(hx) > 1:
            self.check_hidden_size(hx[1], (*expected[:2], self.hidden_size), "Expected hidden[1] size {}, got {}")

    def _run_packed(self, packed: PackedSequence,
                    hx: tuple[Tensor, ...] | None) -> tuple[PackedSequence, tuple[Tensor, ...]]:
        """A packed batch: run it padded (in the caller's order, as torch takes ``hx``) with a mask, repack."""
        padded, lengths = pad_packed_sequence(packed, batch_first=True)
        mask = torch.arange(padded.shape[1], device=padded.device) < lengths.to(padded.device)[:, None]
        if not self.batch_first:
            padded, mask = padded.transpose(0, 1), mask.transpose(0, 1)
        output, states = self._run_batched(padded, hx, mask)
        if not self.batch_first:
            output = output.transpose(0, 1)
        order = packed.sorted_indices
        if order is not None:
            output, lengths = output.index_select(0, order), lengths.index_select(0, order.cpu())
        data = pack_padded_sequence(output, lengths, batch_first=True, enforce_sorted=True).data
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), states


class LSTM(_PythonRNN):
    """torch's ``nn.LSTM`` computed in plain tensor operations (vmap and compile friendly); torchrl's
    ``torchrl.modules.LSTM``, which defaults to ``batch_first=True``.

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the cell state (and of the hidden state without ``proj_size``).
        num_layers (int): stacked layers. Default: 1.
        batch_first (bool): inputs and outputs are ``[batch, time, features]``. Default: ``True``.
        bias (bool): whether each layer has the biases ``b_ih`` and ``b_hh``. Default: ``True``.
        dropout (float): dropout on each layer's output but the last's, in training. Default: 0.
        bidirectional (bool): a backward pass too, outputs concatenated. Default: ``False``.
        proj_size (int): if > 0, the hidden state is projected to this size (``weight_hr_l{k}``). Default: 0.
        device, dtype: where and of what type the parameters are created.

    The parameters, their names and initialisation are ``nn.LSTM``'s, so its ``state_dict`` loads as is.
    """

    _name = "LSTM"
    _cell = staticmethod(lstm_step)  # type: ignore[assignment]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True,
                 bias: bool = True, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, proj_size=proj_size, device=device, dtype=dtype)

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def forward(self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None,  # type: ignore[override]
                mask: Tensor | None = None) -> tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]:
        """Run over a sequence, as ``nn.LSTM``.

        ``input: [B, T, input_size]`` (``[T, B, input_size]`` without ``batch_first``, ``[T,
        input_size]`` unbatched, or a ``PackedSequence``), ``hx = (h_0: [num_layers * D, B, H_out],
        c_0: [num_layers * D, B, hidden_size])`` (zeros when None) -> ``(output: [B, T, D * H_out],
        (h_n, c_n))`` with ``D = 2`` if bidirectional, ``H_out = proj_size or hidden_size``.
        ``mask: [B, T]`` (the input's leading dims), False at padding: the state is kept and the
        output is zero there.
        """
        output, (hidden, cell) = self._run(input, None if hx is None else (hx[0], hx[1]), mask)
        return output, (hidden, cell)


class GRU(_PythonRNN):
    """torch's ``nn.GRU`` computed in plain tensor operations (vmap and compile friendly); torchrl's
    ``torchrl.modules.GRU``, which defaults to ``batch_first=True``.

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the hidden state.
        num_layers (int): stacked layers. Default: 1.
        bias (bool): whether each layer has the biases ``b_ih`` and ``b_hh``. Default: ``True``.
        batch_first (bool): inputs and outputs are ``[batch, time, features]``. Default: ``True``.
        dropout (float): dropout on each layer's output but the last's, in training. Default: 0.
        bidirectional (bool): a backward pass too, outputs concatenated. Default: ``False``.
        device, dtype: where and of what type the parameters are created.

    The parameters, their names and initialisation are ``nn.GRU``'s, so its ``state_dict`` loads as is.
    """

    _name = "GRU"
    _cell = staticmethod(gru_step)  # type: ignore[assignment]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, device=device, dtype=dtype)

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None,  # type: ignore[override]
                mask: Tensor | None = None) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run over a sequence, as ``nn.GRU``.

        ``input: [B, T, input_size]`` (``[T, B, input_size]`` without ``batch_first``, ``[T,
        input_size]`` unbatched, or a ``PackedSequence``), ``hx: [num_layers * D, B, hidden_size]``
        (zeros when None) -> ``(output: [B, T, D * hidden_size], h_n: [num_layers * D, B,
        hidden_size])`` with ``D = 2`` if bidirectional. ``mask: [B, T]`` (the input's leading
        dims), False at padding: the state is kept and the output is zero there.
        """
        output, (hidden,) = self._run(input, None if hx is None else (hx,), mask)
        return output, hidden
