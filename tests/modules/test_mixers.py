"""QMixer and VDNMixer: shapes for any batch, QMIX's monotonicity in every agent's value, VDN's
sum, torchrl's parameter names and numerics, devices and dtypes, and clear errors."""

from __future__ import annotations

import copy
import doctest
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import nn

from rldsl.modules import Mixer, QMixer, VDNMixer

BATCHES = [(), (1,), (5,), (2, 3), (2, 1, 4)]


def test_docstring_examples() -> None:
    import rldsl.modules.mixers

    torch.manual_seed(0)
    result = doctest.testmod(rldsl.modules.mixers, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("state_shape", [(8,), (4, 3), (2, 2, 3)], ids=str)
def test_qmixer_maps_agent_values_and_state_to_one_value_per_sample(batch: tuple, state_shape: tuple) -> None:
    mixer = QMixer(state_shape=state_shape, mixing_embed_dim=16, n_agents=3)
    out = mixer(torch.randn(*batch, 3, 1), torch.randn(*batch, *state_shape))
    assert out.shape == (*batch, 1)


@pytest.mark.parametrize("batch", BATCHES, ids=str)
def test_vdn_maps_agent_values_to_one_value_per_sample(batch: tuple) -> None:
    assert VDNMixer(n_agents=4)(torch.randn(*batch, 4, 1)).shape == (*batch, 1)


def test_an_empty_batch_gives_an_empty_output() -> None:
    mixer = QMixer((8,), 4, 3)
    assert mixer(torch.randn(0, 3, 1), torch.randn(0, 8)).shape == (0, 1)
    assert VDNMixer(3)(torch.randn(0, 2, 3, 1)).shape == (0, 2, 1)


def test_mixers_in_a_tensordict_module_as_torchrl_uses_them() -> None:
    qmix = TensorDictModule(QMixer(state_shape=(6,), mixing_embed_dim=8, n_agents=4),
                            in_keys=[("agents", "chosen_action_value"), "state"], out_keys=["chosen_action_value"])
    td = TensorDict({"agents": TensorDict({"chosen_action_value": torch.zeros(32, 4, 1)}, [32, 4]),
                     "state": torch.zeros(32, 6)}, [32])
    assert qmix(td)["chosen_action_value"].shape == (32, 1)
    vdn = TensorDictModule(VDNMixer(4), in_keys=[("agents", "chosen_action_value")], out_keys=["global"])
    assert vdn(td)["global"].shape == (32, 1)


# ---------------------------------------------------------------------------------------------
# Behaviour


@given(values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=6))
def test_vdn_is_the_sum_of_the_agents_values(values: list[float]) -> None:
    q = torch.tensor(values, dtype=torch.float64).reshape(1, -1, 1)
    out = VDNMixer(len(values))(q)
    assert out.shape == (1, 1)
    assert out.item() == pytest.approx(math.fsum(values), rel=1e-9, abs=1e-9)


def _joint_gradient(mixer: QMixer, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    q = q.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mixer(q, state).sum(), q)
    return grad


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_agents=st.integers(1, 6), embed=st.integers(1, 16),
       batch=st.integers(1, 8), scale=st.floats(0.1, 100.0))
def test_qmix_joint_value_is_monotone_in_every_agents_value(seed: int, n_agents: int, embed: int, batch: int,
                                                            scale: float) -> None:
    """dQ_tot/dq_i >= 0 for every agent, any state and any agent values (QMIX's design)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mixer = QMixer(state_shape=(5,), mixing_embed_dim=embed, n_agents=n_agents).double()
    q = torch.randn(batch, n_agents, 1, generator=generator, dtype=torch.float64) * scale
    state = torch.randn(batch, 5, generator=generator, dtype=torch.float64) * scale
    assert (_joint_gradient(mixer, q, state) >= 0).all()


def test_raising_one_agents_value_never_lowers_the_joint_value() -> None:
    torch.manual_seed(0)
    mixer = QMixer(state_shape=(4,), mixing_embed_dim=8, n_agents=3)
    q, state = torch.randn(256, 3, 1), torch.randn(256, 4)
    base = mixer(q, state)
    for agent in range(3):
        raised = q.clone()
        raised[:, agent] += torch.rand(256, 1) * 3
        assert (mixer(raised, state) >= base - 1e-6).all()


def test_qmix_depends_on_the_state_and_on_the_agents() -> None:
    torch.manual_seed(0)
    mixer = QMixer(state_shape=(4,), mixing_embed_dim=8, n_agents=3)
    q, state = torch.randn(6, 3, 1), torch.randn(6, 4)
    assert not torch.allclose(mixer(q, state), mixer(q, state + 1))
    assert not torch.allclose(mixer(q, state), mixer(q + 1, state))


def _reference_qmix(mixer: QMixer, q: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """QMIX written out per sample from the parameters (the formula in torchrl's docs)."""
    n, e = mixer.n_agents, mixer.embed_dim
    rows = []
    for qi, si in zip(q.reshape(-1, n), state.reshape(-1, mixer.state_dim)):
        w1 = (mixer.hyper_w_1.weight @ si + mixer.hyper_w_1.bias).abs().reshape(n, e)
        b1 = mixer.hyper_b_1.weight @ si + mixer.hyper_b_1.bias
        hidden = torch.nn.functional.elu(qi @ w1 + b1)
        wf = (mixer.hyper_w_final.weight @ si + mixer.hyper_w_final.bias).abs()
        v = mixer.V[2](torch.relu(mixer.V[0](si)))
        rows.append(hidden @ wf + v)
    return torch.stack(rows).reshape(*q.shape[:-2], 1)


def test_qmix_computes_the_documented_formula() -> None:
    torch.manual_seed(1)
    mixer = QMixer(state_shape=(2, 3), mixing_embed_dim=5, n_agents=4).double()
    q = torch.randn(2, 3, 4, 1, dtype=torch.float64)
    state = torch.randn(2, 3, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(mixer(q, state), _reference_qmix(mixer, q, state))


def test_gradients_reach_every_hypernetwork() -> None:
    mixer = QMixer(state_shape=(4,), mixing_embed_dim=8, n_agents=3)
    mixer(torch.randn(16, 3, 1), torch.randn(16, 4)).sum().backward()
    for name, parameter in mixer.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


# ---------------------------------------------------------------------------------------------
# torchrl's structure: names, init order, attributes


def test_qmixer_state_dict_names_and_shapes_are_torchrls() -> None:
    mixer = QMixer(state_shape=(4, 2), mixing_embed_dim=16, n_agents=3)
    assert {k: tuple(v.shape) for k, v in mixer.state_dict().items()} == {
        "hyper_w_1.weight": (48, 8), "hyper_w_1.bias": (48,),
        "hyper_w_final.weight": (16, 8), "hyper_w_final.bias": (16,),
        "hyper_b_1.weight": (16, 8), "hyper_b_1.bias": (16,),
        "V.0.weight": (16, 8), "V.0.bias": (16,), "V.2.weight": (1, 16), "V.2.bias": (1,),
    }
    assert isinstance(mixer.V[1], nn.ReLU)
    assert mixer.embed_dim == 16 and mixer.state_dim == 8 and mixer.n_agents == 3 and mixer.needs_state
    assert mixer.state_shape == torch.Size([4, 2])


def test_qmixer_draws_its_weights_in_torchrls_order() -> None:
    """One seed gives the weights of torchrl's construction order: w_1, w_final, b_1, V."""
    torch.manual_seed(7)
    mixer = QMixer(state_shape=(8,), mixing_embed_dim=4, n_agents=2)
    torch.manual_seed(7)
    expected = [nn.Linear(8, 8), nn.Linear(8, 4), nn.Linear(8, 4), nn.Linear(8, 4), nn.Linear(4, 1)]
    got = [mixer.hyper_w_1, mixer.hyper_w_final, mixer.hyper_b_1, mixer.V[0], mixer.V[2]]
    for mine, theirs in zip(got, expected):
        assert torch.equal(mine.weight, theirs.weight) and torch.equal(mine.bias, theirs.bias)


def test_vdn_has_no_parameters_and_no_state() -> None:
    vdn = VDNMixer(3)
    assert list(vdn.state_dict()) == [] and not vdn.needs_state and vdn.state_shape == torch.Size([])
    assert isinstance(vdn, Mixer) and isinstance(QMixer((2,), 2, 2), Mixer)


def test_a_checkpoint_round_trips_with_weights_only() -> None:
    mixer = QMixer((8,), 16, 3)
    buffer = io.BytesIO()
    torch.save(mixer.state_dict(), buffer)
    buffer.seek(0)
    other = QMixer((8,), 16, 3)
    other.load_state_dict(torch.load(buffer, weights_only=True))
    q, state = torch.randn(4, 3, 1), torch.randn(4, 8)
    assert torch.equal(other(q, state), mixer(q, state))


# ---------------------------------------------------------------------------------------------
# Devices and dtypes


def test_device_argument_and_meta() -> None:
    mixer = QMixer((8,), 16, 3, device="meta")
    assert all(p.is_meta for p in mixer.parameters()) and mixer.device == "meta"
    out = mixer(torch.empty(5, 3, 1, device="meta"), torch.empty(5, 8, device="meta"))
    assert out.is_meta and out.shape == (5, 1)
    moved = QMixer((8,), 16, 3).to("meta")
    assert moved(torch.empty(2, 3, 1, device="meta"), torch.empty(2, 8, device="meta")).shape == (2, 1)
    assert VDNMixer(3, device="meta")(torch.empty(4, 3, 1, device="meta")).is_meta


def test_positional_device_as_torchrl_requires_it() -> None:
    assert QMixer((8,), 4, 2, "cpu").hyper_w_1.weight.device.type == "cpu"
    assert VDNMixer(2, "cpu").device == "cpu"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_dtypes(dtype: torch.dtype) -> None:
    mixer = copy.deepcopy(QMixer((4,), 8, 3)).to(dtype)
    out = mixer(torch.randn(6, 3, 1, dtype=dtype), torch.randn(6, 4, dtype=dtype))
    assert out.dtype == dtype and out.shape == (6, 1)
    assert VDNMixer(3)(torch.randn(6, 3, 1, dtype=dtype)).dtype == dtype


def test_double_matches_float() -> None:
    torch.manual_seed(2)
    mixer = QMixer((4,), 8, 3)
    q, state = torch.randn(6, 3, 1), torch.randn(6, 4)
    double = copy.deepcopy(mixer).double()
    torch.testing.assert_close(double(q.double(), state.double()), mixer(q, state).double(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Errors


def test_wrong_agent_values_name_the_expected_shape() -> None:
    mixer = QMixer((8,), 4, 3)
    with pytest.raises(ValueError, match=r"\[\*B, 3, 1\], but got \[5, 4, 1\]"):
        mixer(torch.randn(5, 4, 1), torch.randn(5, 8))
    with pytest.raises(ValueError, match=r"but got \[5, 3\]"):
        mixer(torch.randn(5, 3), torch.randn(5, 8))
    with pytest.raises(ValueError, match=r"\[\*B, 2, 1\], but got \[2, 3, 1\]"):
        VDNMixer(2)(torch.randn(2, 3, 1))


def test_wrong_states_name_the_expected_shape() -> None:
    mixer = QMixer((8,), 4, 3)
    with pytest.raises(ValueError, match=r"state of shape \[\*B, \*state_shape\] = \[\*B, 8\], but got \[5, 7\]"):
        mixer(torch.randn(5, 3, 1), torch.randn(5, 7))
    with pytest.raises(ValueError, match="batch dims"):
        mixer(torch.randn(5, 3, 1), torch.randn(4, 8))
    with pytest.raises(ValueError, match="batch dims"):
        mixer(torch.randn(5, 3, 1), torch.randn(5, 3, 8))


def test_the_number_of_inputs_is_checked() -> None:
    with pytest.raises(ValueError, match="takes 2 inputs"):
        QMixer((8,), 4, 3)(torch.randn(5, 3, 1))
    with pytest.raises(ValueError, match="reads no state"):
        VDNMixer(3)(torch.randn(5, 3, 1), torch.randn(5, 8))
    with pytest.raises(TypeError, match="expects tensors"):
        VDNMixer(3)([1.0, 2.0, 3.0])


@pytest.mark.parametrize(("args", "error", "match"), [
    (((8,), 0, 3), ValueError, "mixing_embed_dim must be a positive int"),
    (((8,), 4.5, 3), TypeError, "mixing_embed_dim must be a positive int"),
    (((8,), 4, 0), ValueError, "n_agents must be a positive int"),
    (((8,), 4, True), TypeError, "n_agents must be a positive int"),
    (((8, 0), 4, 3), ValueError, "state_shape must be a sequence of positive ints"),
    (("ab", 4, 3), ValueError, "state_shape must be a sequence of positive ints"),
    ((None, 4, 3), TypeError, "state_shape must be a sequence of positive ints"),
    (((), 4, 3), ValueError, "state_shape is empty"),
])
def test_bad_arguments_are_refused(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        QMixer(*args)


def test_an_int_state_shape_is_one_dim() -> None:
    assert QMixer(8, 4, 3).state_shape == torch.Size([8])


def test_a_mixer_without_mix_says_so() -> None:
    class Incomplete(Mixer):
        pass

    with pytest.raises(TypeError, match="abstract method 'mix'|abstract method mix"):
        Incomplete(2, False, ())


def test_a_mix_returning_the_wrong_shape_is_caught() -> None:
    class Wrong(Mixer):
        def mix(self, chosen_action_value: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
            return chosen_action_value

    with pytest.raises(ValueError, match=r"must return the joint value of shape \[\*B, 1\]"):
        Wrong(2, False, ())(torch.randn(3, 2, 1))
