"""Goal spaces, intrinsic rewards and goal transitions: pure functions, one definition each.

Notation (docs/model.md): `I` are the goal indices of the observation; a level below the top is
conditioned on a goal g set by its parent. With relative goals g is a displacement of s[I] and is
carried between the parent's decisions by h(s, g, s') = s[I] + g - s'[I]; with absolute goals it is
kept fixed. The intrinsic reward is r(s, g, s') = -||s[I] + g - s'[I]||_2 (relative) or
-||g - s'[I]||_2 (absolute); a level's `reward_scale` multiplies it where the level is trained
(`Level.scale_reward`), never here.

h telescopes: applying it j times from (s_t, g_t) gives s_t[I] + g_t - s_{t+j}[I], so
`goal_transition(origin_state, origin_goal, state)` is also the goal after any number of
transitions, in closed form. This is what acting and the connected-gradient term use.

These functions are written with TensorFlow ops and accept numpy arrays or tensors; every user (the
critic targets, the connected-gradient term, logging) calls the same functions.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class GoalSpace:
    """Where goals live in the observation, and how they are carried.

    Attributes:
      indices: the goal indices I of the observation, length goal_dim.
      relative: relative goals (a displacement of s[I], carried by h) or absolute ones (fixed).
    """

    indices: Tuple[int, ...] = ()
    relative: bool = True

    def __post_init__(self):
        object.__setattr__(self, "indices", tuple(int(i) for i in self.indices))
        object.__setattr__(self, "relative", bool(self.relative))

    @property
    def dim(self) -> int:
        return len(self.indices)


def select(observation, space: GoalSpace) -> tf.Tensor:
    """The goal-addressed part s[I] of an observation: `[..., obs_dim] -> [..., goal_dim]`."""
    return tf.gather(tf.convert_to_tensor(observation, tf.float32), list(space.indices), axis=-1)


def goal_transition(state, goal, next_state, *, space: GoalSpace) -> tf.Tensor:
    """h(s, g, s'): the goal carried from s to s' (any number of steps apart).

    Args:
      state: `[..., obs_dim]`, s (the state where the goal was set, or any later one).
      goal: `[..., goal_dim]`, g, the goal at s.
      next_state: `[..., obs_dim]`, s'.
      space: the goal space.

    Returns:
      `[..., goal_dim]`: s[I] + g - s'[I] for relative goals, g for absolute ones.
    """
    goal = tf.convert_to_tensor(goal, tf.float32)
    if not space.relative:
        return goal
    return select(state, space) + goal - select(next_state, space)


def intrinsic_reward(state, goal, next_state, *, space: GoalSpace) -> tf.Tensor:
    """r(s, g, s') = -||target - s'[I]||_2, target = s[I] + g (relative) or g (absolute).

    Args:
      state: `[..., obs_dim]`.
      goal: `[..., goal_dim]`.
      next_state: `[..., obs_dim]`.
      space: the goal space.

    Returns:
      `[...]`, unscaled.
    """
    residual = goal_transition(state, goal, next_state, space=space)
    if not space.relative:
        residual = residual - select(next_state, space)
    # sqrt(x) has an infinite derivative at 0; the epsilon keeps the gradient finite when a goal is
    # met exactly (it changes the reward by at most 1e-6).
    return -tf.sqrt(tf.reduce_sum(tf.square(residual), axis=-1) + 1e-12)


def check_indices(space: GoalSpace, *, goal_dim: int, obs_dim: int,
                  who: str = "the goals") -> None:
    """Raises a ValueError naming the problem if `space` cannot address goals of `goal_dim` dims in
    observations of `obs_dim` dims."""
    if space.dim != goal_dim:
        raise ValueError(f"goal_indices has {space.dim} entries but {who} have {goal_dim} dims")
    bad = [g for g in space.indices if not 0 <= g < obs_dim]
    if bad:
        raise ValueError(f"goal_indices {bad} are outside the observation (dim {obs_dim})")


__all__ = ["GoalSpace", "check_indices", "goal_transition", "intrinsic_reward", "select"]
