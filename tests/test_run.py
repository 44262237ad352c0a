"""``rldsl run``: a model's policy rolled out in gymnasium envs (Pendulum, CartPole,
MountainCarContinuous, a Dict-observation env), held to the env's spaces first, reproducible under
``--seed``, from a `.rlm` file or a trained `.rlmz` artifact."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rldsl
from rldsl import cli
from rldsl.run import episode_line, fit_env, policy_keys, summary_line

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HELPERS = Path(__file__).resolve().parent / "run"
SAC = EXAMPLES / "pendulum_sac.rlm"
CARTPOLE = EXAMPLES / "cartpole_dqn.rlm"
DDPG = EXAMPLES / "pendulum_ddpg.rlm"
GRU = EXAMPLES / "recurrent" / "gru_dqn.rlm"
MOUNTAINCAR = HELPERS / "mountaincar.rlm"
POINT = HELPERS / "point_dict.rlm"
EPISODE = re.compile(r"^episode (\d+): return (-?\d+\.\d\d), (\d+) steps( \(cut short by --steps\))?$")


@pytest.fixture
def helper_envs(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test env module (``point_env``) importable, for ``--import-envs point_env``."""
    monkeypatch.syspath_prepend(str(HELPERS))
    return "point_env"


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    status = cli.main(["run", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _episodes(out: str) -> list[tuple[int, float, int, bool]]:
    found = []
    for line in out.splitlines():
        match = EPISODE.match(line)
        if match:
            found.append((int(match[1]), float(match[2]), int(match[3]), match[4] is None))
    return found


def _summary(out: str) -> str:
    return next(line for line in out.splitlines() if "return mean" in line)


# ---------------------------------------------------------------------------------------------
# the four envs


def test_pendulum_rolls_out_whole_episodes_and_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, SAC, "--env", "Pendulum-v1", "--episodes", 2)
    assert status == 0, err
    assert out.splitlines()[0] == "rolling out `policy` in Pendulum-v1: 2 episodes, seed 0, exploration deterministic"
    episodes = _episodes(out)
    assert [(number, steps, finished) for number, _, steps, finished in episodes] == [(1, 200, True), (2, 200, True)]
    returns = [value for _, value, _, _ in episodes]
    mean, spread = sum(returns) / 2, abs(returns[0] - returns[1]) / 2
    assert _summary(out) == (f"2 episodes, 400 steps: return mean {mean:.2f}, std {spread:.2f}, "
                             f"min {min(returns):.2f}, max {max(returns):.2f}")
    assert "Traceback" not in err


def test_cartpole_rolls_out_a_q_value_actor(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, CARTPOLE, "--env", "CartPole-v1", "--episodes", 3, "--seed", 1)
    assert status == 0, err
    episodes = _episodes(out)
    assert [e[0] for e in episodes] == [1, 2, 3]
    assert all(value == steps and finished for _, value, steps, finished in episodes)  # reward 1 per step
    assert "rolling out `q`" in out


def test_mountaincar_continuous_with_a_step_budget(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, MOUNTAINCAR, "--env", "MountainCarContinuous-v0", "--steps", 150,
                            "--exploration", "random")
    assert status == 0, err
    assert [(n, steps, finished) for n, _, steps, finished in _episodes(out)] == [(1, 150, False)]
    assert "(cut short by --steps)" in out
    assert _summary(out).startswith("1 episode, 150 steps: return mean ")


def test_a_nested_dict_observation_env(capsys: pytest.CaptureFixture[str], helper_envs: str) -> None:
    status, out, err = _run(capsys, POINT, "--env", "RldslPointDict-v0", "--import-envs", helper_envs,
                            "--episodes", 2)
    assert status == 0, err
    episodes = _episodes(out)
    assert len(episodes) == 2 and all(0 < steps <= 50 for _, _, steps, _ in episodes)
    assert all(value < 0 for _, value, _, _ in episodes)


def test_the_dict_observation_keys_are_fed_to_the_policy(helper_envs: str) -> None:
    """What the policy reads: each (nested) entry of the Dict, under its own key."""
    import point_env  # noqa: F401  (registers the env)

    from rldsl.lang.envs import env_specs

    report = rldsl.check(POINT, env_modules=[helper_envs])
    fit = fit_env(policy_keys(report, "policy"), env_specs("RldslPointDict-v0"))
    assert fit.problems == ()
    assert set(fit.observations) == {("agent", "position"), ("agent", "velocity"), ("goal",)}


def test_a_step_budget_spans_episodes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, SAC, "--env", "Pendulum-v1", "--steps", 230)
    assert status == 0
    assert [(n, steps, finished) for n, _, steps, finished in _episodes(out)] == [(1, 200, True), (2, 30, False)]
    assert _summary(out).startswith("2 episodes, 230 steps")


def test_max_episode_steps_ends_episodes_early(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, SAC, "--env", "Pendulum-v1", "--episodes", 2, "--max-episode-steps", 10)
    assert status == 0
    assert [steps for _, _, steps, _ in _episodes(out)] == [10, 10]


def test_a_recurrent_policy_carries_its_state(capsys: pytest.CaptureFixture[str], helper_envs: str) -> None:
    import point_env  # noqa: F401

    from rldsl.lang.envs import env_specs

    report = rldsl.check(GRU)
    fit = fit_env(policy_keys(report, "q"), env_specs("RldslCartPoleNoVelocity-v0"))
    assert fit.problems == ()
    assert fit.is_init == ("is_init",)
    assert fit.carried == ((("recurrent_state",), ("next", "recurrent_state")),)
    status, out, err = _run(capsys, GRU, "--env", "RldslCartPoleNoVelocity-v0", "--import-envs", helper_envs,
                            "--episodes", 2)
    assert status == 0, err
    assert len(_episodes(out)) == 2


def test_a_categorical_action_drives_a_discrete_env(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "categorical.rlm"
    model.write_text("key observation : f32[4]\nkey action : categorical(2)\n"
                     "actor q = QValueActor(MLP(out_features=2, num_cells=[16]), in=[observation], spec=action)\n")
    status, out, err = _run(capsys, model, "--env", "CartPole-v1", "--episodes", 1)
    assert status == 0, err
    assert len(_episodes(out)) == 1


def test_a_model_compiled_in_f64_takes_f32_observations(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, SAC, "--env", "Pendulum-v1", "--steps", 5, "--dtype", "f64")
    assert status == 0, err


# ---------------------------------------------------------------------------------------------
# seeds and exploration


def test_the_same_seed_prints_the_same_returns(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [_run(capsys, SAC, "--env", "Pendulum-v1", "--episodes", 2, "--seed", 3, "--exploration", "random")[1]
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = _run(capsys, SAC, "--env", "Pendulum-v1", "--episodes", 2, "--seed", 4, "--exploration", "random")[1]
    assert _episodes(other) != _episodes(runs[0])


def test_exploration_random_samples_and_deterministic_does_not(capsys: pytest.CaptureFixture[str]) -> None:
    """The seed fixes the weights and the env's start: deterministic actions give the same return
    whatever torch's generator holds; random ones are sampled from it."""
    args = (SAC, "--env", "Pendulum-v1", "--steps", 50, "--seed", 0)
    deterministic = _episodes(_run(capsys, *args)[1])
    random = _episodes(_run(capsys, *args, "--exploration", "random")[1])
    assert deterministic != random
    torch.manual_seed(12345)  # the run seeds torch itself: what was drawn before does not matter
    assert _episodes(_run(capsys, *args)[1]) == deterministic


def test_exploration_type_reaches_the_policy(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tensordict.nn.probabilistic import interaction_type  # tensordict.nn exports it only from 0.15

    import rldsl.rollout

    seen = []
    original = rldsl.rollout.action_to_env

    def spy(spec, action, space):
        seen.append(interaction_type())
        return original(spec, action, space)

    monkeypatch.setattr(rldsl.rollout, "action_to_env", spy)
    _run(capsys, CARTPOLE, "--env", "CartPole-v1", "--steps", 2, "--policy", "q_explore", "--exploration", "random")
    _run(capsys, CARTPOLE, "--env", "CartPole-v1", "--steps", 2)
    from rldsl.modules import ExplorationType

    assert seen == [ExplorationType.RANDOM] * 2 + [ExplorationType.DETERMINISTIC] * 2


# ---------------------------------------------------------------------------------------------
# specs against spaces, before anything is built


def test_a_policy_that_does_not_fit_the_env_is_a_diagnostic(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, SAC, "--env", "CartPole-v1")
    assert status == 1
    assert out == ""
    assert err.startswith("error: policy `policy` does not fit env `CartPole-v1`\n")
    assert f" --> {SAC}:14:7" in err
    assert "14 | actor policy = ProbabilisticActor(" in err
    assert "^^^^^^ rolled out in CartPole-v1" in err
    assert "= `observation`: the policy reads f32[3], `CartPole-v1` gives f32[4]" in err
    assert "(shape [3], the env's is [4])" in err
    assert "= `action`: the policy writes f32[1] in [-2.0, 2.0], `CartPole-v1` takes onehot(2)" in err
    assert "= help:" in err
    assert "loading torch" not in err  # refused before torch was needed


def test_a_misfit_names_the_declarations_that_fit(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, DDPG, "--env", "Pendulum-v1")
    assert status == 1
    assert "`hidden`: the policy reads it, but `Pendulum-v1` does not give it" in err
    assert "it is written by `common`" in err
    assert "`--policy model`" in err
    status, out, err = _run(capsys, DDPG, "--env", "Pendulum-v1", "--policy", "model", "--steps", 3)
    assert status == 0, err


def test_an_unbounded_action_in_a_bounded_env_is_a_warning(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    model = tmp_path / "loose.rlm"
    model.write_text("key observation : f32[3]\nactor policy = Actor(MLP(out_features=1, num_cells=[8]))\n")
    status, out, err = _run(capsys, model, "--env", "Pendulum-v1", "--steps", 3)
    assert status == 0
    assert "warning: the policy's actions are unbounded, but `Pendulum-v1` takes actions in [-2.0, 2.0]" in err


def test_a_model_with_errors_prints_its_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, EXAMPLES / "errors" / "obsevation.rlm", "--env", "Pendulum-v1")
    assert status == 1
    assert "error[E0301]" in out


# ---------------------------------------------------------------------------------------------
# choosing the policy


def test_policy_is_the_one_actor_or_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "two.rlm"
    model.write_text("key observation : f32[4]\nkey action : onehot(2)\n"
                     "actor a = QValueActor(MLP(out_features=2), in=[observation], spec=action)\n"
                     "actor b = QValueActor(MLP(out_features=2), in=[observation], spec=action)\n")
    status, _, err = _run(capsys, model, "--env", "CartPole-v1")
    assert status == 2
    assert "the model has 2 `actor` declarations (`a`, `b`)" in err
    assert "--policy NAME" in err and "`a`, `b`" in err
    status, out, _ = _run(capsys, model, "--env", "CartPole-v1", "--policy", "b", "--steps", 2)
    assert status == 0 and "rolling out `b`" in out
    status, _, err = _run(capsys, model, "--env", "CartPole-v1", "--policy", "bb")
    assert status == 2
    assert "declares no module `bb`" in err


def test_a_model_without_actors_lists_what_writes_action(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = tmp_path / "explore.rlm"
    model.write_text("key observation : f32[4]\nkey action : onehot(2)\n"
                     "module q = QValueActor(MLP(out_features=2), in=[observation], spec=action)\n")
    status, _, err = _run(capsys, model, "--env", "CartPole-v1")
    assert status == 2
    assert "no `actor` declaration" in err and "`q`" in err


# ---------------------------------------------------------------------------------------------
# trained artifacts


def test_a_trained_artifact_rolls_out_with_its_trained_weights(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    program = rldsl.compile(CARTPOLE, seed=0)
    optimiser = torch.optim.Adam(program["q"].parameters(), lr=0.05)
    for _ in range(5):
        optimiser.zero_grad()
        td = program["q"](program.spec_random_input("q", (16,)))
        (td["action_value"][..., 0] - td["action_value"][..., 1]).mean().backward()  # prefer action 1
        optimiser.step()
    path = tmp_path / "trained.rlmz"
    program.save(path)
    status, out, err = _run(capsys, path, "--env", "CartPole-v1", "--episodes", 2, "--seed", 5)
    assert status == 0, err
    # the same rollout on the in-memory trained program gives the same episodes
    from rldsl.rollout import rollout
    from rldsl.run import Fit, _feed
    import gymnasium

    env = gymnasium.make("CartPole-v1")
    expected = rollout(program["q"], _feed(program, "q", Fit(observations=(("observation",),))), env, episodes=2,
                       seed=5)
    assert [episode_line(e) for e in expected] == [line for line in out.splitlines() if line.startswith("episode")]
    untrained = tmp_path / "untrained.rlmz"
    rldsl.compile(CARTPOLE, seed=0).save(untrained)
    assert _episodes(_run(capsys, untrained, "--env", "CartPole-v1", "--episodes", 2, "--seed", 5)[1]) != \
        _episodes(out)


def test_a_damaged_artifact_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.rlmz"
    path.write_bytes(b"not a zip")
    status, _, err = _run(capsys, path, "--env", "CartPole-v1")
    assert status == 2
    assert "not a readable rldsl artifact" in err


def test_an_artifact_that_does_not_fit_the_env(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cartpole.rlmz"
    rldsl.compile(CARTPOLE).save(path)
    status, _, err = _run(capsys, path, "--env", "Pendulum-v1")
    assert status == 1
    assert " --> cartpole_dqn.rlm:10:7" in err  # the source stored in the artifact


# ---------------------------------------------------------------------------------------------
# usage errors


@pytest.mark.parametrize(("args", "expected"), [
    (["--env", "CartPol-v1"], "did you mean `\"CartPole-v1\"`"),
    (["--env", "mypkg.envs:Grid-v0"], "names a Python module to import"),
    (["--env", "CartPole-v1", "--episodes", "2", "--steps", "5"], "not allowed with argument"),
    (["--env", "CartPole-v1", "--steps", "0"], "expected a whole number from 1"),
    (["--env", "CartPole-v1", "--seed", "-1"], "expected a seed from 0"),
    (["--env", "CartPole-v1", "--render", "rgb_array"], "give --video OUT.mp4 too"),
    (["--env", "CartPole-v1", "--render", "human", "--video", "x.mp4"], "cannot be used with --render human"),
    (["--env", "CartPole-v1", "--import-envs", "no_such_module_here"], "cannot import env module"),
])
def test_usage_errors_exit_2_with_a_message(capsys: pytest.CaptureFixture[str], args: list[str],
                                            expected: str) -> None:
    status, _, err = _run(capsys, CARTPOLE, *args)
    assert status == 2
    assert expected in err


def test_a_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, tmp_path / "missing.rlm", "--env", "CartPole-v1")
    assert status == 2
    assert "cannot read" in err


def test_a_failing_env_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import rldsl.rollout

    def refuse(*args):
        raise ValueError("the env refused this action")

    monkeypatch.setattr(rldsl.rollout, "action_to_env", refuse)
    status, _, err = _run(capsys, CARTPOLE, "--env", "CartPole-v1")
    assert status == 1
    assert "the rollout stopped after 0 episode(s): ValueError: the env refused this action" in err


def test_an_interrupt_prints_what_was_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import rldsl.rollout

    original, calls = rldsl.rollout.action_to_env, []

    def interrupt_late(*args):
        calls.append(1)
        if len(calls) > 210:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(rldsl.rollout, "action_to_env", interrupt_late)
    status, out, _ = _run(capsys, SAC, "--env", "Pendulum-v1", "--episodes", 3)
    assert status == 130
    assert len(_episodes(out)) == 1
    assert _summary(out).startswith("1 episode, 200 steps")


# ---------------------------------------------------------------------------------------------
# progress bar and video


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    status, out, err = _run(capsys, CARTPOLE, "--env", "CartPole-v1", "--episodes", 2, "--progress", "always")
    assert status == 0
    assert "rolling out:" in err and "0/2" in err and "episode/s" in err
    assert len(_episodes(out)) == 2


def test_without_tqdm_the_run_goes_on_without_a_bar(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    status, out, err = _run(capsys, CARTPOLE, "--env", "CartPole-v1", "--episodes", 1, "--progress", "always")
    assert status == 0
    assert "rolling out:" not in err


def test_video_without_its_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("imageio") else real(name, *a))
    status, _, err = _run(capsys, SAC, "--env", "Pendulum-v1", "--video", tmp_path / "out.mp4")
    assert status == 2
    assert "--video needs imageio and imageio-ffmpeg" in err
    assert "pip install 'rldsl[video]'" in err
    assert not (tmp_path / "out.mp4").exists()


def test_rendering_without_pygame_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("imageio")
    pytest.importorskip("imageio_ffmpeg")
    monkeypatch.setitem(sys.modules, "pygame", None)
    status, _, err = _run(capsys, SAC, "--env", "Pendulum-v1", "--video", tmp_path / "out.mp4")
    assert status == 2
    assert "pip install 'rldsl[video]'" in err


def test_a_missing_renderer_is_a_usage_error() -> None:
    import gymnasium

    from rldsl.run import _rollout_error

    error = _rollout_error(gymnasium.error.DependencyNotInstalled("pygame is not installed"), "Pendulum-v1", 0)
    assert error.status == 2 and "rldsl[video]" in error.help


def test_video_of_a_dict_env(capsys: pytest.CaptureFixture[str], tmp_path: Path, helper_envs: str) -> None:
    pytest.importorskip("imageio")
    pytest.importorskip("imageio_ffmpeg")
    video = tmp_path / "point.mp4"
    status, out, err = _run(capsys, POINT, "--env", "RldslPointDict-v0", "--import-envs", helper_envs,
                            "--episodes", 2, "--max-episode-steps", 10, "--video", video)
    assert status == 0, err
    assert f"wrote {video} (22 frames)" in out  # a frame after each reset and each step
    assert video.stat().st_size > 0
    import imageio.v2 as imageio

    with imageio.get_reader(video) as reader:
        assert reader.get_data(0).shape[-1] == 3


def test_video_of_a_classic_control_env(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("imageio_ffmpeg")
    pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    video = tmp_path / "pendulum.mp4"
    status, out, err = _run(capsys, SAC, "--env", "Pendulum-v1", "--max-episode-steps", 5, "--video", video)
    assert status == 0, err
    assert f"wrote {video} (6 frames)" in out


# ---------------------------------------------------------------------------------------------
# output helpers


def test_run_announces_torch_once_the_policy_fits(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import rldsl.cli_torch

    calls: list[int] = []
    monkeypatch.setattr(rldsl.cli_torch, "announce_torch_import", lambda *a: calls.append(1) or True)
    assert _run(capsys, SAC, "--env", "CartPole-v1")[0] == 1
    assert calls == []  # a misfit is found before torch is needed
    assert _run(capsys, SAC, "--env", "Pendulum-v1", "--steps", 1)[0] == 0
    assert calls == [1]
    path = tmp_path / "sac.rlmz"
    rldsl.compile(SAC).save(path)
    assert _run(capsys, path, "--env", "Pendulum-v1", "--steps", 1)[0] == 0
    assert calls == [1, 1]  # an artifact is read with torch


@pytest.mark.slow
def test_run_announces_torch_before_importing_it_and_checks_first(stderr_recorder: str) -> None:
    """In a fresh process: a policy that does not fit is refused before torch is imported (nothing
    said of it); one that fits is announced on standard error while torch is not imported yet."""
    script = stderr_recorder + (
        "misfit = main(['run', sys.argv[1], '--env', 'CartPole-v1'])\n"
        "torch_after_misfit = 'torch' in sys.modules\n"
        "code = main(['run', sys.argv[1], '--env', 'Pendulum-v1', '--steps', '2'])\n"
        "sys.stderr = sys.__stderr__\n"
        "print(misfit, torch_after_misfit, code, [e for e in recorder.seen if 'loading torch' in e[0]])\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(SAC)], capture_output=True, text=True, timeout=300)
    last = result.stdout.strip().splitlines()[-1]
    assert last == "1 False 0 [('rldsl: loading torch…', False)]", result.stdout + result.stderr


def test_summary_of_no_episode_and_of_one() -> None:
    from rldsl.rollout import Episode

    assert summary_line([]) == "0 episodes, 0 steps"
    assert summary_line([Episode(1, -3.0, 4, True)]) == \
        "1 episode, 4 steps: return mean -3.00, std 0.00, min -3.00, max -3.00"
