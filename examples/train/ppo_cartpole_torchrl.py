"""PPO on CartPole-v1 with torchrl's collector, GAE and clipped loss, the model compiled from ppo_cartpole.rlm.

    pip install 'rldsl[torchrl]'
    python examples/train/ppo_cartpole_torchrl.py --frames 50000 --seed 0 --out ppo_cartpole.rlmz
    rldsl run ppo_cartpole.rlmz --env CartPole-v1 --episodes 5

The compiled ``policy`` (a ``ProbabilisticActor`` over a ``OneHotCategorical``, writing
``action_log_prob``) and ``critic`` (a ``ValueOperator`` writing ``state_value``) go into torchrl
as they are: the collector samples from the policy (it sets the ``random`` exploration type),
``GAE`` writes ``advantage`` and ``value_target`` with the critic, ``ClipPPOLoss`` compares the
policy's log-prob with the one stored while collecting.
"""

from __future__ import annotations

import argparse
import pathlib
from dataclasses import dataclass, field

import torch
from torchrl.collectors import Collector
from torchrl.envs import GymEnv, RewardSum, TransformedEnv
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

import rldsl

MODEL = pathlib.Path(__file__).with_name("ppo_cartpole.rlm")


@dataclass
class Result:
    """What :func:`train` leaves: the trained program and the history."""

    program: rldsl.Program
    returns: list[float] = field(default_factory=list)   # mean return of the episodes ended in each batch
    losses: list[float] = field(default_factory=list)    # one per update


def make_env(seed: int) -> TransformedEnv:
    """CartPole-v1 (one-hot actions, as the model's ``action : onehot(2)``), summing each episode's reward."""
    env = TransformedEnv(GymEnv("CartPole-v1"), RewardSum())
    env.set_seed(seed)
    return env


def train(frames: int, seed: int = 0, *, frames_per_batch: int = 1000, epochs: int = 10, minibatch: int = 100,
          lr: float = 3e-4, gamma: float = 0.99, lmbda: float = 0.95, log=print) -> Result:
    """Collect ``frames`` env steps in batches of ``frames_per_batch``; after each batch, ``epochs``
    passes of clipped-PPO updates over shuffled minibatches of ``minibatch`` steps."""
    torch.manual_seed(seed)
    program = rldsl.compile(MODEL, seed=seed)
    policy, critic = program["policy"], program["critic"]
    collector = Collector(make_env(seed), policy, frames_per_batch=frames_per_batch, total_frames=frames,
                          auto_register_policy_transforms=False)   # this policy needs no is_init
    advantage = GAE(gamma=gamma, lmbda=lmbda, value_network=critic, average_gae=True)
    loss_module = ClipPPOLoss(policy, critic, clip_epsilon=0.2, entropy_coeff=0.01, critic_coeff=0.5,
                              loss_critic_type="smooth_l1")
    optimiser = torch.optim.Adam(loss_module.parameters(), lr=lr)
    batches = max(1, frames // frames_per_batch)   # the learning rate decays linearly to 0 over them
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda batch: 1.0 - batch / batches)
    result, collected = Result(program), 0
    for batch in collector:
        collected += batch.numel()
        with torch.no_grad():
            advantage(batch)   # writes advantage and value_target with the current critic
        steps = batch.reshape(-1)
        for _ in range(epochs):
            for indices in torch.randperm(steps.numel()).split(minibatch):
                losses = loss_module(steps[indices])
                loss = losses["loss_objective"] + losses["loss_critic"] + losses["loss_entropy"]
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(loss_module.parameters(), 1.0)
                optimiser.step()
                result.losses.append(loss.item())
        schedule.step()
        ended = batch["next", "done"]
        if ended.any():
            result.returns.append(batch["next", "episode_reward"][ended].mean().item())
            log(f"frames {collected:6d}  mean return {result.returns[-1]:6.1f}  loss {result.losses[-1]:.3f}")
    collector.shutdown()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000, help="env steps to train for")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ppo_cartpole.rlmz", help="where to save the trained model")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)   # small networks: one thread is fastest (several fight over the cores)
    result = train(args.frames, args.seed)
    result.program.save(args.out)
    print(f"saved {args.out}; roll it out with: rldsl run {args.out} --env CartPole-v1")


if __name__ == "__main__":
    main()
