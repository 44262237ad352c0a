"""SAC on Pendulum-v1 in plain torch, with the policy and critics compiled from sac_pendulum.rlm.

    python examples/train/sac_pendulum.py --frames 10000 --seed 0 --out sac_pendulum.rlmz
    rldsl run sac_pendulum.rlmz --env Pendulum-v1 --episodes 5

No RL library: a replay buffer of tensors, twin Q critics with Polyak-averaged target copies, the
tanh-normal policy's reparameterised sample and log-prob (``action_log_prob``, written by the
``ProbabilisticActor`` under the ``random`` exploration type), and a temperature tuned so that the
policy's entropy stays near ``-action_dim``. The trained program is saved with ``program.save``.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
from dataclasses import dataclass, field

import gymnasium as gym
import torch
from tensordict import TensorDict

import rldsl
from rldsl.modules import set_exploration_type

MODEL = pathlib.Path(__file__).with_name("sac_pendulum.rlm")


class ReplayBuffer:
    """A ring of preallocated tensors; ``sample`` draws a uniform batch of stored transitions."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int) -> None:
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.data = TensorDict({
            "observation": torch.zeros(capacity, obs_dim),
            "action": torch.zeros(capacity, action_dim),
            "reward": torch.zeros(capacity, 1),
            "next_observation": torch.zeros(capacity, obs_dim),
            "terminated": torch.zeros(capacity, 1),
        }, batch_size=[capacity])

    def add(self, transition: TensorDict) -> None:
        self.data[self.cursor] = transition
        self.cursor = (self.cursor + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> TensorDict:
        return self.data[torch.randint(self.size, (batch_size,))]


@dataclass
class Result:
    """What :func:`train` leaves: the trained program, the temperature, and the history."""

    program: rldsl.Program
    log_alpha: torch.Tensor
    returns: list[float] = field(default_factory=list)   # one per finished episode
    losses: list[dict[str, float]] = field(default_factory=list)   # one per update


def act(policy: torch.nn.Module, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A sampled action and its log-probability, differentiable (reparameterised) in the policy."""
    with set_exploration_type("random"):
        out = policy(TensorDict({"observation": observation}, batch_size=observation.shape[:-1]))
    return out["action"], out["action_log_prob"]


def q_value(critic: torch.nn.Module, observation: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """The critic's ``state_action_value`` of a batch of observations and actions."""
    td = TensorDict({"observation": observation, "action": action}, batch_size=observation.shape[:-1])
    return critic(td)["state_action_value"]


def update(batch: TensorDict, policy, critics, targets, log_alpha, optimisers, *,
           gamma: float, tau: float, target_entropy: float) -> dict[str, float]:
    """One SAC step: the critics towards the soft Bellman target, then the policy, then alpha."""
    alpha = log_alpha.exp().detach()
    with torch.no_grad():
        next_action, next_log_prob = act(policy, batch["next_observation"])
        next_q = torch.min(*(q_value(t, batch["next_observation"], next_action) for t in targets))
        soft_value = next_q - alpha * next_log_prob.unsqueeze(-1)
        target = batch["reward"] + gamma * (1.0 - batch["terminated"]) * soft_value
    critic_loss = sum(((q_value(q, batch["observation"], batch["action"]) - target) ** 2).mean() for q in critics)
    optimisers["critic"].zero_grad()
    critic_loss.backward()
    optimisers["critic"].step()

    action, log_prob = act(policy, batch["observation"])
    q = torch.min(*(q_value(c, batch["observation"], action) for c in critics))
    actor_loss = (alpha * log_prob.unsqueeze(-1) - q).mean()
    optimisers["actor"].zero_grad()
    actor_loss.backward()
    optimisers["actor"].step()

    alpha_loss = -(log_alpha * (log_prob.detach() + target_entropy)).mean()
    optimisers["alpha"].zero_grad()
    alpha_loss.backward()
    optimisers["alpha"].step()

    with torch.no_grad():   # Polyak averaging of the target critics
        for critic, target_critic in zip(critics, targets):
            for p, p_target in zip(critic.parameters(), target_critic.parameters()):
                p_target.lerp_(p, tau)
    return {"critic": critic_loss.item(), "actor": actor_loss.item(), "alpha": alpha_loss.item()}


def train(frames: int, seed: int = 0, *, warmup: int = 1000, batch_size: int = 256, lr: float = 3e-4,
          gamma: float = 0.99, tau: float = 0.005, log=print) -> Result:
    """Run SAC for ``frames`` env steps: ``warmup`` random actions first, then one update a step."""
    torch.manual_seed(seed)
    program = rldsl.compile(MODEL, seed=seed)
    policy, critics = program["policy"], [program["qvalue1"], program["qvalue2"]]
    targets = [copy.deepcopy(critic).requires_grad_(False) for critic in critics]
    log_alpha = torch.zeros((), requires_grad=True)
    optimisers = {"actor": torch.optim.Adam(policy.parameters(), lr=lr),
                  "critic": torch.optim.Adam([p for c in critics for p in c.parameters()], lr=lr),
                  "alpha": torch.optim.Adam([log_alpha], lr=lr)}
    env = gym.make("Pendulum-v1")
    env.action_space.seed(seed)
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    buffer = ReplayBuffer(frames, obs_dim, action_dim)
    result = Result(program, log_alpha)
    observation, _ = env.reset(seed=seed)
    episode_return = 0.0
    for frame in range(frames):
        obs = torch.as_tensor(observation, dtype=torch.float32)
        if frame < warmup:
            action = torch.as_tensor(env.action_space.sample())
        else:
            with torch.no_grad():
                action = act(policy, obs)[0]
        observation, reward, terminated, truncated, _ = env.step(action.numpy())
        episode_return += float(reward)
        buffer.add(TensorDict({"observation": obs, "action": action, "reward": torch.tensor([reward]),
                               "next_observation": torch.as_tensor(observation, dtype=torch.float32),
                               "terminated": torch.tensor([float(terminated)])}, batch_size=[]))
        if frame >= warmup and buffer.size >= batch_size:
            result.losses.append(update(buffer.sample(batch_size), policy, critics, targets, log_alpha,
                                        optimisers, gamma=gamma, tau=tau, target_entropy=-float(action_dim)))
        if terminated or truncated:
            result.returns.append(episode_return)
            log(f"frames {frame + 1:6d}  episode {len(result.returns):3d}  return {episode_return:8.1f}  "
                f"alpha {log_alpha.exp().item():.3f}")
            observation, _ = env.reset()
            episode_return = 0.0
    env.close()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="env steps to train for")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="sac_pendulum.rlmz", help="where to save the trained model")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)   # small networks: one thread is fastest (several fight over the cores)
    result = train(args.frames, args.seed)
    result.program.save(args.out)
    print(f"saved {args.out}; roll it out with: rldsl run {args.out} --env Pendulum-v1")


if __name__ == "__main__":
    main()
