"""Building what a run needs from the gin configuration: its environments and its agent.

`make_envs_and_agent` is what the training loop and the evaluation of a saved run call: a bad
configured value, an unknown environment id or a gin scope that names no level becomes one
`ConfigurationError` with a one-paragraph message, raised before anything is written.

Makes the environment of a run from its gymnasium id, in the task form of the `envs` package.

`make_task_env(env_id, **make_kwargs)` = `gymnasium.make` (registering gymnasium-robotics' ids on
demand) followed by `envs.as_task`: our environments and flat-Box tasks come back unchanged, a
goal-conditioned ("GoalEnv"-style) task is adapted with the gin settings of `goal_task`, e.g.

    train.env_id = 'PointMaze_UMaze-v3'
    goal_task.goal_low = (-2.0, -2.0)
    goal_task.goal_high = (2.0, 2.0)
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

import gin
import gymnasium as gym
import numpy as np
from absl import logging

import envs  # registers the hierarchy/ environments
from envs.wrappers import NoContext
from hierarchy.agent.agent import Agent
from hierarchy.agent.builder import build_for_env, context_reward_for_env
from hierarchy.run import evaluation
from hierarchy.run.config import ConfigurationError, check_gin_scopes

# Raised by the environment and the agent's constructors for a bad configured value; gin re-raises
# them with the binding's configurable appended. gymnasium's errors cover unknown environment ids.
CONFIGURATION_ERRORS = (ValueError, TypeError, gym.error.Error)


def make_env(env_id: str, *, max_episode_steps: int | None = None, render_mode: str | None = None,
             **env_kwargs):
    """`gym.make(env_id, **env_kwargs)` in our task form: a goal-conditioned ("GoalEnv"-style) task
    is adapted (`hierarchy.run.assembly`), an environment without dict observations is wrapped in
    `NoContext`; ours come back as they are.

    Raises ValueError for an environment with no horizon (none registered, none given): training
    checkpoints and evaluates only between episodes, so an endless episode would never do either.
    """
    if max_episode_steps is not None and not (isinstance(max_episode_steps, (int, float, np.number))
                                              and max_episode_steps >= 1):
        raise ValueError(f"max_episode_steps must be None or an integer >= 1, got {max_episode_steps!r}")
    kwargs = dict(env_kwargs)
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = int(max_episode_steps)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = make_task_env(env_id, **kwargs)
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise ValueError(f"environment '{env_id}' registers no episode horizon: set "
                         f"train.max_episode_steps (checkpoints and evaluations happen only between "
                         f"episodes)")
    if not isinstance(env.observation_space, gym.spaces.Dict):
        env = NoContext(env)
    return env


def build_agent(env, *, seed: int, other_depths: str = "error") -> Agent:
    """A gin-configured `Agent` for `env`; depth and hyperparameters come from gin
    (`build_hierarchy.num_levels`, `Hierarchy.*`, `top/Level.*`, ..., `Agent.warmup_steps`).

    Raises ValueError for a scoped gin binding that no level of the built hierarchy would apply
    (`check_gin_scopes`: e.g. `tpo/Level.*`, or `mid2/Level.*` in a three-level run); with
    `other_depths="allow"` (a saved run's configuration) scopes of levels of other depths are logged
    instead.
    """
    agent = Agent(hierarchy=build_for_env(env, seed=seed), seed=seed,
                  context_reward=context_reward_for_env(env))
    names = [lvl.level_name for lvl in agent.hierarchy.levels]
    unused = check_gin_scopes(names, other_depths=other_depths)
    if unused:
        logging.info("Gin bindings scoped by the levels of other depths are not used by this %d-level "
                     "hierarchy (scopes %s): %s.", len(names), ", ".join(n + "/" for n in names),
                     "; ".join(unused))
    return agent


def make_envs_and_agent(env_id: str, *, max_episode_steps: int | None, seed: int, count: int,
                        render_mode: str | None = None,
                        other_depths: str = "error") -> Tuple[List[gym.Env], Agent]:
    """`count` environments and an agent built on the first (`other_depths`: see `build_agent`).

    Raises:
      ConfigurationError: a configuration error (bad value, unknown environment id, misspelled
        scope, unknown success rule), with the environments made so far closed.
    """
    made = []
    try:
        for _ in range(count):
            made.append(make_env(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode))
        agent = build_agent(made[0], seed=seed, other_depths=other_depths)
        evaluation.configured_success_rule(made[0])   # a bad success_rule.override fails here
    except BaseException as e:
        for env in made:
            env.close()
        if isinstance(e, CONFIGURATION_ERRORS):
            raise ConfigurationError(f"the configuration cannot be built: {one_paragraph(e)}") from e
        raise
    return made, agent


_GIN_OBJECT_REPR = re.compile(r" \(<(?:function|class) [^>]*>\)")


def one_paragraph(error: BaseException) -> str:
    """The message of `error` on one line: its first line, then the context gin appends on lines of
    their own ("In call to configurable 'Level' in scope 'top'") in parentheses."""
    lines = [" ".join(line.split()) for line in _GIN_OBJECT_REPR.sub("", str(error)).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(error).__name__
    context = "; ".join(line[:1].lower() + line[1:] for line in lines[1:])
    return f"{lines[0]} ({context})" if context else lines[0]



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
