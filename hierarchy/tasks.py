"""Makes the environment of a run from its gymnasium id, in the task form of the `envs` package.

`make_task_env(env_id, **make_kwargs)` = `gymnasium.make` (registering gymnasium-robotics' ids on
demand) followed by `envs.as_task`: our environments and flat-Box tasks come back unchanged, a
goal-conditioned ("GoalEnv"-style) task is adapted with the gin settings of `goal_task`, e.g.

    train.env_id = 'PointMaze_UMaze-v3'
    goal_task.goal_low = (-2.0, -2.0)
    goal_task.goal_high = (2.0, 2.0)
"""

from __future__ import annotations

from typing import Sequence

import gin
import gymnasium as gym

import envs


@gin.configurable(denylist=["env"])
def goal_task(env: gym.Env, *, goal_low: Sequence[float] | None = None,
              goal_high: Sequence[float] | None = None, context_low: Sequence[float] | None = None,
              context_high: Sequence[float] | None = None,
              eval_contexts: Sequence[Sequence[float]] = (),
              success_threshold: float | None = None) -> gym.Env:
    """`envs.as_task(env, ...)` with these settings (see `envs.GoalTask` for their meaning)."""
    return envs.as_task(env, goal_low=goal_low, goal_high=goal_high, context_low=context_low,
                        context_high=context_high, eval_contexts=tuple(eval_contexts),
                        success_threshold=success_threshold)


def make_task_env(env_id: str, **make_kwargs) -> gym.Env:
    """`gymnasium.make(env_id, **make_kwargs)` in our task form (see the module docstring); the
    made environment is closed if it cannot be adapted."""
    env = gym.make(envs.ensure_registered(env_id), **make_kwargs)
    try:
        return goal_task(env)
    except BaseException:
        env.close()
        raise
