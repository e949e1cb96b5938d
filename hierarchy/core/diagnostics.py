"""Diagnostics of a hierarchy's updates: how much of a parent's actor update is connected gradient.

A parent level with connected gradients descends  -mean Q_p(s, g, pi_p(s, g)) + lambda * L_cg
(`Hierarchy.actor_gradients`). `actor_gradient_parts` splits that gradient into its TD3 part and its
weighted connected-gradient part on one batch, and `gradient_statistics` compares the two: their
norms, the ratio of the norms, and the cosine between them. A ratio far below 1 says lambda is too
small for the term to move the parent's policy; a cosine near -1 says the two objectives pull
against each other. `action_gradient_parts` and `action_statistics` look at the same two terms one
step earlier, as gradients with respect to the parent's action (the child's goal), per sample, with
the connected-gradient term split into its reward and value terms (`connected_gradients.cg_terms`): which
term of the estimator carries the gradient, and where it moves the goal. `benchmarks/analysis/cg_gradients.py`
reports both for trained runs. `child_actor_path` opens Eq. 14's value term further: the child
critic's slope in its action and the child policy's slope in its goal, whose product it is, and how
often the child's actions sit at their bounds. `parent_goals` and `goal_statistics` measure the
goals any parent level sets (with or without connected gradients), so that HRL's goals can be set
beside HRL-CG's.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np
import tensorflow as tf

from hierarchy.agent.replay import Draws, Transition
from hierarchy.core import connected_gradients


@dataclasses.dataclass
class GradientParts:
    """A parent's actor gradient in two parts, each aligned with the level's actor variables.

    Attributes:
      td3: gradient of -mean Q_p(s, g, pi_p(s, g)), the parent's own TD3 actor loss.
      cg: gradient of lambda * L_cg, the weighted connected-gradient loss its child contributes.
    """

    td3: List[tf.Tensor]
    cg: List[tf.Tensor]


def as_tensors(record):
    """A `Transition` or `Draws` of numpy arrays (e.g. `StepInputs` views) as one of tensors;
    fields that are None stay None."""
    return dataclasses.replace(record, **{
        f.name: None if getattr(record, f.name) is None else tf.convert_to_tensor(getattr(record, f.name))
        for f in dataclasses.fields(record)})


def actor_gradient_parts(hierarchy, level: int, transition: Transition, draws: Draws) -> GradientParts:
    """Level `level`'s actor gradient on one batch, split into its TD3 and connected-gradient parts.

    The batch is relabelled first, as the update relabels it, so `td3 + cg` is exactly the gradient
    `Hierarchy.actor_gradients` returns for the same batch and draws.

    Raises:
      ValueError: the level receives no connected-gradient term (the bottom level, or lambda 0).
    """
    parent, transition, state, goal = _relabelled_parent_batch(hierarchy, level, transition, draws)
    _, _, td3 = parent.actor_gradients(state, goal)
    variables = parent.actor.trainable_variables
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(variables)
        objective = connected_gradients.pair_objective(hierarchy, level, transition, draws,
                                             parent.policy(state, goal))
        weighted = -hierarchy.cg_lambda_value(level) * tf.reduce_mean(objective)
    return GradientParts(td3=list(td3), cg=list(tape.gradient(weighted, variables)))


@dataclasses.dataclass
class ActionGradients:
    """Per-sample gradients with respect to the parent's action a = pi_p(s, g), `[B, goal_dim]` each.

    Attributes:
      action: a itself.
      td3: dQ_p(s, g, a) / da, what the parent's TD3 actor update ascends.
      reward: lambda * d r_c / da, the estimator's reward term (zeros for "critic", which has none).
      value: lambda * d V_c / da, the estimator's value term (`connected_gradients.cg_terms`).
    """

    action: np.ndarray
    td3: np.ndarray
    reward: np.ndarray
    value: np.ndarray


def action_gradient_parts(hierarchy, level: int, transition: Transition,
                          draws: Draws) -> ActionGradients:
    """Level `level`'s two actor objectives differentiated in its action, per sample, on one batch
    relabelled as the update relabels it.

    Raises:
      ValueError: the level receives no connected-gradient term (the bottom level, or lambda 0).
    """
    parent, transition, state, goal = _relabelled_parent_batch(hierarchy, level, transition, draws)
    action = parent.policy(state, goal)
    lam = hierarchy.cg_lambda_value(level)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(action)
        q = parent.q1(state, goal, action)
        reward, value = connected_gradients.pair_terms(hierarchy, level, transition, draws, action)
    # Each sample's terms depend on its own action only, so these are per-sample gradients.
    d_reward = (tf.zeros_like(action) if reward is None
                else lam * tape.gradient(reward, action, unconnected_gradients="zero"))
    d_value = lam * tape.gradient(value, action, unconnected_gradients="zero")
    td3 = tape.gradient(q, action)
    del tape
    return ActionGradients(action=action.numpy(), td3=td3.numpy(), reward=d_reward.numpy(),
                           value=d_value.numpy())


@dataclasses.dataclass
class ChildActorPath:
    """The child's side of Eq. 14's value term, per sample at the drawn child step:
    dV_c/dg = dQ_c(s, g, a_c)/da_c . da_c/dg at a_c = pi_c(s, g).

    Attributes:
      critic_gradient: `[B, child_action_dim]`, dQ_c/da_c.
      policy_jacobian: `[B, child_action_dim, goal_dim]`, da_c/dg.
      saturated: `[B]`, the fraction of the child's action components within 1% of the action
        range of a bound (where a tanh policy's slope vanishes).
    """

    critic_gradient: np.ndarray
    policy_jacobian: np.ndarray
    saturated: np.ndarray


def child_actor_path(hierarchy, level: int, transition: Transition, draws: Draws) -> ChildActorPath:
    """`ChildActorPath` of the pair (level, level + 1) on one batch relabelled as the update
    relabels it, at the goals the parent's current policy sets."""
    parent, transition, state, goal = _relabelled_parent_batch(hierarchy, level, transition, draws)
    child = hierarchy.levels[level + 1]
    child_state = connected_gradients.gather_step(transition.observations, draws.child_step)
    child_goal = connected_gradients.child_goal(parent.policy(state, goal), transition.observations,
                                      draws.child_step, space=hierarchy.goal_space)
    with tf.GradientTape() as tape:
        tape.watch(child_goal)
        action = child.policy(child_state, child_goal)
    jacobian = tape.batch_jacobian(action, child_goal)
    with tf.GradientTape() as tape:
        tape.watch(action)
        q = child.q1(child_state, child_goal, action)
    critic_gradient = tape.gradient(q, action)
    return ChildActorPath(critic_gradient=critic_gradient.numpy(), policy_jacobian=jacobian.numpy(),
                          saturated=_fraction_at_bound(action.numpy(), child.action_low,
                                                       child.action_high))


def child_path_statistics(path: ChildActorPath) -> Dict[str, float]:
    """Medians over the batch's samples: the fraction of saturated action components
    (`saturated`), |dQ_c/da_c| (`critic_slope`) and the Frobenius norm of da_c/dg
    (`policy_slope`)."""
    jac = np.asarray(path.policy_jacobian, np.float64)
    return {"saturated": float(np.median(path.saturated)),
            "critic_slope": float(np.median(np.linalg.norm(path.critic_gradient, axis=1))),
            "policy_slope": float(np.median(np.linalg.norm(jac.reshape(len(jac), -1), axis=1)))}


@dataclasses.dataclass
class ParentGoals:
    """The goals a parent level sets on one batch of its replay, relabelled as its update relabels it.

    Attributes:
      goal: `[B, goal_dim]`, a = pi_p(s, g) at the batch's start states and goals.
      at_bound: `[B]`, the fraction of a's components within 1% of the action range of a bound.
    """

    goal: np.ndarray
    at_bound: np.ndarray


def parent_goals(hierarchy, level: int, transition: Transition, draws: Draws) -> ParentGoals:
    """`ParentGoals` of level `level` on one batch; any level with a child, connected gradients or
    not.

    Raises:
      ValueError: `level` is out of range or the bottom level (which sets no goals).
    """
    parent, _, state, goal = _relabelled_batch(hierarchy, level, transition, draws)
    a = parent.policy(state, goal).numpy()
    return ParentGoals(goal=a, at_bound=_fraction_at_bound(a, parent.action_low, parent.action_high))


def goal_statistics(goals: ParentGoals) -> Dict[str, float]:
    """Medians over the batch's samples of |a| (`goal_norm`) and of the fraction of a's components
    at a bound (`at_bound`)."""
    return {"goal_norm": float(np.median(np.linalg.norm(np.asarray(goals.goal, np.float64), axis=1))),
            "at_bound": float(np.median(goals.at_bound))}


def _fraction_at_bound(a: np.ndarray, low, high) -> np.ndarray:
    """Per row, the fraction of components within 1% of the range of a bound."""
    low, high = np.asarray(low), np.asarray(high)
    margin = 0.01 * (high - low)
    return ((a <= low + margin) | (a >= high - margin)).mean(axis=1)


def _rowwise_cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((nx > 0) & (ny > 0), np.sum(x * y, axis=1) / (nx * ny), np.nan)


def action_statistics(parts: ActionGradients) -> Dict[str, float]:
    """Medians over the batch's samples: the norms of the TD3 gradient (`td3_norm`), of the
    weighted reward and value terms (`reward_norm`, `value_norm`) and of their sum (`cg_norm`); the
    per-sample ratio |cg| / |td3| (`ratio`); the cosine of the sum with the TD3 gradient (`cosine`)
    and with -a (`toward_zero`: +1 where the term only shrinks the goal the parent sets; with
    relative goals a zero goal asks the child to stay where it is), and |a| itself (`goal_norm`,
    the size of the goals the parent sets). Samples where a cosine is undefined (a zero vector) are
    left out of its median (nan if all are)."""
    a = np.asarray(parts.action, np.float64)
    td3 = np.asarray(parts.td3, np.float64)
    reward = np.asarray(parts.reward, np.float64)
    value = np.asarray(parts.value, np.float64)
    cg = reward + value
    td3_norm = np.linalg.norm(td3, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(td3_norm > 0, np.linalg.norm(cg, axis=1) / td3_norm, np.nan)

    def median(x):
        x = x[~np.isnan(x)]
        return float(np.median(x)) if x.size else float("nan")

    return {"td3_norm": median(td3_norm), "reward_norm": median(np.linalg.norm(reward, axis=1)),
            "value_norm": median(np.linalg.norm(value, axis=1)),
            "cg_norm": median(np.linalg.norm(cg, axis=1)), "ratio": median(ratio),
            "cosine": median(_rowwise_cosine(cg, td3)), "toward_zero": median(_rowwise_cosine(cg, -a)),
            "goal_norm": median(np.linalg.norm(a, axis=1))}


def _relabelled_parent_batch(hierarchy, level: int, transition: Transition, draws: Draws):
    """(parent level, relabelled batch, its start states, its goals) of a level that receives a
    connected-gradient term; a ValueError naming the level otherwise."""
    _check_level(hierarchy, level)
    if not hierarchy.has_cg(level):
        raise ValueError(f"level {level} ('{hierarchy.levels[level].level_name}') receives no "
                         "connected-gradient term (the bottom level, or lambda 0)")
    return _relabelled_batch(hierarchy, level, transition, draws)


def _relabelled_batch(hierarchy, level: int, transition: Transition, draws: Draws):
    """(parent level, relabelled batch, its start states, its goals) of any level with a child."""
    _check_level(hierarchy, level)
    if level == hierarchy.num_levels - 1:
        raise ValueError(f"level {level} ('{hierarchy.levels[level].level_name}') is the bottom "
                         "level: it sets no goals")
    transition = hierarchy.relabelled(level, transition, draws)
    return hierarchy.levels[level], transition, transition.observations[:, 0], transition.goal


def _check_level(hierarchy, level: int) -> None:
    if not 0 <= level < hierarchy.num_levels:
        raise ValueError(f"level must be in [0, {hierarchy.num_levels}), got {level}")


def _flat(gradients) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(g, np.float64)) for g in gradients])


def gradient_statistics(parts: GradientParts) -> Dict[str, float]:
    """Norms of the two parts, `ratio` = |cg| / |td3|, and `cosine` between them (nan where a part
    is zero)."""
    td3, cg = _flat(parts.td3), _flat(parts.cg)
    n_td3, n_cg = float(np.linalg.norm(td3)), float(np.linalg.norm(cg))
    return {"td3_norm": n_td3, "cg_norm": n_cg,
            "ratio": n_cg / n_td3 if n_td3 > 0 else float("nan"),
            "cosine": float(td3 @ cg) / (n_td3 * n_cg) if n_td3 > 0 and n_cg > 0 else float("nan")}
