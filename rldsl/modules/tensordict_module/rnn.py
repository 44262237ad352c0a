"""Recurrent tensordict modules: `LSTMModule`, `GRUModule`, their mode switch and state primers.

An `LSTMModule` reads a value, the recurrent states and ``is_init`` from a tensordict and writes
the output and the next states under ``("next", ...)`` keys, so that an environment's step loop
(torchrl's ``step_mdp``) carries them to the next step. Keys, arguments, layouts and numbers
follow torchrl 0.14.1:

- ``in_key="obs"`` reads ``["obs", "recurrent_state_h", "recurrent_state_c", "is_init"]`` (GRU:
  ``"recurrent_state"``); ``out_key="y"`` writes ``["y", ("next", "recurrent_state_h"),
  ("next", "recurrent_state_c")]``. ``is_init`` is always read (and appended to ``in_keys``).
- The states are stored as ``[*B, num_layers * D, H]`` (layers before features, so that they sit
  after the tensordict's batch dims; ``D = 2`` when bidirectional, ``H = proj_size`` for an LSTM's
  ``h`` when projected); a missing state is zeros.
- **Sequential mode** (the default, a policy acting in an environment): every element of the
  tensordict, whatever its batch shape, is one step; where ``is_init`` is True the incoming states
  are zeroed (a new trajectory).
- **Recurrent mode** (``set_recurrent_mode(True)``, or ``default_recurrent_mode=True``; a loss
  replaying trajectories): the tensordict's last dim is time. A row is split into trajectories
  at each ``is_init`` after its first step; every trajectory starts from the states *stored* at
  its first step (torchrl's behaviour, kept: an environment stores zeros there, so a multi-step
  pass equals stepping one step at a time), and the output states are zero at every step but
  the last of each trajectory (torchrl's layout, kept: ``nn.LSTM`` gives only final states).

``make_tensordict_primer()`` gives the states' specs (a :class:`~rldsl.modules.TensorDictPrimer`),
``get_primers_from_module(policy)`` those of every recurrent module in a policy. The torch RNN is
``module.lstm`` / ``module.gru``, so ``state_dict`` names are torchrl's (``lstm.weight_ih_l0``...).

>>> import torch
>>> from tensordict import TensorDict
>>> lstm = LSTMModule(input_size=3, hidden_size=8, in_key="obs", out_key="features")
>>> td = TensorDict(obs=torch.randn(5, 3), is_init=torch.ones(5, 1, dtype=torch.bool), batch_size=[5])
>>> td = lstm(td)  # one step for each of 5 environments
>>> td["features"].shape, td["next", "recurrent_state_h"].shape
(torch.Size([5, 8]), torch.Size([5, 1, 8]))
>>> trajectories = TensorDict(obs=torch.randn(5, 20, 3), is_init=torch.zeros(5, 20, 1, dtype=torch.bool),
...                           batch_size=[5, 20])
>>> with set_recurrent_mode(True):
...     trajectories = lstm(trajectories)  # 5 trajectories of 20 steps, one LSTM call
>>> trajectories["features"].shape
torch.Size([5, 20, 8])
"""

from __future__ import annotations

import contextvars
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Union

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase, unravel_key_list
from tensordict.nn import TensorDictModuleBase, dispatch
from tensordict.utils import NestedKey
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rldsl._checks import is_int, require_bool
from rldsl.modules.primer import TensorDictPrimer
from rldsl.modules.rnn import (
    GRU,
    LSTM,
    LayerWeights,
    _PythonRNN,
    gru_step,
    layer_weights,
    lstm_step,
    run_layers_with_resets,
)
from rldsl.modules.tensordict_module._entries import read_entry, write_entry
from rldsl.specs import Unbounded

__all__ = ["GRUModule", "LSTMModule", "get_primers_from_module", "recurrent_mode", "set_recurrent_mode"]

Mode = Union[bool, str, None]

#: The backends rldsl runs, and those torchrl 0.14 adds (named in the refusal).
BACKENDS = ("pad", "auto")
_TORCHRL_ONLY_BACKENDS = ("scan", "triton")
_IS_INIT = "is_init"
_FAST_NESTED = all(hasattr(TensorDict, name) for name in ("_get_str", "_set_str")) and all(
    hasattr(TensorDict({}, []), name) for name in ("_batch_size", "_device"))


# --- the mode --------------------------------------------------------------------------------------------------------
_RECURRENT_MODE: contextvars.ContextVar[bool | None] = contextvars.ContextVar("rldsl_recurrent_mode", default=None)


def _as_mode(mode: Any) -> bool | None:
    """``True``/``"recurrent"`` -> True, ``False``/``"sequential"`` -> False, ``None`` -> None (the modules' defaults)."""
    if mode is None or isinstance(mode, bool):
        return mode
    if isinstance(mode, str):
        lowered = mode.lower()
        if lowered in ("recurrent", "sequential"):
            return lowered == "recurrent"
        raise ValueError(f"Unsupported recurrent mode {mode!r}. Must be a bool, None, or one of "
                         f"('recurrent', 'sequential')")
    raise TypeError(f"the recurrent mode must be True, False, None, 'recurrent' or 'sequential', got {mode!r}")


def recurrent_mode() -> bool | None:
    """The mode set by the innermost :class:`set_recurrent_mode`, or ``None`` outside any (then each
    module uses its ``default_recurrent_mode``, ``False`` unless given)."""
    return _RECURRENT_MODE.get()


class set_recurrent_mode:
    """Context manager and decorator setting the mode of every `LSTMModule` / `GRUModule` inside it.

    Args:
        mode (bool, "recurrent", "sequential" or None): ``True`` / ``"recurrent"``: the
            tensordict's last dim is time, whole trajectories go through one RNN call (losses,
            value estimation); ``False`` / ``"sequential"``: each element is one step (acting in
            an environment); ``None``: each module's ``default_recurrent_mode``. Default: ``True``.

    Contexts nest (the innermost wins, the outer one is restored on exit) and are local to the
    thread (a ``contextvars`` variable).

    >>> with set_recurrent_mode("recurrent"):
    ...     inner = recurrent_mode()
    >>> inner, recurrent_mode()
    (True, None)
    >>> @set_recurrent_mode(False)
    ... def act():
    ...     return recurrent_mode()
    >>> act()
    False
    """

    def __init__(self, mode: Mode = True) -> None:
        self.mode = _as_mode(mode)
        self._tokens: list[contextvars.Token] = []

    def clone(self) -> set_recurrent_mode:
        """A new context manager with the same mode."""
        return type(self)(self.mode)

    def __enter__(self) -> None:
        self._tokens.append(_RECURRENT_MODE.set(self.mode))

    def __exit__(self, *exc_info: Any) -> None:
        _RECURRENT_MODE.reset(self._tokens.pop())

    def __call__(self, func: Callable) -> Callable:
        """Decorate ``func``: each call runs inside a new context with this mode."""
        if not callable(func):
            raise TypeError(f"set_recurrent_mode decorates a function, got {func!r}")
        mode = self.mode

        @functools.wraps(func)
        def with_mode(*args: Any, **kwargs: Any) -> Any:
            with set_recurrent_mode(mode):
                return func(*args, **kwargs)

        return with_mode

    def __repr__(self) -> str:
        return f"set_recurrent_mode({self.mode!r})"


# --- argument checks -------------------------------------------------------------------------------------------------
def _check_size(value: Any, name: str, owner: str, *, minimum: int) -> int:
    if value is None:
        raise ValueError(f"{name} must be passed.")
    if not is_int(value) or value < minimum:
        raise ValueError(f"{owner} `{name}` must be an int >= {minimum}, got {value!r}")
    return value


def _check_backend(backend: Any, owner: str) -> str:
    if backend in BACKENDS:
        return backend
    if backend in _TORCHRL_ONLY_BACKENDS:
        raise ValueError(f"{owner}(recurrent_backend={backend!r}) is torchrl's; rldsl runs {BACKENDS[0]!r} (packed "
                         f"sequences, the default) and {BACKENDS[1]!r} (the same here); use one of {BACKENDS}")
    raise ValueError(f"recurrent_backend must be one of {BACKENDS} (torchrl also has {_TORCHRL_ONLY_BACKENDS}, which "
                     f"rldsl does not), got {backend!r}")


def _keys(single: Any, many: Any, defaults: Sequence[NestedKey], word: str) -> list[NestedKey]:
    """``[single, *defaults]``, or ``many`` as given: exactly one of the two must be set."""
    if (single is None) == (many is None):
        raise ValueError(f"Either {word}s or {word} must be specified but not both or none. Got {many} and {single} "
                         f"respectively.")
    if single is not None:
        return unravel_key_list([single, *defaults])
    if isinstance(many, (str, tuple)) or not isinstance(many, Sequence):
        raise TypeError(f"{word}s must be a list of keys, got {many!r}")
    return unravel_key_list(list(many))


def _as_key(key: NestedKey) -> NestedKey:
    """A key comparable with another: ``("features",)`` and ``"features"`` are one key."""
    return key[0] if isinstance(key, tuple) and len(key) == 1 else key


def _write_state(tensordict: TensorDictBase, key: NestedKey, state: Tensor) -> None:
    """``tensordict.set(key, state)``; a ``("next", name)`` key of a plain TensorDict whose ``"next"``
    shares its batch size is written straight into that sub-tensordict (the per-step hot path)."""
    if _FAST_NESTED and type(tensordict) is TensorDict and type(key) is tuple and len(key) == 2:
        inner = tensordict._get_str(key[0], None)
        if (type(inner) is TensorDict and inner._batch_size == tensordict._batch_size
                and (inner._device is None or inner._device == state.device)):
            inner._set_str(key[1], state, inplace=False, validated=True)
            return
    tensordict.set(key, state)


# torch's registries of hooks for every module (dicts filled in place); an unknown layout reads as "hooked"
_GLOBAL_HOOKS = tuple(getattr(nn.modules.module, name, {None: None}) for name in (
    "_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks", "_global_backward_pre_hooks"))


def _kernel_callable(rnn: nn.RNNBase, x: Tensor) -> bool:
    """Whether torch's RNN kernel may be called on ``rnn``'s parameters directly, skipping
    ``nn.LSTM.forward``'s argument checks and ``nn.Module.__call__`` (about a fifth of a short
    sequence's time at batch 1): on CPU, with no hook that the call would have run and outside
    TorchScript tracing. On CUDA the regular call keeps cuDNN's flattened weights up to date."""
    return (not x.is_cuda
            and not (rnn._forward_hooks or rnn._forward_pre_hooks or rnn._backward_hooks
                     or rnn._backward_pre_hooks)
            and not any(_GLOBAL_HOOKS)
            and not torch.jit.is_tracing())


def _at_last_step(finals: tuple[Tensor, ...], rows: int, steps: int) -> tuple[Tensor, ...]:
    """Final states ``[L, rows, S]`` -> ``[rows, steps, L, S]`` each, zero but at the last step."""
    placed = []
    for final in finals:
        state = final.new_zeros(rows, steps, final.shape[0], final.shape[-1])
        state[:, -1] = final.transpose(0, 1)
        placed.append(state)
    return tuple(placed)


def _first_layer_weights(rnn: nn.RNNBase) -> LayerWeights:
    """The current parameters of layer 0 (forward direction), looked up by name at every call (so
    that ``torch.func.functional_call`` and parameter swaps are seen)."""
    bias = rnn.bias
    return LayerWeights(rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 if bias else None,
                        rnn.bias_hh_l0 if bias else None, rnn.weight_hr_l0 if getattr(rnn, "proj_size", 0) else None)


class _PlainKeys(NamedTuple):
    """A module's keys when all are plain strings (the next states' names under ``"next"``)."""

    value: str
    states: tuple[str, ...]
    is_init: str
    output: str
    next_states: tuple[str, ...]


class _Config(NamedTuple):
    """The wrapped RNN and what the forward needs to know of it."""

    rnn: nn.RNNBase
    layers: int  # num_layers * directions: the stored states' second-to-last dim
    sizes: tuple[int, ...]  # each state's last dim
    tails: tuple[torch.Size, ...]  # each state's shape after the batch dims: (layers, size)
    native: bool  # torch's class without projection: torch's fused cell ops step it (else the Python cell)
    python: bool  # rldsl's Python class: no data-dependent branches (vmap)
    stepwise: bool  # a class whose step the module computes itself (else: the RNN's forward on one step)
    single: bool  # one layer, one direction
    resettable: bool  # rldsl's Python class, one direction: recurrent mode restarts inside the time loop
    kernel: bool  # torch's own class: its fused kernel may run directly (CPU, no hook)


# --- the shared module -----------------------------------------------------------------------------------------------
class _RecurrentModule(TensorDictModuleBase):
    """What `LSTMModule` and `GRUModule` share: keys, modes, reshaping and the trajectory split."""

    _name: str
    _rnn_attribute: str
    _state_keys: tuple[str, ...]
    _python_class: type[nn.RNNBase]
    _torch_class: type[nn.RNNBase]
    _kernel: Callable[..., tuple[Tensor, ...]]

    def _init_keys(self, in_key: Any, in_keys: Any, out_key: Any, out_keys: Any) -> None:
        states = len(self._state_keys)
        in_keys = _keys(in_key, in_keys, list(self._state_keys), "in_key")
        out_keys = _keys(out_key, out_keys, [("next", key) for key in self._state_keys], "out_key")
        if len(in_keys) != states + 1 and not (len(in_keys) == states + 2 and in_keys[-1] == _IS_INIT):
            raise ValueError(f"{self._name} expects {states + 1} inputs: a value and {self._states_words()} (and "
                             f"potentially an 'is_init' marker). Got in_keys {in_keys} instead.")
        if len(out_keys) != states + 1:
            raise ValueError(f"{self._name} expects {states + 1} outputs: a value and {self._states_words()}. "
                             f"Got out_keys {out_keys} instead.")
        self.in_keys = in_keys if in_keys[-1] == _IS_INIT else [*in_keys, _IS_INIT]
        self.out_keys = out_keys

    def _states_words(self) -> str:
        return "two hidden states" if len(self._state_keys) == 2 else "a hidden state"

    def _init_rnn(self, given: nn.Module | None, sizes_given: bool, batch_first: Any, bidirectional: Any,
                  python_based: Any, build: Callable[[type[nn.RNNBase]], nn.RNNBase]) -> nn.RNNBase:
        word = self._rnn_attribute
        require_bool(python_based, f"{self._name} `python_based`")
        if given is not None:
            if not isinstance(given, nn.RNNBase) or given.mode != self._torch_class.__name__.upper():
                kind = self._torch_class.__name__
                raise TypeError(f"{self._name} `{word}` must be a torch.nn.{kind} or rldsl.modules.{kind} instance "
                                f"(or a subclass), got {type(given).__name__}")
            if not given.batch_first:
                raise ValueError(f"The input {word} must have batch_first=True.")
            if sizes_given:
                raise ValueError(f"An {word.upper()} instance cannot be passed along with class argument.")
            return given
        if not batch_first:
            raise ValueError(f"The input {word} must have batch_first=True.")
        require_bool(bidirectional, f"{self._name} `bidirectional`")
        return build(self._python_class if python_based else self._torch_class)

    @property
    def rnn(self) -> nn.RNNBase:
        """The wrapped torch RNN (``self.lstm`` / ``self.gru``)."""
        return getattr(self, self._rnn_attribute)

    # --- modes ---------------------------------------------------------------------------------------------------
    @property
    def recurrent_mode(self) -> bool:
        """The mode of the next call: the innermost ``set_recurrent_mode`` context's, else
        ``bool(default_recurrent_mode)``."""
        mode = _RECURRENT_MODE.get()
        return bool(self._recurrent_mode) if mode is None else mode

    @recurrent_mode.setter
    def recurrent_mode(self, value: Any) -> None:
        raise RuntimeError("recurrent_mode cannot be changed in-place. Please use the set_recurrent_mode context "
                           "manager (or the `default_recurrent_mode` constructor argument).")

    @property
    def temporal_mode(self) -> bool:
        raise RuntimeError("temporal_mode is deprecated, use recurrent_mode instead.")

    def set_recurrent_mode(self, mode: bool = True) -> Any:
        """Removed from torchrl in v0.8; raises, pointing to the context manager."""
        raise RuntimeError(f"The {self._rnn_attribute}.set_recurrent_mode() API has been removed in v0.8. To set the "
                           f"recurrent mode, use the `set_recurrent_mode` context manager or the "
                           f"`default_recurrent_mode` keyword argument in the constructor.")

    # --- the implementation swap ---------------------------------------------------------------------------------
    def make_python_based(self) -> _RecurrentModule:
        """Use the Python RNN (``rldsl.modules.LSTM`` / ``GRU``: vmap and compile friendly) with the
        same parameter tensors. Returns ``self``."""
        return self._swap_rnn(self._python_class)

    def make_cudnn_based(self) -> _RecurrentModule:
        """Use torch's RNN (cuDNN on a GPU) with the same parameter tensors. Returns ``self``."""
        return self._swap_rnn(self._torch_class)

    def _swap_rnn(self, cls: type[nn.RNNBase]) -> _RecurrentModule:
        old = self.rnn
        if type(old) is cls:
            return self
        kwargs = {"input_size": old.input_size, "hidden_size": old.hidden_size, "num_layers": old.num_layers,
                  "bias": old.bias, "batch_first": old.batch_first, "dropout": old.dropout,
                  "bidirectional": old.bidirectional, "device": "meta"}
        if old.proj_size:
            kwargs["proj_size"] = old.proj_size
        new = cls(**kwargs)
        for name, parameter in old.named_parameters():
            setattr(new, name, parameter)  # the same tensors (an optimizer holding them keeps working)
        new.train(old.training)
        setattr(self, self._rnn_attribute, new)
        return self

    # --- sizes ---------------------------------------------------------------------------------------------------
    def _state_sizes(self) -> tuple[int, ...]:
        raise TypeError(f"{type(self).__name__} must define its state sizes")

    def _num_states(self) -> int:
        """``num_layers * D``: the second-to-last dim of every stored state."""
        rnn = self.rnn
        return rnn.num_layers * (2 if rnn.bidirectional else 1)

    def make_tensordict_primer(self) -> TensorDictPrimer:
        """The specs of the states (a :class:`~rldsl.modules.TensorDictPrimer`, zeros at reset):
        each ``in_keys[i]``: ``Unbounded((num_layers * D, H))`` for the states ``in_keys[1:-1]``,
        of the RNN's parameter dtype.

        The state out keys must be ``("next", <in key>)`` (else ``RuntimeError``): that is how a
        step loop carries them to the next step.
        """
        state_in = self.in_keys[1:1 + len(self._state_keys)]
        state_out = self.out_keys[1:]
        as_tuple = [key if isinstance(key, tuple) else (key,) for key in state_in]
        if any((out if isinstance(out, tuple) else (out,)) != ("next", *key) for out, key in zip(state_out, as_tuple)):
            raise RuntimeError("make_tensordict_primer is supposed to work with in_keys/out_keys that have compatible "
                               "names, ie. the out_keys should be named after ('next', <in_key>). Got "
                               f"in_keys={self.in_keys} and out_keys={self.out_keys} instead.")
        layers = self._num_states()
        dtype = self.rnn.weight_ih_l0.dtype  # torchrl: always the default dtype (float32)
        specs = {key: Unbounded(shape=(layers, size), dtype=dtype) for key, size in zip(state_in, self._state_sizes())}
        return TensorDictPrimer(specs, expand_specs=True)

    # --- the call ------------------------------------------------------------------------------------------------
    def forward(self, tensordict: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Read the value, the states and ``is_init``; write the output and the next states.

        Sequential mode: ``value: [*B, input_size]``, each state ``[*B, num_layers * D, H]``
        (zeros when absent), ``is_init: [*B, 1]`` -> ``out_keys[0]: [*B, D * H_out]``, next states
        ``[*B, num_layers * D, H]``. Recurrent mode: the same with ``*B = [*N, T]``, time last;
        the next states are zero but at the last step of each trajectory. Tensors as arguments
        (in ``in_keys`` order) give tensors back.
        """
        if isinstance(tensordict, TensorDictBase) and not args and not kwargs:
            return self._forward(tensordict)
        inputs = args if tensordict is None else (tensordict, *args)
        return self._dispatched(*inputs, **kwargs)

    @dispatch  # as torchrl's: the batch dims of a tensordict built from tensors are inferred
    def _dispatched(self, tensordict: TensorDictBase) -> TensorDictBase:
        return self._forward(tensordict)

    def _forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        config = self._config()
        if config.kernel and type(tensordict) is TensorDict and self._usual_recurrent_call(config, tensordict):
            return tensordict
        in_keys, out_keys = self._in_keys, self._out_keys  # out_keys_source: select_out_keys filters afterwards
        value = read_entry(tensordict, in_keys[0])
        if value is None:
            raise KeyError(f"{self._name} reads its input from {in_keys[0]!r}, which the tensordict lacks")
        is_init = read_entry(tensordict, in_keys[-1])
        if is_init is None:
            raise KeyError(f"{self._name} needs the key 'is_init' (True at the first step of each trajectory), which "
                           f"the tensordict lacks: add torchrl's InitTracker transform to the environment, or write "
                           f"it yourself")
        states = self._read_states(tensordict, in_keys)
        batch = tensordict.batch_size
        if value.dim() != len(batch) + 1:
            raise ValueError(f"{self._name} reads [*B, input_size] from {in_keys[0]!r} (B = the tensordict's batch "
                             f"dims {tuple(batch)}), got a tensor of shape {tuple(value.shape)}")
        is_init = self._check_is_init(is_init, batch)
        if states is not None:
            self._check_states(config, states, batch)
        mode = _RECURRENT_MODE.get()
        if (bool(self._recurrent_mode) if mode is None else mode):
            output, next_states = self._recurrent(config, value, states, is_init, batch)
        else:
            output, next_states = self._sequential(config, value, states, is_init, batch)
        wanted = self.out_keys  # fewer than out_keys after select_out_keys: only those are written
        selected = None if len(wanted) == len(out_keys) else set(map(_as_key, wanted))
        if selected is None or _as_key(out_keys[0]) in selected:
            write_entry(tensordict, out_keys[0], output, fits=True)
        for key, state in zip(out_keys[1:], next_states):
            if selected is None or _as_key(key) in selected:
                _write_state(tensordict, key, state)
        return tensordict

    def _usual_recurrent_call(self, config: _Config, tensordict: TensorDict) -> bool:
        """Recurrent mode's usual call in the fewest steps (about 5% of a 64-step sequence's time at
        batch 1): a plain ``[N, T]`` TensorDict holding the value, every state and a bool
        ``is_init`` of the expected shapes and a ``"next"`` of the same batch, one trajectory per
        row, and torch's own layer with no hook, on CPU. The kernel runs once from the stored first
        states. False, having written nothing, when any of this does not hold: the general path
        then runs, with its checks and messages."""
        keys = self._plain_keys()
        mode = _RECURRENT_MODE.get()
        batch = tensordict._batch_size
        if keys is None or len(batch) != 2 or not (bool(self._recurrent_mode) if mode is None else mode):
            return False
        rows, steps = batch
        get = tensordict._get_str
        value, is_init, following = get(keys.value, None), get(keys.is_init, None), get("next", None)
        states = tuple(get(key, None) for key in keys.states)
        rnn = config.rnn
        if (type(value) is not Tensor or type(is_init) is not Tensor or type(following) is not TensorDict
                or value.shape != (rows, steps, rnn.input_size) or is_init.shape != (rows, steps, 1)
                or is_init.dtype is not torch.bool or following._batch_size != batch
                or (following._device is not None and following._device != value.device)
                or value.is_meta or not _kernel_callable(rnn, value)):
            return False
        first = []
        for state, shape in zip(states, config.tails):
            if type(state) is not Tensor or state.shape != (rows, steps, *shape):
                return False
            first.append(state.select(1, 0).transpose(0, 1))  # the CPU kernel reads any strides
        if steps > 1 and bool(is_init.narrow(1, 1, steps - 1).any()):
            return False
        output, finals = self._run_kernel(rnn, value, tuple(first))
        tensordict._set_str(keys.output, output, inplace=False, validated=True)
        for key, state in zip(keys.next_states, _at_last_step(finals, rows, steps)):
            following._set_str(key, state, inplace=False, validated=True)
        return True

    def _plain_keys(self) -> _PlainKeys | None:
        """The keys as plain strings when they are (the next states under ``"next"``) and every out
        key is written (no ``select_out_keys``); None otherwise. Computed again when the keys change."""
        in_keys, out_keys = self._in_keys, self._out_keys
        if len(self.out_keys) != len(out_keys):  # select_out_keys: only the selected keys are written
            return None
        cached = self.__dict__.get("_plain_keys_cache")
        if cached is not None and cached[0] == in_keys and cached[1] == out_keys:
            return cached[2]
        plain = (all(type(key) is str for key in (*in_keys, out_keys[0]))
                 and all(type(key) is tuple and len(key) == 2 and key[0] == "next" and type(key[1]) is str
                         for key in out_keys[1:]))
        keys = _PlainKeys(in_keys[0], tuple(in_keys[1:-1]), in_keys[-1], out_keys[0],
                          tuple(key[1] for key in out_keys[1:])) if plain else None
        self.__dict__["_plain_keys_cache"] = (list(in_keys), list(out_keys), keys)
        return keys

    def _read_states(self, tensordict: TensorDictBase, in_keys: list) -> tuple[Tensor, ...] | None:
        """The stored states, or None when all are absent (zeros are then used)."""
        states = tuple(read_entry(tensordict, key) for key in in_keys[1:-1])
        if all(state is not None for state in states):
            return states
        if any(state is not None for state in states):
            present = [key for key, state in zip(in_keys[1:-1], states) if state is not None]
            raise RuntimeError(f"{self._name} needs all its hidden states or none, got only {present}")
        return None

    def _config(self) -> _Config:
        """What the hot paths need to know of the wrapped RNN, computed again whenever it is replaced
        (its parameters are read at every call, never cached)."""
        rnn = self._modules[self._rnn_attribute]
        cached = self.__dict__.get("_config_cache")
        if cached is not None and cached.rnn is rnn:
            return cached
        directions = 2 if rnn.bidirectional else 1
        native = type(rnn) is self._torch_class and not getattr(rnn, "proj_size", 0)
        sizes = self._state_sizes()
        layers = rnn.num_layers * directions
        config = _Config(rnn=rnn, layers=layers, sizes=sizes, tails=tuple(torch.Size((layers, size)) for size in sizes),
                         native=native, python=type(rnn) is self._python_class or isinstance(rnn, _PythonRNN),
                         stepwise=type(rnn) is self._torch_class or type(rnn) is self._python_class,
                         single=rnn.num_layers == 1 and directions == 1,
                         resettable=type(rnn) is self._python_class and directions == 1,
                         kernel=type(rnn) is self._torch_class)
        self.__dict__["_config_cache"] = config  # not a submodule: kept out of nn.Module's registries
        return config

    def _check_is_init(self, is_init: Tensor, batch: torch.Size) -> Tensor:
        """``is_init`` as a bool tensor of shape ``[*B, 1]`` or ``[*B]`` (both accepted, both
        reshaped by the callers to the flat batch)."""
        shape = is_init.shape
        if shape[:len(batch)] != batch or not (len(shape) == len(batch) or shape[len(batch):] == (1,)):
            raise ValueError(f"{self._name}: 'is_init' must have shape [*B, 1] = {[*batch, 1]}, got {list(shape)}")
        return is_init if is_init.dtype is torch.bool else is_init != 0

    def _check_states(self, config: _Config, states: tuple[Tensor, ...], batch: torch.Size) -> None:
        start = len(batch)
        for index, (state, tail) in enumerate(zip(states, config.tails)):
            if state.shape[start:] != tail:
                raise ValueError(f"{self._name}: {self._in_keys[1 + index]!r} must have shape [*B, num_layers * "
                                 f"directions, hidden] = {[*batch, *tail]}, got {list(state.shape)}")

    # --- sequential: one step per element ----------------------------------------------------------------------------
    def _sequential(self, config: _Config, value: Tensor, states: tuple[Tensor, ...] | None, is_init: Tensor,
                    batch: torch.Size) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Every element one step: ``value: [*B, F]``, states ``[*B, L, S]`` -> ``([*B, out], [*B, L, S])``."""
        count = batch.numel()
        x = value if value.dim() == 2 else value.reshape(count, value.shape[-1])
        if config.single and config.stepwise:
            return self._single_step(config, x, states, is_init, batch)
        layers = config.layers
        if states is None:
            flat = tuple(x.new_zeros(count, layers, size) for size in config.sizes)
        else:
            flat = tuple(state.reshape(count, layers, state.shape[-1]) for state in states)
            # the python RNNs stay free of data-dependent branches (vmap); torch's skip the reset when none is due
            if config.python or is_init.is_meta or bool(is_init.any()):
                reset = is_init.reshape(count, 1, 1)
                flat = tuple(torch.where(reset, 0.0, state) for state in flat)
        output, new_states = self._one_step(config, x, flat)
        return (output.reshape(*batch, output.shape[-1]),
                tuple(state.reshape(*batch, layers, state.shape[-1]) for state in new_states))

    def _single_step(self, config: _Config, x: Tensor, states: tuple[Tensor, ...] | None, is_init: Tensor,
                     batch: torch.Size) -> tuple[Tensor, tuple[Tensor, ...]]:
        """`_sequential` for one layer and one direction, the common case, with as few operations as
        possible (the states' layer dim is 1, so ``[*B, 1, S]`` reshapes to ``[N, S]`` and back)."""
        count = x.shape[0]
        if states is None:
            flat = tuple(x.new_zeros(count, size) for size in config.sizes)
        else:
            flat = tuple(state.reshape(count, state.shape[-1]) for state in states)
            if config.python or is_init.is_meta or bool(is_init.any()):
                reset = is_init.reshape(count, 1)
                flat = tuple(torch.where(reset, 0.0, state) for state in flat)
        new = self._cell(x, flat, _first_layer_weights(config.rnn), config.native)
        output = new[0] if len(batch) == 1 else new[0].reshape(*batch, new[0].shape[-1])
        return output, tuple(state.reshape(*batch, 1, state.shape[-1]) for state in new)

    def _one_step(self, config: _Config, x: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One step of the stacked RNN: ``x: [N, input_size]``, states ``[N, num_layers * D, S]`` ->
        ``(output: [N, D * H_out], states: [N, num_layers * D, S])``."""
        rnn = config.rnn
        if not config.stepwise:
            return self._one_step_by_call(x, states)  # an RNN subclass: its own forward decides
        directions = 2 if rnn.bidirectional else 1
        weights = layer_weights(rnn)
        collected: list[list[Tensor]] = [[] for _ in states]
        layer_input = x
        for layer in range(rnn.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                new = self._cell(layer_input, tuple(state[:, index] for state in states), weights[index],
                                 config.native)
                outputs.append(new[0])
                for found, state in zip(collected, new):
                    found.append(state)
            layer_input = outputs[0] if directions == 1 else torch.cat(outputs, -1)
            if rnn.dropout and rnn.training and layer < rnn.num_layers - 1:
                layer_input = F.dropout(layer_input, rnn.dropout, training=True)
        return layer_input, tuple(torch.stack(found, 1) for found in collected)

    def _cell(self, x: Tensor, state: tuple[Tensor, ...], weights: LayerWeights, native: bool) -> tuple[Tensor, ...]:
        raise TypeError(f"{type(self).__name__} must define its cell")

    def _one_step_by_call(self, x: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        output, finals = self._call_rnn(x.unsqueeze(1), tuple(state.transpose(0, 1).contiguous() for state in states))
        return output.squeeze(1), tuple(final.transpose(0, 1) for final in finals)

    # --- recurrent: time is the last batch dim -----------------------------------------------------------------------
    def _recurrent(self, config: _Config, value: Tensor, states: tuple[Tensor, ...] | None, is_init: Tensor,
                   batch: torch.Size) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Time last: ``value: [*N, T, F]``, states ``[*N, T, L, S]`` -> ``([*N, T, out], [*N, T, L, S])``.

        A ``[N, T]`` tensordict (the usual layout) is used as is, other batch shapes are reshaped.
        """
        flat = len(batch) == 2
        rows, steps = (batch[0], batch[1]) if flat else (1, 1) if not batch else (math.prod(batch[:-1]), batch[-1])
        x = value if flat else value.reshape(rows, steps, value.shape[-1])
        layers, sizes = config.layers, config.sizes
        stored = states if flat or states is None else tuple(
            s.reshape(rows, steps, layers, s.shape[-1]) for s in states)
        if config.resettable:
            output, next_states = self._run_with_resets(config, x, stored, is_init.reshape(rows, steps))
        # "meta" tensors have shapes but no values: one trajectory per row (the shapes are the same)
        elif steps > 1 and not is_init.is_meta and bool(is_init.narrow(len(batch) - 1, 1, steps - 1).any()):
            output, next_states = self._split_trajectories(config, x, stored, is_init.reshape(rows, steps))
        else:
            if stored is None:
                first = tuple(x.new_zeros(layers, rows, size) for size in sizes)
            else:
                first = tuple(state.select(1, 0).transpose(0, 1).contiguous() for state in stored)
            output, finals = self._call_rnn(x, first)
            next_states = _at_last_step(finals, rows, steps)
        if flat:
            return output, next_states
        return (output.reshape(*batch, output.shape[-1]),
                tuple(state.reshape(*batch, layers, state.shape[-1]) for state in next_states))

    def _run_with_resets(self, config: _Config, x: Tensor, stored: tuple[Tensor, ...] | None,
                         is_init: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """rldsl's Python RNN (one direction): trajectories restart where ``is_init`` is set, inside
        the time loop, instead of being split and padded; no data-dependent branch (vmap, compile).

        ``x: [N, T, F]``, ``stored: [N, T, L, S]``, ``is_init: [N, T]`` -> ``(output: [N, T, out],
        states: [N, T, L, S])``, the states only at the last step of each trajectory.
        """
        rnn = config.rnn
        per_layer = None if stored is None else tuple(state.permute(2, 0, 1, 3) for state in stored)
        output, per_step = run_layers_with_resets(x, is_init, per_layer, config.sizes, layer_weights(rnn),
                                                  type(rnn)._cell, num_layers=rnn.num_layers, dropout=rnn.dropout,
                                                  training=rnn.training)
        ends = torch.cat([is_init[:, 1:], torch.ones_like(is_init[:, :1])], 1)[:, :, None, None]
        return output, tuple(torch.where(ends, state.permute(1, 2, 0, 3), 0.0) for state in per_step)

    def _split_trajectories(self, config: _Config, x: Tensor, stored: tuple[Tensor, ...] | None,
                            is_init: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Rows holding several trajectories (``is_init`` after the first step): one padded
        trajectory per row of a new batch, run with their lengths, put back in place.

        ``x: [N, T, F]``, ``stored: [N, T, L, S]``, ``is_init: [N, T]`` -> ``(output: [N, T, out],
        states: [N, T, L, S])``, the states only at the last step of each trajectory.
        """
        rows, steps, features = x.shape
        total = rows * steps
        starts = is_init.clone()
        starts[:, 0] = True
        starts = starts.reshape(total)
        first = starts.nonzero().squeeze(-1)  # [S] the flat index of each trajectory's first step
        trajectory = starts.cumsum(0) - 1  # [N*T] the trajectory of each step
        lengths = torch.diff(first, append=first.new_full((1,), total))
        position = torch.arange(total, device=x.device) - first[trajectory]
        longest = int(lengths.max())
        padded = x.new_zeros(first.numel(), longest, features)
        padded[trajectory, position] = x.reshape(total, features)
        layers, sizes = config.layers, config.sizes
        if stored is None:
            initial = tuple(x.new_zeros(layers, first.numel(), size) for size in sizes)
        else:
            initial = tuple(s.reshape(total, layers, size)[first].transpose(0, 1).contiguous()
                            for s, size in zip(stored, sizes))
        output, finals = self._call_rnn(padded, initial, lengths)
        last = first + lengths - 1
        placed = []
        for final in finals:
            state = final.new_zeros(total, final.shape[0], final.shape[-1])
            state[last] = final.transpose(0, 1)
            placed.append(state.reshape(rows, steps, final.shape[0], final.shape[-1]))
        return output[trajectory, position].reshape(rows, steps, output.shape[-1]), tuple(placed)

    def _call_rnn(self, x: Tensor, initial: tuple[Tensor, ...],
                  lengths: Tensor | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """The wrapped RNN over ``x: [N, T, F]`` from ``initial: [L, N, S]`` (right-padded rows of
        ``lengths`` steps when given) -> ``(output: [N, T, out], final states: [L, N, S])``, the
        final states those after each row's last real step."""
        rnn = self.rnn
        if lengths is None and type(rnn) is self._torch_class and _kernel_callable(rnn, x):
            if x.shape[-1] != rnn.input_size:  # the layer's own check, in its words
                raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {rnn.input_size}, "
                                   f"got {x.shape[-1]}")
            return self._run_kernel(rnn, x, initial)
        hx = initial if len(initial) > 1 else initial[0]
        if lengths is None:
            output, finals = rnn(x, hx)
        elif isinstance(rnn, _PythonRNN):
            mask = torch.arange(x.shape[1], device=x.device) < lengths[:, None]
            output, finals = rnn(x, hx, mask=mask)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_output, finals = rnn(packed, hx)
            output = pad_packed_sequence(packed_output, batch_first=True, total_length=x.shape[1])[0]
        return output, (tuple(finals) if isinstance(finals, tuple) else (finals,))

    def _run_kernel(self, rnn: nn.RNNBase, x: Tensor, initial: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """torch's fused kernel on ``rnn``'s parameters, looked up by name at every call as the
        layer's own forward does (``torch.func.functional_call`` swaps them without telling it)."""
        parameters = rnn._parameters
        weights = [parameters[name] if name in parameters else getattr(rnn, name) for name in rnn._flat_weights_names]
        output, *finals = self._kernel(x, initial if len(initial) > 1 else initial[0], weights, rnn.bias,
                                       rnn.num_layers, float(rnn.dropout), rnn.training, rnn.bidirectional, True)
        return output, tuple(finals)

    def extra_repr(self) -> str:
        return f"in_keys={self.in_keys}, out_keys={self.out_keys}, default_recurrent_mode={self._recurrent_mode}"


class LSTMModule(_RecurrentModule):
    """An LSTM on tensordict entries, one step at a time or over whole trajectories (torchrl's ``LSTMModule``).

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the cell state (and of the hidden state without ``proj_size``).
        num_layers (int): stacked layers. Default: 1.
        bias (bool): biases in every layer. Default: ``True``.
        batch_first (bool): must be ``True`` (the only layout a tensordict of steps has).
        dropout (float): dropout between layers, in training. Default: 0.
        proj_size (int): projected hidden state size (0: none). Default: 0.
        bidirectional (bool): a backward pass too. Default: ``False``.
        python_based (bool): use ``rldsl.modules.LSTM`` (plain tensor operations: vmap and compile
            friendly) instead of ``torch.nn.LSTM``; in recurrent mode its trajectories then restart
            inside the time loop (``torch.where``, no split: vmap friendly too), with the same
            numbers. Default: ``False``.
        recurrent_backend (str): how recurrent mode runs rows holding several trajectories:
            ``"pad"`` (padded trajectories, packed for ``nn.LSTM``) or ``"auto"`` (the same here).
            torchrl's ``"scan"`` and ``"triton"`` are refused with a ``ValueError``.

    Keyword Args:
        in_key (NestedKey): the value's key; the states are then ``"recurrent_state_h"`` and
            ``"recurrent_state_c"``. Exclusive with ``in_keys``.
        in_keys (list of NestedKey): ``[value, h, c]`` (``"is_init"`` is appended).
        out_key (NestedKey): the output's key; the next states go to ``("next",
            "recurrent_state_h")`` and ``("next", "recurrent_state_c")``. Exclusive with ``out_keys``.
        out_keys (list of NestedKey): ``[output, next h, next c]``.
        device (torch.device, optional): where to create the LSTM.
        lstm (torch.nn.LSTM, optional): an LSTM (``batch_first=True``) to wrap instead of building one.
        default_recurrent_mode (bool, optional): the mode outside any ``set_recurrent_mode``
            context. Default: ``False`` (sequential).

    Shapes: ``value: [*B, input_size]``, ``recurrent_state_h: [*B, num_layers * D, proj_size or
    hidden_size]``, ``recurrent_state_c: [*B, num_layers * D, hidden_size]``, ``is_init: [*B, 1]``
    -> ``out_key: [*B, D * (proj_size or hidden_size)]`` and the next states, ``D = 2`` if
    bidirectional.
    """

    _name = "LSTMModule"
    _rnn_attribute = "lstm"
    _state_keys = ("recurrent_state_h", "recurrent_state_c")
    _python_class = LSTM
    _torch_class = nn.LSTM
    _kernel = staticmethod(torch.lstm)  # torch's fused multi-step kernel behind nn.LSTM
    DEFAULT_IN_KEYS = list(_state_keys)
    DEFAULT_OUT_KEYS = [("next", key) for key in _state_keys]

    def __init__(self, input_size: int | None = None, hidden_size: int | None = None, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0, proj_size: int = 0,
                 bidirectional: bool = False, python_based: bool = False, recurrent_backend: str = "pad", *,
                 in_key: NestedKey | None = None, in_keys: Sequence[NestedKey] | None = None,
                 out_key: NestedKey | None = None, out_keys: Sequence[NestedKey] | None = None,
                 device: torch.device | str | None = None, lstm: nn.LSTM | None = None,
                 default_recurrent_mode: bool | None = None) -> None:
        super().__init__()
        self.recurrent_backend = _check_backend(recurrent_backend, "LSTMModule")

        def build(cls: type[nn.RNNBase]) -> nn.RNNBase:
            _check_size(hidden_size, "hidden_size", "LSTMModule", minimum=1)
            _check_size(input_size, "input_size", "LSTMModule", minimum=1)
            return cls(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
                       dropout=dropout, proj_size=proj_size, device=device, batch_first=True,
                       bidirectional=bidirectional)

        self.lstm = self._init_rnn(lstm, input_size is not None or hidden_size is not None, batch_first,
                                   bidirectional, python_based, build)
        self._init_keys(in_key, in_keys, out_key, out_keys)
        self._recurrent_mode = _as_default_mode(default_recurrent_mode)

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.lstm.proj_size or self.lstm.hidden_size, self.lstm.hidden_size)

    def _cell(self, x: Tensor, state: tuple[Tensor, ...], weights: LayerWeights, native: bool) -> tuple[Tensor, ...]:
        if native:
            return tuple(torch.lstm_cell(x, state, weights.weight_ih, weights.weight_hh, weights.bias_ih,
                                         weights.bias_hh))
        return lstm_step(F.linear(x, weights.weight_ih, weights.bias_ih), state, weights)


class GRUModule(_RecurrentModule):
    """A GRU on tensordict entries, one step at a time or over whole trajectories (torchrl's ``GRUModule``).

    Args:
        input_size (int): the number of input features.
        hidden_size (int): the size of the hidden state.
        num_layers (int): stacked layers. Default: 1.
        bias (bool): biases in every layer. Default: ``True``.
        batch_first (bool): must be ``True`` (the only layout a tensordict of steps has).
        dropout (float): dropout between layers, in training. Default: 0.
        bidirectional (bool): a backward pass too. Default: ``False``.
        python_based (bool): use ``rldsl.modules.GRU`` (plain tensor operations: vmap and compile
            friendly) instead of ``torch.nn.GRU``; see `LSTMModule`. Default: ``False``.
        recurrent_backend (str): ``"pad"`` or ``"auto"`` (the same here); see `LSTMModule`.

    Keyword Args:
        in_key (NestedKey): the value's key; the state is then ``"recurrent_state"``. Exclusive with ``in_keys``.
        in_keys (list of NestedKey): ``[value, state]`` (``"is_init"`` is appended).
        out_key (NestedKey): the output's key; the next state goes to ``("next", "recurrent_state")``.
            Exclusive with ``out_keys``.
        out_keys (list of NestedKey): ``[output, next state]``.
        device (torch.device, optional): where to create the GRU.
        gru (torch.nn.GRU, optional): a GRU (``batch_first=True``) to wrap instead of building one.
        default_recurrent_mode (bool, optional): the mode outside any ``set_recurrent_mode``
            context. Default: ``False`` (sequential).

    Shapes: ``value: [*B, input_size]``, ``recurrent_state: [*B, num_layers * D, hidden_size]``,
    ``is_init: [*B, 1]`` -> ``out_key: [*B, D * hidden_size]`` and the next state.
    """

    _name = "GRUModule"
    _rnn_attribute = "gru"
    _state_keys = ("recurrent_state",)
    _python_class = GRU
    _torch_class = nn.GRU
    _kernel = staticmethod(torch.gru)  # torch's fused multi-step kernel behind nn.GRU
    DEFAULT_IN_KEYS = list(_state_keys)
    DEFAULT_OUT_KEYS = [("next", key) for key in _state_keys]

    def __init__(self, input_size: int | None = None, hidden_size: int | None = None, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0, bidirectional: bool = False,
                 python_based: bool = False, recurrent_backend: str = "pad", *, in_key: NestedKey | None = None,
                 in_keys: Sequence[NestedKey] | None = None, out_key: NestedKey | None = None,
                 out_keys: Sequence[NestedKey] | None = None, device: torch.device | str | None = None,
                 gru: nn.GRU | None = None, default_recurrent_mode: bool | None = None) -> None:
        super().__init__()
        self.recurrent_backend = _check_backend(recurrent_backend, "GRUModule")

        def build(cls: type[nn.RNNBase]) -> nn.RNNBase:
            _check_size(hidden_size, "hidden_size", "GRUModule", minimum=1)
            _check_size(input_size, "input_size", "GRUModule", minimum=1)
            return cls(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
                       dropout=dropout, device=device, batch_first=True, bidirectional=bidirectional)

        self.gru = self._init_rnn(gru, input_size is not None or hidden_size is not None, batch_first,
                                  bidirectional, python_based, build)
        self._init_keys(in_key, in_keys, out_key, out_keys)
        self._recurrent_mode = _as_default_mode(default_recurrent_mode)

    def _state_sizes(self) -> tuple[int, ...]:
        return (self.gru.hidden_size,)

    def _cell(self, x: Tensor, state: tuple[Tensor, ...], weights: LayerWeights, native: bool) -> tuple[Tensor, ...]:
        if native:
            return (torch.gru_cell(x, state[0], weights.weight_ih, weights.weight_hh, weights.bias_ih,
                                   weights.bias_hh),)
        return gru_step(F.linear(x, weights.weight_ih, weights.bias_ih), state, weights)


def _as_default_mode(mode: Any) -> bool | None:
    if mode is not None and not isinstance(mode, bool):
        raise TypeError(f"default_recurrent_mode must be True, False or None, got {mode!r}")
    return mode


# --- primers ---------------------------------------------------------------------------------------------------------
def get_primers_from_module(module: nn.Module, warn: bool = True, strict: bool = True) -> TensorDictPrimer | None:
    """The state specs of every submodule of ``module`` that has ``make_tensordict_primer``, in one primer.

    Args:
        module (torch.nn.Module): a policy (e.g. a ``TensorDictSequential`` holding an `LSTMModule`).
        warn (bool): warn when no submodule has a primer (then ``None`` is returned). Default: ``True``.
        strict (bool): let a submodule's error propagate; with ``False`` it is skipped, with a
            ``UserWarning`` naming it, and the others' primers are still returned. Default: ``True``.

    Returns:
        The one primer, a merge of several (:meth:`TensorDictPrimer.merge`), or ``None``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"get_primers_from_module takes a torch.nn.Module, got {type(module).__name__}")
    found: list[TensorDictPrimer] = []
    failed: list[str] = []

    def collect(submodule: nn.Module) -> None:
        make = getattr(submodule, "make_tensordict_primer", None)
        if make is None:
            return
        try:
            found.append(make())
        except Exception as error:  # noqa: BLE001 - reported below, as torchrl's strict=False does
            if strict:
                raise
            failed.append(f"{type(submodule).__name__} ({error})")

    module.apply(collect)  # children before parents, as torch's apply
    if failed:
        warnings.warn(f"get_primers_from_module skipped the primers it could not build: {'; '.join(failed)}",
                      UserWarning, stacklevel=2)
    if not found:
        if warn:
            warnings.warn("No primers found in the module.", UserWarning, stacklevel=2)
        return None
    return found[0] if len(found) == 1 else TensorDictPrimer.merge(*found)
