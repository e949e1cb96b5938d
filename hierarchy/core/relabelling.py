"""Relabelling a parent's stored goals: HIRO's off-policy correction and hindsight actions, pure.

A parent level i stores, per own step, the goal a it set for its child (its `Transition.action`),
the child-step states s_t, ..., s_{t+k} and the child's actions a_t, ..., a_{t+k-1} (goals for the
grandchild when the child is a middle level, environment actions at the bottom). The child has
since changed, so a no longer explains what the child did. Both rules below replace a, inside the
compiled update, by a goal that does (docs/relabelling.md):

- Off-policy correction (Nachum et al., 2018): among candidates g~ (the stored a, the achieved
  goal, and Gaussian draws around the achieved goal, clipped to the goal bounds), take the one that
  maximises the child's log-likelihood of its stored actions under a Gaussian policy,

      L(g~) = -1/2 sum_{j < n} || a_{t+j} - pi_c(s_{t+j}, h_j(s_t, g~)) ||^2,

  with h_j the goal carried from s_t to s_{t+j} (`goals.goal_transition`) and n <= k the child
  steps the transition holds (an episode that ended inside the period has fewer).
- Hindsight actions (Levy et al., 2019): replace a by the achieved goal with a set probability.

The achieved goal is s_{t+n}[I] - s_t[I] for relative goals (the displacement that would have been
met exactly) and s_{t+n}[I] for absolute ones; both are clipped to the goal bounds.

Shapes: B rows, C candidates, k child steps, D observation dims, G goal dims, A child action dims.

Hindsight goal transitions ("future" strategy, Andrychowicz et al. 2017; per level as in HAC,
Levy et al. 2019): numpy, applied to sampled rows before the compiled update reads them.

A level's sampled row (s_t, g, ..., s_{t+n}) is relabelled, with a set probability, with a goal its
own step, or one of its later steps in the same episode, achieved: with s_a the final state of a row
r' drawn uniformly among the row itself and the rows of its episode stored after it,

- below the top: g' = s_a[I] - s_t[I] (relative goals) or s_a[I] (absolute ones). The intrinsic
  reward is a function of the goal, and the compiled update recomputes it from the row's goal
  (`goals.intrinsic_reward`), so only the goal is replaced.
- at the top, only where the task publishes a reward function of the context (`ContextReward`:
  ours, -||s[J] - c||, or an adapted goal-conditioned task's own `compute_reward`, see
  `hierarchy.agent.builder.context_reward_for_env`): the context becomes c' = the context s_a achieves
  and the stored reward is recomputed as sum_{j=1..n} R(s_{t+j}, c'), with one call of R on the
  whole batch. That needs every environment step's state in the row, so the top must act on a
  child that steps once per environment step (one or two levels; for one level, flat TD3, the top
  acts in the environment itself).

Rows only ever draw from their own episode (`ReplayBuffer.future_indices`).

Rules of one's own over sampled rows are `RowRelabeller`s (`Agent(relabellers=[...])`): the agent
calls each on every level's freshly sampled `SampledBatch`, after the built-in hindsight goals
(`HindsightGoals`, itself a `RowRelabeller`) and before the compiled update; docs/extending.md
has a worked example.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, List, Protocol, Sequence, runtime_checkable

import numpy as np
import tensorflow as tf

from hierarchy.agent.replay import Transition
from hierarchy.core import goals


@dataclasses.dataclass(frozen=True)
class Correction:
    """Settings of the off-policy correction.

    Attributes:
      num_candidates: C >= 1: the stored goal, then (C >= 2) the achieved goal, then C - 2 draws.
      std: standard deviation of the draws, in units of the goal half-range (HIRO: 0.5).
    """

    num_candidates: int = 10
    std: float = 0.5

    def __post_init__(self):
        if int(self.num_candidates) != self.num_candidates or self.num_candidates < 1:
            raise ValueError(f"correction_candidates must be an integer >= 1, got "
                             f"{self.num_candidates!r}")
        if not np.isfinite(self.std) or self.std < 0:
            raise ValueError(f"correction_std must be finite and >= 0, got {self.std!r}")

    @property
    def num_draws(self) -> int:
        """Gaussian draws per row: max(C - 2, 0)."""
        return max(int(self.num_candidates) - 2, 0)


def probability(value, what: str) -> float:
    """`value` as a float, or a ValueError naming `what` unless it is a probability in [0, 1]."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} is a probability in [0, 1], got {value}")
    return value


def achieved_goal(observations, num_steps, *, space: goals.GoalSpace) -> tf.Tensor:
    """The goal the child met over the transition: `[B, k + 1, D], [B] -> [B, G]` (unclipped)."""
    observations = tf.convert_to_tensor(observations, tf.float32)
    final = tf.gather(observations, tf.cast(num_steps, tf.int32), axis=1, batch_dims=1)
    reached = goals.select(final, space)
    return reached - goals.select(observations[:, 0], space) if space.relative else reached


def candidate_goals(stored, achieved, noise, *, correction: Correction, low, high) -> tf.Tensor:
    """The candidates of every row: `[B, G], [B, G], [B, C - 2, G] -> [B, C, G]`.

    Row b: stored[b] as given, then clip(achieved[b]), then clip(achieved[b] + std * half_range *
    noise[b, m]); the first C are kept. `low`, `high`: `[G]` the goal bounds (the parent's action
    bounds).
    """
    half_range = (np.asarray(high, np.float32) - np.asarray(low, np.float32)) / 2.0
    low, high = tf.constant(low, tf.float32), tf.constant(high, tf.float32)
    stored = tf.convert_to_tensor(stored, tf.float32)
    achieved = tf.convert_to_tensor(achieved, tf.float32)
    parts = [stored[:, None]]
    if correction.num_candidates >= 2:
        parts.append(tf.clip_by_value(achieved, low, high)[:, None])
    if correction.num_draws:
        scale = tf.constant(correction.std * half_range, tf.float32)
        parts.append(tf.clip_by_value(achieved[:, None] + scale * noise, low, high))
    return tf.concat(parts, axis=1)


def log_likelihoods(candidates, observations, child_actions, num_steps, *,
                    child_policy: Callable, space: goals.GoalSpace) -> tf.Tensor:
    """L(g~) of every candidate: `-> [B, C]` (see the module docstring).

    Args:
      candidates: `[B, C, G]` goals set at s_t.
      observations: `[B, k + 1, D]` the child-step states; only s_t .. s_{t+n-1} are read.
      child_actions: `[B, k, A]` the child's stored actions; steps j >= n are ignored.
      num_steps: `[B]` int, n.
      child_policy: the child's deterministic policy, `[M, D], [M, G] -> [M, A]`.
      space: the goal space of the child's goals.
    """
    candidates = tf.convert_to_tensor(candidates, tf.float32)
    observations = tf.convert_to_tensor(observations, tf.float32)
    b, c, g = tf.shape(candidates)[0], candidates.shape[1], candidates.shape[2]
    k, d = child_actions.shape[1], observations.shape[2]
    states = tf.broadcast_to(observations[:, None, :k], [b, c, k, d])           # s_{t+j}
    origin = observations[:, None, None, 0]                                        # s_t
    carried = goals.goal_transition(origin, candidates[:, :, None], states, space=space)
    carried = tf.broadcast_to(carried, [b, c, k, g])                               # g~_{t+j}
    predicted = child_policy(tf.reshape(states, [-1, d]), tf.reshape(carried, [-1, g]))
    predicted = tf.reshape(predicted, [b, c, k, child_actions.shape[2]])
    squared = tf.reduce_sum(tf.square(child_actions[:, None] - predicted), axis=-1)  # [B, C, k]
    held = tf.range(k)[None, :] < tf.cast(num_steps, tf.int32)[:, None]            # [B, k]
    return -0.5 * tf.reduce_sum(tf.where(held[:, None], squared, 0.0), axis=-1)


def correct(transition: Transition, noise, *, correction: Correction, low, high,
            child_policy: Callable, space: goals.GoalSpace):
    """The off-policy correction of a batch of parent transitions.

    Args:
      transition: the parent's `Transition` of `[B, ...]` tensors, with `child_actions`.
      noise: `[B, C - 2, G]` standard normal draws (ignored when C <= 2).
      correction, low, high, child_policy, space: as above.

    Returns:
      (the transition with `action` replaced by the best candidate, the chosen index `[B]` int32:
      0 = the stored goal kept, 1 = the achieved goal, m >= 2 = draw m - 2).
    """
    if transition.child_actions is None:
        raise ValueError("the off-policy correction needs the child's actions in the parent's rows")
    if correction.num_candidates == 1:
        return transition, tf.zeros_like(tf.cast(transition.num_steps, tf.int32))
    achieved = achieved_goal(transition.observations, transition.num_steps, space=space)
    candidates = candidate_goals(transition.action, achieved, noise, correction=correction,
                                 low=low, high=high)
    scores = log_likelihoods(candidates, transition.observations, transition.child_actions,
                             transition.num_steps, child_policy=child_policy, space=space)
    # tf.argmax picks the first of equal maxima on CPU; the stored goal (index 0) wins a tie.
    index = tf.argmax(scores, axis=1, output_type=tf.int32)
    chosen = tf.gather(candidates, index, axis=1, batch_dims=1)
    return dataclasses.replace(transition, action=tf.stop_gradient(chosen)), index


def hindsight_actions(transition: Transition, use, *, low, high, space: goals.GoalSpace):
    """Hindsight action transitions: the stored goal replaced by the achieved one where `use`.

    Args:
      transition: the parent's `Transition` of `[B, ...]` tensors.
      use: `[B]` bool (the agent draws it with the configured probability).
      low, high: `[G]` the goal bounds; the achieved goal is clipped to them.

    Returns:
      the transition with `action` replaced in the rows where `use`.
    """
    achieved = tf.clip_by_value(
        achieved_goal(transition.observations, transition.num_steps, space=space),
        tf.constant(low, tf.float32), tf.constant(high, tf.float32))
    action = tf.where(tf.convert_to_tensor(use, tf.bool)[:, None], achieved, transition.action)
    return dataclasses.replace(transition, action=action)


__all__ = ["Correction", "achieved_goal", "candidate_goals", "correct", "hindsight_actions",
           "log_likelihoods"]


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


@dataclasses.dataclass(frozen=True)
class SampledBatch:
    """One level's freshly sampled replay rows, as a `RowRelabeller` receives them.

    Attributes:
      level: the level's index (0 = the top, whose goal is the context).
      rows: a `Transition` of numpy views `[B, ...]` into the batch the update will read: write
        into them (`rows.goal[b] = ...`) to relabel. Below the top the intrinsic reward is
        recomputed from the goal inside the update; at the top the stored reward is the task's.
      indices: `[B]`, the rows' indices in the level's buffer.
      buffer: the level's `ReplayBuffer` (read it with `gather`, `len`, and `future_indices` when the
        relabeller asked for episodes); never write to it.
      rng: the agent's random generator: draw from it only, so a seeded run stays reproducible.
      space: the goal space of the goals set for levels below the top.
    """

    level: int
    rows: Transition
    indices: np.ndarray
    buffer: Any
    rng: np.random.Generator
    space: goals.GoalSpace


@runtime_checkable
class RowRelabeller(Protocol):
    """A rule that rewrites a level's sampled rows, in place, before its update reads them."""

    def tracks_episodes(self, level: int) -> bool:
        """Whether the rule needs the level's buffer to know each row's episode (for
        `ReplayBuffer.future_indices`); asked once, before anything is stored."""

    def __call__(self, batch: SampledBatch) -> None:
        """Relabels `batch.rows` in place (or leaves them)."""


class HindsightGoals:
    """The built-in "future" hindsight goal transitions (`relabel_rows`) as a `RowRelabeller`.

    Args:
      probabilities: per level (top first), the probability that a sampled row is relabelled
        (`level_probabilities`).
      context_reward: the task's reward function of the context, for the top level.
    """

    def __init__(self, *, probabilities: Sequence[float], context_reward: ContextReward | None):
        self.probabilities = list(probabilities)
        self.context_reward = context_reward

    def tracks_episodes(self, level: int) -> bool:
        return self.probabilities[level] > 0

    def __call__(self, batch: SampledBatch) -> None:
        p = self.probabilities[batch.level]
        if p <= 0:
            return
        buf = batch.buffer
        future = buf.layout.views(buf.gather(buf.future_indices(batch.rng, batch.indices)))
        use = batch.rng.random(batch.indices.shape) < p
        relabel_rows(batch.rows, future, use, top=batch.level == 0, space=batch.space,
                     context_reward=self.context_reward)


__all__ = ["ContextReward", "HindsightGoals", "RowRelabeller", "STRATEGIES", "SampledBatch",
           "level_probabilities", "relabel_rows"]
