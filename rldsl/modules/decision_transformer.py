"""`DecisionTransformer`: torchrl 0.14's decision transformer, on a GPT-2 written here.

torchrl builds its ``DecisionTransformer`` on Hugging Face's ``GPT2Model`` (``vocab_size=1``, fed
``inputs_embeds``). rldsl does not depend on ``transformers``: :class:`GPT2Model` below is a
from-scratch GPT-2 trunk with the same submodule names, parameter shapes and numerics as the
pieces of Hugging Face's model that a decision transformer uses, so a torchrl checkpoint loads
as is:

- ``wte`` (token embedding, ``[1, n_embd]``: never read, kept for the state_dict), ``wpe``
  (learned positional embedding over the ``3T`` interleaved tokens, ``[n_positions, n_embd]``),
  ``drop`` (embedding dropout, ``p=0.1``: GPT2Config's ``embd_pdrop``, which torchrl leaves at its
  default), ``h.{i}`` blocks, ``ln_f``;
- each block is pre-LayerNorm: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``;
  ``attn.c_attn`` (one projection to queries, keys and values), ``attn.c_proj``, ``mlp.c_fc``,
  ``mlp.c_proj`` are :class:`Conv1D` layers: GPT-2's linear layers, whose weight is stored
  ``[in_features, out_features]`` (the transpose of ``nn.Linear``'s), as in the checkpoints;
- attention is causal self-attention, ``softmax(q k^T / sqrt(head_dim))``, computed by
  ``torch.nn.functional.scaled_dot_product_attention(..., is_causal=True)``;
- LayerNorm epsilon ``1e-5``; initialisation ``N(0, 0.02)`` for the linear layers and the
  embeddings, ``N(0, 0.02 / sqrt(2 * n_layer))`` for the ``c_proj`` weights, zero biases.

torchrl's decision transformer has no per-timestep embedding of its own: positions are those of
the ``3T`` tokens in GPT-2's ``wpe``, so a window holds at most ``n_positions // 3`` steps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rldsl._checks import is_int
from rldsl.modules.utils import ArgumentError

__all__ = [
    "Conv1D",
    "DTConfig",
    "DecisionTransformer",
    "GPT2Attention",
    "GPT2Block",
    "GPT2MLP",
    "GPT2Model",
    "resolve_dt_config",
]

#: GPT2Config's values that torchrl does not set: embedding dropout, LayerNorm epsilon, init scale.
EMBD_PDROP = 0.1
LAYER_NORM_EPSILON = 1e-5
INITIALIZER_RANGE = 0.02


class _QuickGELU(nn.Module):
    """Hugging Face's ``quick_gelu``: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [*B, features] -> [*B, features]``, elementwise."""
        return x * torch.sigmoid(1.702 * x)


#: The activation names GPT2Config's ``activation_function`` accepts here, as Hugging Face's
#: ``ACT2FN`` reads them (``"gelu"`` is the exact erf GELU, ``"gelu_new"`` the tanh approximation).
ACTIVATIONS: dict[str, Any] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "gelu_new": lambda: nn.GELU(approximate="tanh"),
    "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
    "quick_gelu": _QuickGELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "mish": nn.Mish,
    "linear": nn.Identity,
}


@dataclass
class DTConfig:
    """The configuration of a :class:`DecisionTransformer` (torchrl's ``DecisionTransformer.DTConfig``).

    The defaults are torchrl's: ``n_embd=256, n_layer=4, n_head=4, n_inner=1024,
    activation="relu", n_positions=1024, resid_pdrop=0.1, attn_pdrop=0.1``. ``n_inner=None``
    means ``4 * n_embd`` (GPT-2's rule).

    >>> config = DecisionTransformer.default_config()
    >>> config.n_embd = 128
    >>> config
    DTConfig(n_embd: 128, n_layer: 4, n_head: 4, n_inner: 1024, activation: relu, n_positions: 1024, resid_pdrop: 0.1, attn_pdrop: 0.1)
    """

    n_embd: Any = 256
    n_layer: Any = 4
    n_head: Any = 4
    n_inner: Any = 1024
    activation: Any = "relu"
    n_positions: Any = 1024
    resid_pdrop: Any = 0.1
    attn_pdrop: Any = 0.1

    def __repr__(self) -> str:
        fields = ", ".join(f"{field.name}: {getattr(self, field.name)}" for field in dataclasses.fields(self))
        return f"{type(self).__name__}({fields})"


_FIELDS = tuple(field.name for field in dataclasses.fields(DTConfig))


def _as_dict(config: Any, owner: str) -> dict[str, Any]:
    """A config given as a `DTConfig`, a mapping or anything ``dict()`` accepts, as a dict."""
    if isinstance(config, DTConfig):
        return dataclasses.asdict(config)
    if isinstance(config, Mapping):
        return dict(config)
    try:
        return dict(config)
    except Exception as err:  # noqa: BLE001 - any failure means "not a config"
        raise TypeError(f"{owner} config of type {type(config).__name__} is not supported: pass a "
                        f"DecisionTransformer.DTConfig or a dict with keys {list(_FIELDS)}") from err


def _check_int(value: Any, name: str, owner: str, minimum: int) -> int:
    if not is_int(value, integral=True) or value < minimum:
        raise ArgumentError(f"{owner} config `{name}` must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_probability(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{owner} config `{name}` must be a probability in [0, 1], got {value!r}")
    return float(value)


def resolve_dt_config(config: Any, defaults: DTConfig, owner: str) -> DTConfig:
    """A checked `DTConfig` from ``config`` (``None``, a `DTConfig` or a dict), missing keys from ``defaults``.

    Unknown keys, sizes that are not positive ints, ``n_embd`` not divisible by ``n_head``,
    dropout probabilities outside [0, 1] and unknown activations are refused with a message
    naming the key (torchrl reads the eight keys it knows, ignores the rest and lets a missing
    one raise ``KeyError``).
    """
    values = dataclasses.asdict(defaults)
    if config is not None:
        given = _as_dict(config, owner)
        unknown = sorted(str(key) for key in given if key not in values)
        if unknown:
            raise ArgumentError(f"{owner} config has unknown keys {unknown}; the keys are {list(_FIELDS)}")
        values.update(given)
    n_embd = _check_int(values["n_embd"], "n_embd", owner, 1)
    n_head = _check_int(values["n_head"], "n_head", owner, 1)
    if n_embd % n_head:
        raise ArgumentError(f"{owner} config `n_embd` ({n_embd}) must be divisible by `n_head` ({n_head})")
    n_inner = values["n_inner"]
    activation = values["activation"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ArgumentError(f"{owner} config `activation` must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return DTConfig(
        n_embd=n_embd,
        n_layer=_check_int(values["n_layer"], "n_layer", owner, 0),
        n_head=n_head,
        n_inner=None if n_inner is None else _check_int(n_inner, "n_inner", owner, 1),
        activation=activation,
        n_positions=_check_int(values["n_positions"], "n_positions", owner, 3),
        resid_pdrop=_check_probability(values["resid_pdrop"], "resid_pdrop", owner),
        attn_pdrop=_check_probability(values["attn_pdrop"], "attn_pdrop", owner),
    )


class Conv1D(nn.Module):
    """GPT-2's linear layer: ``y = x @ weight + bias`` with ``weight`` stored ``[nx, nf]``.

    The same map as ``nn.Linear(nx, nf)`` whose weight is the transpose; kept in this layout
    so that GPT-2 checkpoints (Hugging Face's, hence torchrl's) load without conversion.

    Args:
        nf (int): the number of output features.
        nx (int): the number of input features.
    """

    def __init__(self, nf: int, nx: int, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        self.nf = nf
        self.nx = nx
        self.weight = nn.Parameter(torch.empty(nx, nf, device=device))
        self.bias = nn.Parameter(torch.zeros(nf, device=device))
        nn.init.normal_(self.weight, std=INITIALIZER_RANGE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [*B, nx] -> [*B, nf]``."""
        return torch.addmm(self.bias, x.reshape(-1, self.nx), self.weight).view(*x.shape[:-1], self.nf)

    def extra_repr(self) -> str:
        return f"nf={self.nf}, nx={self.nx}"


def _drop_stale_mask_buffers(state_dict: dict, prefix: str, *args: Any) -> None:
    """Old GPT-2 checkpoints also hold the causal-mask buffers ``attn.bias`` and ``attn.masked_bias``:
    they carry no learned value (the mask is implied by causality), so they are dropped on load."""
    for name in ("bias", "masked_bias"):
        state_dict.pop(prefix + name, None)


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention with GPT-2's names: ``c_attn`` (q, k, v) and ``c_proj``.

    ``attn_dropout`` holds the dropout probability on the attention weights (used by
    ``scaled_dot_product_attention`` in training mode); ``resid_dropout`` drops the output.
    """

    def __init__(self, config: DTConfig, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim, device=device)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim, device=device)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)
        self._register_load_state_dict_pre_hook(_drop_stale_mask_buffers)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, L, embed_dim] -> [N, num_heads, L, head_dim]``."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``hidden_states: [N, L, embed_dim] -> [N, L, embed_dim]``; token ``i`` attends to tokens ``<= i``."""
        query, key, value = self.c_attn(hidden_states).split(self.embed_dim, dim=-1)
        dropout = self.attn_dropout.p if self.training else 0.0
        attended = F.scaled_dot_product_attention(self._heads(query), self._heads(key), self._heads(value),
                                                  dropout_p=dropout, is_causal=True)
        return self.resid_dropout(self.c_proj(attended.transpose(1, 2).flatten(-2)))


class GPT2MLP(nn.Module):
    """GPT-2's feed-forward part: ``c_fc`` (``n_embd -> n_inner``), the activation, ``c_proj``, dropout."""

    def __init__(self, intermediate_size: int, config: DTConfig,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd, device=device)
        self.c_proj = Conv1D(config.n_embd, intermediate_size, device=device)
        self.act = ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``hidden_states: [*B, n_embd] -> [*B, n_embd]``."""
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPT2Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: DTConfig, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPSILON, device=device)
        self.attn = GPT2Attention(config, device=device)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPSILON, device=device)
        self.mlp = GPT2MLP(inner, config, device=device)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``hidden_states: [N, L, n_embd] -> [N, L, n_embd]``, causal in ``L``."""
        hidden_states = hidden_states + self.attn(self.ln_1(hidden_states))
        return hidden_states + self.mlp(self.ln_2(hidden_states))


class GPT2Model(nn.Module):
    """A GPT-2 trunk fed embeddings: positional embedding, dropout, ``n_layer`` causal blocks, ``ln_f``.

    The submodules are named as in Hugging Face's ``GPT2Model`` (``wte``, ``wpe``, ``drop``,
    ``h``, ``ln_f``) so that its state_dict keys are the same; ``wte`` (a one-token vocabulary,
    as torchrl configures it) is never read, since the inputs are embeddings already.

    Args:
        config (DTConfig): the sizes and dropout probabilities (a checked config, see
            :func:`resolve_dt_config`).
        device (torch.device, optional): where to create the parameters.
    """

    def __init__(self, config: DTConfig, device: torch.device | str | int | None = None) -> None:
        super().__init__()
        self.embed_dim = config.n_embd
        self.n_positions = config.n_positions
        self.wte = nn.Embedding(1, config.n_embd, device=device)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd, device=device)
        self.drop = nn.Dropout(EMBD_PDROP)
        self.h = nn.ModuleList([GPT2Block(config, device=device) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPSILON, device=device)
        self._init_weights(config.n_layer)

    @torch.no_grad()
    def _init_weights(self, n_layer: int) -> None:
        """GPT-2's initialisation: ``N(0, 0.02)`` embeddings and layers, scaled ``c_proj`` weights."""
        nn.init.normal_(self.wte.weight, std=INITIALIZER_RANGE)
        nn.init.normal_(self.wpe.weight, std=INITIALIZER_RANGE)
        projection_std = INITIALIZER_RANGE / math.sqrt(2 * max(n_layer, 1))
        for name, parameter in self.h.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(parameter, std=projection_std)

    def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """``inputs_embeds: [N, L, n_embd] -> [N, L, n_embd]``, the last hidden states (``L <= n_positions``)."""
        length = inputs_embeds.shape[-2]
        if length > self.n_positions:
            raise ValueError(f"GPT2Model got {length} tokens, more than its n_positions={self.n_positions}")
        hidden_states = self.drop(inputs_embeds + self.wpe.weight[:length])
        for block in self.h:
            hidden_states = block(hidden_states)
        return self.ln_f(hidden_states)


class DecisionTransformer(nn.Module):
    """Online Decision Transformer (https://arxiv.org/abs/2202.05607), torchrl's ``DecisionTransformer``.

    Each step's return-to-go, state and action are embedded by their own linear layer
    (``embed_return``, ``embed_state``, ``embed_action``), interleaved as the token sequence
    ``(R_1, s_1, a_1, R_2, s_2, a_2, ...)`` of length ``3T``, normalised (``embed_ln``) and fed
    to a causal GPT-2 trunk (``transformer``, a :class:`GPT2Model`). The output is the hidden
    state at each **state** token: it has seen ``R_1..R_t``, ``s_1..s_t`` and ``a_1..a_{t-1}``,
    never ``a_t`` or anything later, so a head on it predicts ``a_t``.

    Args:
        state_dim (int): the size of an observation vector.
        action_dim (int): the size of an action vector.
        config (DTConfig or dict, optional): the transformer's configuration; a dict may give
            only some keys, the others take the defaults. Defaults to :meth:`default_config`.
        device (torch.device, optional): where to create the parameters.

    Inputs have any number of leading batch dims ``*B`` (none too) before the time dim ``T``
    (``3T <= n_positions``).

    >>> config = DecisionTransformer.DTConfig(n_embd=128)
    >>> model = DecisionTransformer(state_dim=4, action_dim=2, config=config)
    >>> model(torch.randn(3, 32, 10, 4), torch.randn(3, 32, 10, 2), torch.randn(3, 32, 10, 1)).shape
    torch.Size([3, 32, 10, 128])
    """

    DTConfig = DTConfig

    @classmethod
    def default_config(cls) -> DTConfig:
        """torchrl's default configuration: ``DTConfig()``."""
        return cls.DTConfig()

    def __init__(self, state_dim: int, action_dim: int, config: DTConfig | dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        owner = type(self).__name__
        for name, value in (("state_dim", state_dim), ("action_dim", action_dim)):
            if not is_int(value, integral=True) or value < 1:
                raise ArgumentError(f"{owner} `{name}` must be an int >= 1, got {value!r}")
        config = resolve_dt_config(config, self.default_config(), owner)
        super().__init__()
        self.state_dim = int(state_dim)
        self.action_dim = int(action_dim)
        self.hidden_size = config.n_embd
        self.config = config
        self.transformer = GPT2Model(config, device=device)
        self.embed_return = nn.Linear(1, self.hidden_size, device=device)
        self.embed_state = nn.Linear(self.state_dim, self.hidden_size, device=device)
        self.embed_action = nn.Linear(self.action_dim, self.hidden_size, device=device)
        self.embed_ln = nn.LayerNorm(self.hidden_size, device=device)

    def _check_inputs(self, observation: torch.Tensor, action: torch.Tensor, return_to_go: torch.Tensor) -> None:
        """Clear errors for inputs that do not fit (torchrl fails inside a linear layer or a reshape)."""
        expected = {"observation": self.state_dim, "action": self.action_dim, "return_to_go": 1}
        for name, value in (("observation", observation), ("action", action), ("return_to_go", return_to_go)):
            if value.ndim < 2 or value.shape[-1] != expected[name]:
                raise ValueError(f"{type(self).__name__} `{name}` must be [*B, T, {expected[name]}], "
                                 f"got shape {list(value.shape)}")
        if not observation.shape[:-1] == action.shape[:-1] == return_to_go.shape[:-1]:
            raise ValueError(
                f"{type(self).__name__} inputs must share their leading dims [*B, T]: observation "
                f"{list(observation.shape)}, action {list(action.shape)}, return_to_go {list(return_to_go.shape)}")
        tokens = 3 * observation.shape[-2]
        if tokens == 0:
            raise ValueError(f"{type(self).__name__} got an empty time dim (T = 0): give at least one step")
        if tokens > self.transformer.n_positions:
            raise ValueError(
                f"{type(self).__name__} got {observation.shape[-2]} steps, i.e. {tokens} tokens, more than "
                f"n_positions={self.transformer.n_positions} (at most {self.transformer.n_positions // 3} steps)")

    def forward(self, observation: torch.Tensor, action: torch.Tensor, return_to_go: torch.Tensor) -> torch.Tensor:
        """``observation: [*B, T, state_dim], action: [*B, T, action_dim], return_to_go: [*B, T, 1]
        -> [*B, T, n_embd]``, the hidden states at the state tokens."""
        self._check_inputs(observation, action, return_to_go)
        batch, steps = observation.shape[:-2], observation.shape[-2]
        tokens = torch.stack(
            (self.embed_return(return_to_go), self.embed_state(observation), self.embed_action(action)), dim=-2)
        tokens = self.embed_ln(tokens.reshape(-1, 3 * steps, self.hidden_size))
        hidden = self.transformer(inputs_embeds=tokens)
        return hidden.unflatten(1, (steps, 3))[:, :, 1].reshape(*batch, steps, self.hidden_size)
