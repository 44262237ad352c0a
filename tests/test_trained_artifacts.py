"""Trained weights into artifacts: ``Program.save`` / ``rldsl.save`` write a program's *current*
weights, ``rldsl.load`` gives them back bit for bit, and torchrl-named state dicts round-trip."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
import torch
from rldsl.modules import ExplorationType, set_exploration_type

import rldsl
from rldsl.build import MLP, Actor, Model
from rldsl.compiler import Program, compile_report
from rldsl.compiler.artifact import ArtifactError, read_contents, save_program

ROOT = Path(__file__).resolve().parents[1]
SAC = ROOT / "examples" / "pendulum_sac.rlm"
CARTPOLE = ROOT / "examples" / "cartpole_dqn.rlm"
QMIX = ROOT / "examples" / "multiagent" / "qmix.rlm"
TEXT = "key observation : f32[3]\nkey action : f32[1] in [-2.0, 2.0]\n" \
       "actor policy = Actor(MLP(out_features=1, num_cells=[16]), spec=action, safe=true)\n"


def _unique_parameters(program: Program) -> list[torch.nn.Parameter]:
    """Every parameter of the program once (declarations share modules)."""
    seen: dict[int, torch.nn.Parameter] = {}
    for module in program.values():
        for parameter in module.parameters():
            seen.setdefault(id(parameter), parameter)
    return list(seen.values())


def _train(program: Program, steps: int = 3) -> None:
    """A few Adam steps on a loss that reaches every module's float outputs."""
    optimiser = torch.optim.Adam(_unique_parameters(program), lr=1e-2)
    torch.manual_seed(11)
    batches = {name: program.spec_random_input(name, (8,)) for name in program}
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.zeros(())
        with set_exploration_type(ExplorationType.DETERMINISTIC):
            for name, module in program.items():
                out = module(batches[name].clone())
                for key in program.writes(name):
                    value = out.get(key)
                    if value.is_floating_point() and value.requires_grad:
                        loss = loss + value.pow(2).mean()
        loss.backward()
        optimiser.step()


def _outputs(program: Program, name: str, inputs) -> object:
    torch.manual_seed(7)
    with torch.no_grad(), set_exploration_type(ExplorationType.DETERMINISTIC):
        return program[name](inputs.clone())


def _assert_same_weights(a: Program, b: Program) -> None:
    assert list(a) == list(b)
    for name in a:
        left, right = a[name].state_dict(), b[name].state_dict()
        assert list(left) == list(right), name
        for key in left:
            assert left[key].dtype == right[key].dtype, (name, key)
            assert torch.equal(left[key].cpu(), right[key].cpu()), (name, key)


def _assert_same_outputs(a: Program, b: Program) -> None:
    for name in a:
        torch.manual_seed(0)
        inputs = a.spec_random_input(name, (4,))
        expected, got = _outputs(a, name, inputs), _outputs(b, name, inputs)
        for key in expected.keys(include_nested=True, leaves_only=True):
            assert torch.equal(expected.get(key), got.get(key)), (name, key)


def test_saved_after_training_loads_bit_identical_weights_and_outputs(tmp_path: Path) -> None:
    program = rldsl.compile(SAC, seed=1)
    fresh = rldsl.compile(SAC, seed=1)
    _train(program)
    path = tmp_path / "sac.rlmz"
    size = program.save(path)
    assert size == path.stat().st_size > 0
    loaded = rldsl.load(path)
    _assert_same_weights(program, loaded)
    _assert_same_outputs(program, loaded)
    trained = program["critic"].state_dict()["module.0.weight"]
    assert not torch.equal(trained, fresh["critic"].state_dict()["module.0.weight"])  # the trained ones, not fresh


def test_rldsl_save_is_program_save_and_keeps_sources_and_options(tmp_path: Path) -> None:
    program = rldsl.compile(SAC, seed=4)
    _train(program, steps=1)
    path = tmp_path / "sac.rlmz"
    assert rldsl.save(program, path) == path.stat().st_size
    contents = read_contents(path)
    assert contents.manifest["root"] == "pendulum_sac.rlm"
    assert contents.manifest["options"] == {"device": "cpu", "seed": 4, "dtype": "f32"}
    assert contents.sources["pendulum_sac.rlm"] == SAC.read_text()
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"manifest.json", "source/pendulum_sac.rlm", "weights.pt",
                                           "checksums.json"}
    _assert_same_weights(program, rldsl.load(path))
    assert "save" in rldsl.__all__


def test_loaded_artifact_trains_further_and_saves_again(tmp_path: Path) -> None:
    program = rldsl.compile(CARTPOLE, seed=2)
    _train(program, steps=2)
    first = tmp_path / "first.rlmz"
    program.save(first)
    loaded = rldsl.load(first)
    _train(loaded, steps=2)
    loaded["q_explore"].module[1].step(500)  # an annealed buffer (eps) is state too
    second = tmp_path / "second.rlmz"
    rldsl.save(loaded, second)
    again = rldsl.load(second)
    _assert_same_weights(loaded, again)
    assert again["q_explore"].module[1].eps.item() < 1.0
    assert not torch.equal(again["q"].state_dict()["module.0.module.0.weight"],
                           program["q"].state_dict()["module.0.module.0.weight"])


def test_state_dict_of_a_module_round_trips_through_a_checkpoint_and_an_artifact(tmp_path: Path) -> None:
    """What a training script saves (``program[name].state_dict()``) loads into a freshly compiled
    program, and that program saves and loads with exactly those weights."""
    trained = rldsl.compile(SAC, seed=9)
    _train(trained)
    checkpoint = tmp_path / "policy.pt"
    torch.save(trained["policy"].state_dict(), checkpoint)
    torch.save(trained["qvalue"].state_dict(), tmp_path / "qvalue.pt")
    other = rldsl.compile(SAC, seed=123)
    other["policy"].load_state_dict(torch.load(checkpoint, weights_only=True), strict=True)
    other["qvalue"].load_state_dict(torch.load(tmp_path / "qvalue.pt", weights_only=True), strict=True)
    path = tmp_path / "sac.rlmz"
    other.save(path)
    loaded = rldsl.load(path)
    for name in ("policy", "params", "qvalue"):  # params is the policy's network: shared, so loaded too
        for key, value in trained[name].state_dict().items():
            assert torch.equal(loaded[name].state_dict()[key], value), (name, key)
    _assert_same_outputs(other, loaded)


def test_a_state_dict_under_torchrl_names_loads_saves_and_loads_back(tmp_path: Path) -> None:
    """The names torchrl 0.14 gives these modules' weights: a ``ProbabilisticActor`` wraps a
    ``TensorDictModule`` (``module.0``) of ``Sequential(MLP, NormalParamExtractor)``
    (``module.0.module.0``) whose Linear layers sit at 0, 2, 4 (Tanh between); a ``ValueOperator``
    wraps its MLP directly (``module``). A checkpoint built under those names loads strictly."""
    generator = torch.Generator().manual_seed(5)
    layers = [(0, 64, 3), (2, 64, 64), (4, 2, 64)]
    policy = {f"module.0.module.0.{i}.{part}": torch.randn(*(shape if part == "weight" else shape[:1]),
                                                            generator=generator)
              for i, *shape in layers for part in ("weight", "bias")}
    critic_layers = [(0, 64, 3), (2, 64, 64), (4, 1, 64)]
    critic = {f"module.{i}.{part}": torch.randn(*(shape if part == "weight" else shape[:1]), generator=generator)
              for i, *shape in critic_layers for part in ("weight", "bias")}
    program = rldsl.compile(SAC)
    program["policy"].load_state_dict(policy, strict=True)
    program["critic"].load_state_dict(critic, strict=True)
    path = tmp_path / "from_torchrl.rlmz"
    rldsl.save(program, path)
    loaded = rldsl.load(path)
    assert set(loaded["policy"].state_dict()) == set(policy)
    for key, value in policy.items():
        assert torch.equal(loaded["policy"].state_dict()[key], value)
    for key, value in critic.items():
        assert torch.equal(loaded["critic"].state_dict()[key], value)


def test_shared_modules_stay_shared_after_loading(tmp_path: Path) -> None:
    program = rldsl.compile(SAC)
    _train(program, steps=1)
    program.save(tmp_path / "sac.rlmz")
    loaded = rldsl.load(tmp_path / "sac.rlmz")
    with torch.no_grad():
        loaded["params"].module[0][0].weight.zero_()
    assert loaded["policy"].state_dict()["module.0.module.0.0.weight"].abs().sum() == 0


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_text_and_dtype_are_kept(tmp_path: Path, dtype: str) -> None:
    program = rldsl.compile(TEXT, seed=3, dtype=dtype)
    _train(program, steps=1)
    path = tmp_path / "text.rlmz"
    program.save(path)
    contents = read_contents(path)
    assert contents.manifest["options"]["dtype"] == dtype
    assert list(contents.sources.values()) == [TEXT]
    loaded = rldsl.load(path)
    assert loaded.dtype == program.dtype
    _assert_same_weights(program, loaded)


def test_includes_are_stored_and_the_artifact_loads_elsewhere(tmp_path: Path) -> None:
    program = rldsl.compile(QMIX, seed=0)
    _train(program, steps=1)
    path = tmp_path / "qmix.rlmz"
    program.save(path)
    assert set(read_contents(path).sources) == {"qmix.rlm", "specs.rlm"}
    elsewhere = tmp_path / "far" / "away"
    elsewhere.mkdir(parents=True)
    moved = elsewhere / "qmix.rlmz"
    os.replace(path, moved)
    _assert_same_weights(program, rldsl.load(moved))


def test_a_model_built_in_python_saves_its_trained_weights(tmp_path: Path) -> None:
    m = Model("tiny")
    m.key("observation", "f32[3]")
    m.actor("policy", Actor(MLP(out_features=2, num_cells=[8])))
    program = rldsl.compile(m, seed=0)
    _train(program, steps=2)
    path = tmp_path / "tiny.rlmz"
    rldsl.save(program, path)
    contents = read_contents(path)
    assert contents.manifest["root"] == "tiny.rlm"
    assert contents.sources["tiny.rlm"] == m.to_source()
    _assert_same_weights(program, rldsl.load(path))


def test_a_program_without_its_source_is_refused_clearly(tmp_path: Path) -> None:
    program = compile_report(rldsl.check(TEXT))
    with pytest.raises(ArtifactError, match="does not know the source"):
        program.save(tmp_path / "x.rlmz")
    assert not (tmp_path / "x.rlmz").exists()
    with pytest.raises(TypeError, match="compiled rldsl Program"):
        rldsl.save({"policy": torch.nn.Linear(2, 2)}, tmp_path / "x.rlmz")


def test_weights_that_no_longer_fit_are_refused_and_the_old_artifact_is_kept(tmp_path: Path) -> None:
    program = rldsl.compile(TEXT)
    path = tmp_path / "model.rlmz"
    program.save(path)
    before = path.read_bytes()
    program["policy"].double()
    with pytest.raises(ArtifactError, match="no longer fit its source.*float64"):
        program.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.rlmz"]  # no partial file left behind


def test_a_failed_write_leaves_the_previous_artifact_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = rldsl.compile(TEXT)
    path = tmp_path / "model.rlmz"
    program.save(path)
    before = path.read_bytes()
    _train(program, steps=1)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("zipfile.ZipFile.writestr", broken)
    with pytest.raises(OSError, match="No space left"):
        program.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.rlmz"]


def test_an_unwritable_path_is_an_oserror(tmp_path: Path) -> None:
    program = rldsl.compile(TEXT)
    with pytest.raises(OSError):
        program.save(tmp_path / "missing" / "model.rlmz")


def test_saved_artifact_gets_ordinary_file_permissions(tmp_path: Path) -> None:
    program = rldsl.compile(TEXT)
    path = tmp_path / "model.rlmz"
    program.save(path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_save_program_is_the_method(tmp_path: Path) -> None:
    program = rldsl.compile(TEXT)
    assert save_program(program, tmp_path / "a.rlmz") == program.save(tmp_path / "b.rlmz")
