"""Connected gradients (HRL-CG): the estimators of the lower level's loss in its parent's actor update.

All functions are pure given the child's networks. For a parent transition starting at s_t the parent's
fresh action a = pi_p(s_t, ctx) sets the child's goal; the child step j is drawn uniformly over all
steps of the period (including the last) and the goal at that step is g_{t+j} = goal_at(s_t, a,
s_{t+j}) (closed form of the goal transition). See docs/connected_gradients.md and the paper's Eq. 14:

    paper:     L = -mean[ r_c(s_{t+j}, g, s_{t+j+1}) + Q_c(s_{t+j}, stop_gradient(g), pi_c(s_{t+j}, g)) ]
    reference: L = -mean[ r_c(s_{t+j}, g, s_{t+j+1}) + Q_c(s_{t+j}, g, a_c from the buffer) ]
    critic:    L = -mean[ Q_c(s_{t+j}, g, pi_c(s_{t+j}, g)) ]

The parent minimises  -mean Q_p + lambda * L;  only the parent's actor variables receive its gradient.
"""

from __future__ import annotations

from typing import Tuple

import tensorflow as tf

from hierarchy.core import goals

ESTIMATORS = ("paper", "reference", "critic")


def gather_step(sequence: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """sequence[b, index[b]]: `[B, T, D], [B] -> [B, D]`."""
    return tf.gather(sequence, tf.cast(index, tf.int32), axis=1, batch_dims=1)


def child_goal(parent_action, observations, j, *, space: goals.GoalSpace) -> tf.Tensor:
    """The child's goal g_{t+j} as a differentiable function of the parent's action.

    Args:
      parent_action: `[B, goal_dim]`, the goal set at s_t.
      observations: `[B, k + 1, obs_dim]`, the child-step states s_t, ..., s_{t+k} of the period.
      j: `[B]` int, the child step.

    Returns:
      `[B, goal_dim]`.
    """
    return goals.goal_transition(observations[:, 0], parent_action, gather_step(observations, j),
                                 space=space)


def cg_terms(estimator: str, *, parent_action, observations, j, child, space: goals.GoalSpace,
             child_actions: tf.Tensor | None = None) -> Tuple[tf.Tensor | None, tf.Tensor]:
    """The two terms of the per-sample quantity the parent's actor ascends: (reward, value), `[B]`
    each; the reward term is None for the "critic" estimator, which has none.

    Args:
      estimator: one of ESTIMATORS.
      parent_action: `[B, goal_dim]`, pi_p(s_t, ctx) (differentiable).
      observations: `[B, k + 1, obs_dim]` child-step states of the period.
      j: `[B]` int in [0, n), n the number of child steps the period holds.
      child: the child `Level`.
      space: the goal space of the child's goals.
      child_actions: `[B, k, child_action_dim]` the child's actions in the buffer ("reference" only).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown connected-gradient estimator {estimator!r}; "
                         f"choose one of {ESTIMATORS}")
    state = gather_step(observations, j)
    next_state = gather_step(observations, tf.cast(j, tf.int32) + 1)
    goal = child_goal(parent_action, observations, j, space=space)
    if estimator == "critic":
        return None, child.q1(state, goal, child.policy(state, goal))
    # The child's reward, exactly as the child's critic is trained on it (reward_scale included).
    reward = child.scale_reward(goals.intrinsic_reward(state, goal, next_state, space=space))
    if estimator == "paper":
        return reward, child.q1(state, tf.stop_gradient(goal), child.policy(state, goal))
    if child_actions is None:
        raise ValueError("the 'reference' estimator needs the child's buffer actions")
    return reward, child.q1(state, goal, gather_step(child_actions, j))


def cg_objective(estimator: str, **kwargs) -> tf.Tensor:
    """The per-sample quantity the parent's actor ascends, `[B]` (its negated mean is the loss):
    the sum of `cg_terms(estimator, **kwargs)`."""
    reward, value = cg_terms(estimator, **kwargs)
    return value if reward is None else reward + value


def _pair_arguments(hierarchy, level: int, transition, draws, parent_action) -> dict:
    return dict(parent_action=parent_action, observations=transition.observations,
                j=draws.child_step, child=hierarchy.levels[level + 1], space=hierarchy.goal_space,
                child_actions=transition.child_actions)


def pair_terms(hierarchy, level: int, transition, draws, parent_action):
    """`cg_terms` of the pair (level, level + 1) of `hierarchy` on a relabelled batch of the
    parent's transitions and its update's draws, with the hierarchy's estimator."""
    return cg_terms(hierarchy.cg_estimator,
                    **_pair_arguments(hierarchy, level, transition, draws, parent_action))


def pair_objective(hierarchy, level: int, transition, draws, parent_action) -> tf.Tensor:
    """`cg_objective` of the pair (level, level + 1) of `hierarchy`, `[B]`: the sum of
    `pair_terms`."""
    return cg_objective(hierarchy.cg_estimator,
                        **_pair_arguments(hierarchy, level, transition, draws, parent_action))


def lagrangian_lambda_loss(log_lambda: tf.Variable, objective: tf.Tensor, delta: float) -> tf.Tensor:
    """Loss of the learned weight lambda = exp(w): mean(exp(w) * stop_gradient(objective - delta)).

    Minimising it lowers lambda while the child's objective (r_c + Q_c) exceeds delta and raises it
    otherwise (the reference code's "cg_delta" variant).
    """
    return tf.reduce_mean(tf.exp(log_lambda) * tf.stop_gradient(objective - delta))
