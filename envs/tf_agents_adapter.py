"""A tf-agents PyEnvironment view of this package's gymnasium environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from tf_agents.environments import py_environment
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

from envs.task import TaskSpec, task_spec


class TFAgentsEnv(py_environment.PyEnvironment):
    """Wraps one gymnasium env of this package (e.g. `gymnasium.make("hierarchy/AntMaze-v0")`).

    - observation_spec: {"observation": ArraySpec(float32, [obs_dim]),
      "context": ArraySpec(float32, [context_dim])}.
    - action_spec: BoundedArraySpec(float32, action shape, the Box bounds).
    - Termination (gymnasium `terminated`) gives a LAST step with discount 0; truncation (the
      TimeLimit, `truncated`) gives a LAST step with discount 1 so that it can be bootstrapped.
    - The step after a LAST step resets automatically (handle_auto_reset).
    - `reset_options` (None or a dict, e.g. {"context": [16, 0]}) is passed to every reset;
      `seed` seeds the first reset only. The latest gymnasium info is `get_info()`.
    """

    def __init__(self, env: gym.Env, seed: int | None = None, reset_options: dict | None = None):
        super().__init__(handle_auto_reset=True)
        self._env = env
        self._seed = seed
        self.reset_options = reset_options
        obs_space = env.observation_space
        if not (
            isinstance(obs_space, spaces.Dict)
            and set(obs_space.spaces) == {"observation", "context"}
            and isinstance(env.action_space, spaces.Box)
        ):
            raise TypeError(
                "TFAgentsEnv needs an env with a Dict observation space "
                "{'observation', 'context'} and a Box action space, got "
                f"{obs_space} and {env.action_space}"
            )
        self._observation_spec = {
            key: array_spec.ArraySpec(obs_space[key].shape, np.float32, name=key)
            for key in ("observation", "context")
        }
        self._action_spec = array_spec.BoundedArraySpec(
            env.action_space.shape,
            np.float32,
            minimum=env.action_space.low,
            maximum=env.action_space.high,
            name="action",
        )
        self._info: dict = {}

    @property
    def gym_env(self) -> gym.Env:
        """The wrapped gymnasium environment."""
        return self._env

    @property
    def task_spec(self) -> TaskSpec:
        """The TaskSpec of the wrapped environment."""
        return task_spec(self._env)

    def observation_spec(self):
        return self._observation_spec

    def action_spec(self):
        return self._action_spec

    def get_info(self) -> dict:
        """The gymnasium info dict of the latest reset or step."""
        return self._info

    def _convert(self, obs: dict) -> dict:
        return {key: np.asarray(obs[key], np.float32) for key in ("observation", "context")}

    def _reset(self):
        obs, self._info = self._env.reset(seed=self._seed, options=self.reset_options)
        self._seed = None  # later resets continue the env's RNG stream
        return ts.restart(self._convert(obs))

    def _step(self, action):
        obs, reward, terminated, truncated, self._info = self._env.step(
            np.asarray(action, np.float32)
        )
        obs = self._convert(obs)
        reward = np.float32(reward)
        if terminated:
            return ts.termination(obs, reward)
        if truncated:
            return ts.truncation(obs, reward, discount=np.float32(1.0))
        return ts.transition(obs, reward, discount=np.float32(1.0))

    def close(self):
        self._env.close()
