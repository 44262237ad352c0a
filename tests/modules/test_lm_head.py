"""`LMHeadActorValueOperator` on a tiny Hugging-Face-like ``*LMHeadModel`` built here.

What is pinned: torchrl's structure and state-dict names (trunk = the transformer then the last
position, policy = the LM head's logits and a categorical draw with its log-prob, value = a new
bias-free linear layer), the keys and shapes, the numbers (the action is the most likely token
outside an exploration context, its log-prob the categorical's), that the base model's modules
are shared, the forms of transformer output accepted, and the errors for models that are not
``*LMHeadModel``-like.
"""

from __future__ import annotations

import doctest
from collections import OrderedDict

import pytest
import torch
from tensordict import TensorDict
from torch import distributions as D, nn

import rldsl.modules.tensordict_module.lm_head as lm_head_module
from rldsl.modules import (
    ActorValueOperator,
    ExplorationType,
    LMHeadActorValueOperator,
    SafeProbabilisticTensorDictSequential,
    set_exploration_type,
)
from rldsl.modules.tensordict_module import LMHeadActorValueOperator as FromSubpackage

VOCAB, N_EMBD, BATCH, T = 11, 8, 3, 5


class ModelOutput(OrderedDict):
    """Like transformers' ``BaseModelOutputWithPast``: a mapping with attributes."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err


class TinyTransformer(nn.Module):
    """Embeddings, one mixing layer and a layer norm; records the attention mask it was given."""

    def __init__(self, output: str = "tuple") -> None:
        super().__init__()
        self.wte = nn.Embedding(VOCAB, N_EMBD)
        self.wpe = nn.Embedding(16, N_EMBD)
        self.h = nn.Linear(N_EMBD, N_EMBD)
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.output = output
        self.seen_mask = None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        self.seen_mask = attention_mask
        positions = torch.arange(input_ids.shape[-1])
        hidden = self.ln_f(torch.tanh(self.h(self.wte(input_ids) + self.wpe(positions))))
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1)
        if self.output == "tensor":
            return hidden
        if self.output == "model_output":
            return ModelOutput(last_hidden_state=hidden, past_key_values=None)
        return hidden, ("past", "key", "values")


class TinyLMHeadModel(nn.Module):
    """A GPT-2-like ``*LMHeadModel``: ``.transformer`` and a bias-free ``.lm_head``."""

    def __init__(self, output: str = "tuple") -> None:
        super().__init__()
        self.transformer = TinyTransformer(output)
        self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)


def inputs(with_mask: bool = True) -> TensorDict:
    torch.manual_seed(1)
    td = TensorDict(input_ids=torch.randint(VOCAB, (BATCH, T)), batch_size=[BATCH])
    if with_mask:
        td["attention_mask"] = torch.ones(BATCH, T, dtype=torch.long)
    return td


def last_hidden(base: TinyLMHeadModel, td: TensorDict) -> torch.Tensor:
    output = base.transformer(td["input_ids"], td.get("attention_mask", None))
    hidden = output[0] if isinstance(output, tuple) else getattr(output, "last_hidden_state", output)
    return hidden[:, -1]


def test_structure_keys_and_state_dict_names_are_torchrls() -> None:
    base = TinyLMHeadModel()
    model = LMHeadActorValueOperator(base)
    assert isinstance(model, ActorValueOperator) and FromSubpackage is LMHeadActorValueOperator
    assert model.in_keys == ["input_ids", "attention_mask"]
    assert model.out_keys == ["x", "logits", "action", "action_log_prob", "state_value"]
    assert list(model.state_dict()) == [
        "module.0.module.0.module.wte.weight",
        "module.0.module.0.module.wpe.weight",
        "module.0.module.0.module.h.weight",
        "module.0.module.0.module.h.bias",
        "module.0.module.0.module.ln_f.weight",
        "module.0.module.0.module.ln_f.bias",
        "module.1.module.0.module.weight",
        "module.2.module.weight",
    ]


def test_the_base_models_modules_are_shared_and_the_value_head_is_new() -> None:
    base = TinyLMHeadModel()
    model = LMHeadActorValueOperator(base)
    assert model.module[0].module[0].module is base.transformer
    assert model.get_policy_head().module[0].module is base.lm_head
    value = model.get_value_head().module
    assert isinstance(value, nn.Linear) and value.bias is None
    assert (value.in_features, value.out_features) == (N_EMBD, 1)


@pytest.mark.parametrize("output", ["tuple", "tensor", "model_output"])
def test_shapes_and_the_most_likely_token_outside_exploration(output: str) -> None:
    base = TinyLMHeadModel(output)
    model = LMHeadActorValueOperator(base)
    td = model(inputs())
    hidden = last_hidden(base, inputs())
    logits = base.lm_head(hidden)
    assert td["x"].shape == (BATCH, N_EMBD) and td["logits"].shape == (BATCH, VOCAB)
    assert td["action"].shape == (BATCH,) and td["action"].dtype == torch.int64
    assert td["action_log_prob"].shape == (BATCH,) and td["state_value"].shape == (BATCH, 1)
    torch.testing.assert_close(td["logits"], logits)
    assert torch.equal(td["action"], logits.argmax(-1))
    torch.testing.assert_close(td["action_log_prob"], D.Categorical(logits=logits).log_prob(td["action"]))
    torch.testing.assert_close(td["state_value"], model.get_value_head().module(hidden))


def test_random_exploration_draws_tokens_with_their_log_prob() -> None:
    model = LMHeadActorValueOperator(TinyLMHeadModel())
    with set_exploration_type(ExplorationType.RANDOM):
        td = model(inputs())
    assert ((0 <= td["action"]) & (td["action"] < VOCAB)).all()
    expected = D.Categorical(logits=td["logits"]).log_prob(td["action"])
    torch.testing.assert_close(td["action_log_prob"], expected)


def test_the_attention_mask_is_passed_when_present_and_optional() -> None:
    base = TinyLMHeadModel()
    model = LMHeadActorValueOperator(base)
    td = inputs()
    td["attention_mask"][:, -1] = 0
    model(td)
    assert torch.equal(base.transformer.seen_mask, td["attention_mask"])
    model(inputs(with_mask=False))
    assert base.transformer.seen_mask is None


def test_policy_and_value_operators_share_the_trunk_and_train_it() -> None:
    base = TinyLMHeadModel()
    model = LMHeadActorValueOperator(base)
    policy = model.get_policy_operator()
    assert isinstance(policy, SafeProbabilisticTensorDictSequential)
    td = inputs()
    dist = policy.get_dist(td)
    assert isinstance(dist, D.Categorical) and dist.logits.shape == (BATCH, VOCAB)
    value = model.get_value_operator()(inputs())["state_value"]
    (dist.log_prob(torch.zeros(BATCH, dtype=torch.long)).sum() + value.sum()).backward()
    assert base.transformer.wte.weight.grad is not None and base.lm_head.weight.grad is not None
    assert model.get_value_head().module.weight.grad is not None


def test_models_that_are_not_lm_head_models_are_refused() -> None:
    with pytest.raises(TypeError, match="transformer"):
        LMHeadActorValueOperator(nn.Linear(2, 2))
    headless = TinyLMHeadModel()
    headless.lm_head = nn.Identity()
    with pytest.raises(TypeError, match="in_features"):
        LMHeadActorValueOperator(headless)
    odd = TinyLMHeadModel()
    odd.transformer.forward = lambda input_ids, attention_mask=None: "not hidden states"
    with pytest.raises(TypeError, match="hidden states"):
        LMHeadActorValueOperator(odd)(inputs())


def test_an_lm_head_without_in_features_is_read_from_its_weight() -> None:
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(VOCAB, N_EMBD))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.weight.T

    base = TinyLMHeadModel()
    base.lm_head = Head()
    assert LMHeadActorValueOperator(base).get_value_head().module.in_features == N_EMBD


def test_docstring_examples() -> None:
    torch.manual_seed(0)
    result = doctest.testmod(lm_head_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
