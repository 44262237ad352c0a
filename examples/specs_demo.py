"""The spec demo: read two gymnasium environments' specs, then sample, project and check.

    python examples/specs_demo.py

For Pendulum-v1 (a continuous action in [-2, 2]) a raw network output is projected into
the action box; for CartPole-v1 (two discrete actions) Q-values become a one-hot action,
with and without an action mask. Each projected action is stepped in the real env.
"""

from __future__ import annotations

import gymnasium as gym
import torch

from rldsl.specs import action_to_env, env_specs


def rounded(values: torch.Tensor) -> list:
    """A tensor as a list of numbers with 4 decimals (float32 noise hidden)."""
    return [round(float(v), 4) for v in values.reshape(-1)]


def show(name: str, value: object) -> None:
    print(f"  {name:<28} {value}")


def pendulum() -> None:
    specs = env_specs("Pendulum-v1")
    print("Pendulum-v1")
    show("observation spec", specs.observation["observation"])
    show("action spec", specs.action)
    raw = torch.tensor([[3.7], [-0.4], [-12.0]])
    projected = specs.action.project(raw)
    show("raw network output", rounded(raw))
    show("projected into [-2, 2]", rounded(projected))
    show("projection is in the spec", specs.action.is_in(projected))
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    _, reward, *_ = env.step(action_to_env(specs.action, projected[0], env.action_space))
    show("env.step reward", round(float(reward), 4))
    env.close()


def cartpole() -> None:
    specs = env_specs("CartPole-v1")
    print("CartPole-v1")
    show("action spec", specs.action)
    q_values = torch.tensor([0.3, 1.2])
    show("Q-values", rounded(q_values))
    show("greedy action (one-hot)", specs.action.project(q_values).tolist())
    masked = specs.action.clone()
    masked.update_mask(torch.tensor([True, False]))
    show("with action 1 masked out", masked.project(q_values).tolist())
    show("10 random allowed actions", masked.rand((10,)).argmax(-1).tolist())
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    observation, *_ = env.step(action_to_env(specs.action, masked.project(q_values), env.action_space))
    show("next observation", rounded(torch.as_tensor(observation)))
    env.close()


if __name__ == "__main__":
    torch.manual_seed(0)
    pendulum()
    cartpole()
