"""Decision transformer: DecisionTransformer, DTActor, OnlineDTActor, DecisionTransformerInferenceWrapper.

What is pinned: torchrl 0.14's configuration defaults (``DTConfig``, the actors' wider default),
the state_dict names and shapes of torchrl's model (Hugging Face's GPT-2 inside, ``Conv1D``
weights stored ``[in, out]``), the numerics of the GPT-2 trunk (against a reference written out
here with an explicit mask and softmax), causality (the output at step ``t`` never depends on
anything after ``t``, nor on the action ``a_t``), shapes with any batch dims, dropout only in
training, the online actor's std range and exploration, and the inference wrapper's keys,
context masking, left padding and last-step outputs.
"""

from __future__ import annotations

import dataclasses
import doctest
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict
from tensordict.nn import TensorDictModule

import rldsl.modules.decision_transformer as dt_module
import rldsl.modules.tensordict_module.dt as dt_actors_module
from rldsl.modules import (
    DecisionTransformer,
    DecisionTransformerInferenceWrapper,
    DTActor,
    ExplorationType,
    OnlineDTActor,
    ProbabilisticActor,
    TanhDelta,
    TanhNormal,
    set_exploration_type,
)
from rldsl.modules.decision_transformer import DTConfig
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Bounded, Composite

SMALL = {"n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 24, "n_positions": 60}


def small_model(**overrides) -> DecisionTransformer:
    return DecisionTransformer(3, 2, config={**SMALL, **overrides}).eval()


def inputs(*batch: int, steps: int = 5, state_dim: int = 3, action_dim: int = 2) -> tuple[torch.Tensor, ...]:
    return (torch.randn(*batch, steps, state_dim), torch.randn(*batch, steps, action_dim),
            torch.randn(*batch, steps, 1))


# --- configuration --------------------------------------------------------------------------------------


def test_default_config_is_torchrl_s() -> None:
    config = DecisionTransformer.default_config()
    assert isinstance(config, DTConfig) and DecisionTransformer.DTConfig is DTConfig
    assert dataclasses.asdict(config) == {
        "n_embd": 256, "n_layer": 4, "n_head": 4, "n_inner": 1024, "activation": "relu",
        "n_positions": 1024, "resid_pdrop": 0.1, "attn_pdrop": 0.1}
    config.n_embd = 128
    assert repr(config) == ("DTConfig(n_embd: 128, n_layer: 4, n_head: 4, n_inner: 1024, activation: relu, "
                            "n_positions: 1024, resid_pdrop: 0.1, attn_pdrop: 0.1)")


@pytest.mark.parametrize("actor", [DTActor, OnlineDTActor])
def test_the_actors_default_to_a_wider_transformer(actor) -> None:
    assert dataclasses.asdict(actor.default_config()) == {
        "n_embd": 512, "n_layer": 4, "n_head": 4, "n_inner": 2048, "activation": "relu",
        "n_positions": 1024, "resid_pdrop": 0.1, "attn_pdrop": 0.1}


def test_model_defaults_build_torchrl_s_sizes() -> None:
    model = DecisionTransformer(state_dim=4, action_dim=2)
    assert (model.state_dim, model.action_dim, model.hidden_size) == (4, 2, 256)
    assert len(model.transformer.h) == 4 and model.transformer.wpe.weight.shape == (1024, 256)
    block = model.transformer.h[0]
    assert block.attn.num_heads == 4 and block.mlp.c_fc.weight.shape == (256, 1024)
    assert isinstance(block.mlp.act, torch.nn.ReLU)
    assert block.attn.attn_dropout.p == block.attn.resid_dropout.p == block.mlp.dropout.p == 0.1
    assert model.transformer.drop.p == 0.1  # GPT2Config's embd_pdrop, which torchrl leaves alone
    assert block.ln_1.eps == model.transformer.ln_f.eps == 1e-5
    actor = DTActor(state_dim=4, action_dim=2)
    assert actor.transformer.hidden_size == 512 and actor.action_layer.in_features == 512


def test_a_partial_dict_takes_the_owner_s_defaults() -> None:
    assert DecisionTransformer(4, 2, config={"n_layer": 1}).hidden_size == 256
    actor = DTActor(4, 2, transformer_config={"n_layer": 1})
    assert actor.transformer.hidden_size == 512 and len(actor.transformer.transformer.h) == 1
    assert DecisionTransformer(4, 2, config=[("n_embd", 8), ("n_head", 2)]).hidden_size == 8  # dict()-able
    model = DecisionTransformer(4, 2, config={"n_embd": 8, "n_head": 2, "n_inner": None})
    assert model.transformer.h[0].mlp.c_fc.weight.shape == (8, 32)  # GPT-2's 4 * n_embd


@pytest.mark.parametrize("config, error, match", [
    ({"n_embed": 8}, ArgumentError, "unknown keys"),
    ({"n_embd": 10, "n_head": 4}, ArgumentError, "divisible"),
    ({"n_embd": 0}, ArgumentError, "n_embd"),
    ({"n_layer": -1}, ArgumentError, "n_layer"),
    ({"n_head": 2.0}, ArgumentError, "n_head"),
    ({"n_inner": True}, ArgumentError, "n_inner"),
    ({"n_positions": 2}, ArgumentError, "n_positions"),
    ({"resid_pdrop": 1.5}, ArgumentError, "resid_pdrop"),
    ({"attn_pdrop": "0.1"}, ArgumentError, "attn_pdrop"),
    ({"activation": "gelu_erf"}, ArgumentError, "activation"),
    (42, TypeError, "not supported"),
])
def test_bad_configs_are_refused_with_the_key_named(config, error, match) -> None:
    with pytest.raises(error, match=match):
        DecisionTransformer(4, 2, config=config)


@pytest.mark.parametrize("state_dim, action_dim", [(0, 2), (4, -1), (4.0, 2), (True, 2)])
def test_bad_dims_are_refused(state_dim, action_dim) -> None:
    with pytest.raises(ArgumentError, match="must be an int >= 1"):
        DecisionTransformer(state_dim, action_dim, config=SMALL)


# --- structure and state_dict ------------------------------------------------------------------------


def expected_state_dict_shapes(n_layer: int, n_embd: int, n_inner: int, n_positions: int,
                               state_dim: int, action_dim: int) -> dict[str, tuple[int, ...]]:
    """torchrl's DecisionTransformer state_dict: Hugging Face's GPT2Model under ``transformer``."""
    shapes = {"transformer.wte.weight": (1, n_embd), "transformer.wpe.weight": (n_positions, n_embd)}
    for i in range(n_layer):
        prefix = f"transformer.h.{i}."
        shapes.update({
            prefix + "ln_1.weight": (n_embd,), prefix + "ln_1.bias": (n_embd,),
            prefix + "attn.c_attn.weight": (n_embd, 3 * n_embd), prefix + "attn.c_attn.bias": (3 * n_embd,),
            prefix + "attn.c_proj.weight": (n_embd, n_embd), prefix + "attn.c_proj.bias": (n_embd,),
            prefix + "ln_2.weight": (n_embd,), prefix + "ln_2.bias": (n_embd,),
            prefix + "mlp.c_fc.weight": (n_embd, n_inner), prefix + "mlp.c_fc.bias": (n_inner,),
            prefix + "mlp.c_proj.weight": (n_inner, n_embd), prefix + "mlp.c_proj.bias": (n_embd,),
        })
    shapes.update({
        "transformer.ln_f.weight": (n_embd,), "transformer.ln_f.bias": (n_embd,),
        "embed_return.weight": (n_embd, 1), "embed_return.bias": (n_embd,),
        "embed_state.weight": (n_embd, state_dim), "embed_state.bias": (n_embd,),
        "embed_action.weight": (n_embd, action_dim), "embed_action.bias": (n_embd,),
        "embed_ln.weight": (n_embd,), "embed_ln.bias": (n_embd,),
    })
    return shapes


def test_state_dict_names_order_and_shapes_are_torchrl_s() -> None:
    model = small_model()
    got = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    expected = expected_state_dict_shapes(2, 16, 24, 60, 3, 2)
    assert list(got) == list(expected) and got == expected
    assert not list(model.buffers())  # the causal mask is implied, never stored


def test_actor_state_dict_names() -> None:
    actor = DTActor(3, 2, transformer_config=SMALL)
    names = list(actor.state_dict())
    assert names[0] == "transformer.transformer.wte.weight"
    assert "transformer.transformer.h.1.attn.c_attn.weight" in names and "transformer.embed_ln.bias" in names
    assert names[-2:] == ["action_layer.weight", "action_layer.bias"]
    online = OnlineDTActor(3, 2, transformer_config=SMALL)
    assert list(online.state_dict())[-4:] == ["action_layer_mean.weight", "action_layer_mean.bias",
                                              "action_layer_logstd.weight", "action_layer_logstd.bias"]
    assert (online.log_std_min, online.log_std_max) == (-5.0, 2.0)


def test_a_checkpoint_with_gpt2_s_old_mask_buffers_loads_strictly() -> None:
    source, target = small_model(), small_model()
    state = source.state_dict()
    for i in range(2):  # transformers < 4.31 saved the causal mask buffers
        state[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, 60, 60, dtype=torch.bool))
        state[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    target.load_state_dict(state)
    x = inputs(2)
    assert torch.equal(source(*x), target(*x))


def test_initialisation_is_gpt2_s() -> None:
    torch.manual_seed(0)
    model = DecisionTransformer(4, 2, config={"n_embd": 256, "n_layer": 8})
    gpt = model.transformer
    assert abs(gpt.wpe.weight.std().item() - 0.02) < 0.002
    assert abs(gpt.h[0].attn.c_attn.weight.std().item() - 0.02) < 0.002
    assert abs(gpt.h[0].mlp.c_proj.weight.std().item() - 0.02 / math.sqrt(16)) < 0.001
    assert abs(gpt.h[0].attn.c_proj.weight.std().item() - 0.02 / math.sqrt(16)) < 0.001
    assert all(torch.equal(b, torch.zeros_like(b)) for n, b in gpt.named_parameters() if n.endswith(".bias")
               and "ln_" not in n)
    assert torch.equal(gpt.ln_f.weight, torch.ones(256))


@pytest.mark.parametrize("make", [
    lambda: DTActor(3, 2, transformer_config=SMALL).action_layer,
    lambda: OnlineDTActor(3, 2, transformer_config=SMALL).action_layer_mean,
    lambda: OnlineDTActor(3, 2, transformer_config=SMALL).action_layer_logstd,
])
def test_heads_are_orthogonal_with_zero_bias(make) -> None:
    head = make()
    torch.testing.assert_close(head.weight @ head.weight.T, torch.eye(2))
    assert torch.equal(head.bias, torch.zeros(2))


# --- numerics -------------------------------------------------------------------------------------------


def reference_forward(model: DecisionTransformer, observation, action, return_to_go) -> torch.Tensor:
    """The decision transformer written out: interleave, LayerNorm, GPT-2 with an explicit causal softmax."""
    batch, steps, hidden = observation.shape[0], observation.shape[1], model.hidden_size
    tokens = torch.stack([model.embed_return(return_to_go), model.embed_state(observation),
                          model.embed_action(action)], dim=2).reshape(batch, 3 * steps, hidden)
    x = model.embed_ln(tokens) + model.transformer.wpe.weight[: 3 * steps]
    mask = torch.ones(3 * steps, 3 * steps, dtype=torch.bool).tril()
    for block in model.transformer.h:
        heads = block.attn.num_heads
        h = block.ln_1(x)
        qkv = h @ block.attn.c_attn.weight + block.attn.c_attn.bias
        q, k, v = (part.reshape(batch, 3 * steps, heads, -1).transpose(1, 2) for part in qkv.chunk(3, dim=-1))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        attended = (weights @ v).transpose(1, 2).reshape(batch, 3 * steps, hidden)
        x = x + attended @ block.attn.c_proj.weight + block.attn.c_proj.bias
        inner = block.mlp.act(block.ln_2(x) @ block.mlp.c_fc.weight + block.mlp.c_fc.bias)
        x = x + inner @ block.mlp.c_proj.weight + block.mlp.c_proj.bias
    x = model.transformer.ln_f(x)
    return x.reshape(batch, steps, 3, hidden)[:, :, 1]


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_new", "quick_gelu", "tanh"])
def test_forward_equals_the_written_out_gpt2(activation: str) -> None:
    torch.manual_seed(1)
    model = small_model(activation=activation)
    with torch.no_grad():
        for p in model.parameters():  # move the biases and norms off their trivial init
            p.add_(0.1 * torch.randn_like(p))
    x = inputs(4, steps=7)
    with torch.no_grad():
        torch.testing.assert_close(model(*x), reference_forward(model, *x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch", [(), (5,), (3, 2), (2, 1, 2)])
def test_any_batch_dims_give_the_flattened_result(batch: tuple[int, ...]) -> None:
    model = small_model()
    x = inputs(*batch, steps=4)
    out = model(*x)
    assert out.shape == (*batch, 4, 16)
    flat = model(*(value.reshape(-1, 4, value.shape[-1]) for value in x))
    torch.testing.assert_close(out.reshape(-1, 4, 16), flat)


def test_the_documented_example_shapes() -> None:
    model = DecisionTransformer(4, 2, config=DecisionTransformer.DTConfig(n_embd=128))
    observation, action, return_to_go = torch.randn(3, 32, 10, 4), torch.randn(3, 32, 10, 2), torch.randn(3, 32, 10, 1)
    assert model(observation, action, return_to_go).shape == (3, 32, 10, 128)


def test_non_contiguous_inputs_work() -> None:
    model = small_model()
    observation, action, return_to_go = inputs(5, 2)
    out = model(observation.transpose(0, 1), action.transpose(0, 1), return_to_go.transpose(0, 1))
    torch.testing.assert_close(out, model(*inputs_t(observation, action, return_to_go)))


def inputs_t(*values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return tuple(value.transpose(0, 1).contiguous() for value in values)


@given(steps=st.integers(1, 8), t=st.integers(0, 7), seed=st.integers(0, 2**16))
@settings(max_examples=20, deadline=None)
def test_causality_step_t_sees_nothing_after_t(steps: int, t: int, seed: int) -> None:
    t = t % steps
    torch.manual_seed(seed)
    model = small_model()
    observation, action, return_to_go = inputs(2, steps=steps)
    changed = [value.clone() for value in (observation, action, return_to_go)]
    for value in changed:
        value[:, t + 1:] = torch.randn_like(value[:, t + 1:])
    changed[1][:, t] = torch.randn_like(changed[1][:, t])  # the action a_t comes after the state token s_t
    with torch.no_grad():
        before, after = model(observation, action, return_to_go), model(*changed)
    torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1], rtol=1e-5, atol=1e-5)


def test_step_t_depends_on_its_return_and_state_and_earlier_actions() -> None:
    model = small_model()
    observation, action, return_to_go = inputs(1, steps=4)
    base = model(observation, action, return_to_go)
    for index, value in ((0, observation), (2, return_to_go)):
        changed = [observation, action, return_to_go]
        changed[index] = value.clone()
        changed[index][:, 2] += 1.0
        assert not torch.allclose(model(*changed)[:, 2], base[:, 2])
    earlier = action.clone()
    earlier[:, 1] += 1.0
    assert not torch.allclose(model(observation, earlier, return_to_go)[:, 2], base[:, 2])


def test_dropout_only_in_training() -> None:
    model = small_model(resid_pdrop=0.5, attn_pdrop=0.5)
    x = inputs(3)
    assert torch.equal(model(*x), model(*x))
    model.train()
    assert not torch.equal(model(*x), model(*x))
    model.eval()
    assert torch.equal(model(*x), small_model_copy(model)(*x))


def small_model_copy(model: DecisionTransformer) -> DecisionTransformer:
    copy = small_model(resid_pdrop=0.5, attn_pdrop=0.5)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def test_gradients_reach_every_parameter_but_the_unused_token_embedding() -> None:
    model = small_model().train()
    model(*inputs(2)).sum().backward()
    without = [name for name, p in model.named_parameters() if p.grad is None]
    assert without == ["transformer.wte.weight"]


@pytest.mark.parametrize("bad, match", [
    (lambda: inputs(2, steps=21), "n_positions=60"),
    (lambda: inputs(2, steps=0), "T = 0"),
    (lambda: inputs(2, state_dim=4), "observation"),
    (lambda: (torch.randn(2, 5, 3), torch.randn(2, 4, 2), torch.randn(2, 5, 1)), "leading dims"),
    (lambda: (torch.randn(2, 5, 3), torch.randn(2, 5, 2), torch.randn(2, 5)), "return_to_go"),
])
def test_bad_inputs_get_clear_errors(bad, match) -> None:
    with pytest.raises(ValueError, match=match):
        small_model()(*bad())


def test_the_longest_window_is_n_positions_over_three() -> None:
    assert small_model()(*inputs(1, steps=20)).shape == (1, 20, 16)


def test_meta_device_shapes() -> None:
    model = DTActor(17, 6, device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    out = model(*(torch.empty(2, 20, d, device="meta") for d in (17, 6, 1)))
    assert out.shape == (2, 20, 6) and out.device.type == "meta"


# --- actors ---------------------------------------------------------------------------------------------


def test_dt_actor_is_the_linear_head_on_the_state_tokens() -> None:
    actor = DTActor(3, 2, transformer_config=SMALL).eval()
    x = inputs(4, 2)
    out = actor(*x)
    assert out.shape == (4, 2, 5, 2)
    torch.testing.assert_close(out, actor.action_layer(actor.transformer(*x)))


def test_online_actor_std_is_the_squashed_log_std() -> None:
    actor = OnlineDTActor(3, 2, transformer_config=SMALL).eval()
    with torch.no_grad():
        actor.action_layer_logstd.weight.mul_(50.0)  # reach both ends of the range
    x = inputs(64)
    mu, std = actor(*x)
    assert mu.shape == std.shape == (64, 5, 2)
    hidden = actor.transformer(*x)
    torch.testing.assert_close(mu, actor.action_layer_mean(hidden))
    log_std = -5.0 + 3.5 * (torch.tanh(actor.action_layer_logstd(hidden)) + 1.0)
    torch.testing.assert_close(std, log_std.exp())
    assert std.min() >= math.exp(-5.0) - 1e-6 and std.max() <= math.exp(2.0) + 1e-5
    assert std.min() < math.exp(-4.5) and std.max() > math.exp(1.5)


def online_policy() -> ProbabilisticActor:
    net = TensorDictModule(OnlineDTActor(3, 2, transformer_config=SMALL).eval(),
                           in_keys=["observation", "action", "return_to_go"], out_keys=["loc", "scale"])
    return ProbabilisticActor(net, in_keys=["loc", "scale"], out_keys=["action"], distribution_class=TanhNormal)


def window(*batch: int, steps: int = 6) -> TensorDict:
    observation, action, return_to_go = inputs(*batch, steps=steps)
    return TensorDict(observation=observation, action=action, return_to_go=return_to_go, batch_size=batch)


def test_online_actor_deterministic_versus_random_exploration() -> None:
    policy = online_policy()
    td = window(8)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        first, second = policy(td.clone())["action"], policy(td.clone())["action"]
    assert torch.equal(first, second)
    torch.testing.assert_close(first, torch.tanh(policy(td.clone())["loc"]))
    with set_exploration_type(ExplorationType.RANDOM):
        a, b = policy(td.clone())["action"], policy(td.clone())["action"]
    assert not torch.equal(a, b) and a.abs().max() <= 1.0


# --- the inference wrapper ---------------------------------------------------------------------------


class Recorder(torch.nn.Module):
    """A policy network that records what it was given and answers ``action + 1`` per step."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, torch.Tensor] = {}

    def forward(self, observation: torch.Tensor, action: torch.Tensor, return_to_go: torch.Tensor):
        """``observation: [*B, T, o], action: [*B, T, a], return_to_go: [*B, T, 1] -> [*B, T, a]``."""
        self.seen = {"observation": observation.clone(), "action": action.clone(), "return_to_go": return_to_go}
        return action + 1.0, observation.sum(-1, keepdim=True)


def recording_wrapper(**kwargs) -> tuple[DecisionTransformerInferenceWrapper, Recorder]:
    recorder = Recorder()
    policy = TensorDictModule(recorder, in_keys=["observation", "action", "return_to_go"],
                              out_keys=["action", "hidden"])
    return DecisionTransformerInferenceWrapper(policy, **kwargs), recorder


def numbered(*batch: int, steps: int) -> TensorDict:
    """Windows whose entries are their step numbers plus 1 (so a zero is a mask)."""
    count = torch.arange(1.0, steps + 1).view(steps, 1)
    return TensorDict(observation=count.expand(*batch, steps, 3).clone(), action=count.expand(*batch, steps, 2).clone(),
                      return_to_go=count.expand(*batch, steps, 1).clone(), batch_size=batch)


def test_wrapper_keys_and_defaults() -> None:
    wrapper, _ = recording_wrapper()
    assert wrapper.inference_context == 5 and wrapper.context_length is None
    assert wrapper.in_keys == ["observation", "action", "return_to_go"]
    assert wrapper.out_keys == ["action", "hidden", "observation", "return_to_go"]
    assert (wrapper.observation_key, wrapper.action_key, wrapper.out_action_key, wrapper.return_to_go_key) == (
        "observation", "action", "action", "return_to_go")
    assert wrapper.step() is None and wrapper.step(10) is None


def test_out_keys_are_sorted_as_strings_nested_keys_included() -> None:
    # torchrl sorts with key=str: a tuple key sorts by its repr, "('agent', 'loc')", before the letters.
    policy = TensorDictModule(Recorder(), in_keys=["observation", "action", "return_to_go"],
                              out_keys=["action", ("agent", "loc")])
    wrapper = DecisionTransformerInferenceWrapper(policy)
    assert wrapper.out_keys == [("agent", "loc"), "action", "observation", "return_to_go"]
    assert wrapper.out_keys == sorted(wrapper.out_keys, key=str)


def test_masking_with_a_long_window() -> None:
    wrapper, recorder = recording_wrapper(inference_context=3)
    td = numbered(2, steps=6)
    out = wrapper(td)
    seen = recorder.seen
    assert seen["observation"][0, :, 0].tolist() == [0, 0, 0, 4, 5, 6]
    assert seen["return_to_go"][0, :, 0].tolist() == [0, 0, 0, 4, 5, 6]
    # actions older than the last c - 1 = 2 are zeroed, then shifted to the front with a zero appended
    assert seen["action"][0, :, 0].tolist() == [0, 0, 0, 5, 6, 0]
    # the last step's predicted action and return-to-go; the observation as given
    assert torch.equal(out["action"], torch.ones(2, 2))
    assert torch.equal(out["return_to_go"], torch.full((2, 1), 6.0))
    assert torch.equal(out["observation"], td["observation"])
    assert out["hidden"].shape == (2, 6, 1)
    assert out.batch_size == (2,)


def test_the_input_tensordict_is_not_modified() -> None:
    wrapper, _ = recording_wrapper(inference_context=2)
    td = numbered(2, steps=6)
    snapshot = td.clone()
    wrapper(td)
    assert (td == snapshot).all() and set(td.keys()) == set(snapshot.keys())


def test_a_window_shorter_than_the_context_is_all_visible() -> None:
    wrapper, recorder = recording_wrapper(inference_context=5)
    wrapper(numbered(1, steps=3))
    assert recorder.seen["observation"][0, :, 0].tolist() == [1, 2, 3]
    assert recorder.seen["action"][0, :, 0].tolist() == [2, 3, 0]


def test_context_one_hides_every_action() -> None:
    # torchrl slices with :-0 here (an empty slice) and shows every past action (a quirk)
    wrapper, recorder = recording_wrapper(inference_context=1)
    wrapper(numbered(1, steps=4))
    assert recorder.seen["action"].abs().sum() == 0
    assert recorder.seen["observation"][0, :, 0].tolist() == [0, 0, 0, 4]


def test_left_padding_to_the_context_length() -> None:
    wrapper, recorder = recording_wrapper(inference_context=3, context_length=6)
    td = numbered(2, steps=2)
    out = wrapper(td)
    assert recorder.seen["observation"][0, :, 0].tolist() == [0, 0, 0, 0, 1, 2]
    assert recorder.seen["action"][0, :, 0].tolist() == [0, 0, 0, 1, 2, 0]
    assert torch.equal(out["observation"], td["observation"])  # as given, unpadded
    assert out["hidden"].shape == (2, 6, 1) and out["return_to_go"].tolist() == [[2.0], [2.0]]
    # a longer history keeps its last context_length steps
    wrapper(numbered(2, steps=9))
    assert recorder.seen["observation"][0, :, 0].tolist() == [0, 0, 0, 7, 8, 9]


def test_padding_with_the_time_dim_in_the_batch() -> None:
    wrapper, recorder = recording_wrapper(context_length=4)
    td = numbered(2, steps=3)
    td.batch_size = (2, 3)
    out = wrapper(td)
    assert recorder.seen["observation"].shape == (2, 4, 3)
    assert out.batch_size == (2,) and out["action"].shape == (2, 2)


def test_the_time_dim_leaves_the_batch_size() -> None:
    wrapper, _ = recording_wrapper()
    td = numbered(2, steps=7)
    td.batch_size = (2, 7)
    out = wrapper(td)
    assert out.batch_size == (2,) and out["action"].shape == (2, 2) and out["return_to_go"].shape == (2, 1)


def test_steps_older_than_the_context_do_not_change_the_action() -> None:
    actor = TensorDictModule(DTActor(3, 2, transformer_config=SMALL).eval(),
                             in_keys=["observation", "action", "return_to_go"], out_keys=["action"])
    wrapper = DecisionTransformerInferenceWrapper(actor, inference_context=4)
    td = window(3, steps=10)
    changed = td.clone()
    changed["observation"][:, :6] = torch.randn(3, 6, 3)
    changed["return_to_go"][:, :6] = torch.randn(3, 6, 1)
    changed["action"][:, :7] = torch.randn(3, 7, 2)
    assert torch.equal(wrapper(td)["action"], wrapper(changed)["action"])
    changed["observation"][:, 6] += 1.0
    assert not torch.equal(wrapper(td)["action"], wrapper(changed)["action"])


def test_torchrl_s_documented_example() -> None:
    actor_module = TensorDictModule(DTActor(state_dim=4, action_dim=2, transformer_config=SMALL),
                                    in_keys=["observation", "action", "return_to_go"], out_keys=["param"])
    actor = ProbabilisticActor(actor_module, in_keys=["param"], out_keys=["action"], distribution_class=TanhDelta,
                               distribution_kwargs={"low": -1.0, "high": 1.0})
    inference_actor = DecisionTransformerInferenceWrapper(actor)
    td = TensorDict({"observation": torch.randn(1, 20, 4), "action": torch.randn(1, 20, 2),
                     "return_to_go": torch.randn(1, 20, 1)}, [1])
    result = inference_actor(td)
    assert {key: tuple(value.shape) for key, value in result.items()} == {
        "action": (1, 2), "observation": (1, 20, 4), "param": (1, 20, 2), "return_to_go": (1, 1)}
    assert inference_actor.out_keys == ["action", "observation", "param", "return_to_go"]
    assert list(inference_actor.state_dict())[0] == "td_module.module.0.module.transformer.transformer.wte.weight"


def test_the_policy_s_hooks_run() -> None:
    wrapper, _ = recording_wrapper()
    calls = []
    wrapper.td_module.register_forward_hook(lambda module, args, out: calls.append(type(module).__name__))
    wrapper(numbered(1, steps=3))
    assert calls == ["TensorDictModule"]


def test_set_tensor_keys_renames_what_is_read_and_written() -> None:
    recorder = Recorder()
    policy = TensorDictModule(recorder, in_keys=[("x", "obs"), "act", "rtg"], out_keys=["pred", "hidden"])
    wrapper = DecisionTransformerInferenceWrapper(policy, inference_context=2)
    wrapper.set_tensor_keys(observation=("x", "obs"), action="act", return_to_go=("rtg",), out_action="pred")
    assert wrapper.in_keys == [("x", "obs"), "act", "rtg"]
    assert wrapper.out_keys == [("x", "obs"), "act", "hidden", "pred", "rtg"]
    td = numbered(2, steps=4).rename_key_("action", "act").rename_key_("return_to_go", "rtg")
    td["x", "obs"] = td.pop("observation")
    out = wrapper(td)
    assert out["pred"].shape == (2, 2) and out["rtg"].shape == (2, 1) and out["act"].shape == (2, 4, 2)
    assert recorder.seen["action"][0, :, 0].tolist() == [0, 0, 4, 0]


def test_set_tensor_keys_errors() -> None:
    wrapper, _ = recording_wrapper()
    with pytest.raises(TypeError, match="unknown input"):
        wrapper.set_tensor_keys(reward="r")
    with pytest.raises(ValueError, match="must be within the actor output keys"):
        wrapper.set_tensor_keys(out_action="nope")
    with pytest.raises(TypeError, match="string or a tuple of strings"):
        wrapper.set_tensor_keys(observation=3)


def test_a_policy_without_the_action_output_fails_at_the_first_call() -> None:
    policy = TensorDictModule(lambda o, a, r: a, in_keys=["observation", "action", "return_to_go"], out_keys=["x"])
    wrapper = DecisionTransformerInferenceWrapper(policy)
    with pytest.raises(ValueError, match="out_action_key"):
        wrapper(numbered(1, steps=3))


@pytest.mark.parametrize("context_length", [None, 6])
def test_mismatched_windows_are_refused(context_length) -> None:
    wrapper, _ = recording_wrapper(context_length=context_length)
    td = numbered(2, steps=4)
    td["action"] = torch.zeros(2, 3, 2)
    with pytest.raises(ValueError, match="Mismatched tensor dimensions"):
        wrapper(td)


@pytest.mark.parametrize("kwargs, match", [
    ({"inference_context": 0}, "inference_context"),
    ({"inference_context": 2.0}, "inference_context"),
    ({"inference_context": True}, "inference_context"),
    ({"context_length": 0}, "context_length"),
])
def test_bad_wrapper_arguments(kwargs, match) -> None:
    with pytest.raises(ArgumentError, match=match):
        recording_wrapper(**kwargs)
    with pytest.raises(TypeError, match="TensorDictModule"):
        DecisionTransformerInferenceWrapper(Recorder())


def test_wrapper_spec() -> None:
    wrapper, _ = recording_wrapper(spec=Bounded(-1.0, 1.0, shape=(2,)))
    assert isinstance(wrapper.spec, Composite) and wrapper.spec["action"].shape == (2,)
    wrapper, _ = recording_wrapper()
    assert set(wrapper.spec.keys()) == {"action", "hidden"} and wrapper.spec["action"] is None
    policy = ProbabilisticActor(
        TensorDictModule(lambda a: a, in_keys=["action"], out_keys=["param"]), in_keys=["param"],
        out_keys=["action"], distribution_class=TanhDelta, spec=Bounded(-1.0, 1.0, shape=(2,)))
    assert DecisionTransformerInferenceWrapper(policy).spec["action"].shape == (2,)


def test_the_wrapper_is_called_with_keyword_tensors() -> None:
    wrapper, _ = recording_wrapper()
    td = numbered(2, steps=6)
    outputs = wrapper(observation=td["observation"], action=td["action"], return_to_go=td["return_to_go"])
    assert len(outputs) == len(wrapper.out_keys)
    assert dict(zip(wrapper.out_keys, outputs))["action"].shape == (2, 2)


# --- docs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [dt_module, dt_actors_module], ids=lambda m: m.__name__)
def test_docstring_examples_run(module) -> None:
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_conv1d_is_a_transposed_linear() -> None:
    layer = dt_module.Conv1D(5, 3)
    x = torch.randn(2, 4, 3)
    assert layer.weight.shape == (3, 5)
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight.T, layer.bias))
