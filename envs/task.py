"""The task description that every environment of this package publishes.

A hierarchy needs a few facts about a task that are not visible from the gymnasium spaces: which
observation dimensions the sub-goals address and their range, the range of the context (the top
level's conditioning input, e.g. a target position), the contexts used for evaluation and what
counts as a success. Each environment defines them in exactly one place, its ``task_spec``
attribute, so that no code elsewhere needs to switch on environment names.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["SUCCESS_RULES", "TaskSpec", "achieved_context", "check_success_rule", "context_reward",
           "task_spec"]

# How an evaluation episode's success is read from the task's info["is_success"]: at the final
# step only (the paper's AntMaze metric), or at any step of the episode.
SUCCESS_RULES = ("final_step", "any_step")


def check_success_rule(rule: str, name: str = "success rule") -> str:
    """`rule` if it is one of SUCCESS_RULES; else a ValueError naming `name`."""
    if rule not in SUCCESS_RULES:
        raise ValueError(f"{name} {rule!r} is unknown; choose one of {SUCCESS_RULES}")
    return rule


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a hierarchy needs to know of a task, published by each environment.

    Attributes:
      goal_indices: indices I of the observation that sub-goals address; a sub-goal g has shape
        [len(goal_indices)] and is compared with ``observation[..., goal_indices]``.
      goal_low: lower bounds of (relative) sub-goals, shape [len(goal_indices)].
      goal_high: upper bounds of (relative) sub-goals, shape [len(goal_indices)].
      context_low: lower bounds of the context, shape [context_dim]; may be empty.
      context_high: upper bounds of the context, shape [context_dim]; may be empty.
      eval_contexts: contexts used for evaluation, each of shape [context_dim]; () if none.
      max_episode_steps: the horizon; gymnasium's TimeLimit truncates episodes there.
      success_threshold: meaning documented per environment (for the goal-reaching ones:
        success at a step is ``distance(position, context) < success_threshold``); None if the
        task has no notion of success.
      context_indices: for goal-reaching tasks whose reward is a function of the context, the
        indices J of the observation the context is a target for: the reward of a step that ends in
        s' is ``-||s'[J] - context||_2`` and a state s achieves the context ``s[J]``
        (`context_reward`); None if the reward is not such a function (e.g. gathering).
      success_rule: how evaluation reads an episode's success from info["is_success"] (one of
        SUCCESS_RULES): "final_step" (the default, the paper's metric) or "any_step".
    """

    goal_indices: tuple[int, ...]
    goal_low: tuple[float, ...]
    goal_high: tuple[float, ...]
    context_low: tuple[float, ...]
    context_high: tuple[float, ...]
    eval_contexts: tuple[tuple[float, ...], ...]
    max_episode_steps: int
    success_threshold: float | None = None
    context_indices: tuple[int, ...] | None = None
    success_rule: str = "final_step"

    def __post_init__(self):
        # Normalise to tuples of python scalars so that specs built from lists / numpy arrays
        # compare equal and stay hashable.
        def floats(name, values):
            try:
                out = tuple(float(v) for v in values)
            except TypeError as e:
                raise ValueError(
                    f"TaskSpec.{name} must be a sequence of numbers, got {values!r}"
                ) from e
            if any(math.isnan(v) for v in out):
                raise ValueError(f"TaskSpec.{name} contains NaN: {out}")
            return out

        try:
            indices = tuple(int(i) for i in self.goal_indices)
        except TypeError as e:
            raise ValueError(
                f"TaskSpec.goal_indices must be a sequence of ints, got {self.goal_indices!r}"
            ) from e
        if any(i < 0 for i in indices):
            raise ValueError(f"TaskSpec.goal_indices must be non-negative, got {indices}")
        if len(set(indices)) != len(indices):
            raise ValueError(f"TaskSpec.goal_indices must not repeat, got {indices}")
        object.__setattr__(self, "goal_indices", indices)
        for name in ("goal_low", "goal_high", "context_low", "context_high"):
            object.__setattr__(self, name, floats(name, getattr(self, name)))

        if not (len(self.goal_low) == len(self.goal_high) == len(indices)):
            raise ValueError(
                "TaskSpec: goal_indices, goal_low and goal_high must have the same length, got "
                f"{len(indices)}, {len(self.goal_low)} and {len(self.goal_high)}"
            )
        if len(self.context_low) != len(self.context_high):
            raise ValueError(
                "TaskSpec: context_low and context_high must have the same length, got "
                f"{len(self.context_low)} and {len(self.context_high)}"
            )
        for kind in ("goal", "context"):
            low, high = getattr(self, f"{kind}_low"), getattr(self, f"{kind}_high")
            bad = [i for i, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo > hi]
            if bad:
                raise ValueError(f"TaskSpec: {kind}_low > {kind}_high at positions {bad}")

        contexts = tuple(floats("eval_contexts[i]", c) for c in self.eval_contexts)
        for c in contexts:
            if len(c) != len(self.context_low):
                raise ValueError(
                    f"TaskSpec: eval context {c} has length {len(c)}, expected context dim "
                    f"{len(self.context_low)}"
                )
            bounds = zip(c, self.context_low, self.context_high, strict=True)
            if any(v < lo or v > hi for v, lo, hi in bounds):
                raise ValueError(f"TaskSpec: eval context {c} lies outside the context bounds")
        object.__setattr__(self, "eval_contexts", contexts)

        if isinstance(self.max_episode_steps, bool) or int(self.max_episode_steps) < 1:
            raise ValueError(
                f"TaskSpec.max_episode_steps must be a positive int, got {self.max_episode_steps!r}"
            )
        object.__setattr__(self, "max_episode_steps", int(self.max_episode_steps))
        if self.success_threshold is not None:
            threshold = float(self.success_threshold)
            if not threshold > 0.0:
                raise ValueError(
                    f"TaskSpec.success_threshold must be positive or None, got {threshold}"
                )
            object.__setattr__(self, "success_threshold", threshold)
        if self.context_indices is not None:
            positions = tuple(int(i) for i in self.context_indices)
            if len(positions) != self.context_dim or any(i < 0 for i in positions):
                raise ValueError(
                    f"TaskSpec.context_indices must be {self.context_dim} non-negative indices (one "
                    f"per context dimension), got {self.context_indices!r}"
                )
            object.__setattr__(self, "context_indices", positions)
        check_success_rule(self.success_rule, "TaskSpec.success_rule")

    @property
    def goal_dim(self) -> int:
        """Number of sub-goal dimensions, len(goal_indices)."""
        return len(self.goal_indices)

    @property
    def context_dim(self) -> int:
        """Number of context dimensions (0 for tasks without a context)."""
        return len(self.context_low)


def achieved_context(spec: TaskSpec, observation):
    """The context an observation achieves, s[J]: ``[..., obs_dim] -> [..., context_dim]``."""
    if spec.context_indices is None:
        raise ValueError("this task publishes no reward function of the context")
    return np.asarray(observation)[..., list(spec.context_indices)]


def context_reward(spec: TaskSpec, next_observation, context):
    """The task's reward of a step ending in `next_observation` for `context`: ``[..., obs_dim],
    [..., context_dim] -> [...]``, -||s'[J] - context||_2 (numpy).

    Raises:
      ValueError: if the task publishes no reward function of the context (no `context_indices`).
    """
    reached = achieved_context(spec, next_observation)
    return -np.sqrt(np.sum(np.square(reached - np.asarray(context)), axis=-1))


def task_spec(env) -> TaskSpec:
    """Returns the TaskSpec of `env` (a gymnasium env, possibly wrapped).

    Raises:
      TypeError: if the (unwrapped) environment publishes no TaskSpec.
    """
    inner = getattr(env, "unwrapped", env)
    spec = getattr(inner, "task_spec", None)
    if not isinstance(spec, TaskSpec):
        name = getattr(getattr(env, "spec", None), "id", None) or type(inner).__name__
        raise TypeError(
            f"Environment {name!r} publishes no TaskSpec (expected attribute `task_spec` of type "
            f"envs.TaskSpec on env.unwrapped, found {type(spec).__name__}); only the "
            "environments of the `envs` package (hierarchy/...) provide one."
        )
    return spec
