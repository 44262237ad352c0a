"""Recurrent modules against torchrl 0.14.1's documented behaviour and torch's numbers.

The Python layers (`LSTM`, `GRU`, `LSTMCell`, `GRUCell`) against torch's layers with the same
parameters; `LSTMModule` / `GRUModule`: keys, modes, state layouts, torchrl's quirks (recurrent mode
starts each trajectory from the stored state, output states only at each trajectory's last step),
the central property (a multi-step pass equals stepping one step at a time as an environment
would, resets in the middle of rows included), primers, errors and state_dict names.
"""

from __future__ import annotations

import threading
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch import nn
from torch.func import functional_call

from rldsl.modules import (
    GRU,
    LSTM,
    MLP,
    ConsistentDropoutModule,
    GRUCell,
    GRUModule,
    LSTMCell,
    LSTMModule,
    TensorDictPrimer,
    get_primers_from_module,
    recurrent_mode,
    set_recurrent_mode,
)
from rldsl.specs import Bounded, Unbounded

F64 = torch.float64


# --- the Python layers -------------------------------------------------------------------------------------------------
LAYER_CASES = [
    {},
    {"num_layers": 3},
    {"bias": False},
    {"bidirectional": True},
    {"bidirectional": True, "num_layers": 2},
    {"proj_size": 3},
    {"proj_size": 2, "num_layers": 2, "bidirectional": True},
]


def twin(torch_class: type[nn.RNNBase], ours: type[nn.RNNBase], **kwargs) -> tuple[nn.RNNBase, nn.RNNBase]:
    """torch's layer and ours, in float64, with the same parameters."""
    reference = torch_class(4, 5, batch_first=True, **kwargs).to(F64)
    python = ours(4, 5, **kwargs).to(F64)
    python.load_state_dict(reference.state_dict())
    return reference, python


@pytest.mark.parametrize("kwargs", LAYER_CASES, ids=str)
def test_python_lstm_equals_torch(kwargs: dict) -> None:
    torch.manual_seed(0)
    reference, python = twin(nn.LSTM, LSTM, **kwargs)
    x = torch.randn(3, 7, 4, dtype=F64)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    hx = (torch.randn(layers, 3, kwargs.get("proj_size") or 5, dtype=F64), torch.randn(layers, 3, 5, dtype=F64))
    for args in ((x,), (x, hx)):
        expected, got = reference(*args), python(*args)
        torch.testing.assert_close(got[0], expected[0])
        torch.testing.assert_close(got[1], expected[1])
    # unbatched input, and a packed batch of unequal lengths (h_n after each sequence's last step)
    torch.testing.assert_close(python(x[0])[0], reference(x[0])[0])
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([7, 2, 5]), batch_first=True, enforce_sorted=False)
    expected, got = reference(packed, hx), python(packed, hx)
    torch.testing.assert_close(got[0].data, expected[0].data)
    torch.testing.assert_close(got[1], expected[1])


@pytest.mark.parametrize("kwargs", [case for case in LAYER_CASES if "proj_size" not in case], ids=str)
def test_python_gru_equals_torch(kwargs: dict) -> None:
    torch.manual_seed(1)
    reference, python = twin(nn.GRU, GRU, **kwargs)
    x = torch.randn(3, 7, 4, dtype=F64)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h = torch.randn(layers, 3, 5, dtype=F64)
    for args in ((x,), (x, h)):
        expected, got = reference(*args), python(*args)
        torch.testing.assert_close(got[0], expected[0])
        torch.testing.assert_close(got[1], expected[1])
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([3, 7, 1]), batch_first=True, enforce_sorted=False)
    expected, got = reference(packed, h), python(packed, h)
    torch.testing.assert_close(got[0].data, expected[0].data)
    torch.testing.assert_close(got[1], expected[1])


def test_python_layers_in_float32_and_time_first_layout_equal_torch() -> None:
    torch.manual_seed(2)
    python = LSTM(4, 6, num_layers=2, batch_first=False)
    reference = nn.LSTM(4, 6, num_layers=2)
    reference.load_state_dict(python.state_dict())
    x = torch.randn(50, 3, 4)  # [time, batch, features]
    torch.testing.assert_close(python(x)[0], reference(x)[0])
    gru, torch_gru = GRU(4, 6, batch_first=False), nn.GRU(4, 6)
    torch_gru.load_state_dict(gru.state_dict())
    torch.testing.assert_close(gru(x)[1], torch_gru(x)[1])


@pytest.mark.parametrize("ours, theirs", [(LSTMCell, nn.LSTMCell), (GRUCell, nn.GRUCell)])
def test_python_cells_equal_torch(ours: type, theirs: type) -> None:
    torch.manual_seed(3)
    cell, reference = ours(4, 5, dtype=F64), theirs(4, 5, dtype=F64)
    reference.load_state_dict(cell.state_dict())
    x = torch.randn(3, 4, dtype=F64)
    h = torch.randn(3, 5, dtype=F64)
    state = (h, torch.randn(3, 5, dtype=F64)) if ours is LSTMCell else h
    torch.testing.assert_close(cell(x), reference(x))
    torch.testing.assert_close(cell(x, state), reference(x, state))
    unbatched = (state[0][0], state[1][0]) if ours is LSTMCell else state[0]
    torch.testing.assert_close(cell(x[0], unbatched), reference(x[0], unbatched))
    assert isinstance(cell, theirs) and list(cell.state_dict()) == list(reference.state_dict())


def test_python_layers_defaults_signatures_and_state_dict_names() -> None:
    lstm = LSTM(3, 4)
    assert lstm.batch_first and GRU(3, 4).batch_first  # torchrl's default; torch's is False
    assert LSTM(3, 4, 2, False).batch_first is False  # torchrl's order: batch_first before bias
    assert GRU(3, 4, 2, False).bias is False  # GRU keeps torch's order: bias before batch_first
    # nn.RNNBase subclasses, as torchrl's, not nn.LSTM / nn.GRU ones (torch.compile refuses those)
    assert isinstance(lstm, nn.RNNBase) and not isinstance(lstm, nn.LSTM) and lstm.mode == "LSTM"
    assert GRU(3, 4).mode == "GRU" and not isinstance(GRU(3, 4), nn.GRU)
    projected = LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert list(projected.state_dict()) == list(nn.LSTM(3, 4, num_layers=2, bidirectional=True,
                                                         proj_size=2).state_dict())
    assert "weight_hr_l1_reverse" in projected.state_dict()


def test_python_layers_work_under_vmap() -> None:
    torch.manual_seed(4)
    lstm, gru, cell = LSTM(3, 5, num_layers=2), GRU(3, 5), LSTMCell(3, 5)
    x = torch.randn(6, 2, 7, 3)  # 6 independent batches
    outputs = torch.vmap(lambda xs: lstm(xs)[0])(x)
    torch.testing.assert_close(outputs[4], lstm(x[4])[0])
    torch.testing.assert_close(torch.vmap(lambda xs: gru(xs)[1])(x)[2], gru(x[2])[1])
    torch.testing.assert_close(torch.vmap(lambda xs: cell(xs)[0])(x[:, :, 0])[1], cell(x[1, :, 0])[0])
    # a batch of parameter sets: what nn.LSTM refuses
    params = {name: torch.stack([p.detach(), 2 * p.detach()]) for name, p in gru.named_parameters()}
    stacked = torch.vmap(lambda p, xs: functional_call(gru, p, (xs,))[0], in_dims=(0, None))(params, x[0])
    doubled = {name: 2 * p.detach() for name, p in gru.named_parameters()}
    torch.testing.assert_close(stacked[1], functional_call(gru, doubled, (x[0],))[0])


def test_python_layer_mask_freezes_the_state_over_padding() -> None:
    torch.manual_seed(5)
    lstm = LSTM(3, 4, num_layers=2)
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    output, (h, c) = lstm(x, mask=mask)
    _, (h_short, c_short) = lstm(x[1:, :4])
    torch.testing.assert_close(h[:, 1], h_short[:, 0])
    torch.testing.assert_close(c[:, 1], c_short[:, 0])
    assert output[1, 4:].abs().sum() == 0
    with pytest.raises(ValueError, match="mask"):
        lstm(x, mask=mask[:, :3])


def test_python_layer_argument_errors() -> None:
    with pytest.raises(ValueError, match="2D or 3D"):
        LSTM(3, 4)(torch.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match="1D or 2D"):
        LSTMCell(3, 4)(torch.randn(1, 2, 3))
    with pytest.raises(RuntimeError, match="input_size"):
        GRUCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        GRU(3, 4)(torch.randn(2, 6, 5))
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=4)


@pytest.mark.slow
@pytest.mark.parametrize("layer", [LSTM(3, 4, num_layers=2), GRU(3, 4)], ids=["LSTM", "GRU"])
def test_python_layers_compile_in_one_graph(layer: nn.Module) -> None:
    x = torch.randn(2, 5, 3)
    compiled = torch.compile(layer, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x)[0], layer(x)[0])


# --- LSTMModule / GRUModule: construction ------------------------------------------------------------------------------
def test_default_keys_follow_torchrl() -> None:
    lstm = LSTMModule(input_size=3, hidden_size=4, in_key="obs", out_key="features")
    assert lstm.in_keys == ["obs", "recurrent_state_h", "recurrent_state_c", "is_init"]
    assert lstm.out_keys == ["features", ("next", "recurrent_state_h"), ("next", "recurrent_state_c")]
    gru = GRUModule(input_size=3, hidden_size=4, in_key=("agent", "obs"), out_key="features")
    assert gru.in_keys == [("agent", "obs"), "recurrent_state", "is_init"]
    assert gru.out_keys == ["features", ("next", "recurrent_state")]
    explicit = LSTMModule(3, 4, in_keys=["x", "h", "c"], out_keys=["y", ("next", "h"), ("next", "c")])
    assert explicit.in_keys == ["x", "h", "c", "is_init"]
    assert GRUModule(3, 4, in_keys=["x", "h", "is_init"], out_keys=["y", ("next", "h")]).in_keys == \
        ["x", "h", "is_init"]
    assert lstm.recurrent_backend == "pad" and lstm.recurrent_mode is False


def test_signatures_mirror_torchrl() -> None:
    import inspect
    lstm = list(inspect.signature(LSTMModule).parameters)
    assert lstm == ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "proj_size",
                    "bidirectional", "python_based", "recurrent_backend", "in_key", "in_keys", "out_key", "out_keys",
                    "device", "lstm", "default_recurrent_mode"]
    gru = list(inspect.signature(GRUModule).parameters)
    assert gru == [name if name != "lstm" else "gru" for name in lstm if name != "proj_size"]


@pytest.mark.parametrize("make, match", [
    (lambda: LSTMModule(3, 4, in_key="x", in_keys=["x", "h", "c"], out_key="y"), "Either in_keys or in_key"),
    (lambda: LSTMModule(3, 4, out_key="y"), "Either in_keys or in_key"),
    (lambda: LSTMModule(3, 4, in_key="x"), "Either out_keys or out_key"),
    (lambda: LSTMModule(3, 4, batch_first=False, in_key="x", out_key="y"), "batch_first=True"),
    (lambda: LSTMModule(input_size=3, in_key="x", out_key="y"), "hidden_size must be passed"),
    (lambda: GRUModule(input_size=3, in_key="x", out_key="y"), "hidden_size must be passed"),
    (lambda: LSTMModule(hidden_size=3, in_key="x", out_key="y"), "input_size must be passed"),
    (lambda: LSTMModule(3, 0, in_key="x", out_key="y"), "hidden_size` must be an int >= 1"),
    (lambda: LSTMModule(3, 4, in_keys=["x", "h"], out_key="y"), "expects 3 inputs"),
    (lambda: GRUModule(3, 4, in_keys=["x", "h", "c"], out_key="y"), "expects 2 inputs"),
    (lambda: LSTMModule(3, 4, in_key="x", out_keys=["y", ("next", "h")]), "expects 3 outputs"),
    (lambda: LSTMModule(3, 4, in_key="x", out_key="y", recurrent_backend="scan"), "'pad'"),
    (lambda: GRUModule(3, 4, in_key="x", out_key="y", recurrent_backend="triton"), "'auto'"),
    (lambda: LSTMModule(3, 4, in_key="x", out_key="y", recurrent_backend="fast"), "recurrent_backend must be one of"),
    (lambda: LSTMModule(3, 4, in_key="x", out_key="y", lstm=nn.LSTM(3, 4, batch_first=True)), "cannot be passed"),
    (lambda: LSTMModule(in_key="x", out_key="y", lstm=nn.LSTM(3, 4)), "must have batch_first=True"),
    (lambda: GRUModule(in_key="x", out_key="y", gru=nn.GRU(3, 4)), "must have batch_first=True"),
])
def test_bad_arguments_are_value_errors(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_argument_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="torch.nn.LSTM or rldsl.modules.LSTM instance"):
        LSTMModule(in_key="x", out_key="y", lstm=nn.GRU(3, 4, batch_first=True))
    with pytest.raises(TypeError, match="default_recurrent_mode"):
        LSTMModule(3, 4, in_key="x", out_key="y", default_recurrent_mode="yes")
    with pytest.raises(TypeError, match="python_based"):
        GRUModule(3, 4, in_key="x", out_key="y", python_based=1)
    with pytest.raises(TypeError, match="list of keys"):
        LSTMModule(3, 4, in_keys="x", out_key="y")


def test_auto_backend_is_pad_and_bidirectional_is_accepted() -> None:
    lstm = LSTMModule(3, 4, in_key="x", out_key="y", recurrent_backend="auto", bidirectional=True, num_layers=2)
    td = TensorDict(x=torch.randn(2, 5, 3), is_init=torch.zeros(2, 5, 1, dtype=torch.bool), batch_size=[2, 5])
    with set_recurrent_mode(True):
        td = lstm(td)
    assert td["y"].shape == (2, 5, 8) and td["next", "recurrent_state_h"].shape == (2, 5, 4, 4)
    python = LSTMModule(3, 4, in_key="x", out_key="y", python_based=True, bidirectional=True)  # torchrl refuses
    assert isinstance(python.lstm, LSTM) and python.lstm.bidirectional


@pytest.mark.parametrize("python_based", [False, True])
def test_state_dict_names_are_torchrls(python_based: bool) -> None:
    lstm = LSTMModule(3, 4, num_layers=2, proj_size=2, in_key="x", out_key="y", python_based=python_based)
    assert list(lstm.state_dict()) == [f"lstm.{name}_l{layer}" for layer in range(2)
                                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
    gru = GRUModule(3, 4, in_key="x", out_key="y", python_based=python_based)
    assert list(gru.state_dict()) == ["gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0"]
    assert isinstance(lstm.lstm, LSTM if python_based else nn.LSTM)
    wrapped = nn.LSTM(3, 4, batch_first=True)
    assert LSTMModule(lstm=wrapped, in_key="x", out_key="y").lstm is wrapped


# --- sequential mode ---------------------------------------------------------------------------------------------------
MODULE_CASES = [
    (LSTMModule, {}),
    (LSTMModule, {"num_layers": 2}),
    (LSTMModule, {"proj_size": 2, "num_layers": 2}),
    (LSTMModule, {"python_based": True, "num_layers": 2}),
    (LSTMModule, {"bias": False}),
    (GRUModule, {}),
    (GRUModule, {"num_layers": 3}),
    (GRUModule, {"python_based": True}),
]
CASE_IDS = [f"{cls.__name__}-{kwargs}" for cls, kwargs in MODULE_CASES]


def make_module(cls: type, kwargs: dict, *, hidden: int = 5) -> LSTMModule | GRUModule:
    torch.manual_seed(0)
    return cls(input_size=3, hidden_size=hidden, in_key="obs", out_key="features", **kwargs).to(F64)


def state_keys(module) -> list[str]:
    return list(module.in_keys[1:-1])


def reference_step(module, obs: torch.Tensor, states: list[torch.Tensor], is_init: torch.Tensor):
    """torch's RNN on a length-1 sequence, states zeroed where is_init (torchrl's sequential mode)."""
    rnn = nn.LSTM if isinstance(module, LSTMModule) else nn.GRU
    sizes = ("input_size", "hidden_size", "num_layers", "bias", "bidirectional")
    reference = rnn(**{key: getattr(module.rnn, key) for key in sizes}, batch_first=True,
                    **({"proj_size": module.rnn.proj_size} if rnn is nn.LSTM else {})).to(F64)
    reference.load_state_dict(module.rnn.state_dict())
    zeroed = [torch.where(is_init[:, :, None], 0.0, s).transpose(0, 1) for s in states]
    output, finals = reference(obs[:, None], tuple(zeroed) if len(zeroed) == 2 else zeroed[0])
    finals = finals if isinstance(finals, tuple) else (finals,)
    return output[:, 0], [f.transpose(0, 1) for f in finals]


SEQUENTIAL_CASES = [*MODULE_CASES, (LSTMModule, {"bidirectional": True, "num_layers": 2}),
                    (GRUModule, {"bidirectional": True}), (LSTMModule, {"python_based": True, "bidirectional": True})]


@pytest.mark.parametrize("cls, kwargs", SEQUENTIAL_CASES, ids=[f"{c.__name__}-{k}" for c, k in SEQUENTIAL_CASES])
def test_sequential_step_is_torchs_rnn_on_one_step_zeroed_at_is_init(cls: type, kwargs: dict) -> None:
    module = make_module(cls, kwargs)
    shapes = [shape for shape in module.make_tensordict_primer().primers.values()]
    obs = torch.randn(4, 3, dtype=F64)
    states = [torch.randn(4, *spec.shape, dtype=F64) for spec in shapes]
    is_init = torch.tensor([[True], [False], [False], [True]])
    td = TensorDict(obs=obs, is_init=is_init, **dict(zip(state_keys(module), states)), batch_size=[4])
    td = module(td)
    output, finals = reference_step(module, obs, states, is_init)
    torch.testing.assert_close(td["features"], output)
    for key, final in zip(state_keys(module), finals):
        torch.testing.assert_close(td["next", key], final)


@pytest.mark.parametrize("batch", [(), (2, 3), (2, 1, 3)], ids=str)
def test_sequential_mode_takes_any_batch_shape_and_missing_states_are_zeros(batch: tuple) -> None:
    module = make_module(LSTMModule, {"num_layers": 2})
    obs = torch.randn(*batch, 3, dtype=F64)
    td = module(TensorDict(obs=obs, is_init=torch.zeros(*batch, 1, dtype=torch.bool), batch_size=batch))
    assert td["features"].shape == (*batch, 5) and td["next", "recurrent_state_c"].shape == (*batch, 2, 5)
    zeros = TensorDict(obs=obs, is_init=torch.zeros(*batch, 1, dtype=torch.bool),
                       recurrent_state_h=torch.zeros(*batch, 2, 5, dtype=F64),
                       recurrent_state_c=torch.zeros(*batch, 2, 5, dtype=F64), batch_size=batch)
    torch.testing.assert_close(module(zeros)["features"], td["features"])
    assert "recurrent_state_h" not in td.keys()  # the module writes only its out keys


def test_is_init_without_trailing_dim_and_as_numbers_is_accepted() -> None:
    module = make_module(GRUModule, {})
    obs, state = torch.randn(3, 3, dtype=F64), torch.randn(3, 1, 5, dtype=F64)
    flags = torch.tensor([True, False, True])
    by_bool = module(TensorDict(obs=obs, recurrent_state=state, is_init=flags[:, None], batch_size=[3]))
    by_flat = module(TensorDict(obs=obs, recurrent_state=state, is_init=flags, batch_size=[3]))
    by_float = module(TensorDict(obs=obs, recurrent_state=state, is_init=flags[:, None].double(), batch_size=[3]))
    torch.testing.assert_close(by_flat["features"], by_bool["features"])
    torch.testing.assert_close(by_float["features"], by_bool["features"])


# --- recurrent mode == stepping ----------------------------------------------------------------------------------------
def step_like_an_environment(module, obs: torch.Tensor, is_init: torch.Tensor, primer: TensorDictPrimer,
                             stored_at_reset: float = 0.0) -> TensorDict:
    """Run ``module`` one step at a time over the last dim of ``obs: [*B, T, F]``, as a collector
    would: the next states become the current ones, an env reset writes the primer's zeros (or
    ``stored_at_reset``), and the steps are stacked into a ``[*B, T]`` tensordict."""
    batch, steps = obs.shape[:-2], obs.shape[-2]
    collected, previous = [], None
    for t in range(steps):
        td = TensorDict(obs=obs[..., t, :], is_init=is_init[..., t, :], batch_size=batch)
        if previous is not None:
            for key in primer.keys():
                carried = previous["next", key]
                reset = is_init[..., t, :, None]
                td.set(key, torch.where(reset, torch.full_like(carried, stored_at_reset), carried))
        else:
            primer(td)
            for key in primer.keys():
                td.set(key, torch.full_like(td[key], stored_at_reset))
        previous = module(td)
        collected.append(previous)
    return torch.stack(collected, len(batch))


def resets(batch: tuple, steps: int, generator: torch.Generator) -> torch.Tensor:
    is_init = torch.rand(*batch, steps, 1, generator=generator) < 0.25
    is_init[..., 0, :] = True
    return is_init


@pytest.mark.parametrize("cls, kwargs", MODULE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("batch", [(3,), (2, 2)], ids=str)
def test_recurrent_pass_equals_stepping_with_resets_in_the_middle(cls: type, kwargs: dict, batch: tuple) -> None:
    module = make_module(cls, kwargs)
    primer = module.make_tensordict_primer()
    generator = torch.Generator().manual_seed(7)
    obs = torch.randn(*batch, 11, 3, generator=generator, dtype=F64)
    is_init = resets(batch, 11, generator)
    is_init[(0,) * len(batch) + (4,)] = True  # at least one reset inside a row
    stepped = step_like_an_environment(module, obs, is_init, primer)
    data = stepped.select("obs", "is_init", *primer.keys()).clone()
    with set_recurrent_mode(True):
        replayed = module(data)
    torch.testing.assert_close(replayed["features"], stepped["features"])
    ends = trajectory_ends(is_init)
    for key in primer.keys():
        # the output states: torchrl's layout, zero but at the last step of each trajectory ...
        assert (replayed["next", key][~ends] == 0).all()
        # ... where they equal the stepped ones
        torch.testing.assert_close(replayed["next", key][ends], stepped["next", key][ends])


def trajectory_ends(is_init: torch.Tensor) -> torch.Tensor:
    """``[*B, T]``: True at the last step of each trajectory (before a reset, or at the row's end)."""
    flags = is_init.squeeze(-1)
    ends = torch.ones_like(flags)
    ends[..., :-1] = flags[..., 1:]
    return ends


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 9), rows=st.integers(1, 3), reset_rate=st.floats(0, 1),
       gru=st.booleans())
def test_recurrent_equals_stepping_for_random_reset_patterns(seed: int, steps: int, rows: int, reset_rate: float,
                                                             gru: bool) -> None:
    module = make_module(GRUModule if gru else LSTMModule, {"num_layers": 2}, hidden=3)
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(rows, steps, 3, generator=generator, dtype=F64)
    is_init = torch.rand(rows, steps, 1, generator=generator) < reset_rate
    primer = module.make_tensordict_primer()
    stepped = step_like_an_environment(module, obs, is_init, primer)
    with set_recurrent_mode(True):
        replayed = module(stepped.select("obs", "is_init", *primer.keys()).clone())
    torch.testing.assert_close(replayed["features"], stepped["features"])


def test_recurrent_without_resets_is_one_rnn_call_from_the_first_stored_state() -> None:
    module = make_module(LSTMModule, {"num_layers": 2})
    obs = torch.randn(2, 6, 3, dtype=F64)
    h, c = torch.randn(2, 6, 2, 5, dtype=F64), torch.randn(2, 6, 2, 5, dtype=F64)
    td = TensorDict(obs=obs, recurrent_state_h=h, recurrent_state_c=c,
                    is_init=torch.zeros(2, 6, 1, dtype=torch.bool), batch_size=[2, 6])
    with set_recurrent_mode("recurrent"):
        td = module(td)
    output, (h_n, c_n) = module.lstm(obs, (h[:, 0].transpose(0, 1).contiguous(), c[:, 0].transpose(0, 1).contiguous()))
    torch.testing.assert_close(td["features"], output)
    torch.testing.assert_close(td["next", "recurrent_state_h"][:, -1], h_n.transpose(0, 1))
    assert (td["next", "recurrent_state_c"][:, :-1] == 0).all()


def test_recurrent_mode_starts_each_trajectory_from_the_stored_state_not_zero() -> None:
    """torchrl's quirk, kept: sequential mode zeroes the state at is_init, recurrent mode uses the
    stored one (an environment stores zeros there, so both agree on collected data)."""
    module = make_module(GRUModule, {})
    primer = module.make_tensordict_primer()
    obs = torch.randn(1, 6, 3, dtype=F64)
    is_init = torch.zeros(1, 6, 1, dtype=torch.bool)
    is_init[0, 0] = is_init[0, 3] = True
    stepped = step_like_an_environment(module, obs, is_init, primer, stored_at_reset=0.5)
    with set_recurrent_mode(True):
        replayed = module(stepped.select("obs", "is_init", "recurrent_state").clone())
    start_from_stored, _ = module.gru(obs[:, 3:], torch.full((1, 1, 5), 0.5, dtype=F64))
    torch.testing.assert_close(replayed["features"][:, 3:], start_from_stored)
    start_from_zero, _ = module.gru(obs[:, 3:])
    torch.testing.assert_close(stepped["features"][:, 3:], start_from_zero)  # step mode zeroed it


@pytest.mark.parametrize("batch", [(), (6,)], ids=str)
def test_recurrent_mode_on_a_single_trajectory(batch: tuple) -> None:
    module = make_module(LSTMModule, {})
    obs = torch.randn(*batch, 3, dtype=F64)
    td = TensorDict(obs=obs, is_init=torch.zeros(*batch, 1, dtype=torch.bool), batch_size=batch)
    with set_recurrent_mode(True):
        td = module(td)
    expected, _ = module.lstm(obs.reshape(1, -1, 3))
    torch.testing.assert_close(td["features"], expected.reshape(*batch, 5))
    assert td["next", "recurrent_state_h"].shape == (*batch, 1, 5)


def test_recurrent_mode_gradients_reach_the_parameters_through_split_trajectories() -> None:
    module = make_module(LSTMModule, {"num_layers": 2})
    is_init = torch.zeros(3, 8, 1, dtype=torch.bool)
    is_init[:, 0] = is_init[1, 5] = is_init[2, 2] = True
    td = TensorDict(obs=torch.randn(3, 8, 3, dtype=F64, requires_grad=True), is_init=is_init, batch_size=[3, 8])
    with set_recurrent_mode(True):
        module(td)["features"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert td["obs"].grad.shape == (3, 8, 3)


# --- modes -------------------------------------------------------------------------------------------------------------
def test_set_recurrent_mode_nests_restores_and_decorates() -> None:
    module = LSTMModule(3, 4, in_key="x", out_key="y")
    eager = LSTMModule(3, 4, in_key="x", out_key="y", default_recurrent_mode=True)
    assert recurrent_mode() is None and module.recurrent_mode is False and eager.recurrent_mode is True
    with set_recurrent_mode(True):
        assert recurrent_mode() is True and module.recurrent_mode is True
        with set_recurrent_mode("sequential"):
            assert module.recurrent_mode is False and eager.recurrent_mode is False
            with set_recurrent_mode(None):  # back to each module's default
                assert module.recurrent_mode is False and eager.recurrent_mode is True
        assert recurrent_mode() is True
    assert recurrent_mode() is None
    with set_recurrent_mode():  # the default mode of the context manager is True
        assert recurrent_mode() is True

    @set_recurrent_mode("Recurrent")
    def inside() -> bool | None:
        return recurrent_mode()

    assert inside() is True and recurrent_mode() is None
    context = set_recurrent_mode(False)
    with context, context.clone():  # one object may be entered twice
        assert recurrent_mode() is False
    assert recurrent_mode() is None


def test_recurrent_mode_is_local_to_a_thread() -> None:
    seen = []
    with set_recurrent_mode(True):
        thread = threading.Thread(target=lambda: seen.append(recurrent_mode()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_mode_errors() -> None:
    module = GRUModule(3, 4, in_key="x", out_key="y")
    with pytest.raises(ValueError, match="Unsupported recurrent mode"):
        set_recurrent_mode("temporal")
    with pytest.raises(TypeError, match="recurrent mode"):
        set_recurrent_mode(1)
    with pytest.raises(RuntimeError, match="set_recurrent_mode context manager"):
        module.recurrent_mode = True
    with pytest.raises(RuntimeError, match="removed in v0.8"):
        module.set_recurrent_mode(True)
    with pytest.raises(RuntimeError, match="temporal_mode is deprecated"):
        module.temporal_mode  # noqa: B018


# --- errors at call time -------------------------------------------------------------------------------------------------
def test_is_init_is_required_and_the_error_says_how_to_get_it() -> None:
    module = LSTMModule(3, 4, in_key="obs", out_key="y")
    with pytest.raises(KeyError, match="InitTracker"):
        module(TensorDict(obs=torch.randn(2, 3), batch_size=[2]))
    with pytest.raises(KeyError, match="'obs'"):
        module(TensorDict(is_init=torch.zeros(2, 1, dtype=torch.bool), batch_size=[2]))


def test_bad_states_and_inputs_are_clear_errors() -> None:
    module = LSTMModule(3, 4, num_layers=2, in_key="obs", out_key="y")
    base = {"obs": torch.randn(2, 3), "is_init": torch.zeros(2, 1, dtype=torch.bool)}
    with pytest.raises(RuntimeError, match="all its hidden states or none"):
        module(TensorDict(**base, recurrent_state_h=torch.zeros(2, 2, 4), batch_size=[2]))
    with pytest.raises(ValueError, match=r"\[2, 2, 4\]"):
        module(TensorDict(**base, recurrent_state_h=torch.zeros(2, 4), recurrent_state_c=torch.zeros(2, 4),
                          batch_size=[2]))
    with pytest.raises(ValueError, match="is_init"):
        module(TensorDict(obs=base["obs"], is_init=torch.zeros(2, 2, dtype=torch.bool), batch_size=[2]))
    with pytest.raises(ValueError, match=r"\[\*B, input_size\]"):
        module(TensorDict(obs=torch.randn(2, 1, 3), is_init=base["is_init"], batch_size=[2]))


# --- primers -------------------------------------------------------------------------------------------------------------
def test_make_tensordict_primer_gives_the_state_specs() -> None:
    primer = LSTMModule(3, 8, num_layers=2, proj_size=4, in_key="x", out_key="y").make_tensordict_primer()
    assert isinstance(primer, TensorDictPrimer) and primer.expand_specs is True and primer.default_value == 0.0
    assert primer.keys() == ["recurrent_state_h", "recurrent_state_c"]
    assert primer.primers["recurrent_state_h"] == Unbounded(shape=(2, 4))  # proj_size for h
    assert primer.primers["recurrent_state_c"] == Unbounded(shape=(2, 8))
    bidirectional = GRUModule(3, 8, num_layers=2, bidirectional=True, in_keys=["x", ("rnn", "h")],
                              out_keys=["y", ("next", "rnn", "h")]).make_tensordict_primer()
    assert bidirectional.keys() == [("rnn", "h")] and bidirectional.primers["rnn", "h"].shape == (4, 8)
    double = GRUModule(3, 8, in_key="x", out_key="y").double().make_tensordict_primer()
    assert double.primers["recurrent_state"].dtype == torch.float64  # the RNN's dtype
    with pytest.raises(RuntimeError, match="\\('next', <in_key>\\)"):
        GRUModule(3, 8, in_keys=["x", "h"], out_keys=["y", "h_next"]).make_tensordict_primer()


def test_get_primers_from_a_sequence_with_an_lstm_and_a_gru() -> None:
    lstm = LSTMModule(3, 8, in_key="obs", out_key="features")
    head = TensorDictModule(MLP(in_features=8, out_features=4, num_cells=[]), in_keys=["features"],
                            out_keys=["embedding"])
    gru = GRUModule(4, 6, num_layers=2, in_keys=["embedding", "gru_state"], out_keys=["out", ("next", "gru_state")])
    policy = TensorDictSequential(lstm, head, gru)
    primer = get_primers_from_module(policy)
    assert primer.keys() == ["recurrent_state_h", "recurrent_state_c", "gru_state"]
    assert primer.primers["gru_state"].shape == (2, 6) and primer.primers["recurrent_state_c"].shape == (1, 8)
    td = primer(TensorDict(obs=torch.randn(5, 3), is_init=torch.ones(5, 1, dtype=torch.bool), batch_size=[5]))
    assert td["gru_state"].shape == (5, 2, 6) and (td["recurrent_state_h"] == 0).all()
    td = policy(td)
    assert td["out"].shape == (5, 6) and td["next", "gru_state"].shape == (5, 2, 6)
    assert get_primers_from_module(lstm).keys() == ["recurrent_state_h", "recurrent_state_c"]


def test_get_primers_from_module_without_primers_and_with_failures() -> None:
    with pytest.warns(UserWarning, match="No primers found"):
        assert get_primers_from_module(nn.Linear(2, 2)) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_primers_from_module(nn.Linear(2, 2), warn=False) is None
    failing = ConsistentDropoutModule(0.1, in_keys="x", mask_key="m")  # its primer needs torchrl
    policy = nn.ModuleList([failing, GRUModule(3, 4, in_key="x", out_key="y")])
    with pytest.raises(RuntimeError, match="input_shape"):
        get_primers_from_module(policy)
    with pytest.warns(UserWarning, match="ConsistentDropoutModule"):
        primer = get_primers_from_module(policy, strict=False)
    assert primer.keys() == ["recurrent_state"]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        get_primers_from_module("policy")


def test_primer_fills_missing_entries_and_keeps_present_ones() -> None:
    primer = TensorDictPrimer({"h": Unbounded(shape=(1, 4)), ("agent", "c"): Unbounded(shape=(2,), dtype=F64)},
                              default_value=0.5, counter=Unbounded(shape=(), dtype=torch.int64))
    kept = torch.ones(3, 1, 4)
    td = primer.reset(TensorDict(h=kept, batch_size=[3]))
    assert td["h"] is kept
    assert td["agent", "c"].shape == (3, 2) and td["agent", "c"].dtype == F64 and (td["agent", "c"] == 0.5).all()
    assert td["counter"].shape == (3,) and td["counter"].dtype == torch.int64
    assert primer.keys() == ["h", ("agent", "c"), "counter"]
    per_key = TensorDictPrimer({"a": Unbounded(shape=(1,)), "b": Unbounded(shape=(1,))},
                               default_value={"a": 1.0, "b": -1.0})
    filled = per_key(TensorDict(batch_size=[2]))
    assert (filled["a"] == 1).all() and (filled["b"] == -1).all()
    drawn = TensorDictPrimer({"u": Bounded(-1.0, 1.0, shape=(3,))}, random=True)(TensorDict(batch_size=[100]))
    assert drawn["u"].abs().max() <= 1 and drawn["u"].std() > 0
    assert "TensorDictPrimer(primers=Composite(" in repr(primer) and "default_value=0.5" in repr(primer)


def test_primer_merge_and_errors() -> None:
    first = TensorDictPrimer({"h": Unbounded(shape=(1, 4))}, expand_specs=True)
    second = TensorDictPrimer({"c": Unbounded(shape=(2,))}, default_value=1.0)
    merged = TensorDictPrimer.merge(first, second)
    assert merged.keys() == ["h", "c"] and merged.value_for("c") == 1.0 and merged.value_for("h") == 0.0
    assert merged.expand_specs is True
    assert TensorDictPrimer.merge(first, first).default_value == 0.0
    with pytest.raises(ValueError, match="different specs"):
        TensorDictPrimer.merge(first, TensorDictPrimer({"h": Unbounded(shape=(2, 4))}))
    with pytest.raises(ValueError, match="random=True"):
        TensorDictPrimer({"h": Unbounded(shape=(1,))}, random=True, default_value=0.0)
    with pytest.raises(TypeError, match="a number, a callable returning a tensor"):
        TensorDictPrimer({"h": Unbounded(shape=(1,))}, default_value="zero")
    called = TensorDictPrimer({"h": Unbounded(shape=(2,))}, default_value=lambda: torch.tensor([1.0, 2.0]))
    assert called(TensorDict(batch_size=[3]))["h"].tolist() == [[1.0, 2.0]] * 3  # expanded to the batch
    with pytest.raises(TypeError, match="not a tensor"):
        TensorDictPrimer({"h": Unbounded(shape=(1,))}, default_value=lambda: 0)(TensorDict(batch_size=[1]))
    with pytest.raises(ValueError, match="neither the spec's"):
        TensorDictPrimer({"h": Unbounded(shape=(1,))}, default_value=lambda: torch.ones(5))(TensorDict(batch_size=[2]))
    with pytest.raises(KeyError, match="no value for"):
        TensorDictPrimer({"h": Unbounded(shape=(1,))}, default_value={"c": 0.0})
    with pytest.raises(TypeError, match="leaf spec"):
        TensorDictPrimer({"h": 3})
    with pytest.raises(TypeError, match="fills a TensorDict"):
        first({"h": None})


# --- parameters, implementations, integration ----------------------------------------------------------------------
def test_parameters_are_read_at_every_call() -> None:
    module = make_module(LSTMModule, {})
    td = TensorDict(obs=torch.randn(2, 3, dtype=F64), is_init=torch.ones(2, 1, dtype=torch.bool), batch_size=[2])
    before = module(td.clone())["features"]
    with torch.no_grad():
        module.lstm.weight_ih_l0.mul_(2)
    assert not torch.allclose(module(td.clone())["features"], before)
    doubled = {name: 2 * p.detach() for name, p in module.named_parameters()}
    swapped = functional_call(module, doubled, (td.clone(),))["features"]
    assert not torch.allclose(swapped, module(td.clone())["features"])
    module.load_state_dict({name: p.detach() / 2 if name == "lstm.weight_ih_l0" else p for name, p in
                            module.state_dict().items()})
    torch.testing.assert_close(module(td.clone())["features"], before)


@pytest.mark.parametrize("cls", [LSTMModule, GRUModule])
def test_recurrent_mode_calls_torchs_kernel_with_the_current_parameters(cls: type) -> None:
    """On CPU, without hooks, recurrent mode calls torch's fused kernel on the layer's parameters
    (skipping ``nn.LSTM.forward``'s checks): the same numbers as the layer's own call, parameters
    swapped by ``functional_call`` are used, dropout follows ``train()``, and a hook on the layer
    makes the module call the layer as usual so that the hook runs."""
    module = make_module(cls, {"num_layers": 2})
    rnn = module.rnn
    td = TensorDict(obs=torch.randn(2, 6, 3, dtype=F64), is_init=torch.zeros(2, 6, 1, dtype=torch.bool),
                    batch_size=[2, 6])
    with set_recurrent_mode(True):
        direct = module(td.clone())["features"]
        swapped = functional_call(module, {name: 2 * p.detach() for name, p in module.named_parameters()},
                                  (td.clone(),))["features"]
        seen = []
        handle = rnn.register_forward_hook(lambda *_: seen.append(True))
        hooked = module(td.clone())["features"]
        handle.remove()
    torch.testing.assert_close(direct, rnn(td["obs"])[0])
    torch.testing.assert_close(hooked, direct)
    assert seen == [True]
    assert not torch.allclose(swapped, direct)
    rnn.dropout = 0.5
    with set_recurrent_mode(True):
        torch.testing.assert_close(module.eval()(td.clone())["features"], direct)
        assert not torch.allclose(module.train()(td.clone())["features"], direct)
    with set_recurrent_mode(True), pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        module(TensorDict(obs=torch.randn(2, 6, 4, dtype=F64), is_init=td["is_init"], batch_size=[2, 6]))


def stored_trajectories(module, rows: int, steps: int, *, with_next: bool = True) -> TensorDict:
    """``[rows, steps]`` steps with random stored states and one trajectory per row, as a replay
    buffer gives them to a loss (with a ``"next"`` entry when ``with_next``)."""
    generator = torch.Generator().manual_seed(rows * 100 + steps)
    layers = module.rnn.num_layers * (2 if module.rnn.bidirectional else 1)
    sizes = module._state_sizes()
    td = TensorDict(obs=torch.randn(rows, steps, 3, dtype=F64, generator=generator),
                    is_init=torch.zeros(rows, steps, 1, dtype=torch.bool), batch_size=[rows, steps])
    td["is_init"][:, 0] = True
    for key, size in zip(state_keys(module), sizes):
        td[key] = torch.randn(rows, steps, layers, size, dtype=F64, generator=generator)
    if with_next:
        td["next"] = TensorDict(reward=torch.zeros(rows, steps, 1, dtype=F64), batch_size=[rows, steps])
    return td


def entries(td: TensorDict) -> dict:
    return {key: value for key, value in td.items(include_nested=True, leaves_only=True)}


USUAL_CASES = [(LSTMModule, {}), (LSTMModule, {"num_layers": 2, "bidirectional": True}),
               (LSTMModule, {"proj_size": 2}), (GRUModule, {}), (GRUModule, {"num_layers": 2})]


@pytest.mark.parametrize(("cls", "kwargs"), USUAL_CASES, ids=[f"{c.__name__}-{k}" for c, k in USUAL_CASES])
@pytest.mark.parametrize(("rows", "steps"), [(1, 6), (3, 4), (2, 1)])
def test_the_usual_recurrent_call_writes_what_the_general_path_writes(cls: type, kwargs: dict, rows: int,
                                                                      steps: int, monkeypatch) -> None:
    """A plain ``[N, T]`` tensordict with stored states, a ``"next"`` and one trajectory per row
    takes the short path (the kernel once, from the stored first states): every entry it writes,
    and its gradients, are those of the general path."""
    module = make_module(cls, kwargs)
    taken = []
    usual = type(module)._usual_recurrent_call
    monkeypatch.setattr(type(module), "_usual_recurrent_call",
                        lambda self, *args: taken.append(usual(self, *args)) or taken[-1])
    with set_recurrent_mode(True):
        short = module(stored_trajectories(module, rows, steps))
        assert taken == [True]
        monkeypatch.setattr(type(module), "_usual_recurrent_call", lambda self, *args: False)
        general = module(stored_trajectories(module, rows, steps))
    assert entries(short).keys() == entries(general).keys()
    for key, value in entries(general).items():
        torch.testing.assert_close(short.get(key), value, msg=f"{key}")
    monkeypatch.setattr(type(module), "_usual_recurrent_call", usual)
    with set_recurrent_mode(True):
        module(stored_trajectories(module, rows, steps))["features"].sum().backward()
        short_grads = [p.grad.clone() for p in module.parameters()]
        module.zero_grad()
        monkeypatch.setattr(type(module), "_usual_recurrent_call", lambda self, *args: False)
        module(stored_trajectories(module, rows, steps))["features"].sum().backward()
    for ours, theirs in zip(short_grads, (p.grad for p in module.parameters())):
        torch.testing.assert_close(ours, theirs)


def _not_plain(module, td):
    td["is_init"] = td["is_init"].to(torch.uint8)  # numbers, not bools


def _reset_inside(module, td):
    td["is_init"][:, 2] = True


def _without_next(module, td):
    del td["next"]


def _next_on_another_device(module, td):
    td["next"] = td["next"].to("meta")


def _selected(module, td):
    module.select_out_keys("features")


def _hooked(module, td):
    module.rnn.register_forward_hook(lambda *_: None)


def _without_states(module, td):
    for key in state_keys(module):
        del td[key]


FALLBACKS = [_not_plain, _reset_inside, _without_next, _next_on_another_device, _selected, _hooked, _without_states]


@pytest.mark.parametrize("change", FALLBACKS, ids=[f.__name__.strip("_") for f in FALLBACKS])
def test_anything_unusual_takes_the_general_path(change, monkeypatch) -> None:
    """Each departure from the usual call makes the short path write nothing and step aside, and
    the general path gives what it gives without the short path."""
    module = make_module(LSTMModule, {})
    td = stored_trajectories(module, 2, 5)
    change(module, td)
    taken = []
    usual = LSTMModule._usual_recurrent_call
    monkeypatch.setattr(LSTMModule, "_usual_recurrent_call",
                        lambda self, *args: taken.append(usual(self, *args)) or taken[-1])
    with set_recurrent_mode(True):
        result = module(td.clone())
        monkeypatch.setattr(LSTMModule, "_usual_recurrent_call", lambda self, *args: False)
        expected = module(td.clone())
    assert taken == [False]
    assert entries(result).keys() == entries(expected).keys()
    for key, value in entries(expected).items():
        torch.testing.assert_close(result.get(key), value)


def test_the_usual_recurrent_call_sees_new_keys_and_swapped_parameters() -> None:
    module = make_module(LSTMModule, {})
    td = stored_trajectories(module, 2, 4)
    with set_recurrent_mode(True):
        before = module(td.clone())["features"]
        swapped = functional_call(module, {name: 2 * p.detach() for name, p in module.named_parameters()},
                                  (td.clone(),))["features"]
        assert not torch.allclose(swapped, before)
        module.out_keys = ["renamed", ("next", "recurrent_state_h"), ("next", "recurrent_state_c")]
        renamed = module(td.clone())
    assert "renamed" in renamed.keys() and "features" not in renamed.keys()
    torch.testing.assert_close(renamed["renamed"], before)


@pytest.mark.parametrize("cls", [LSTMModule, GRUModule])
def test_make_python_based_and_back_keep_the_parameters(cls: type) -> None:
    module = make_module(cls, {"num_layers": 2})
    parameters = list(module.parameters())
    td = TensorDict(obs=torch.randn(2, 4, 3, dtype=F64), is_init=torch.zeros(2, 4, 1, dtype=torch.bool),
                    batch_size=[2, 4])
    with set_recurrent_mode(True):
        expected = module(td.clone())["features"]
        assert module.make_python_based() is module and isinstance(module.rnn, (LSTM, GRU))
        assert all(a is b for a, b in zip(module.parameters(), parameters))
        torch.testing.assert_close(module(td.clone())["features"], expected)
        module.make_cudnn_based()
        assert type(module.rnn) in (nn.LSTM, nn.GRU)
        torch.testing.assert_close(module(td.clone())["features"], expected)


def test_tensors_as_arguments_and_select_out_keys() -> None:
    module = make_module(GRUModule, {})
    obs, is_init = torch.randn(2, 3, dtype=F64), torch.ones(2, 1, dtype=torch.bool)
    features, state = module(obs=obs, recurrent_state=torch.zeros(2, 1, 5, dtype=F64), is_init=is_init)
    torch.testing.assert_close(features, module(TensorDict(obs=obs, is_init=is_init, batch_size=[2]))["features"])
    assert state.shape == (2, 1, 5)
    module.select_out_keys("features")
    td = module(TensorDict(obs=obs, is_init=is_init, batch_size=[2]))
    assert "features" in td.keys() and ("next", "recurrent_state") not in td.keys(True)


def test_a_wrapped_rnn_subclass_runs_its_own_forward() -> None:
    class Counting(nn.GRU):
        calls = 0

        def forward(self, *args, **kwargs):
            Counting.calls += 1
            return super().forward(*args, **kwargs)

    gru = Counting(3, 4, batch_first=True)
    module = GRUModule(gru=gru, in_key="x", out_key="y")
    reference = nn.GRU(3, 4, batch_first=True)
    reference.load_state_dict(gru.state_dict())
    x = torch.randn(2, 3)
    td = module(TensorDict(x=x, is_init=torch.ones(2, 1, dtype=torch.bool), batch_size=[2]))
    assert Counting.calls == 1
    torch.testing.assert_close(td["y"], reference(x[:, None])[0][:, 0])


@pytest.mark.parametrize("cls", [LSTMModule, GRUModule])
@pytest.mark.parametrize("mode", [False, True])
def test_shapes_on_the_meta_device(cls: type, mode: bool) -> None:
    module = cls(3, 4, num_layers=2, in_key="x", out_key="y", device="meta")
    states = {key: torch.empty(2, 5, 2, 4, device="meta") for key in module.in_keys[1:-1]}
    td = TensorDict(x=torch.empty(2, 5, 3, device="meta"), is_init=torch.empty(2, 5, 1, dtype=torch.bool,
                    device="meta"), **states, batch_size=[2, 5], device="meta")
    with set_recurrent_mode(mode):
        td = module(td)
    assert td["y"].shape == (2, 5, 4) and td["y"].is_meta
    assert all(td["next", key].shape == (2, 5, 2, 4) for key in module.in_keys[1:-1])


def test_python_based_recurrent_mode_runs_under_vmap_and_equals_the_split_trajectories() -> None:
    """rldsl's Python RNNs restart trajectories inside the time loop (no data-dependent branch):
    a batch of independent replays runs under ``torch.vmap`` and gives torch's padded-and-packed
    numbers."""
    import copy

    python = make_module(LSTMModule, {"python_based": True, "num_layers": 2})
    native = copy.deepcopy(python).make_cudnn_based()
    generator = torch.Generator().manual_seed(3)
    obs = torch.randn(4, 2, 7, 3, generator=generator, dtype=F64)
    is_init = torch.rand(4, 2, 7, 1, generator=generator) < 0.3
    stored = torch.randn(4, 2, 7, 2, 5, generator=generator, dtype=F64)

    def replay(module, obs, is_init, stored):
        td = TensorDict(obs=obs, is_init=is_init, recurrent_state_h=stored, recurrent_state_c=stored.flip(-1),
                        batch_size=obs.shape[:2])
        with set_recurrent_mode(True):
            td = module(td)
        return td["features"], td["next", "recurrent_state_c"]

    features, states = torch.vmap(lambda *args: replay(python, *args))(obs, is_init, stored)
    for index in range(4):
        expected_features, expected_states = replay(native, obs[index], is_init[index], stored[index])
        torch.testing.assert_close(features[index], expected_features)
        torch.testing.assert_close(states[index], expected_states)


@pytest.mark.parametrize("module_name", ["rldsl.modules.rnn", "rldsl.modules.primer",
                                         "rldsl.modules.tensordict_module.rnn"])
def test_module_doctests(module_name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
