"""`Hierarchy`: a stack of N >= 1 goal-conditioned TD3 levels with connected gradients.

Level 0 is the top: it is conditioned on the environment's context. Level i > 0 is conditioned on the
goal set by level i - 1, which acts once per `periods[i - 1]` steps of level i; between decisions the
goal is carried by the goal transition (`goals.goal_at`). The bottom level acts in the environment at
every step, so level i acts every `K_i = periods[i] * ... * periods[N - 2]` environment steps.

This module holds the compiled pieces: acting for all levels in one call, and every update that is
due in the same call (one graph per pattern of due updates). Replay, schedules and episode
bookkeeping live in `hierarchy.agent`.

A transition of level i (one of its own steps) is stored as
  observations `[k_i + 1, obs_dim]`: the states at its child's step boundaries s_t, ..., s_{t+k_i}
      (k_i = periods[i]; the bottom level has k = 1: s_t, s_{t+1});
  num_steps: how many child steps the transition holds (k_i unless the episode ended early);
  goal: its conditioning input at s_t; action; reward: the environment reward summed over the step;
  discount: 0 if the episode terminated within the step, else 1;
  child_actions `[k_i, child_action_dim]`: only for the "reference" connected-gradient estimator.
The level's TD3 transition is (s_t, goal, action, r, s_{t+n}, goal'), with r the (scaled) environment
reward at the top and the intrinsic reward below, and goal' = h(s_t, goal, s_{t+n}) below (the context
at the top). The connected-gradient term reads the child-step states of the parent's transitions.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

import gin
import numpy as np
import tensorflow as tf

from hierarchy import connected, goals, optimizers
from hierarchy.level import Level
from hierarchy.replay import RowLayout

Number = Union[int, float]


def level_names(num_levels: int) -> List[str]:
    """Default names (and gin scopes) of the levels, top first.

    1 level: ["flat"]; 2: ["top", "low"]; 3: ["top", "mid", "low"]; more: ["top", "mid1", ..., "low"].
    """
    if num_levels < 1:
        raise ValueError(f"a hierarchy needs at least one level, got num_levels={num_levels}")
    if num_levels == 1:
        return ["flat"]
    if num_levels == 2:
        return ["top", "low"]
    if num_levels == 3:
        return ["top", "mid", "low"]
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


class StepInputs:
    """The one input vector of a compiled step for one pattern of due updates, and numpy views into
    it that callers fill in place (no packing, one tensor conversion per call).

    Attributes:
      due: `[N, 2]` bools, the pattern.
      acting: whether the step acts after its updates.
      levels: the levels in `Hierarchy.trained_levels(due)`, in order.
      vector: `[width]` float32, everything the graph reads.
      rows, draws: per trained level, views `[B_i, row width]` and `[B_i, draw width]`.
      act: view `[act width]` (see `Hierarchy.act_layout`), None without acting.
      flags: view `[N + 2]`: new_step (N), explore, use_random as 1.0 / 0.0; None without acting.
    """

    def __init__(self, *, due: np.ndarray, acting: bool, levels: List[int], row_shapes, draw_shapes,
                 act_width: int, num_flags: int):
        self.due, self.acting, self.levels = due, acting, levels
        self.key = self.key_of(due, acting)   # its compiled function's key in the hierarchy
        shapes = list(row_shapes) + list(draw_shapes)
        if acting:
            shapes += [(act_width,), (num_flags,)]
        sizes = [int(np.prod(shape)) for shape in shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.shapes = shapes
        self.vector = np.zeros(self.offsets[-1], np.float32)
        views = [self.vector[a:b].reshape(shape)
                 for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], shapes)]
        k = len(levels)
        self.rows, self.draws = views[:k], views[k:2 * k]
        self.act, self.flags = (views[2 * k], views[2 * k + 1]) if acting else (None, None)

    @staticmethod
    def key_of(due: np.ndarray, acting: bool) -> tuple:
        return due.tobytes(), acting

    def unpack(self, vector: tf.Tensor) -> list:
        """The graph's side: the tensors of `vector` in the order rows..., draws..., act, flags."""
        return [tf.reshape(vector[a:b], shape)
                for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)]


class _StepFunctions:
    """(due pattern as bytes, acting) -> [tf.function, its concrete function once traced,
    `StepInputs`]. A plain object, so that the module's checkpoint tracking leaves them alone."""

    def __init__(self):
        self.by_pattern: Dict[tuple, list] = {}


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
      cg_estimator: "paper" (Eq. 14, default), "reference" or "critic"; see `hierarchy.connected`.
      learn_cg_lambda: learn lambda = exp(w) per pair (Lagrangian); needs `cg_delta`.
      cg_delta: threshold of the learned lambda's constraint on r_c + Q_c.
      cg_lambda_learning_rate: Adam learning rate of w.
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
        if cg_estimator not in connected.ESTIMATORS:
            raise ValueError(f"cg_estimator must be one of {connected.ESTIMATORS}, got "
                             f"{cg_estimator!r}")
        self.cg_estimator = cg_estimator
        self.learn_cg_lambda = bool(learn_cg_lambda) and pairs > 0
        if self.learn_cg_lambda:
            if cg_delta is None:
                raise ValueError("learn_cg_lambda=True needs cg_delta (the constraint threshold)")
            if any(lam <= 0 for lam in self.cg_lambda):
                raise ValueError("learn_cg_lambda=True needs an initial cg_lambda > 0 for every pair")
        self.cg_delta = None if cg_delta is None else float(cg_delta)
        self.relative_goals = bool(relative_goals)
        self.goal_indices = tuple(int(i) for i in goal_indices)
        self.goal_dim = levels[1].goal_dim if n > 1 else 0

        self._check_specs()
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
        self._build_layouts()
        self._compile()

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
            goal_dim = levels[1].goal_dim
            if len(self.goal_indices) != goal_dim:
                raise ValueError(f"goal_indices has {len(self.goal_indices)} entries but the goals "
                                 f"of level 1 ('{levels[1].level_name}') have {goal_dim} dims")
            bad = [g for g in self.goal_indices if not 0 <= g < obs_shape[0]]
            if bad:
                raise ValueError(f"goal_indices {bad} are outside the observation (dim "
                                 f"{obs_shape[0]})")

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
        return level < self.num_levels - 1 and self.cg_estimator == "reference" and \
            self.has_cg(level)

    def replay_fields(self, level: int) -> Dict[str, tuple]:
        """Field name -> (row shape, dtype) of level `level`'s replay (see the module docstring)."""
        lvl = self.levels[level]
        k = self.child_steps[level]
        fields = {
            "observations": ((k + 1, lvl.obs_dim), np.float32),
            "num_steps": ((), np.int32),
            "goal": ((lvl.goal_dim,), np.float32),
            "action": ((lvl.action_dim,), np.float32),
            "reward": ((), np.float32),
            "discount": ((), np.float32),
        }
        if self.uses_child_actions(level):
            fields["child_actions"] = ((k, self.levels[level + 1].action_dim), np.float32)
        return fields

    def has_cg(self, level: int) -> bool:
        """Whether level `level` receives a connected-gradient term from its child."""
        return level < self.num_levels - 1 and (self.learn_cg_lambda or self.cg_lambda[level] > 0)

    # ----------------------------------------------------------------------------------------------
    # The level's own TD3 transition from a stored one.

    def td3_transition(self, level: int, batch: Dict[str, tf.Tensor]):
        """(s, goal, action, reward, discount, s', goal') of a level from its replay rows."""
        obs = batch["observations"]
        state = obs[:, 0]
        next_state = connected.gather_step(obs, batch["num_steps"])
        goal = batch["goal"]
        if level == 0:
            reward, next_goal = batch["reward"], goal
        else:
            kw = dict(goal_indices=self.goal_indices, relative=self.relative_goals)
            reward = goals.intrinsic_reward(state, goal, next_state, **kw)
            next_goal = goals.goal_transition(state, goal, next_state, **kw)
        return state, goal, batch["action"], reward, batch["discount"], next_state, next_goal

    def cg_lambda_value(self, level: int) -> tf.Tensor:
        if self.learn_cg_lambda:
            return tf.exp(self.log_cg_lambda[level])
        return tf.constant(self.cg_lambda[level], tf.float32)

    # ----------------------------------------------------------------------------------------------
    # Compiled pieces.

    def _train_level_critic(self, i: int, batch) -> tf.Tensor:
        s, g, a, r, d, s1, g1 = self.td3_transition(i, batch)
        return self.levels[i].train_critic(s, g, a, r, d, s1, g1, batch["noise"])

    def actor_gradients(self, i: int, batch):
        """Level i's actor loss, its connected-gradient loss and the gradients of
        -mean Q_i + lambda_i * L_cg with respect to level i's actor variables.

        Returns:
          (actor loss, unweighted cg loss (0 without), gradients, per-sample cg objective or None).
        """
        lvl = self.levels[i]
        state, goal = batch["observations"][:, 0], batch["goal"]
        if not self.has_cg(i):
            actor_loss, _, grads = lvl.actor_gradients(state, goal)
            return actor_loss, tf.constant(0.0), grads, None
        child = self.levels[i + 1]
        objectives = []

        def extra_loss(parent_action):
            objective = connected.cg_objective(
                self.cg_estimator, parent_action=parent_action, observations=batch["observations"],
                j=batch["child_step"], child=child, goal_indices=self.goal_indices,
                relative=self.relative_goals, child_actions=batch.get("child_actions"))
            objectives.append(objective)
            return -tf.stop_gradient(self.cg_lambda_value(i)) * tf.reduce_mean(objective)

        actor_loss, _, grads = lvl.actor_gradients(state, goal, extra_loss)
        return actor_loss, -tf.reduce_mean(objectives[0]), grads, objectives[0]

    def _train_level_actor(self, i: int, batch):
        """Actor (+ connected gradient) and target update of level i; returns (actor, cg) losses."""
        actor_loss, cg_loss, grads, objective = self.actor_gradients(i, batch)
        self.levels[i].apply_actor_gradients(grads)
        if self.learn_cg_lambda and objective is not None:
            w = self.log_cg_lambda[i]
            with tf.GradientTape() as tape:
                lam_loss = connected.lagrangian_lambda_loss(w, objective, self.cg_delta)
            self.lambda_optimizers[i].apply_gradients([tape.gradient(lam_loss, w)])
        return actor_loss, cg_loss

    def train(self, batches: Sequence[Dict[str, tf.Tensor] | None], due) -> tf.Tensor:
        """The updates that are due (graph or eager).

        Args:
          batches: per level, its replay rows plus "noise" `[B, A]` (standard normal, target
            smoothing) and, for a parent with connected gradients, "child_step" `[B]` int; None (or
            anything) for a level with nothing due.
          due: `[N, 2]` bools known when the graph is built (numpy, lists or an eager tensor):
            (critic update due, actor + target update due) per level. Only the updates due are
            built: the compiled step has one graph per pattern, with no conditionals in it.

        Returns:
          `[N, 4]`: critic loss, actor loss, connected-gradient loss (unweighted), lambda; zeros
          where no update ran.
        """
        due = self._static_due(due)
        zero = tf.constant(0.0)
        rows = []
        for i in range(self.num_levels):
            critic_loss = self._train_level_critic(i, batches[i]) if due[i, 0] else zero
            actor_loss, cg_loss = (self._train_level_actor(i, batches[i]) if due[i, 1]
                                   else (zero, zero))
            lam = self.cg_lambda_value(i) if i < self.num_levels - 1 else zero
            rows.append(tf.stack([critic_loss, actor_loss, cg_loss, lam]))
        return tf.stack(rows)

    def _static_due(self, due) -> np.ndarray:
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
        kw = dict(goal_indices=self.goal_indices, relative=self.relative_goals)
        for i, lvl in enumerate(self.levels):
            if i == 0:
                goal = context[None]
            else:
                parent_new = new_step[i - 1]
                o_state = tf.where(parent_new, observation, origin_states[i])[None]
                o_goal = tf.where(parent_new, actions[i - 1], origin_goals[i])[None]
                goal = goals.goal_at(o_state, o_goal, obs, **kw)
            action = lvl.policy(obs, goal)
            action = tf.where(explore, lvl.explore(action, noise[i][None]), action)
            action = tf.where(use_random, random_actions[i][None], action)
            actions.append(action[0])
            goal_inputs.append(goal[0])
        return tuple(actions), tuple(goal_inputs)

    # ----------------------------------------------------------------------------------------------
    # The one compiled call per environment step.

    def _build_layouts(self) -> None:
        n, levels = self.num_levels, self.levels
        self.row_layouts = [RowLayout(self.replay_fields(i)) for i in range(n)]
        self.draw_layouts = []
        for i, lvl in enumerate(levels):
            draws = {"noise": ((lvl.action_dim,), np.float32)}
            if self.has_cg(i):
                draws["child_step"] = ((), np.int32)
            self.draw_layouts.append(RowLayout(draws))
        obs_dim = levels[0].obs_dim
        act = {"observation": ((obs_dim,), np.float32),
               "context": ((levels[0].goal_dim,), np.float32),
               "origin_states": ((n, obs_dim), np.float32),
               "origin_goals": ((n, self.goal_dim), np.float32)}
        act.update({f"noise_{i}": ((lvl.action_dim,), np.float32) for i, lvl in enumerate(levels)})
        act.update({f"random_{i}": ((lvl.action_dim,), np.float32) for i, lvl in enumerate(levels)})
        self.act_layout = RowLayout(act)
        out = {f"action_{i}": ((lvl.action_dim,), np.float32) for i, lvl in enumerate(levels)}
        out.update({f"goal_{i}": ((lvl.goal_dim,), np.float32) for i, lvl in enumerate(levels)})
        out["losses"] = ((n, 4), np.float32)
        self.out_layout = RowLayout(out)
        self.num_flags = n + 2

    @staticmethod
    def trained_levels(due) -> List[int]:
        """The levels with any update in a `[N, 2]` due pattern: those whose batch a step needs."""
        return [int(i) for i in np.flatnonzero(np.asarray(due, bool).any(axis=1))]

    def _step(self, due: np.ndarray, rows, draws, act=None, flags=None) -> tf.Tensor:
        """The updates in `due`, then acting, on packed inputs; returns the packed output row.

        Args:
          due: `[N, 2]` numpy bools (static).
          rows, draws: `[B_i, row width]` replay rows and `[B_i, draw width]` draws of each level in
            `trained_levels(due)`, in that order.
          act: `[act width]` (see `act_layout`), or None for the updates alone (then the output is
            the `[N * 4]` losses).
          flags: `[N + 2]` bool: new_step (N), explore, use_random.
        """
        n = self.num_levels
        batches = [None] * n
        for k, i in enumerate(self.trained_levels(due)):
            batches[i] = dict(self.row_layouts[i].unpack(rows[k]), **self.draw_layouts[i].unpack(draws[k]))
        losses = self.train(batches, due) if due.any() else tf.zeros([n, 4])
        if act is None:
            return tf.reshape(losses, [-1])
        inputs = {k: v[0] for k, v in self.act_layout.unpack(act[None]).items()}
        with tf.control_dependencies([losses]):
            actions, goal_inputs = self.act(
                observation=inputs["observation"], context=inputs["context"],
                origin_states=inputs["origin_states"], origin_goals=inputs["origin_goals"],
                new_step=flags[:n], explore=flags[n], use_random=flags[n + 1],
                noise=[inputs[f"noise_{i}"] for i in range(n)],
                random_actions=[inputs[f"random_{i}"] for i in range(n)])
        return tf.concat([*actions, *goal_inputs, tf.reshape(losses, [-1])], axis=0)

    def _compile(self) -> None:
        self._step_functions = _StepFunctions()

    def _function(self, due, acting: bool) -> list:
        """[tf.function, its concrete function once traced, its `StepInputs`] of one due pattern,
        with or without acting.

        Each pattern gets its own graph with a fixed input signature (one float32 vector), built on
        first use: no conditionals and no retracing. A schedule visits few patterns, so few graphs
        are built (flat TD3 with the paper's schedule: critic, and critic + actor; two levels: four,
        plus acting alone during the warm-up).
        """
        due = self._static_due(due)
        entry = self._step_functions.by_pattern.get(StepInputs.key_of(due, acting))
        if entry is None:
            trained = self.trained_levels(due)
            inputs = StepInputs(
                due=due, acting=acting, levels=trained,
                row_shapes=[(self.levels[i].batch_size, self.row_layouts[i].width) for i in trained],
                draw_shapes=[(self.levels[i].batch_size, self.draw_layouts[i].width)
                             for i in trained],
                act_width=self.act_layout.width, num_flags=self.num_flags)
            k = len(trained)

            def step(vector):
                parts = inputs.unpack(vector)
                if not acting:
                    return self._step(due, parts[:k], parts[k:2 * k])
                return self._step(due, parts[:k], parts[k:2 * k], parts[2 * k],
                                  parts[2 * k + 1] > 0.5)

            fn = tf.function(step, input_signature=[tf.TensorSpec([inputs.vector.size], tf.float32)],
                             autograph=False)
            entry = self._step_functions.by_pattern[inputs.key] = [fn, None, inputs]
        return entry

    def step_inputs(self, due, *, acting: bool = True) -> StepInputs:
        """The input buffers of the compiled step for `due` (reused by every call with that pattern):
        fill their views in place, then `call(inputs)`. `step` and `update` do this for you."""
        return self._function(due, acting)[2]

    def call(self, inputs: StepInputs) -> np.ndarray:
        """Runs the compiled step of `inputs`' pattern on its vector; returns the output (numpy).

        Calls the traced graph directly with one tensor (`_call_flat`, stable in the pinned
        TensorFlow 2.15): that skips the per-call signature binding of `tf.function`, which costs
        more than half a millisecond per step on a 2-core CPU.
        """
        entry = self._step_functions.by_pattern.get(inputs.key)
        if entry is None or entry[2] is not inputs:
            raise ValueError("these StepInputs belong to another hierarchy; use step_inputs()")
        if entry[1] is None:
            entry[1] = entry[0].get_concrete_function()
        fn = entry[1]
        return fn._call_flat([tf.convert_to_tensor(inputs.vector)], fn.captured_inputs).numpy()

    def _fill(self, inputs: StepInputs, rows, draws, act=None, flags=None) -> StepInputs:
        """Copies caller-given arrays into `inputs`, checking every shape (no silent broadcast)."""
        k = len(inputs.levels)
        if len(rows) != k or len(draws) != k:
            raise ValueError(f"the due pattern trains levels {inputs.levels}: expected {k} row and "
                             f"draw arrays, got {len(rows)} and {len(draws)}")
        pairs = [(f"rows of level {i}", x, v) for i, x, v in zip(inputs.levels, rows, inputs.rows)]
        pairs += [(f"draws of level {i}", x, v)
                  for i, x, v in zip(inputs.levels, draws, inputs.draws)]
        if inputs.acting:
            pairs += [("act", act, inputs.act), ("flags", flags, inputs.flags)]
        for what, x, view in pairs:
            x = np.asarray(x)
            if x.shape != view.shape:
                raise ValueError(f"{what} has shape {x.shape}, expected {view.shape}")
            view[...] = x
        return inputs

    def step(self, due, rows, draws, act, flags) -> np.ndarray:
        """The compiled step: the updates in `due`, then acting; returns the output row (numpy).

        Args:
          due: `[N, 2]` bools: (critic, actor + targets) update due per level.
          rows, draws: for the levels in `trained_levels(due)`, in order (empty when nothing is due).
          act: `[act width]`; flags: `[N + 2]` bools (see `_step`).

        `step_public` is the same through tf.function's public call path.
        """
        return self.call(self._fill(self.step_inputs(due), rows, draws, act, flags))

    def step_public(self, due, rows, draws, act, flags) -> np.ndarray:
        """`step` through tf.function's public call path (a reference for tests)."""
        inputs = self._fill(self.step_inputs(due), rows, draws, act, flags)
        return self._function(due, acting=True)[0](inputs.vector).numpy()

    def update(self, due, rows, draws) -> np.ndarray:
        """The updates in `due` alone, compiled (no acting): e.g. extra updates per environment
        step, or training from a filled buffer. Returns the `[N, 4]` losses (see `train`)."""
        inputs = self._fill(self.step_inputs(due, acting=False), rows, draws)
        return self.call(inputs).reshape(self.num_levels, 4)
