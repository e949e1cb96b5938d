"""`Agent`: a `Hierarchy` with its replay buffers, update schedule and episode bookkeeping.

Use:
    agent = Agent(hierarchy=h, warmup_steps=10_000, seed=0)
    episode = agent.begin_episode(obs["observation"], obs["context"])
    while True:
        action = agent.act(episode)          # one compiled call: every update due, then acting
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(episode, reward, obs["observation"], terminated, truncated)
        if terminated or truncated: break

Schedule (DESIGN.md section 3): after `warmup_steps` uniformly random environment steps, level i
updates its critics once every K_i environment steps (once per own step: every step at the bottom,
every `period` steps for a two-level parent) and its actor and targets every `actor_update_period`
critic updates. All randomness (replay indices, exploration and target noise, warm-up actions, the
connected-gradient child step) comes from one numpy generator, saved with the agent's state.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Dict, List

import gin
import numpy as np
import tensorflow as tf

from hierarchy import goals
from hierarchy.hierarchy import Hierarchy
from hierarchy.replay import ReplayBuffer


@dataclasses.dataclass
class Episode:
    """The acting state of one episode (training or evaluation)."""

    training: bool
    context: np.ndarray                      # [C]
    observation: np.ndarray                  # [D], the current state
    t: int = 0                               # environment steps taken in this episode
    origin_states: np.ndarray = None         # [N, D]
    origin_goals: np.ndarray = None          # [N, G]
    actions: List[np.ndarray] = None         # per level, its current decision
    open: List[Dict[str, np.ndarray]] = None  # per level, the transition being collected
    env_return: float = 0.0
    # Per level: (s_t, goal, s_{t+n}) of every finished own step, for intrinsic returns.
    segments: List[List[tuple]] = None
    last_info: dict | None = None


@gin.configurable
class Agent:
    """Collects experience with a hierarchy and trains it.

    Args:
      hierarchy: the `Hierarchy`.
      warmup_steps: environment steps of uniformly random actions (every level) before learning.
      seed: seed of the agent's numpy generator.
    """

    def __init__(self, *, hierarchy: Hierarchy, warmup_steps: int = 10_000, seed: int = 0):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.hierarchy = h = hierarchy
        self.warmup_steps = int(warmup_steps)
        self.rng = np.random.default_rng(seed)
        self.buffers = [ReplayBuffer(capacity=lvl.replay_capacity, fields=h.replay_fields(i))
                        for i, lvl in enumerate(h.levels)]
        self.env_steps = 0
        self.critic_updates = [0] * h.num_levels
        self.last_losses = np.zeros((h.num_levels, 4), np.float32)
        self._no_updates = np.zeros((h.num_levels, 2), bool)
        self._obs_shape = (h.levels[0].obs_dim,)
        self._context_shape = (h.levels[0].goal_dim,)

    @staticmethod
    def _checked(x, what: str, shape: tuple) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.shape != shape:
            raise ValueError(f"the {what} has shape {x.shape}, the hierarchy expects {shape}")
        return x

    # ----------------------------------------------------------------------------------------------
    # Batches.

    def sample_draws(self, i: int, rows: np.ndarray) -> np.ndarray:
        """The random draws of level i's update on `rows`: target smoothing noise and, for a parent
        with connected gradients, the child step j (packed by the hierarchy's draw layout)."""
        lvl = self.hierarchy.levels[i]
        out = np.empty((lvl.batch_size, self.hierarchy.draw_layouts[i].width), np.float32)
        self._write_draws(i, rows, out)
        return out

    def sample_batches(self, inputs) -> None:
        """Samples the replay rows and draws of every level that `inputs` (a
        `Hierarchy.step_inputs`) trains, into its views."""
        for i, rows, draws in zip(inputs.levels, inputs.rows, inputs.draws):
            self.buffers[i].sample_into(self.rng, rows)
            self._write_draws(i, rows, draws)

    def _write_draws(self, i: int, rows: np.ndarray, out: np.ndarray) -> None:
        h, lvl = self.hierarchy, self.hierarchy.levels[i]
        slices = h.draw_layouts[i].slices
        out[:, slices["noise"]] = self.rng.standard_normal((lvl.batch_size, lvl.action_dim))
        if h.has_cg(i):
            # The child step j is uniform over ALL steps the period holds, the last one included.
            n = rows[:, h.row_layouts[i].slices["num_steps"]][:, 0].astype(np.int64)
            j = np.minimum((self.rng.random(n.shape) * n).astype(np.int64), n - 1)
            out[:, slices["child_step"]] = j[:, None]

    # ----------------------------------------------------------------------------------------------
    # Acting.

    def begin_episode(self, observation, context, *, training: bool = True) -> Episode:
        h = self.hierarchy
        obs = self._checked(observation, "observation", self._obs_shape)
        context = self._checked(context, "context", self._context_shape)
        ep = Episode(training=training, context=context, observation=obs)
        ep.origin_states = np.zeros((h.num_levels, obs.shape[0]), np.float32)
        ep.origin_goals = np.zeros((h.num_levels, h.goal_dim), np.float32)
        ep.actions = [np.zeros(lvl.action_dim, np.float32) for lvl in h.levels]
        ep.open = [None] * h.num_levels
        ep.segments = [[] for _ in h.levels]
        return ep

    def _due(self) -> np.ndarray:
        h = self.hierarchy
        due = np.zeros((h.num_levels, 2), bool)
        if self.env_steps < self.warmup_steps:
            return due
        for i, lvl in enumerate(h.levels):
            if self.env_steps % h.env_steps_per_step[i] == 0 and len(self.buffers[i]) > 0:
                due[i, 0] = True
                due[i, 1] = self.critic_updates[i] % lvl.actor_update_period == 0
        return due

    def act(self, episode: Episode) -> np.ndarray:
        """The environment action at the current state; in training, runs every update due first."""
        h, n = self.hierarchy, self.hierarchy.num_levels
        new_step = [episode.t % k == 0 for k in h.env_steps_per_step]
        training = episode.training
        random_phase = training and self.env_steps < self.warmup_steps
        due = self._due() if training else self._no_updates
        # Fill the compiled step's input vector in place (see Hierarchy.step_inputs).
        inputs = h.step_inputs(due)
        act, sl = inputs.act, h.act_layout.slices
        act[sl["observation"]] = episode.observation
        act[sl["context"]] = episode.context
        act[sl["origin_states"]] = episode.origin_states.reshape(-1)
        act[sl["origin_goals"]] = episode.origin_goals.reshape(-1)
        for i, lvl in enumerate(h.levels):
            act[sl[f"noise_{i}"]] = self.rng.standard_normal(lvl.action_dim) if training else 0.0
            act[sl[f"random_{i}"]] = lvl.random_action(self.rng) if random_phase else 0.0
        inputs.flags[:n] = new_step
        inputs.flags[n:] = (training, random_phase)
        self.sample_batches(inputs)
        out = h.call(inputs)
        out_slices = h.out_layout.slices
        if inputs.levels:
            losses = out[out_slices["losses"]].reshape(n, 4)
            if not np.all(np.isfinite(losses)):
                bad = [f"level {i} ('{h.levels[i].level_name}')" for i in range(n)
                       if not np.all(np.isfinite(losses[i]))]
                raise FloatingPointError(
                    f"non-finite loss after environment step {self.env_steps} in {', '.join(bad)}: "
                    f"[critic, actor, cg, lambda] = {losses.tolist()}")
            for i in inputs.levels:
                if due[i, 0]:
                    self.critic_updates[i] += 1
                    self.last_losses[i, 0] = losses[i, 0]
                if due[i, 1]:
                    self.last_losses[i, 1:] = losses[i, 1:]
        obs = episode.observation
        for i in range(n):
            if not new_step[i]:
                continue
            action = out[out_slices[f"action_{i}"]].copy()
            episode.actions[i] = action
            k = h.child_steps[i]
            tr = {"observations": np.zeros((k + 1, obs.shape[0]), np.float32), "num_steps": 0,
                  "goal": out[out_slices[f"goal_{i}"]].copy(), "action": action, "reward": 0.0}
            tr["observations"][0] = obs
            if h.uses_child_actions(i):
                tr["child_actions"] = np.zeros((k, h.levels[i + 1].action_dim), np.float32)
            episode.open[i] = tr
            if i + 1 < n:
                # Level i sets the goal of level i + 1 here; it is carried from this origin.
                episode.origin_states[i + 1] = obs
                episode.origin_goals[i + 1] = action
        for i in range(n - 1):
            if new_step[i + 1] and "child_actions" in episode.open[i]:
                tr = episode.open[i]
                tr["child_actions"][tr["num_steps"]] = episode.actions[i + 1]
        return episode.actions[-1]

    def observe(self, episode: Episode, reward: float, next_observation, terminated: bool,
                truncated: bool) -> None:
        """Records the outcome of the last action; stores each level's finished transitions."""
        h = self.hierarchy
        next_obs = self._checked(next_observation, "next observation", self._obs_shape)
        episode.t += 1
        episode.env_return += float(reward)
        done = bool(terminated or truncated)
        for i in range(h.num_levels):
            tr = episode.open[i]
            tr["reward"] += float(reward)
            child_env_steps = h.env_steps_per_step[i + 1] if i + 1 < h.num_levels else 1
            if episode.t % child_env_steps == 0 or done:
                tr["num_steps"] += 1
                tr["observations"][tr["num_steps"]] = next_obs
            if tr["num_steps"] == h.child_steps[i] or done:
                if episode.training:
                    row = dict(tr, discount=0.0 if terminated else 1.0)
                    self.buffers[i].add(row)
                episode.segments[i].append((tr["observations"][0], tr["goal"], next_obs))
        episode.observation = next_obs
        if episode.training:
            self.env_steps += 1

    # ----------------------------------------------------------------------------------------------
    # Episode statistics.

    def intrinsic_returns(self, episode: Episode) -> List[float]:
        """Per level below the top, the sum of its intrinsic rewards (the reward its critic learns
        from, reward_scale included) over the episode's finished own steps; NaN at the top."""
        h = self.hierarchy
        out = [float("nan")]
        for i in range(1, h.num_levels):
            if not episode.segments[i]:
                out.append(0.0)
                continue
            s, g, s1 = (np.stack(x) for x in zip(*episode.segments[i]))
            r = goals.intrinsic_reward(s, g, s1, goal_indices=h.goal_indices,
                                       relative=h.relative_goals)
            out.append(float(h.levels[i].reward_scale * tf.reduce_sum(r)))
        return out

    # ----------------------------------------------------------------------------------------------
    # State for checkpoints: TensorFlow variables via `tf_checkpoint`, the rest as numpy arrays.

    def tf_checkpoint(self) -> tf.train.Checkpoint:
        """Every variable of the hierarchy: networks, targets, optimizer slots, learned lambdas."""
        return tf.train.Checkpoint(hierarchy=self.hierarchy)

    def numpy_state(self) -> Dict[str, np.ndarray]:
        """Replay buffers, counters and the random generator's state, as named arrays."""
        state = {"env_steps": np.asarray(self.env_steps, np.int64),
                 "critic_updates": np.asarray(self.critic_updates, np.int64),
                 "last_losses": self.last_losses.copy(),
                 "rng": np.frombuffer(json.dumps(self.rng.bit_generator.state).encode(), np.uint8)}
        for i, buf in enumerate(self.buffers):
            state.update({f"replay{i}/{k}": v for k, v in buf.state().items()})
        return state

    def load_numpy_state(self, state: Dict[str, np.ndarray]) -> None:
        """Restores what `numpy_state` saved (the agent must have the same configuration)."""
        n = self.hierarchy.num_levels
        updates = np.asarray(state["critic_updates"])
        if updates.shape != (n,):
            raise ValueError(f"checkpoint holds {updates.shape[0]} level(s), this agent has {n}")
        for i, buf in enumerate(self.buffers):
            prefix = f"replay{i}/"
            buf.restore({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        self.env_steps = int(state["env_steps"])
        self.critic_updates = [int(u) for u in updates]
        self.last_losses = np.asarray(state["last_losses"], np.float32).copy()
        self.rng.bit_generator.state = json.loads(bytes(np.asarray(state["rng"])).decode())
