"""A tiny gymnasium env with Dict observations, for ``rldsl run`` tests (gymnasium ships none
without extra dependencies): a point on a plane pushed towards a goal.

Importing this module registers ``RldslPointDict-v0`` (``rldsl run --import-envs point_env``,
with this folder on the Python path), and ``RldslCartPoleNoVelocity-v0``: CartPole observed
through its cart position and pole angle only, for recurrent policies. The point's observation is
a nested Dict::

    {"agent": {"position": Box(-1, 1, (2,)), "velocity": Box(-inf, inf, (2,))},
     "goal": Box(-1, 1, (2,))}

and its action a force in ``Box(-1, 1, (2,))``. The reward is minus the distance to the goal;
an episode ends when the point is within 0.05 of it, or after 50 steps. ``render_mode="rgb_array"``
draws a 32x32 image with numpy (no pygame), so recording a video needs only imageio.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

ENV_ID = "RldslPointDict-v0"
PARTIAL_ID = "RldslCartPoleNoVelocity-v0"


class PointDictEnv(gymnasium.Env):
    """A point pushed towards a goal, observed through a nested Dict."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        box = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = spaces.Dict({
            "agent": spaces.Dict({"position": box, "velocity": spaces.Box(-np.inf, np.inf, (2,), np.float32)}),
            "goal": box,
        })
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.position = np.zeros(2, np.float32)
        self.velocity = np.zeros(2, np.float32)
        self.goal = np.zeros(2, np.float32)

    def _observation(self) -> dict:
        return {"agent": {"position": self.position.copy(), "velocity": self.velocity.copy()},
                "goal": self.goal.copy()}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        self.goal = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        self.velocity = np.zeros(2, np.float32)
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        force = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        self.velocity = (0.8 * self.velocity + 0.1 * force).astype(np.float32)
        self.position = np.clip(self.position + self.velocity, -1.0, 1.0).astype(np.float32)
        distance = float(np.linalg.norm(self.position - self.goal))
        return self._observation(), -distance, distance < 0.05, False, {}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        image = np.full((32, 32, 3), 255, np.uint8)
        for point, colour in ((self.goal, (0, 160, 0)), (self.position, (200, 0, 0))):
            row, column = ((1.0 - point[1]) * 15.5).astype(int), ((point[0] + 1.0) * 15.5).astype(int)
            image[max(row - 1, 0):row + 2, max(column - 1, 0):column + 2] = colour
        return image


def cartpole_without_velocities(**kwargs: object) -> gymnasium.Env:
    """CartPole-v1 observing ``[cart position, pole angle]``: a recurrent policy must remember."""
    env = gymnasium.make("CartPole-v1", **kwargs)
    low, high = env.observation_space.low[[0, 2]], env.observation_space.high[[0, 2]]
    return gymnasium.wrappers.TransformObservation(env, lambda observation: observation[[0, 2]],
                                                   spaces.Box(low, high, (2,), np.float32))


if ENV_ID not in gymnasium.envs.registry:
    gymnasium.register(id=ENV_ID, entry_point=PointDictEnv, max_episode_steps=50)
if PARTIAL_ID not in gymnasium.envs.registry:
    gymnasium.register(id=PARTIAL_ID, entry_point=cartpole_without_velocities)
