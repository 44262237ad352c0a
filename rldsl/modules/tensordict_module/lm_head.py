"""`LMHeadActorValueOperator`: an actor-value operator made from a Hugging-Face-like ``*LMHeadModel``.

The language model's transformer is the common trunk, its ``lm_head`` the policy (logits over
the vocabulary, a categorical draw of the next token) and a new bias-free linear layer the
value head, as in torchrl. No ``transformers`` import: any object with a ``.transformer``
(called as ``transformer(input_ids=..., attention_mask=...)``) and an ``.lm_head`` linear
layer works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModule, TensorDictModuleBase
from torch import distributions as D, nn

from rldsl.modules.tensordict_module.actors import ActorValueOperator, ProbabilisticActor, ValueOperator
from rldsl.modules.tensordict_module.sequence import SafeSequential

__all__ = ["LMHeadActorValueOperator"]


def hidden_states_of(output: Any) -> torch.Tensor:
    """The last hidden states in a transformer's output.

    A tensor is taken as is; otherwise the ``last_hidden_state`` attribute or entry (a
    Hugging-Face ``ModelOutput``), else the first element of a tuple or list (the
    ``(hidden_states, past_key_values, ...)`` of ``return_dict=False``).
    """
    if isinstance(output, torch.Tensor):
        return output
    hidden = getattr(output, "last_hidden_state", None)
    if hidden is None and isinstance(output, Mapping):
        hidden = output.get("last_hidden_state")
    if hidden is None and isinstance(output, (tuple, list)) and output:
        hidden = output[0]
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(
            f"LMHeadActorValueOperator: the transformer returned a {type(output).__name__} without hidden states; "
            f"it must return a tensor [*B, T, n_embd], a tuple starting with one, or an object with "
            f"`last_hidden_state`"
        )
    return hidden


class _TransformerModule(TensorDictModuleBase):
    """Runs the transformer on ``input_ids`` (and ``attention_mask`` when present), writes ``"x"``.

    The transformer is held as ``module``, so its parameters are named
    ``module.<transformer names>`` as in the `TensorDictModule` torchrl uses.
    """

    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.module = transformer
        self.in_keys = ["input_ids", "attention_mask"]
        self.out_keys = ["x"]

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """``input_ids: [*B, T]`` (and ``attention_mask: [*B, T]``) ``-> x: [*B, T, n_embd]``."""
        inputs = {"input_ids": tensordict.get("input_ids")}
        attention_mask = tensordict.get("attention_mask", None)
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask
        tensordict.set("x", hidden_states_of(self.module(**inputs)))
        return tensordict


class _LastToken(TensorDictModuleBase):
    """Keeps the hidden state of the last position: what the next token is drawn from."""

    def __init__(self) -> None:
        super().__init__()
        self.in_keys = ["x"]
        self.out_keys = ["x"]

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """``x: [*B, T, n_embd] -> x: [*B, n_embd]`` (position ``T - 1``)."""
        tensordict.set("x", tensordict.get("x")[..., -1, :])
        return tensordict


def _lm_head_width(lm_head: Any) -> int:
    """The input width of the LM head: ``in_features``, else the last dim of its ``weight``."""
    width = getattr(lm_head, "in_features", None)
    if width is None:
        weight = getattr(lm_head, "weight", None)
        width = weight.shape[-1] if isinstance(weight, torch.Tensor) and weight.ndim == 2 else None
    if not isinstance(width, int) or width < 1:
        raise TypeError(
            f"LMHeadActorValueOperator: base_model.lm_head must be a linear layer (with `in_features`), "
            f"got {type(lm_head).__name__}"
        )
    return width


class LMHeadActorValueOperator(ActorValueOperator):
    """An actor-value operator from a Hugging-Face-like ``*LMHeadModel``, as in torchrl.

    - common trunk: ``base_model.transformer`` on ``input_ids`` (and ``attention_mask``)
      writes ``"x"``, then only the last position is kept;
    - policy: ``base_model.lm_head`` writes ``"logits"``; a ``torch.distributions.Categorical``
      over them gives ``"action"`` (the next token) and ``"action_log_prob"``;
    - value: a new ``Linear(lm_head.in_features, 1, bias=False)`` writes ``"state_value"``.

    The transformer and the LM head are the base model's own modules (shared, not copied).
    State-dict names are torchrl's: ``module.0.module.0.module.<transformer>``,
    ``module.1.module.0.module.weight`` (the LM head), ``module.2.module.weight`` (the value).

    Shapes: ``input_ids: [*B, T], attention_mask: [*B, T] -> x: [*B, n_embd] ->
    logits: [*B, vocab], action: [*B], action_log_prob: [*B]`` and ``state_value: [*B, 1]``.
    Outside an exploration context the action is the most likely token; under
    ``ExplorationType.RANDOM`` it is drawn.

    Args:
        base_model (nn.Module): has a ``.transformer`` returning the hidden states
            ``[*B, T, n_embd]`` (a tensor, a tuple starting with them, or an object with
            ``last_hidden_state``) and an ``.lm_head`` linear layer ``n_embd -> vocab``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from torch import nn
    >>> class Trunk(nn.Module):  # a stand-in for GPT2Model: token ids -> hidden states
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.wte = nn.Embedding(10, 8)
    ...     def forward(self, input_ids, attention_mask=None):
    ...         return (self.wte(input_ids),)
    >>> class TinyLM(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.transformer, self.lm_head = Trunk(), nn.Linear(8, 10, bias=False)
    >>> model = LMHeadActorValueOperator(TinyLM())
    >>> td = model(TensorDict(input_ids=torch.randint(10, (3, 5)), batch_size=[3]))
    >>> td["action"].shape, td["action_log_prob"].shape, td["state_value"].shape
    (torch.Size([3]), torch.Size([3]), torch.Size([3, 1]))
    """

    def __init__(self, base_model: Any) -> None:
        transformer = getattr(base_model, "transformer", None)
        lm_head = getattr(base_model, "lm_head", None)
        if not isinstance(transformer, nn.Module) or not isinstance(lm_head, nn.Module):
            raise TypeError(
                "LMHeadActorValueOperator needs a Hugging-Face-like *LMHeadModel: an object with a `.transformer` "
                f"module and an `.lm_head` linear layer; got {type(base_model).__name__} with transformer="
                f"{type(transformer).__name__}, lm_head={type(lm_head).__name__}"
            )
        value_head = nn.Linear(_lm_head_width(lm_head), 1, bias=False)
        common = SafeSequential(_TransformerModule(transformer), _LastToken())
        policy = ProbabilisticActor(
            TensorDictModule(lm_head, in_keys=["x"], out_keys=["logits"]),
            in_keys=["logits"],
            out_keys=["action"],
            distribution_class=D.Categorical,
            return_log_prob=True,
        )
        value = ValueOperator(value_head, in_keys=["x"], out_keys=["state_value"])
        super().__init__(common, policy, value)
