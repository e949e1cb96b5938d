"""Intrinsic rewards and goal transitions: pure functions, one definition each.

Notation (DESIGN.md section 1): `I` are the goal indices of the observation; a level below the top is
conditioned on a goal g set by its parent. With relative goals g is a displacement of s[I] and is
carried between the parent's decisions by h(s, g, s') = s[I] + g - s'[I]; with absolute goals it is
kept fixed. The intrinsic reward is r(s, g, s') = -scale * ||s[I] + g - s'[I]||_2 (relative) or
-scale * ||g - s'[I]||_2 (absolute).

These functions are written with TensorFlow ops and accept numpy arrays or tensors; every user (the
critic targets, the connected-gradient term, logging) calls the same functions.
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def select(observation, goal_indices: Sequence[int]) -> tf.Tensor:
    """The goal-addressed part s[I] of an observation.

    Args:
      observation: `[..., obs_dim]`.
      goal_indices: the indices I, length goal_dim.

    Returns:
      `[..., goal_dim]`.
    """
    return tf.gather(tf.convert_to_tensor(observation, tf.float32), list(goal_indices), axis=-1)


def goal_transition(state, goal, next_state, *, goal_indices: Sequence[int],
                    relative: bool = True) -> tf.Tensor:
    """h(s, g, s'): the goal carried from s to s' between two decisions of the parent.

    Args:
      state: `[..., obs_dim]`, s.
      goal: `[..., goal_dim]`, g.
      next_state: `[..., obs_dim]`, s'.
      goal_indices: I.
      relative: relative goals (h = s[I] + g - s'[I]) or absolute ones (h = g).

    Returns:
      `[..., goal_dim]`.
    """
    goal = tf.convert_to_tensor(goal, tf.float32)
    if not relative:
        return goal
    return select(state, goal_indices) + goal - select(next_state, goal_indices)


def goal_at(origin_state, origin_goal, state, *, goal_indices: Sequence[int],
            relative: bool = True) -> tf.Tensor:
    """The goal after any number of transitions, in closed form.

    h telescopes: applying it j times from (s_t, g_t) gives s_t[I] + g_t - s_{t+j}[I], which depends only
    on the origin and the current state. This is what the connected-gradient term differentiates.

    Args:
      origin_state: `[..., obs_dim]`, s_t, where the parent set the goal.
      origin_goal: `[..., goal_dim]`, g_t, the goal the parent set.
      state: `[..., obs_dim]`, s_{t+j}.

    Returns:
      `[..., goal_dim]`, g_{t+j}.
    """
    return goal_transition(origin_state, origin_goal, state, goal_indices=goal_indices,
                           relative=relative)


def intrinsic_reward(state, goal, next_state, *, goal_indices: Sequence[int],
                     relative: bool = True, scale: float = 1.0) -> tf.Tensor:
    """r(s, g, s') = -scale * ||target - s'[I]||_2, target = s[I] + g (relative) or g (absolute).

    Args:
      state: `[..., obs_dim]`.
      goal: `[..., goal_dim]`.
      next_state: `[..., obs_dim]`.
      scale: multiplies the negative distance.

    Returns:
      `[...]`.
    """
    residual = goal_transition(state, goal, next_state, goal_indices=goal_indices, relative=relative)
    if not relative:
        residual = residual - select(next_state, goal_indices)
    # sqrt(x) has an infinite derivative at 0; the epsilon keeps the gradient finite when a goal is
    # met exactly (it changes the reward by at most 1e-6).
    return -scale * tf.sqrt(tf.reduce_sum(tf.square(residual), axis=-1) + 1e-12)
