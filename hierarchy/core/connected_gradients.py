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

import dataclasses
from typing import Any, Callable, Dict, FrozenSet, Tuple

import tensorflow as tf

from hierarchy.core import goals

# The optional `Transition` fields an estimator may read (every other field is always stored).
OPTIONAL_REPLAY_FIELDS = frozenset({"child_actions"})


@dataclasses.dataclass(frozen=True)
class PairBatch:
    """What an estimator reads of a parent's batch at the sampled child step j, `[B, ...]` each.

    Attributes:
      state, next_state: the child-step states s_{t+j} and s_{t+j+1}.
      goal: the child's goal g_{t+j} there, a differentiable function of the parent's action.
      child: the child `Level`.
      space: the goal space of the child's goals.
      child_action: the child's action at t+j from the buffer, for estimators that declare
        "child_actions" among their replay fields; else None.
    """

    state: tf.Tensor
    next_state: tf.Tensor
    goal: tf.Tensor
    child: Any
    space: goals.GoalSpace
    child_action: tf.Tensor | None = None


@dataclasses.dataclass(frozen=True)
class Estimator:
    """A connected-gradient estimator: its per-sample terms and the replay fields it needs.

    Attributes:
      name: the value of `Hierarchy.cg_estimator` that selects it.
      terms: `PairBatch -> (reward, value)`, `[B]` each; the reward term may be None. The parent's
        actor ascends their sum.
      replay_fields: the optional `Transition` fields it reads (`OPTIONAL_REPLAY_FIELDS`); a parent
        whose pair uses it stores them.
    """

    name: str
    terms: Callable[[PairBatch], Tuple[tf.Tensor | None, tf.Tensor]]
    replay_fields: FrozenSet[str] = frozenset()


_ESTIMATORS: Dict[str, Estimator] = {}


def register_estimator(estimator: Estimator) -> Estimator:
    """Adds an estimator to the registry (`Hierarchy(cg_estimator=estimator.name)` selects it)."""
    if estimator.name in _ESTIMATORS:
        raise ValueError(f"a connected-gradient estimator named {estimator.name!r} is registered "
                         "already")
    unknown = set(estimator.replay_fields) - OPTIONAL_REPLAY_FIELDS
    if unknown:
        raise ValueError(f"estimator {estimator.name!r} asks for replay fields {sorted(unknown)}; "
                         f"the optional fields are {sorted(OPTIONAL_REPLAY_FIELDS)}")
    _ESTIMATORS[estimator.name] = estimator
    return estimator


def estimator_names() -> Tuple[str, ...]:
    """The names of the registered estimators, in registration order."""
    return tuple(_ESTIMATORS)


def get_estimator(name: str) -> Estimator:
    """The registered estimator called `name`; a ValueError lists the registered ones."""
    try:
        return _ESTIMATORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown connected-gradient estimator {name!r}; "
                         f"choose one of {estimator_names()}") from None


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


def _child_reward(b: PairBatch) -> tf.Tensor:
    """The child's reward, exactly as the child's critic is trained on it (reward_scale included)."""
    return b.child.scale_reward(goals.intrinsic_reward(b.state, b.goal, b.next_state, space=b.space))


def _paper_terms(b: PairBatch):
    return _child_reward(b), b.child.q1(b.state, tf.stop_gradient(b.goal), b.child.policy(b.state, b.goal))


def _reference_terms(b: PairBatch):
    return _child_reward(b), b.child.q1(b.state, b.goal, b.child_action)


def _critic_terms(b: PairBatch):
    return None, b.child.q1(b.state, b.goal, b.child.policy(b.state, b.goal))


register_estimator(Estimator(name="paper", terms=_paper_terms))
register_estimator(Estimator(name="reference", terms=_reference_terms,
                             replay_fields=frozenset({"child_actions"})))
register_estimator(Estimator(name="critic", terms=_critic_terms))


def cg_terms(estimator: str, *, parent_action, observations, j, child, space: goals.GoalSpace,
             child_actions: tf.Tensor | None = None) -> Tuple[tf.Tensor | None, tf.Tensor]:
    """The two terms of the per-sample quantity the parent's actor ascends: (reward, value), `[B]`
    each; the reward term is None for an estimator without one ("critic").

    Args:
      estimator: the name of a registered estimator (`estimator_names()`).
      parent_action: `[B, goal_dim]`, pi_p(s_t, ctx) (differentiable).
      observations: `[B, k + 1, obs_dim]` child-step states of the period.
      j: `[B]` int in [0, n), n the number of child steps the period holds.
      child: the child `Level`.
      space: the goal space of the child's goals.
      child_actions: `[B, k, child_action_dim]` the child's actions in the buffer (for estimators
        whose replay fields include "child_actions", such as "reference").
    """
    chosen = get_estimator(estimator)
    child_action = None
    if "child_actions" in chosen.replay_fields:
        if child_actions is None:
            raise ValueError(f"the {estimator!r} estimator needs the child's buffer actions")
        child_action = gather_step(child_actions, j)
    batch = PairBatch(state=gather_step(observations, j),
                      next_state=gather_step(observations, tf.cast(j, tf.int32) + 1),
                      goal=child_goal(parent_action, observations, j, space=space), child=child,
                      space=space, child_action=child_action)
    return chosen.terms(batch)


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
