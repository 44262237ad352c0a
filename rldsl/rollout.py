"""Rolling a compiled policy out in a gymnasium env, step by step: the loop behind ``rldsl run``.

Each step builds a tensordict of batch size ``[1]`` holding what the policy reads, calls the
policy under an exploration type without gradients (in eval mode: dropout off, batch norms on their
running statistics), and gives the env the action it wrote:

* observations go in under the policy's keys: a plain observation as ``observation``, each entry
  of a Dict observation under its own (nested) key, a top-level ``state`` entry as
  ``observation`` when there is none, as torchrl's GymEnv keys them; each is encoded with the
  spec the policy was checked with (:func:`rldsl.specs.gym.observation_from_env`: a float
  observation takes the policy's float dtype, a Discrete index its one-hot or index form);
* the action is read from ``action`` and decoded to the env's action space
  (:func:`rldsl.specs.gym.action_to_env`: one-hot or index to an integer, a box to numpy);
* ``is_init`` (torchrl's InitTracker key), when the policy reads it and the env does not give it,
  is true on the first step of each episode;
* state the policy carries (a key it reads and writes itself, or writes under ``next``, such as
  an LSTM's ``recurrent_state_h``) starts at zero in each episode, as torchrl's primers start it,
  and is moved to the next step.

The loop is reproducible: ``torch.manual_seed(seed)`` before the first step and
``env.reset(seed=seed)`` on the first episode (later episodes continue the env's generator).

Imports torch (and tensordict); :mod:`rldsl.run` imports this module only once the model has been
checked against the env.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
import torch
from gymnasium import spaces
from tensordict import TensorDict
from torch import nn

from rldsl.modules.exploration_type import ExplorationType, set_exploration_type
from rldsl.specs.gym import action_to_env, observation_from_env

__all__ = ["Episode", "Feed", "rollout"]

Path = tuple[str, ...]

#: ``--exploration`` names and the exploration types they set.
EXPLORATION = {"random": ExplorationType.RANDOM, "deterministic": ExplorationType.DETERMINISTIC}


@attrs.frozen(slots=True)
class Episode:
    """One episode: its return (the sum of rewards), its number of steps, and whether the env
    ended it (``finished``; False when the step budget ran out first)."""

    number: int
    total_reward: float
    steps: int
    finished: bool


@attrs.frozen(slots=True)
class Feed:
    """What the policy reads and how each is filled: ``observations`` from the env (the key's
    path, its runtime spec), ``is_init`` when the loop supplies it, and ``carried`` state (the key
    read, the key it is written under, its runtime spec); ``action`` is the key the action is read
    from and ``action_spec`` its runtime spec."""

    observations: tuple[tuple[Path, Any], ...]
    action: Path
    action_spec: Any
    is_init: tuple[Path, Any] | None = None
    carried: tuple[tuple[Path, Path, Any], ...] = ()


def _td_key(path: Path) -> object:
    return path[0] if len(path) == 1 else path


def _entry(value: Any, space: spaces.Space | None, name: str) -> tuple[Any, spaces.Space | None]:
    """One entry of a Dict observation and its subspace; ``observation`` reads ``state`` when the
    env has no ``observation`` entry (as torchrl's GymEnv renames it)."""
    if name not in value and name == "observation" and "state" in value:
        name = "state"
    subspace = space[name] if isinstance(space, spaces.Dict) else None
    return value[name], subspace


def observation_value(observation: Any, space: spaces.Space, path: Path) -> tuple[Any, spaces.Space | None]:
    """The part of an env observation a key's path names, with its subspace: the whole
    observation for ``("observation",)`` when it is not a Dict, else the Dict's (nested) entry."""
    if not isinstance(observation, Mapping):
        return observation, space
    value, subspace = observation, space
    for name in path:
        value, subspace = _entry(value, subspace, name)
    return value, subspace


def _batched(value: Any) -> Any:
    return value.unsqueeze(0)


def _zeros(spec: Any) -> torch.Tensor:
    return torch.zeros((1, *spec.shape), dtype=spec.dtype, device=spec.device)


class _Episode:
    """The running state of one episode: its carried keys, its first-step flag, its sums."""

    def __init__(self, feed: Feed) -> None:
        self.carried = {read: _zeros(spec) for read, _, spec in feed.carried}
        self.first = True
        self.total_reward = 0.0
        self.steps = 0


def _inputs(feed: Feed, observation: Any, space: spaces.Space, episode: _Episode, device: Any) -> TensorDict:
    """The tensordict (batch ``[1]``) the policy reads at this step."""
    td = TensorDict({}, batch_size=(1,), device=device)
    for path, spec in feed.observations:
        value, subspace = observation_value(observation, space, path)
        td.set(_td_key(path), _batched(observation_from_env(spec, value, subspace)))
    if feed.is_init is not None:
        path, spec = feed.is_init
        td.set(_td_key(path), torch.full((1, *spec.shape), episode.first, dtype=spec.dtype, device=device))
    for path, value in episode.carried.items():
        td.set(_td_key(path), value)
    return td


def _carry(feed: Feed, out: TensorDict, episode: _Episode) -> None:
    """Keep the state the policy wrote for its next step."""
    for read, written, _ in feed.carried:
        value = out.get(_td_key(written), None)
        if value is not None:
            episode.carried[read] = value


@contextmanager
def _evaluating(policy: nn.Module) -> Iterator[None]:
    """The policy in eval mode, put back in the mode it was in afterwards."""
    modes = {module: module.training for module in policy.modules()}
    policy.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.train(training)


def rollout(policy: nn.Module, feed: Feed, env: Any, *, episodes: int | None = None, steps: int | None = None,
            seed: int = 0, exploration: str = "deterministic", device: Any = "cpu",
            on_step: Callable[[], None] | None = None, on_episode: Callable[[Episode], None] | None = None,
            on_frame: Callable[[Any], None] | None = None) -> list[Episode]:
    """Run ``policy`` in ``env`` for ``episodes`` whole episodes, or for ``steps`` steps in all (the
    last episode cut short when they run out); returns every episode. ``on_step`` is called after
    each step, ``on_episode`` after each episode and ``on_frame`` with each rendered frame (after
    reset and after each step), when given."""
    if (episodes is None) == (steps is None):
        raise ValueError("rollout takes episodes= or steps=, one of them")
    done: list[Episode] = []
    budget = steps
    torch.manual_seed(seed)
    with torch.no_grad(), set_exploration_type(EXPLORATION[exploration]), _evaluating(policy):
        while (episodes is not None and len(done) < episodes) or (budget is not None and budget > 0):
            observation, _ = env.reset(seed=seed if not done else None)
            if on_frame is not None:
                on_frame(env.render())
            episode, finished = _Episode(feed), False
            while not finished and (budget is None or budget > 0):
                out = policy(_inputs(feed, observation, env.observation_space, episode, device))
                action = action_to_env(feed.action_spec, out.get(_td_key(feed.action))[0], env.action_space)
                observation, reward, terminated, truncated, _ = env.step(action)
                episode.total_reward += float(reward)
                episode.steps += 1
                episode.first = False
                finished = bool(terminated or truncated)
                _carry(feed, out, episode)
                budget = None if budget is None else budget - 1
                if on_frame is not None:
                    on_frame(env.render())
                if on_step is not None:
                    on_step()
            result = Episode(len(done) + 1, episode.total_reward, episode.steps, finished)
            done.append(result)
            if on_episode is not None:
                on_episode(result)
    return done
