"""`Hierarchy`: a stack of N >= 1 goal-conditioned TD3 levels with connected gradients.

Level 0 is the top: it is conditioned on the environment's context. Level i > 0 is conditioned on the
goal set by level i - 1, which acts once per `periods[i - 1]` steps of level i; between decisions the
goal is carried by the goal transition (`goals.goal_transition`). The bottom level acts in the
environment at every step, so level i acts every `K_i = periods[i] * ... * periods[N - 2]`
environment steps.

This module holds the math of the stack, usable eagerly or inside a graph: the spec checks, each
level's TD3 transition, the connected-gradient actor update, the relabelling of parents' batches
(`hierarchy.core.relabelling`), `train` (the updates of one due pattern) and `act` (every level's action for
one environment step). Compiling them is `hierarchy.agent.compiled_step`'s job; replay, schedules and episode
bookkeeping live in `hierarchy.agent.agent`.

A level stores one `replay.Transition` per own step (s_t, ..., s_{t+k}; see its docstring). Its TD3
transition is (s_t, goal, action, r, s_{t+n}, goal'), with r the environment reward at the top and
the intrinsic reward below (each level scales its own reward), and goal' = h(s_t, goal, s_{t+n})
below (the context at the top). The connected-gradient term reads the child-step states of the
parent's transitions (docs/connected_gradients.md).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import gin
import numpy as np
import tensorflow as tf

from hierarchy.agent.replay import Draws, RowLayout, Transition, draws_layout, transition_layout
from hierarchy.core import connected_gradients, goals, optimizers, relabelling
from hierarchy.core.level import Level
from hierarchy.core.losses import Losses

Number = Union[int, float]


def level_names(num_levels: int) -> List[str]:
    """Default names (and gin scopes) of the levels, top first; a name means the same level at every
    depth that has it.

    1 level: ["flat"]; N >= 2: ["top", "mid1", ..., "mid<N-2>", "low"]: `top` sets goals from the
    context, `low` acts in the environment, and `mid<k>` is the k-th level below the top (2 levels:
    ["top", "low"]; 3: ["top", "mid1", "low"]; 4: ["top", "mid1", "mid2", "low"]).
    """
    if num_levels < 1:
        raise ValueError(f"a hierarchy needs at least one level, got num_levels={num_levels}")
    if num_levels == 1:
        return ["flat"]
    return ["top"] + [f"mid{i}" for i in range(1, num_levels - 1)] + ["low"]


def _per_pair(value, num_pairs: int, what: str, cast) -> List:
    """Broadcasts a scalar to one value per parent/child pair, or checks a sequence's length."""
    if isinstance(value, (list, tuple)):
        if len(value) != num_pairs:
            raise ValueError(f"{what} has {len(value)} entries but the hierarchy has {num_pairs} "
                             f"parent/child pair(s) (one per level but the bottom)")
        return [cast(v) for v in value]
    return [cast(value)] * num_pairs


def _spec_bounds(spec):
    shape = tuple(spec.shape)
    lo = np.broadcast_to(np.asarray(getattr(spec, "minimum", -np.inf), np.float32), shape)
    hi = np.broadcast_to(np.asarray(getattr(spec, "maximum", np.inf), np.float32), shape)
    return shape, lo, hi


@gin.configurable
class Hierarchy(tf.Module):
    """A stack of levels, top first.

    Args:
      levels: the `Level`s, level 0 on top; level i's action spec must equal level i+1's goal spec.
      periods: steps of level i+1 per step of level i, one per parent/child pair (a scalar applies to
        every pair). Must be >= 1.
      goal_indices: indices I of the observation that goals address (required for N > 1).
      relative_goals: relative goals (carried by h(s, g, s') = s[I] + g - s'[I]) or absolute ones.
      cg_lambda: weight of the connected-gradient term per pair (scalar or one per pair), >= 0. With
        `learn_cg_lambda` it is the initial value. 0 gives exactly the independent (HRL) update.
      cg_estimator: the name of a registered estimator: "paper" (Eq. 14, default), "reference",
        "critic", or one of your own (`connected_gradients.register_estimator`).
      learn_cg_lambda: learn lambda = exp(w) per pair (Lagrangian); needs `cg_delta`.
      cg_delta: threshold of the learned lambda's constraint on r_c + Q_c.
      cg_lambda_learning_rate: Adam learning rate of w.
      off_policy_correction: per pair (or a scalar for all), correct the parent's stored goals
        (HIRO; `hierarchy.core.relabelling`, docs/relabelling.md) in its sampled batches.
      correction_candidates: candidates per row, >= 1 (stored, achieved, then Gaussian draws).
      correction_std: std of the Gaussian candidates, in units of the goal half-range.
      hindsight_actions: per pair (or a scalar), the probability in [0, 1] that a sampled parent row's
        goal is replaced by the goal its child achieved (HAC's hindsight action transitions).
      name: module name.
    """

    def __init__(
        self,
        *,
        levels: Sequence[Level],
        periods: Union[int, Sequence[int]] = 10,
        goal_indices: Sequence[int] = (),
        relative_goals: bool = True,
        cg_lambda: Union[Number, Sequence[Number]] = 0.0,
        cg_estimator: str = "paper",
        learn_cg_lambda: bool = False,
        cg_delta: float | None = None,
        cg_lambda_learning_rate: float = 3e-4,
        off_policy_correction: Union[bool, Sequence[bool]] = False,
        correction_candidates: int = 10,
        correction_std: float = 0.5,
        hindsight_actions: Union[Number, Sequence[Number]] = 0.0,
        name: str = "hierarchy",
    ):
        super().__init__(name=name)
        levels = list(levels)
        if not levels:
            raise ValueError("a Hierarchy needs at least one level")
        for i, lvl in enumerate(levels):
            if not isinstance(lvl, Level):
                raise TypeError(f"levels[{i}] is a {type(lvl).__name__}, expected a Level")
        self.levels = levels
        self.num_levels = n = len(levels)
        pairs = n - 1
        self.periods = _per_pair(periods, pairs, "periods", int)
        for i, k in enumerate(self.periods):
            if k < 1:
                raise ValueError(f"periods[{i}] (level {i} '{levels[i].level_name}' over its child) "
                                 f"must be >= 1, got {k}")
        self.cg_lambda = _per_pair(cg_lambda, pairs, "cg_lambda", float)
        for i, lam in enumerate(self.cg_lambda):
            if not np.isfinite(lam) or lam < 0:
                raise ValueError(f"cg_lambda[{i}] (pair '{levels[i].level_name}' -> "
                                 f"'{levels[i + 1].level_name}') must be finite and >= 0, got {lam}")
        if cg_estimator not in connected_gradients.estimator_names():
            raise ValueError(f"cg_estimator must be one of {connected_gradients.estimator_names()}, "
                             f"got {cg_estimator!r}")
        self.cg_estimator = cg_estimator
        self.learn_cg_lambda = bool(learn_cg_lambda) and pairs > 0
        if self.learn_cg_lambda:
            if cg_delta is None:
                raise ValueError("learn_cg_lambda=True needs cg_delta (the constraint threshold)")
            if any(lam <= 0 for lam in self.cg_lambda):
                raise ValueError("learn_cg_lambda=True needs an initial cg_lambda > 0 for every pair")
        self.cg_delta = None if cg_delta is None else float(cg_delta)
        self.goal_space = goals.GoalSpace(indices=goal_indices, relative=relative_goals)
        self.goal_dim = levels[1].goal_dim if n > 1 else 0

        self._check_specs()
        correction = relabelling.Correction(num_candidates=correction_candidates, std=correction_std)
        self.corrections = [correction if on else None for on in _per_pair(
            off_policy_correction, pairs, "off_policy_correction", bool)] + [None]
        self.hindsight_actions = [relabelling.probability(p, f"hindsight_actions[{i}]") for i, p in
                                  enumerate(_per_pair(hindsight_actions, pairs, "hindsight_actions",
                                                      float))] + [0.0]
        # Environment steps per step of each level: K_i = periods[i] * ... * periods[N-2], K_{N-1} = 1.
        self.env_steps_per_step = [int(np.prod(self.periods[i:])) for i in range(n)]
        # Child steps per step of each level (1 at the bottom: s_t -> s_{t+1}).
        self.child_steps = self.periods + [1]

        with self.name_scope:
            self.log_cg_lambda = [
                tf.Variable(np.log(lam) if lam > 0 else 0.0, dtype=tf.float32,
                            trainable=self.learn_cg_lambda, name=f"log_cg_lambda_{i}")
                for i, lam in enumerate(self.cg_lambda)]
            self.lambda_optimizers = []
            if self.learn_cg_lambda:
                self.lambda_optimizers = [
                    optimizers.Adam([w], learning_rate=cg_lambda_learning_rate, name=f"lambda_adam_{i}")
                    for i, w in enumerate(self.log_cg_lambda)]

    # ----------------------------------------------------------------------------------------------
    # Construction checks.

    def _check_specs(self) -> None:
        levels = self.levels
        obs_shape = tuple(levels[0].observation_spec.shape)
        for i, lvl in enumerate(levels[1:], start=1):
            if tuple(lvl.observation_spec.shape) != obs_shape:
                raise ValueError(
                    f"level {i} ('{lvl.level_name}') observes shape {tuple(lvl.observation_spec.shape)}"
                    f" but level 0 ('{levels[0].level_name}') observes {obs_shape}; all levels see "
                    f"the same observation")
        for i in range(self.num_levels - 1):
            parent, child = levels[i], levels[i + 1]
            p_shape, p_lo, p_hi = _spec_bounds(parent.action_spec)
            c_shape, c_lo, c_hi = _spec_bounds(child.goal_spec)
            where = (f"level {i} ('{parent.level_name}') sets goals for level {i + 1} "
                     f"('{child.level_name}')")
            if p_shape != c_shape:
                raise ValueError(f"{where}, but its action spec has shape {p_shape} while the "
                                 f"child's goal spec has shape {c_shape}")
            if not (np.allclose(p_lo, c_lo) and np.allclose(p_hi, c_hi)):
                raise ValueError(f"{where}, but its action bounds [{p_lo}, {p_hi}] differ from the "
                                 f"child's goal bounds [{c_lo}, {c_hi}]")
        if self.num_levels > 1:
            goals.check_indices(self.goal_space, goal_dim=levels[1].goal_dim, obs_dim=obs_shape[0],
                                who=f"the goals of level 1 ('{levels[1].level_name}')")

    def check_environment(self, *, observation_spec, context_spec, action_spec) -> None:
        """Raises a ValueError naming what differs between the environment and the hierarchy."""
        top, bottom = self.levels[0], self.levels[-1]
        if tuple(observation_spec.shape) != tuple(top.observation_spec.shape):
            raise ValueError(f"the environment's observation has shape {tuple(observation_spec.shape)}"
                             f" but the levels observe {tuple(top.observation_spec.shape)}")
        if tuple(context_spec.shape) != tuple(top.goal_spec.shape):
            raise ValueError(f"the environment's context has shape {tuple(context_spec.shape)} but "
                             f"the top level ('{top.level_name}') is conditioned on shape "
                             f"{tuple(top.goal_spec.shape)}")
        e_shape, e_lo, e_hi = _spec_bounds(action_spec)
        b_shape, b_lo, b_hi = _spec_bounds(bottom.action_spec)
        if e_shape != b_shape or not (np.allclose(e_lo, b_lo) and np.allclose(e_hi, b_hi)):
            raise ValueError(f"the environment's action spec (shape {e_shape}, bounds [{e_lo}, {e_hi}])"
                             f" differs from the bottom level's ('{bottom.level_name}': shape "
                             f"{b_shape}, bounds [{b_lo}, {b_hi}])")

    # ----------------------------------------------------------------------------------------------
    # Replay layout.

    def uses_child_actions(self, level: int) -> bool:
        """Whether level `level` stores its child's actions (the off-policy correction and the
        "reference" estimator read them)."""
        reads = "child_actions" in connected_gradients.get_estimator(self.cg_estimator).replay_fields
        return level < self.num_levels - 1 and (self.corrections[level] is not None or (
            reads and self.has_cg(level)))

    def transition_layout(self, level: int) -> RowLayout:
        """The packed-row layout of level `level`'s `Transition`s (its replay rows)."""
        lvl = self.levels[level]
        child_action_dim = self.levels[level + 1].action_dim if self.uses_child_actions(level) else None
        return transition_layout(obs_dim=lvl.obs_dim, goal_dim=lvl.goal_dim,
                                 action_dim=lvl.action_dim, child_steps=self.child_steps[level],
                                 child_action_dim=child_action_dim)

    def draws_layout(self, level: int) -> RowLayout:
        """The packed-row layout of level `level`'s update `Draws`."""
        c = self.corrections[level]
        return draws_layout(action_dim=self.levels[level].action_dim, child_step=self.has_cg(level),
                            candidate_draws=c.num_draws if c else 0,
                            hindsight=self.hindsight_actions[level] > 0)

    def relabelled(self, level: int, transition: Transition, draws: Draws) -> Transition:
        """Level `level`'s batch as its updates read it (off-policy correction, hindsight actions)."""
        lvl = self.levels[level]
        if self.corrections[level] is not None:
            transition, _ = relabelling.correct(
                transition, draws.candidate_noise, correction=self.corrections[level],
                low=lvl.action_low, high=lvl.action_high, child_policy=self.levels[level + 1].policy,
                space=self.goal_space)
        if self.hindsight_actions[level] > 0:
            transition = relabelling.hindsight_actions(
                transition, draws.hindsight < self.hindsight_actions[level], low=lvl.action_low,
                high=lvl.action_high, space=self.goal_space)
        return transition

    def has_cg(self, level: int) -> bool:
        """Whether level `level` receives a connected-gradient term from its child."""
        return level < self.num_levels - 1 and (self.learn_cg_lambda or self.cg_lambda[level] > 0)

    # ----------------------------------------------------------------------------------------------
    # The level's own TD3 transition from a stored one.

    def td3_transition(self, level: int, transition: Transition):
        """(s, goal, action, reward, discount, s', goal') of a level from a batch of its transitions.

        The reward is unscaled (the level scales it in its critic update).
        """
        obs = transition.observations
        state = obs[:, 0]
        next_state = connected_gradients.gather_step(obs, transition.num_steps)
        goal = transition.goal
        if level == 0:
            reward, next_goal = transition.reward, goal
        else:
            space = self.goal_space
            reward = goals.intrinsic_reward(state, goal, next_state, space=space)
            next_goal = goals.goal_transition(state, goal, next_state, space=space)
        return state, goal, transition.action, reward, transition.discount, next_state, next_goal

    def cg_lambda_value(self, level: int) -> tf.Tensor:
        if self.learn_cg_lambda:
            return tf.exp(self.log_cg_lambda[level])
        return tf.constant(self.cg_lambda[level], tf.float32)

    # ----------------------------------------------------------------------------------------------
    # Compiled pieces.

    def _train_level_critic(self, i: int, transition: Transition, draws: Draws) -> tf.Tensor:
        s, g, a, r, d, s1, g1 = self.td3_transition(i, transition)
        return self.levels[i].train_critic(s, g, a, r, d, s1, g1, draws.noise)

    def actor_gradients(self, i: int, transition: Transition, draws: Draws):
        """Level i's actor loss, its connected-gradient loss and the gradients of
        -mean Q_i + lambda_i * L_cg with respect to level i's actor variables.

        Returns:
          (actor loss, unweighted cg loss (0 without), gradients, per-sample cg objective or None).
        """
        lvl = self.levels[i]
        state, goal = transition.observations[:, 0], transition.goal
        if not self.has_cg(i):
            actor_loss, _, grads = lvl.actor_gradients(state, goal)
            return actor_loss, tf.constant(0.0), grads, None
        objectives = []

        def extra_loss(parent_action):
            objective = connected_gradients.pair_objective(self, i, transition, draws, parent_action)
            objectives.append(objective)
            return -tf.stop_gradient(self.cg_lambda_value(i)) * tf.reduce_mean(objective)

        actor_loss, _, grads = lvl.actor_gradients(state, goal, extra_loss)
        return actor_loss, -tf.reduce_mean(objectives[0]), grads, objectives[0]

    def _train_level_actor(self, i: int, transition: Transition, draws: Draws):
        """Actor (+ connected gradient) and target update of level i; returns (actor, cg) losses."""
        actor_loss, cg_loss, grads, objective = self.actor_gradients(i, transition, draws)
        self.levels[i].apply_actor_gradients(grads)
        if self.learn_cg_lambda and objective is not None:
            w = self.log_cg_lambda[i]
            with tf.GradientTape() as tape:
                lam_loss = connected_gradients.lagrangian_lambda_loss(w, objective, self.cg_delta)
            self.lambda_optimizers[i].apply_gradients([tape.gradient(lam_loss, w)])
        return actor_loss, cg_loss

    def train(self, batches: Sequence[Tuple[Transition, Draws] | None], due) -> tf.Tensor:
        """The updates that are due (graph or eager).

        Args:
          batches: per level, (a batch of its transitions, the update's draws) as `[B, ...]`
            tensors; None (or anything) for a level with nothing due.
          due: `[N, 2]` bools known when the graph is built (numpy, lists or an eager tensor):
            (critic update due, actor + target update due) per level. Only the updates due are
            built: the compiled step has one graph per pattern, with no conditionals in it.

        Returns:
          `Losses` of `[N]` tensors: critic, actor and connected-gradient (unweighted) losses and
          lambda per level; zeros where no update ran.
        """
        due = self.static_due(due)
        zero = tf.constant(0.0)
        critic, actor, cg, lam = [], [], [], []
        batches = [(self.relabelled(i, *batches[i]), batches[i][1]) if due[i].any() else None
                   for i in range(self.num_levels)]
        for i in range(self.num_levels):
            critic.append(self._train_level_critic(i, *batches[i]) if due[i, 0] else zero)
            actor_loss, cg_loss = (self._train_level_actor(i, *batches[i]) if due[i, 1]
                                   else (zero, zero))
            actor.append(actor_loss)
            cg.append(cg_loss)
            lam.append(self.cg_lambda_value(i) if i < self.num_levels - 1 else zero)
        return Losses(critic=tf.stack(critic), actor=tf.stack(actor), cg=tf.stack(cg),
                      cg_lambda=tf.stack(lam))

    def static_due(self, due) -> np.ndarray:
        """`due` as a checked `[N, 2]` numpy bool array."""
        due = np.asarray(due, bool)
        if due.shape != (self.num_levels, 2):
            raise ValueError(f"due must have shape ({self.num_levels}, 2), got {due.shape}")
        return due

    def act(self, observation, context, origin_states, origin_goals, new_step, explore, use_random,
            noise, random_actions):
        """Actions of every level for one environment step, in graph.

        Args:
          observation: `[obs_dim]`, s_t.
          context: `[context_dim]`.
          origin_states: `[N, obs_dim]`; row i (i > 0): the state where level i's goal was set.
          origin_goals: `[N, goal_dim]`; row i (i > 0): the goal level i - 1 set there.
          new_step: `[N]` bool, level i starts one of its own steps now (then so do all below it).
          explore: bool, add Gaussian exploration noise.
          use_random: bool, take `random_actions` instead of the policies' (warm-up).
          noise: per level `[A_i]` standard normal draws.
          random_actions: per level `[A_i]`.

        Returns:
          (actions, goal inputs): per level `[A_i]` and `[G_i]`. Only levels that start a step use
          theirs; a level that does not keeps acting on its earlier decision.
        """
        obs = observation[None]
        actions, goal_inputs = [], []
        for i, lvl in enumerate(self.levels):
            if i == 0:
                goal = context[None]
            else:
                parent_new = new_step[i - 1]
                o_state = tf.where(parent_new, observation, origin_states[i])[None]
                o_goal = tf.where(parent_new, actions[i - 1], origin_goals[i])[None]
                goal = goals.goal_transition(o_state, o_goal, obs, space=self.goal_space)
            action = lvl.policy(obs, goal)
            action = tf.where(explore, lvl.explore(action, noise[i][None]), action)
            action = tf.where(use_random, random_actions[i][None], action)
            actions.append(action[0])
            goal_inputs.append(goal[0])
        return tuple(actions), tuple(goal_inputs)

    @staticmethod
    def trained_levels(due) -> List[int]:
        """The levels with any update in a `[N, 2]` due pattern: those whose batch a step needs."""
        return [int(i) for i in np.flatnonzero(np.asarray(due, bool).any(axis=1))]
