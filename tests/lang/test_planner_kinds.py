"""Planning in the language: ``ModelEnv``, ``CEMPlanner`` and ``MPPIPlanner``.

What is pinned: the keys and specs a model environment and a planner read and write (a step
gives every observation its next value, the reward and the done flags; a planner writes the
action, projected into the environment's spec); every diagnostic of the planning rules, by code
and span (E0460 to E0464, and E0606 for the planners' sizes); the compiler's part (the
environment's ``observation_spec`` from the checked specs, the models stepped in place and
shared with their declarations); a compiled planner that finds the known optimum of a linear
problem (next = observation + action, reward -|target - next|^2); a run on ``meta``; and what
``rldsl check`` says about ``LMHeadActorValueOperator``, which is not a kind.
"""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from torch import nn

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.kind_hints import NOT_KINDS, unknown_kind_help
from rldsl.lang.kinds import Meaning, lookup

HEAD = """key observation : f32[4]
key action : f32[2] in [-1.0, 1.0]
module world = MLP(out_features=4, num_cells=[8]) : observation, action -> next.observation
module reward = MLP(out_features=1, num_cells=[8]) : next.observation, action -> next.reward
"""
MODEL = HEAD + "module model = ModelEnv(world, reward, spec=action)\n"
PLANNER = MODEL + "actor planner = CEMPlanner(model, 3, 2, 16, 4)\n"


def diagnostics(text: str) -> list[tuple[str, int, int]]:
    """``(code, line, column)`` of every diagnostic of ``text``."""
    return [(d.code, d.span.line, d.span.column) for d in check_text(text, "p.rlm").diagnostics]


def column(text: str, line: int, needle: str) -> int:
    """The 1-based column of ``needle`` on ``line`` of ``text``."""
    return text.splitlines()[line - 1].index(needle) + 1


def only(text: str):
    """The one diagnostic of ``text``."""
    (found,) = check_text(text, "p.rlm").diagnostics
    return found


def key_specs(text: str) -> dict[str, str]:
    from rldsl.lang.types import spec_text

    report = rldsl.check(text)
    assert report.ok, [(d.code, d.message) for d in report.diagnostics]
    return {".".join(info.path): spec_text(info.spec) for info in report.keys}


# --------------------------------------------------------------------------- types and keys
def test_a_model_env_and_a_planner_check_clean_with_their_keys_typed() -> None:
    assert diagnostics(PLANNER) == []
    specs = key_specs(PLANNER)
    assert specs["next.observation"] == "f32[4]"
    assert specs["next.reward"] == "f32[1]"
    assert specs["next.done"] == specs["next.terminated"] == "bool[1]"
    report = rldsl.check(PLANNER)
    model, planner = report.modules["model"], report.modules["planner"]
    assert [ref.dotted for ref in model.reads] == ["observation", "action"]
    assert [ref.dotted for ref in model.writes] == ["next.observation", "next.reward", "next.done", "next.terminated"]
    assert [ref.dotted for ref in model.own_writes] == ["next.done", "next.terminated"]  # the rest is the models'
    assert [ref.dotted for ref in planner.reads] == ["observation"]
    assert [ref.dotted for ref in planner.writes] == ["action"]


def test_the_action_spec_must_be_the_action_keys_own_once() -> None:
    text = PLANNER.replace("module model = ModelEnv(world, reward, spec=action)",
                           "key bounds : f32[2] in [-2.0, 2.0]\nmodule model = ModelEnv(world, reward, spec=bounds)")
    found = only(text)  # once, by the environment: the planner writing the action does not repeat it
    assert (found.code, found.span.line, found.span.column) == ("E0509", 6, column(text, 6, "bounds"))
    assert "`spec=` gives f32[2] in [-2.0, 2.0], but the action `action` is declared as" in found.message


def test_a_planner_writing_another_key_takes_the_environments_spec() -> None:
    text = PLANNER.replace("CEMPlanner(model, 3, 2, 16, 4)", "CEMPlanner(model, 3, 2, 16, 4, action_key=plan)")
    assert [code for code, _, _ in diagnostics(text)] == ["W0301"]  # nothing reads `plan` in this model
    assert key_specs(text)["plan"] == "f32[2] in [-1.0, 1.0]"


def test_an_inline_model_env_and_a_reward_written_by_the_world_model() -> None:
    text = """key observation : f32[3]
key action : f32[1] in [-2.0, 2.0]
module world = MLP(out_features=6) >> NormalParamExtractor() : observation, action -> next.observation, next.reward
actor planner = CEMPlanner(ModelEnv(world, spec=action), planning_horizon=2, optim_steps=1, num_candidates=8, top_k=2)
"""
    found = only(text)  # next.reward is f32[3]: not a reward of one float
    assert (found.code, found.span.line, found.span.column) == ("E0462", 4, column(text, 4, "world"))
    unwritten = text.replace("next.observation, next.reward", "next.observation, _scale")
    found = only(unwritten)
    assert (found.code, found.span.line) == ("E0462", 4) and "writes the reward `next.reward`" in found.message
    one = """key observation : f32[3]
key action : f32[1] in [-2.0, 2.0]
module world = MLP(out_features=3) : observation, action -> next.observation
module reward = MLP(out_features=1) : next.observation -> next.reward
actor planner = CEMPlanner(ModelEnv(world, reward, spec=action), 2, 1, 8, 2)
"""
    assert diagnostics(one) == []
    program = rldsl.compile(one)
    out = program["planner"](program.spec_random_input("planner", (5,)))
    assert out["action"].shape == (5, 1) and bool(((out["action"] >= -2) & (out["action"] <= 2)).all())


def test_several_observations_and_a_given_observation_spec() -> None:
    text = """key position : f32[2]
key velocity : f32[2]
key action : f32[2] in [-1.0, 1.0]
module world = MLP(out_features=4) >> NormalParamExtractor()
             : position, velocity, action -> next.position, next.velocity
module reward = MLP(out_features=1) : next.position -> next.reward
module model = ModelEnv(world, reward, spec=action, observation_spec=[velocity, position])
actor planner = CEMPlanner(model, 2, 1, 8, 2)
"""
    assert diagnostics(text) == []
    report = rldsl.check(text)
    assert [ref.dotted for ref in report.modules["planner"].reads] == ["velocity", "position"]
    program = rldsl.compile(text)
    assert list(program["model"].observation_spec.keys(True, True)) == ["velocity", "position"]
    assert program["planner"].in_keys == ["velocity", "position"]


# --------------------------------------------------------------------------- E0460: the world model
@pytest.mark.parametrize(("world", "words"), [
    ("observation -> next.observation", "does not read the action `action`"),
    ("observation, action -> prediction", "writes no `next.observation`"),
    ("action -> next.observation", "reads no observation"),
])
def test_a_world_model_that_does_not_model_a_step(world: str, words: str) -> None:
    text = f"""key observation : f32[4]
key action : f32[2] in [-1.0, 1.0]
module guess = MLP(out_features=4) : {world}
module score = MLP(out_features=1) : action -> next.reward
module model = ModelEnv(guess, score, spec=action)
"""
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0460", 5, column(text, 5, "guess"))
    assert words in found.message and found.help


def test_a_next_observation_of_another_shape() -> None:
    text = HEAD.replace("MLP(out_features=4, num_cells=[8]) : observation, action",
                        "MLP(out_features=3, num_cells=[8]) : observation, action")
    text = text.replace("next.observation, action -> next.reward", "action -> next.reward")
    text += "module model = ModelEnv(world, reward, spec=action)\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0460", 5, column(text, 5, "world"))
    assert "`next.observation` as f32[3], but the observation `observation` is f32[4]" in found.message
    assert [label.span.line for label in found.labels] == [3]  # where the world model writes it


def test_a_given_observation_spec_must_cover_what_the_world_model_reads() -> None:
    text = """key observation : f32[4]
key goal : f32[4]
key action : f32[2] in [-1.0, 1.0]
module world = MLP(out_features=4) : observation, goal, action -> next.observation
module reward = MLP(out_features=1) : next.observation -> next.reward
module model = ModelEnv(world, reward, spec=action, observation_spec=[observation])
"""
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0460", 6, column(text, 6, "[observation]"))
    assert "reads `goal`, which is neither an observation nor the action" in found.message


@pytest.mark.parametrize(("call", "code", "at"), [
    ("ModelEnv(model, reward, spec=action)", "E0460", "model,"),
    ("ModelEnv(world, model, spec=action)", "E0462", "model,"),
])
def test_a_model_env_is_not_a_model_of_another(call: str, code: str, at: str) -> None:
    text = MODEL + f"module again = {call}\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == (code, 6, column(text, 6, at))
    assert "is a ModelEnv itself" in found.message


# --------------------------------------------------------------------------- E0462: the reward
@pytest.mark.parametrize(("reward", "words"), [
    ("observation, action -> next.reward", "reads `observation`, the observation the step started from"),
    ("next.observation, other -> next.reward", "reads `other`, which a model step does not hold"),
    ("next.observation -> score", "no model of ModelEnv writes the reward `next.reward`"),
])
def test_a_reward_model_that_does_not_score_the_step(reward: str, words: str) -> None:
    text = f"""key observation : f32[4]
key other : f32[1]
key action : f32[2] in [-1.0, 1.0]
module world = MLP(out_features=4) : observation, action -> next.observation
module reward = MLP(out_features=1) : {reward}
module model = ModelEnv(world, reward, spec=action)
"""
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0462", 6, column(text, 6, "reward,"))
    assert words in found.message


def test_a_reward_of_two_values() -> None:
    text = HEAD.replace("MLP(out_features=1, num_cells=[8])", "MLP(out_features=2, num_cells=[8])")
    text += "module model = ModelEnv(world, reward, spec=action)\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0462", 5, column(text, 5, "reward,"))
    assert "`next.reward` is f32[2]" in found.message


# --------------------------------------------------------------------------- the planners
def test_a_planner_refuses_an_environment_that_is_not_a_model_env() -> None:
    found = only(HEAD + "actor planner = CEMPlanner(world, 3, 2, 16, 4)\n")
    assert (found.code, found.span.line, found.span.column) == ("E0461", 5, 28)  # at `world`
    assert "`world` is a module with keys" in found.message and "ModelEnv(world, reward" in found.help


def test_a_network_is_not_an_environment() -> None:
    found = only(HEAD + "actor planner = CEMPlanner(MLP(out_features=2), 3, 2, 16, 4)\n")
    assert found.code == "E0607"


def test_gaussian_planners_need_continuous_actions() -> None:
    text = """key observation : f32[4]
key choice : onehot(3)
key reading : f32[3]
module world = MLP(out_features=4) : observation, reading -> next.observation
module reward = MLP(out_features=1) : next.observation -> next.reward
module model = ModelEnv(world, reward, spec=choice, action_key=reading)
actor planner = CEMPlanner(model, 3, 2, 16, 4, action_key=choice)
"""
    codes = diagnostics(text)
    assert ("E0464", 7, column(text, 7, "model,")) in codes
    assert ("E0509", 6, column(text, 6, "choice")) in codes  # the action the world model reads is another spec


@pytest.mark.parametrize(("call", "at", "words"), [
    ("CEMPlanner(model, 3, 2, 16, 1)", "1)", "`top_k` must be at least 2, got 1"),
    ("CEMPlanner(model, 3, 2, 16, 17)", "17)", "`top_k=17` keeps more candidates than `num_candidates=16` draws"),
    ("CEMPlanner(model, 0, 2, 16, 4)", "0,", "`planning_horizon` must be positive, got 0"),
    ("CEMPlanner(model, 3, -1, 16, 4)", "-1", "`optim_steps` must be positive, got -1"),
    ("MPPIPlanner(model, critic, 0.0, 3, 2, 16, 4)", "0.0", "`temperature` must be positive, got 0.0"),
    ("MPPIPlanner(model, critic, inf, 3, 2, 16, 4)", "inf", "`temperature` must be a finite number, got inf"),
])
def test_planner_sizes(call: str, at: str, words: str) -> None:
    text = MODEL + "module critic = MLP(out_features=1) : observation, action -> advantage\n"
    text += f"actor planner = {call}\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0606", 7, column(text, 7, at))
    assert words in found.message


def test_mppi_accepts_a_single_best_candidate() -> None:
    text = MODEL + "module critic = MLP(out_features=1) : observation, action -> advantage\n"
    assert diagnostics(text + "actor planner = MPPIPlanner(model, critic, 1.0, 3, 2, 16, 1)\n") == []


@pytest.mark.parametrize(("critic", "words"), [
    ("observation, action -> q", "writes no `advantage`"),
    ("observation, other -> advantage", "reads `other`, which a rollout of candidates does not hold"),
])
def test_an_advantage_module_that_does_not_fit_the_rollout(critic: str, words: str) -> None:
    text = MODEL + f"key other : f32[1]\nmodule critic = MLP(out_features=1) : {critic}\n"
    text += "actor planner = MPPIPlanner(model, critic, 1.0, 3, 2, 16, 4)\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0463", 8, column(text, 8, "critic"))
    assert words in found.message


def test_an_advantage_that_is_not_float() -> None:
    text = MODEL + ("key advantage : i64[1]\nmodule critic = MLP(out_features=1) : observation, action -> advantage\n"
                    "actor planner = MPPIPlanner(model, critic, 1.0, 3, 2, 16, 4)\n")
    assert ("E0463", 8, column(text, 8, "critic")) in diagnostics(text)


def test_the_advantage_module_may_read_the_next_keys_of_the_rollout() -> None:
    text = MODEL + ("module critic = MLP(out_features=1) : next.observation, next.reward, done -> advantage\n"
                    "key done : bool[1]\n"
                    "actor planner = MPPIPlanner(model, critic, 1.0, 3, 2, 16, 4)\n")
    assert [code for code, _, _ in diagnostics(text)] == ["E0503"]  # MLP reads floats; the rollout holds `done`


# --------------------------------------------------------------------------- the compiler
def test_the_kinds_tell_the_compiler_what_to_build() -> None:
    env = lookup("ModelEnv")
    assert env.param("observation_spec").meaning is Meaning.KEY_SPECS
    assert env.param("world_model").meaning is env.param("reward_model").meaning is Meaning.STEP_MODEL
    assert env.param("spec").target == "action_spec"
    assert lookup("CEMPlanner").role == lookup("MPPIPlanner").role == "actor"


def test_a_compiled_model_env_steps_its_declared_models_in_place() -> None:
    program = rldsl.compile(PLANNER)
    env = program["model"]
    assert env.world_model.module[0] is program["world"] and env.reward_model.module[0] is program["reward"]
    assert list(env.observation_spec.keys(True, True)) == ["observation"]
    assert env.action_spec.shape == (2,) and float(env.action_spec.low.min()) == -1.0
    td = program.spec_random_input("model", (3,))
    out = env(td)
    expected = program["world"](td.select("observation", "action"))["next", "observation"]
    torch.testing.assert_close(out["next", "observation"], expected)
    assert out["next", "reward"].shape == (3, 1) and not out["next", "done"].any()
    assert dict(program["planner"].state_dict()) == {}  # torchrl's CEM planner holds nothing


def test_mppi_keeps_its_temperature_and_advantage_module() -> None:
    text = MODEL + ("module critic = MLP(out_features=1) : observation, action -> advantage\n"
                    "actor planner = MPPIPlanner(model, critic, 2.0, 3, 2, 16, 4)\n")
    program = rldsl.compile(text)
    state = program["planner"].state_dict()
    assert float(state["temperature"]) == 2.0
    assert {name for name in state if name.startswith("advantage_module.")}
    assert program["planner"].advantage_module is program["critic"]


LINEAR = """key observation : f32[2]
key action : f32[2] in [-1.0, 1.0]
module move = MLP(out_features=2, depth=0) : observation, action -> next.observation
module score = MLP(out_features=1, num_cells=[4]) : next.observation -> next.reward
module model = ModelEnv(move, score, spec=action)
actor cem = CEMPlanner(model, planning_horizon=3, optim_steps=10, num_candidates=1000, top_k=100)
module to_go = MLP(out_features=1, num_cells=[4]) : next.reward -> advantage
actor mppi = MPPIPlanner(model, to_go, temperature=1.0, planning_horizon=3, optim_steps=10, num_candidates=1000,
                         top_k=100)
"""
TARGET = torch.tensor([3.0, -0.5])


class Distance(nn.Module):
    """The reward of the linear problem: ``-|target - next|^2``, ``[*B, 2] -> [*B, 1]``."""

    def forward(self, position: torch.Tensor) -> torch.Tensor:
        return -(TARGET.to(position) - position).pow(2).sum(-1, keepdim=True)


class RewardToGo(nn.Module):
    """An advantage without weights: the rewards summed from each step on (time is dim -2)."""

    def forward(self, reward: torch.Tensor) -> torch.Tensor:
        return reward.flip(-2).cumsum(-2).flip(-2)


def linear_program(device: str = "cpu") -> rldsl.Program:
    """The linear problem compiled from the language: next = observation + action."""
    program = rldsl.compile(LINEAR, device=device)
    with torch.no_grad():
        layer = program["move"].module[0]
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]], device=device))
        layer.bias.zero_()
    program["score"].module = Distance()
    program["to_go"].module = RewardToGo()
    return program


@pytest.mark.parametrize("planner", ["cem", "mppi"])
def test_a_compiled_planner_plans_towards_the_target(planner: str) -> None:
    torch.manual_seed(0)
    program = linear_program()
    start = torch.tensor([[0.0, 0.0], [2.8, -0.5], [5.0, 0.2]])
    action = program[planner](TensorDict(observation=start, batch_size=[3]))["action"]
    # the optimum: full speed towards the target, clipped to the action's bounds
    torch.testing.assert_close(action, (TARGET - start).clamp(-1, 1), atol=0.05, rtol=0)


def test_the_planner_is_a_policy_of_its_model_env() -> None:
    torch.manual_seed(0)
    program = linear_program()
    rollout = program["model"].rollout(5, program["cem"], tensordict=TensorDict(observation=torch.zeros(2, 2),
                                                                                 batch_size=[2]))
    torch.testing.assert_close(rollout["next", "observation"][:, -1], TARGET.expand(2, 2), atol=0.1, rtol=0)


def test_a_meta_run_has_the_checked_shapes() -> None:
    program = rldsl.compile(LINEAR.replace("num_candidates=1000", "num_candidates=32").replace("top_k=100", "top_k=4"),
                            device="meta")
    for name in ("model", "cem", "mppi"):
        out = program[name](program.spec_random_input(name, (4,)))
        for key in program.writes(name):
            value = out.get(key)
            assert value.device.type == "meta" and value.shape == (4, *program.spec(key).shape), (name, key)


# --------------------------------------------------------------------------- not a kind
def test_lm_head_operator_is_built_from_python_and_said_so() -> None:
    found = only("key observation : f32[3]\nactor a = LMHeadActorValueOperator(model=lm)\n")
    assert found.code == "E0204" and found.help == NOT_KINDS["LMHeadActorValueOperator"]
    assert "rldsl.modules.LMHeadActorValueOperator" in found.help and "rldsl.register_kind" in found.help
    assert "yet" not in found.help and found.suggestion is None
    bare = only("key observation : f32[3]\nactor a = LMHeadActorValueOperator\n")
    assert bare.code == "E0201" and bare.help == NOT_KINDS["LMHeadActorValueOperator"]


def test_the_abstract_planner_base_points_at_the_planners() -> None:
    help_, guess = unknown_kind_help("MPCPlannerBase")
    assert guess is None and "`CEMPlanner` or `MPPIPlanner`" in help_


def test_the_python_builder_writes_the_same_model() -> None:
    from rldsl.build import MLP, CEMPlanner, Model, ModelEnv

    m = Model()
    m.key("observation", "f32[4]")
    action = m.key("action", "f32[2] in [-1.0, 1.0]")
    world = m.module("world", MLP(out_features=4, num_cells=[8]), ["observation", "action"], ["next.observation"])
    reward = m.module("reward", MLP(out_features=1, num_cells=[8]), ["next.observation", "action"], ["next.reward"])
    model = m.module("model", ModelEnv(world, reward, spec=action))
    m.actor("planner", CEMPlanner(model, 3, 2, 16, 4))
    assert m.check().ok
    source = m.to_source()
    assert "module model = ModelEnv(world, reward, spec=action)\n" in source
    assert "actor planner = CEMPlanner(model, 3, 2, 16, 4)\n" in source
