"""Building a hierarchy from an environment's specs and published goal description.

`build_hierarchy` makes N levels whose specs fit together: the top is conditioned on the context and
sets goals in the published goal space; every middle level maps goals to goals; the bottom maps goals
to environment actions. Each level is built inside the gin scope of its name (`top/`, `mid/`, `low/`,
or `flat/` for one level), so per-level hyperparameters are gin bindings such as
`low/Level.reward_scale = 0.1` (the agent builds each level's `ReplayBuffer` in the same scope:
`low/ReplayBuffer.batch_size = 256`).

Gin ignores a binding whose scope is never entered, so a misspelled scope (`tpo/Level.reward_scale`)
would silently do nothing; `check_gin_scopes` (run after building by `hierarchy.train_loop.build_agent`,
so by the training and evaluation binaries) turns such bindings into errors.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any, Dict, List, Sequence, Tuple

import gin
import numpy as np
from tf_agents.specs import tensor_spec

from envs import task as envs_task
from hierarchy import hindsight
from hierarchy.hierarchy import Hierarchy, level_names
from hierarchy.level import Level
from hierarchy.replay import ReplayBuffer


def _vector_spec(space, name: str, bounded: bool):
    """A gymnasium Box (or anything with shape/low/high) as a tf-agents float32 spec."""
    shape = tuple(space.shape)
    if len(shape) != 1:
        raise ValueError(f"{name} must be a vector, got shape {shape}")
    if bounded:
        return tensor_spec.BoundedTensorSpec(shape, np.float32, np.asarray(space.low, np.float32),
                                             np.asarray(space.high, np.float32), name=name)
    return tensor_spec.TensorSpec(shape, np.float32, name=name)


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
@gin.configurable(allowlist=["goal_indices", "goal_low", "goal_high", "num_levels", "seed"])
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
    **hierarchy_kwargs,
) -> Hierarchy:
    """N levels with matching specs, stacked into a `Hierarchy`.

    Args:
      observation_spec, context_spec, action_spec: the environment's specs.
      goal_indices, goal_low, goal_high: the goal space published by the environment (used for N > 1).
      num_levels: N >= 1; 1 is flat TD3.
      seed: base seed of the levels' initial weights (level i uses seed + 100 * i).
      **hierarchy_kwargs: passed to `Hierarchy` (periods, cg_lambda, ...); gin may bind them too.
    """
    names = level_names(num_levels)
    goal_spec = None
    if num_levels > 1:
        if goal_low is None or goal_high is None:
            raise ValueError(f"a hierarchy of {num_levels} levels needs a goal space (goal_indices, "
                             "goal_low, goal_high); the environment publishes no task_spec, so "
                             "give them to build_hierarchy")
        goal_spec = tensor_spec.BoundedTensorSpec(
            (len(goal_indices),), np.float32, np.asarray(goal_low, np.float32),
            np.asarray(goal_high, np.float32), name="goal")
    levels = []
    for i, name in enumerate(names):
        conditioning = context_spec if i == 0 else goal_spec
        out = action_spec if i == num_levels - 1 else goal_spec
        with gin.config_scope(name):
            levels.append(Level(observation_spec=observation_spec, goal_spec=conditioning,
                                action_spec=out, seed=seed + 100 * i, name=name))
    return Hierarchy(levels=levels, goal_indices=goal_indices, **hierarchy_kwargs)


def build_for_env(env, *, num_levels: int | None = None, seed: int | None = None,
                  **hierarchy_kwargs) -> Hierarchy:
    """`build_hierarchy` from an environment that publishes `task_spec` (goal indices and bounds).

    `num_levels` and `seed` left as None take `build_hierarchy`'s (possibly gin-bound) values.
    """
    observation_spec, context_spec, action_spec = specs_from_env(env)
    task = getattr(env.unwrapped, "task_spec", None)
    kwargs = {k: v for k, v in (("num_levels", num_levels), ("seed", seed)) if v is not None}
    if task is not None:
        kwargs.update(goal_indices=task.goal_indices, goal_low=task.goal_low,
                      goal_high=task.goal_high)
    hierarchy = build_hierarchy(observation_spec=observation_spec, context_spec=context_spec,
                                action_spec=action_spec, **kwargs, **hierarchy_kwargs)
    hierarchy.check_environment(observation_spec=observation_spec, context_spec=context_spec,
                                action_spec=action_spec)
    return hierarchy


def context_reward_for_env(env) -> hindsight.ContextReward | None:
    """The task's reward function of the context (`envs.task.context_reward`), for hindsight goals
    at the top level; None if the environment publishes none."""
    task = getattr(env.unwrapped, "task_spec", None)
    if getattr(task, "context_indices", None) is None:
        return None
    return hindsight.ContextReward(reward=functools.partial(envs_task.context_reward, task),
                                   achieved=functools.partial(envs_task.achieved_context, task))


# --------------------------------------------------------------------------------------------------
# Checking the scopes of gin bindings.

# The configurables built inside a level's gin scope (`Level` by `build_hierarchy`, `ReplayBuffer` by
# the `Agent`): the only ones whose bindings may be scoped. Every other one is called outside scopes.
SCOPED_CONFIGURABLES = (Level, ReplayBuffer)
# The middle levels of a hierarchy of 4 or more levels, mid1 ... mid999 (deeper is not checked).
_DEEP_MIDDLE = re.compile(r"mid([1-9][0-9]{0,2})")


def is_level_name(name: str) -> bool:
    """Whether `name` is a level's name (so a gin scope) in a hierarchy of some depth (up to 1001)."""
    middle = _DEEP_MIDDLE.fullmatch(name)
    depths = (1, 2, 3) if middle is None else (max(4, int(middle.group(1)) + 2),)
    return any(name in level_names(n) for n in depths)


def _scoped_bindings() -> Dict[Tuple[str, str], Tuple[List[str], Any]]:
    """{(scope, selector): ([parameter names], the configurable)} of every scoped binding of the
    current gin configuration, gin's own macros left out.

    Gin 0.5 has no public way to list bindings; this reads the mapping (scope, selector) ->
    {parameter: value} that it keeps in `gin.config._CONFIG` (the same object its finalize hooks are
    given, see `gin.register_finalize_hook`).
    """
    out = {}
    for (scope, selector), params in gin.config._CONFIG.items():
        if scope and not selector.startswith("gin."):
            configurable = gin.get_configurable(selector)
            out[(scope, selector)] = sorted(params), configurable
    return out


def _valid_scopes_text(names: Sequence[str]) -> str:
    return (f"the valid scopes of this {len(names)}-level hierarchy are "
            f"{', '.join(n + '/' for n in names)} (other depths: flat/ for one level; top/, mid/, low/ "
            "for three; top/, mid1/, mid2/, ..., low/ for more)")


def check_gin_scopes(names: Sequence[str]) -> List[str]:
    """Checks the scope of every scoped gin binding against a hierarchy whose levels are `names`.

    A binding of a level's configurable (`Level`) scoped by one of `names` applies. One scoped by the
    name of a level at another depth (`flat/` or `mid/` in a two-level run) is allowed but unused:
    environment files bind `top/` and `flat/` so that they serve every depth. Anything else would be
    ignored by gin without a word, and is an error.

    Returns:
      The unused bindings (e.g. `flat/Level.reward_scale`), for the caller to log.

    Raises:
      ValueError: naming every binding whose scope is not a level name of any depth (a misspelling
        such as `tpo/`), is nested (`top/low/`), or is on a configurable that is never built inside
        a level's scope (`top/Hierarchy.cg_lambda`); it lists the valid scopes.
    """
    unused, problems = [], []
    for (scope, _), (params, configurable) in sorted(_scoped_bindings().items()):
        label = getattr(configurable, "__name__", str(configurable))
        keys = ", ".join(f"{scope}/{label}.{p}" for p in params)
        if configurable not in SCOPED_CONFIGURABLES:
            problems.append(f"{keys}: {label} is never built inside a scope, so a scoped binding of "
                            f"it never applies; bind it without the '{scope}/' scope")
        elif scope in names:
            continue
        elif is_level_name(scope):
            unused.append(keys)
        else:
            problems.append(f"{keys}: '{scope}/' is not the name of a level"
                            + _suggestion(scope, names))
    if problems:
        raise ValueError(f"gin binding(s) that would be silently ignored: {'; '.join(problems)}. "
                         f"Per-level bindings are scoped by the level's name: "
                         f"{_valid_scopes_text(names)}.")
    return unused


def _suggestion(scope: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(scope, list(names) + ["flat", "top", "mid", "low"], n=1)
    return f" (did you mean '{close[0]}/'?)" if close else ""
