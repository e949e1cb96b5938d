"""Hindsight goal transitions ("future" strategy, Andrychowicz et al. 2017; per level as in HAC,
Levy et al. 2019): numpy, applied to sampled rows before the compiled update reads them.

A level's sampled row (s_t, g, ..., s_{t+n}) is relabelled, with a set probability, with a goal its
own step, or one of its later steps in the same episode, achieved: with s_a the final state of a row
r' drawn uniformly among the row itself and the rows of its episode stored after it,

- below the top: g' = s_a[I] - s_t[I] (relative goals) or s_a[I] (absolute ones). The intrinsic
  reward is a function of the goal, and the compiled update recomputes it from the row's goal
  (`goals.intrinsic_reward`), so only the goal is replaced.
- at the top, only where the task publishes a reward function of the context (`ContextReward`:
  ours, -||s[J] - c||, or an adapted goal-conditioned task's own `compute_reward`, see
  `hierarchy.builder.context_reward_for_env`): the context becomes c' = the context s_a achieves
  and the stored reward is recomputed as sum_{j=1..n} R(s_{t+j}, c'), with one call of R on the
  whole batch. That needs every environment step's state in the row, so the top must act on a
  child that steps once per environment step (one or two levels; for one level, flat TD3, the top
  acts in the environment itself).

Rows only ever draw from their own episode (`ReplayBuffer.future_indices`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from hierarchy import goals
from hierarchy.relabel import probability

STRATEGIES = ("future",)


@dataclasses.dataclass(frozen=True)
class ContextReward:
    """A task's reward as a function of the context (numpy).

    Attributes:
      reward: `(next_observation [..., D], context [..., C]) -> [...]`, one environment step's reward
        (vectorised: called once on a whole batch, the context broadcasting over its steps).
      achieved: `observation [..., D] -> [..., C]`, the context an observation achieves.
    """

    reward: Callable
    achieved: Callable


def level_probabilities(goals_value, context_value, *, num_levels: int, strategy: str,
                        context_reward: ContextReward | None,
                        env_steps_per_child_step: Sequence[int]) -> List[float]:
    """The per-level probability of a hindsight goal transition (top first), checked.

    Args:
      goals_value: the probability for the levels below the top: one for all, or one per level
        below the top (level 1 first).
      context_value: the probability for the top level (its goal is the context).
      strategy: must be one of STRATEGIES.
      context_reward: the task's reward function of the context, or None.
      env_steps_per_child_step: per level, environment steps per step of its child (1 at the
        bottom).

    Raises:
      ValueError naming the setting the hierarchy cannot honour.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"hindsight_strategy {strategy!r} is unknown; choose one of {STRATEGIES}")
    below = num_levels - 1
    if isinstance(goals_value, (list, tuple)):
        if len(goals_value) != below:
            raise ValueError(f"hindsight_goals has {len(goals_value)} entries but the hierarchy has "
                             f"{below} level(s) below the top")
        probs = [probability(p, f"hindsight_goals[{i}]") for i, p in enumerate(goals_value)]
    else:
        probs = [probability(goals_value, "hindsight_goals")] * below
    top = probability(context_value, "hindsight_context")
    if top > 0:
        if context_reward is None:
            raise ValueError("hindsight_context (hindsight goals for the top level) needs a task that "
                             "publishes a reward function of the context (TaskSpec.context_indices, "
                             "or an adapted goal-conditioned task with compute_reward); this one "
                             "has none")
        if env_steps_per_child_step[0] != 1:
            raise ValueError("hindsight_context (hindsight goals for the top level) needs a top whose "
                             "child steps once per environment step (at most two levels): with more, "
                             "its rows do not hold every step's state to recompute the reward")
    return [top] + probs


def relabel_rows(rows, future, use, *, top: bool, space: goals.GoalSpace,
                 context_reward: ContextReward | None = None) -> None:
    """Writes hindsight goals (and, at the top, rewards) into sampled rows, in place.

    Args:
      rows: a `Transition` of numpy views `[B, ...]` (the sampled rows; written).
      future: a `Transition` of numpy arrays `[B, ...]`, the rows drawn from each row's future.
      use: `[B]` bool, the rows to relabel.
      top: whether the level is the top (goal = context, reward = the task's).
      space: the goal space (below the top).
      context_reward: the task's reward function of the context (top only).
    """
    use = np.asarray(use, bool)
    if not use.any():
        return
    b = np.flatnonzero(use)
    achieved_state = future.observations[b, future.num_steps[b].astype(np.int64)]   # s_a [b, D]
    if not top:
        target = achieved_state[:, list(space.indices)]
        rows.goal[b] = target - rows.observations[b, 0][:, list(space.indices)] if space.relative \
            else target
        return
    context = np.asarray(context_reward.achieved(achieved_state), np.float32)        # [b, C]
    n = rows.num_steps[b].astype(np.int64)
    k = rows.observations.shape[1] - 1
    step_rewards = context_reward.reward(rows.observations[b, 1:], context[:, None])  # [b, k]
    held = np.arange(1, k + 1)[None, :] <= n[:, None]
    rows.goal[b] = context
    rows.reward[b] = np.sum(np.where(held, step_rewards, 0.0), axis=1)


__all__ = ["ContextReward", "STRATEGIES", "level_probabilities", "relabel_rows"]
