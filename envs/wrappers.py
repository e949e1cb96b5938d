"""Wrappers that give any gymnasium task the observation layout the hierarchy expects."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class NoContext(gym.ObservationWrapper):
    """Turns a flat Box observation into {"observation": obs (float32), "context": empty}.

    For standard single-goal tasks such as Pendulum-v1, so that flat TD3 (one level) trains on them.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        box = env.observation_space
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise ValueError(f"NoContext needs a flat Box observation space, got {box}")
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(box.low.astype(np.float32), box.high.astype(np.float32),
                                      dtype=np.float32),
            "context": spaces.Box(np.zeros(0, np.float32), np.zeros(0, np.float32),
                                  dtype=np.float32),
        })

    def observation(self, observation):
        return {"observation": np.asarray(observation, np.float32),
                "context": np.zeros(0, np.float32)}
