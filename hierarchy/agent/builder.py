"""Building a hierarchy from an environment's specs and published goal description.

`build_hierarchy` makes N levels whose specs fit together: the top is conditioned on the context and
sets goals in the published goal space; every middle level maps goals to goals; the bottom maps goals
to environment actions. Each level is built inside the gin scope of its name (`level_names`: `top/`,
`mid1/`, ..., `low/`, or `flat/` for one level; a name means the same level at every depth), so
per-level hyperparameters are gin bindings such as `low/Level.tau = 0.01` (the agent builds each
level's `ReplayBuffer` in the same scope: `low/ReplayBuffer.batch_size = 256`).

The task's reward reaches one level, the top (the one level of a flat run); its scale is
`task_reward_scale`, which every environment file binds, so it holds at every depth. Any level's
scale can also be given by name (`reward_scales={"low": 2.0}`), from code or gin.

Gin ignores a binding whose scope is never entered, so a misspelled scope (`tpo/Level.reward_scale`)
or one of a level the run does not have (`mid2/` in a three-level run) would silently do nothing;
`hierarchy.run.config.check_gin_scopes` (run after building by `hierarchy.run.assembly.build_agent`,
so by the training and evaluation binaries) turns such bindings into errors.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import gin

from envs import hooks
from envs import task as envs_task
from hierarchy.core import relabelling, specs
from hierarchy.core.level import Level
from hierarchy.core.stack import Hierarchy, level_names


def _vector_spec(space, name: str, bounded: bool):
    """A gymnasium Box (or anything with shape/low/high) as a float32 spec (`hierarchy.core.specs`)."""
    shape = tuple(space.shape)
    if len(shape) != 1:
        raise ValueError(f"{name} must be a vector, got shape {shape}")
    if bounded:
        return specs.bounded_spec(shape, space.low, space.high, name=name)
    return specs.vector_spec(shape[0], name=name)


def specs_from_env(env):
    """(observation_spec, context_spec, action_spec) of an environment whose observation space is a
    Dict with "observation" and "context" Boxes and whose action space is a Box."""
    space = env.observation_space
    try:
        obs_space, ctx_space = space["observation"], space["context"]
    except (KeyError, TypeError):
        raise ValueError("the environment's observation space must be a Dict with 'observation' and "
                         f"'context' entries, got {space}") from None
    return (_vector_spec(obs_space, "observation", bounded=False),
            _vector_spec(ctx_space, "context", bounded=True),
            _vector_spec(env.action_space, "action", bounded=True))


# The allowlist makes gin reject a misspelled binding such as `build_hierarchy.num_level` when the
# config is parsed (a **kwargs function would otherwise accept any name); bind `Hierarchy.*` for
# the pair settings.
@gin.configurable(allowlist=["goal_indices", "goal_low", "goal_high", "num_levels", "seed",
                             "task_reward_scale", "reward_scales"])
def build_hierarchy(
    *,
    observation_spec,
    context_spec,
    action_spec,
    goal_indices: Sequence[int] = (),
    goal_low: Sequence[float] | None = None,
    goal_high: Sequence[float] | None = None,
    num_levels: int = 2,
    seed: int = 0,
    task_reward_scale: float | None = None,
    reward_scales: Mapping[str, float] | None = None,
    **hierarchy_kwargs,
) -> Hierarchy:
    """N levels with matching specs, stacked into a `Hierarchy`.

    Args:
      observation_spec, context_spec, action_spec: the environment's specs.
      goal_indices, goal_low, goal_high: the goal space published by the environment (used for N > 1).
      num_levels: N >= 1; 1 is flat TD3.
      seed: base seed of the levels' initial weights (level i uses seed + 100 * i).
      task_reward_scale: the reward scale of the level that receives the task's reward (the top,
        or the one level of a flat run); None leaves it to `Level.reward_scale` (default 1).
      reward_scales: {level name: reward scale} for any levels, e.g. {"top": 0.1, "low": 2.0};
        a name this depth does not have is an error. The top's entry and `task_reward_scale`
        cannot both be given, and neither can a scale given here and a gin binding of that level's
        `Level.reward_scale`.
      **hierarchy_kwargs: passed to `Hierarchy` (periods, cg_lambda, ...); gin may bind them too.
    """
    names = level_names(num_levels)
    scales = _reward_scales(names, task_reward_scale, reward_scales)
    goal_spec = None
    if num_levels > 1:
        if goal_low is None or goal_high is None:
            raise ValueError(f"a hierarchy of {num_levels} levels needs a goal space (goal_indices, "
                             "goal_low, goal_high); the environment publishes no task_spec, so "
                             "give them to build_hierarchy")
        goal_spec = specs.bounded_spec((len(goal_indices),), goal_low, goal_high, name="goal")
    levels = []
    for i, name in enumerate(names):
        conditioning = context_spec if i == 0 else goal_spec
        out = action_spec if i == num_levels - 1 else goal_spec
        with gin.config_scope(name):
            extra = {}
            if name in scales:
                if "reward_scale" in gin.get_bindings(Level):
                    raise ValueError(f"the reward scale of level '{name}' is given twice: by "
                                     f"{scales[name][1]} and by the gin binding "
                                     f"Level.reward_scale (scoped '{name}/' or unscoped); keep one")
                extra["reward_scale"] = scales[name][0]
            levels.append(Level(observation_spec=observation_spec, goal_spec=conditioning,
                                action_spec=out, seed=seed + 100 * i, name=name, **extra))
    return Hierarchy(levels=levels, goal_indices=goal_indices, **hierarchy_kwargs)


def _reward_scales(names, task_reward_scale, reward_scales):
    """{level name: (scale, where it was given)} of the levels whose scale is given, checked."""
    scales = {}
    for name, scale in (reward_scales or {}).items():
        if name not in names:
            raise ValueError(f"reward_scales names level '{name}', but this {len(names)}-level "
                             f"hierarchy's levels are {names}")
        scales[name] = (float(scale), f"reward_scales['{name}']")
    if task_reward_scale is not None:
        if names[0] in scales:
            raise ValueError(f"the top level's reward scale is given twice: by task_reward_scale "
                             f"and by reward_scales['{names[0]}']; keep one")
        scales[names[0]] = (float(task_reward_scale), "task_reward_scale")
    return scales


def build_for_env(env, *, num_levels: int | None = None, seed: int | None = None,
                  **hierarchy_kwargs) -> Hierarchy:
    """`build_hierarchy` from an environment that publishes `task_spec` (goal indices and bounds).

    `num_levels` and `seed` left as None take `build_hierarchy`'s (possibly gin-bound) values.
    """
    observation_spec, context_spec, action_spec = specs_from_env(env)
    task = hooks.published_task_spec(env)
    kwargs = {k: v for k, v in (("num_levels", num_levels), ("seed", seed)) if v is not None}
    if task is not None:
        kwargs.update(goal_indices=task.goal_indices, goal_low=task.goal_low,
                      goal_high=task.goal_high)
    hierarchy = build_hierarchy(observation_spec=observation_spec, context_spec=context_spec,
                                action_spec=action_spec, **kwargs, **hierarchy_kwargs)
    hierarchy.check_environment(observation_spec=observation_spec, context_spec=context_spec,
                                action_spec=action_spec)
    return hierarchy


def context_reward_for_env(env) -> relabelling.ContextReward | None:
    """The task's reward function of the context, for hindsight goals at the top level; None if the
    environment publishes none.

    One of ours publishes it as `TaskSpec.context_indices` (`envs.task.context_reward`); an adapted
    goal-conditioned task (`envs.GoalTask`) has it when the task it wraps has `compute_reward`: the
    achieved context is the observation's appended achieved goal, and the reward is the task's own
    `compute_reward` on it (`GoalTask.context_reward`).
    """
    inner = env.unwrapped
    task = hooks.published_task_spec(env)
    if task is not None and task.context_indices is not None:
        return relabelling.ContextReward(reward=functools.partial(envs_task.context_reward, task),
                                       achieved=functools.partial(envs_task.achieved_context, task))
    if isinstance(inner, hooks.HasContextReward) and inner.has_context_reward:
        return relabelling.ContextReward(reward=inner.context_reward, achieved=inner.achieved_context)
    return None
