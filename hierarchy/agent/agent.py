"""`Agent`: a `Hierarchy` with its replay buffers, update schedule and episode bookkeeping.

Use:
    agent = Agent(hierarchy=h, warmup_steps=10_000, seed=0)
    episode = agent.begin_episode(obs["observation"], obs["context"])
    while True:
        action = agent.act(episode)          # one compiled call: every update due, then acting
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(episode, reward, obs["observation"], terminated, truncated)
        if terminated or truncated: break

Schedule (`due_updates`, docs/model.md): after `warmup_steps` uniformly random environment steps,
level i updates its critics once every K_i environment steps (once per own step: every step at the
bottom, every `period` steps for a two-level parent) and its actor and targets every
`actor_update_period` critic updates. All randomness (replay indices, exploration and target noise,
warm-up actions, the connected-gradient child step) comes from one numpy generator, saved with the
agent's state.

A step is `prepare_step` (the due pattern, the draws and the sampled batches written into the
compiled step's inputs), one `CompiledStep.call`, then `finish_step` (losses and each level's new
decision recorded); `act` is the three in a row.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, Dict, List, Sequence

import gin
import numpy as np
import tensorflow as tf

from hierarchy.agent.compiled_step import CompiledStep, StepInputs, StepOutputs
from hierarchy.agent.replay import ReplayBuffer, RowLayout, Transition
from hierarchy.core import goals, relabelling
from hierarchy.core.losses import Losses
from hierarchy.core.stack import Hierarchy


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
    open: List[Transition] = None            # per level, the transition being collected
    env_return: float = 0.0
    # Per level: (s_t, goal, s_{t+n}) of every finished own step, for intrinsic returns.
    segments: List[List[tuple]] = None
    last_info: dict | None = None


def due_updates(*, env_steps: int, warmup_steps: int, env_steps_per_step: Sequence[int],
                actor_update_periods: Sequence[int], critic_updates: Sequence[int],
                ready: Sequence[bool]) -> np.ndarray:
    """The update schedule: which updates are due before environment step `env_steps`.

    Args:
      env_steps: training environment steps taken so far.
      warmup_steps: random steps before any update.
      env_steps_per_step: K_i per level (`Hierarchy.env_steps_per_step`).
      actor_update_periods: per level, critic updates per actor + target update.
      critic_updates: per level, critic updates made so far.
      ready: per level, whether its replay holds anything to sample.

    Returns:
      `[N, 2]` bools: (critic update, actor + target update) due per level.
    """
    n = len(env_steps_per_step)
    due = np.zeros((n, 2), bool)
    if env_steps < warmup_steps:
        return due
    for i in range(n):
        if env_steps % env_steps_per_step[i] == 0 and ready[i]:
            due[i, 0] = True
            due[i, 1] = critic_updates[i] % actor_update_periods[i] == 0
    return due


@gin.configurable
class Agent:
    """Collects experience with a hierarchy and trains it.

    Args:
      hierarchy: the `Hierarchy`.
      warmup_steps: environment steps of uniformly random actions (every level) before learning.
      seed: seed of the agent's numpy generator.
      make_replay: `(level index, row layout) -> ReplayBuffer`, the replay of each level. Default:
        a `ReplayBuffer` built inside the gin scope of the level's name, so its capacity and batch
        size are per-level gin bindings (`low/ReplayBuffer.batch_size = 256`).
      hindsight_goals: probability of a hindsight goal transition in a sampled row of a level below
        the top, one for all or one per level below the top (`hierarchy.core.relabelling`,
        docs/relabelling.md); 0: none.
      hindsight_context: the same for the top level, whose goal is the context: needs
        `context_reward` and at most two levels.
      hindsight_strategy: how the hindsight goal is chosen: "future" (a goal achieved later in the
        same episode).
      context_reward: the task's reward function of the context (`relabelling.ContextReward`), which
        hindsight goals at the top level need; None if the task has none.
      relabellers: rules of one's own over sampled rows (`relabelling.RowRelabeller`), called in
        order on every level's batch after the hindsight goals (docs/extending.md).
    """

    def __init__(self, *, hierarchy: Hierarchy, warmup_steps: int = 10_000, seed: int = 0,
                 make_replay: Callable[[int, RowLayout], ReplayBuffer] | None = None,
                 hindsight_goals: float | Sequence[float] = 0.0, hindsight_context: float = 0.0,
                 hindsight_strategy: str = "future",
                 context_reward: relabelling.ContextReward | None = None,
                 relabellers: Sequence[relabelling.RowRelabeller] = ()):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.hierarchy = h = hierarchy
        self.warmup_steps = int(warmup_steps)
        self.rng = np.random.default_rng(seed)
        self.hindsight_goals = relabelling.level_probabilities(
            hindsight_goals, hindsight_context, num_levels=h.num_levels, strategy=hindsight_strategy,
            context_reward=context_reward, env_steps_per_child_step=h.env_steps_per_step[1:] + [1])
        self.context_reward = context_reward
        self.relabellers = ([relabelling.HindsightGoals(probabilities=self.hindsight_goals,
                                                        context_reward=context_reward)]
                            if any(p > 0 for p in self.hindsight_goals) else [])
        for k, rule in enumerate(relabellers):
            if not isinstance(rule, relabelling.RowRelabeller):
                raise TypeError(f"relabellers[{k}] is a {type(rule).__name__}, which is not a "
                                "RowRelabeller (it needs tracks_episodes(level) and __call__(batch))")
            self.relabellers.append(rule)
        make_replay = make_replay or self._scoped_replay
        self.buffers = [make_replay(i, h.transition_layout(i)) for i in range(h.num_levels)]
        for i, buf in enumerate(self.buffers):
            if any(rule.tracks_episodes(i) for rule in self.relabellers):
                buf.track_episodes()
        self.compiled = CompiledStep(hierarchy=h, batch_sizes=[b.batch_size for b in self.buffers])
        self.env_steps = 0
        self.critic_updates = [0] * h.num_levels
        self.last_losses = Losses.zeros(h.num_levels)
        self._no_updates = np.zeros((h.num_levels, 2), bool)
        self._obs_shape = (h.levels[0].obs_dim,)
        self._context_shape = (h.levels[0].goal_dim,)

    def _scoped_replay(self, level: int, layout: RowLayout) -> ReplayBuffer:
        name = self.hierarchy.levels[level].level_name
        with gin.config_scope(name if name.isidentifier() else ""):
            try:
                return ReplayBuffer(layout=layout)
            except ValueError as e:
                raise ValueError(f"level '{name}': {e}") from None

    @staticmethod
    def _checked(x, what: str, shape: tuple) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.shape != shape:
            raise ValueError(f"the {what} has shape {x.shape}, the hierarchy expects {shape}")
        return x

    # ----------------------------------------------------------------------------------------------
    # Batches.

    def sample_draws(self, i: int, rows: np.ndarray) -> np.ndarray:
        """The packed `Draws` of level i's update on packed `rows`: target smoothing noise, for a
        parent with connected gradients the child step j, for a relabelled parent its draws."""
        out = np.empty((rows.shape[0], self.compiled.draw_layouts[i].width), np.float32)
        self._write_draws(i, self.compiled.row_layouts[i].views(np.ascontiguousarray(rows)),
                          self.compiled.draw_layouts[i].views(out))
        return out

    def sample_batches(self, inputs: StepInputs) -> None:
        """Samples the replay rows and draws of every level that `inputs` trains, into its views."""
        for i, rows, transitions, draws in zip(inputs.levels, inputs.rows, inputs.transitions,
                                               inputs.draw_records):
            indices = self.buffers[i].sample_into(self.rng, rows)
            self._write_draws(i, transitions, draws)
            if self.relabellers:
                batch = relabelling.SampledBatch(level=i, rows=transitions, indices=indices,
                                                 buffer=self.buffers[i], rng=self.rng,
                                                 space=self.hierarchy.goal_space)
                for rule in self.relabellers:
                    rule(batch)

    def _write_draws(self, i: int, transitions, draws) -> None:
        """Writes level i's draws for sampled `transitions` into `draws` (records of views)."""
        noise = draws.noise
        noise[...] = self.rng.standard_normal(noise.shape)
        if draws.child_step is not None:
            # The child step j is uniform over ALL steps the period holds, the last one included.
            n = transitions.num_steps.astype(np.int64)
            j = np.minimum((self.rng.random(n.shape) * n).astype(np.int64), n - 1)
            draws.child_step[...] = j
        # Relabelling draws come after the others, so runs without relabelling draw as before.
        if draws.candidate_noise is not None:
            draws.candidate_noise[...] = self.rng.standard_normal(draws.candidate_noise.shape)
        if draws.hindsight is not None:
            draws.hindsight[...] = self.rng.random(draws.hindsight.shape)

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

    def due_updates(self) -> np.ndarray:
        """The `[N, 2]` updates due before the next training step (see `due_updates`)."""
        h = self.hierarchy
        return due_updates(env_steps=self.env_steps, warmup_steps=self.warmup_steps,
                           env_steps_per_step=h.env_steps_per_step,
                           actor_update_periods=[lvl.actor_update_period for lvl in h.levels],
                           critic_updates=self.critic_updates,
                           ready=[len(b) > 0 for b in self.buffers])

    def act(self, episode: Episode, *, update: bool = True) -> np.ndarray:
        """The environment action at the current state; in training, runs every update due first
        (unless `update` is False: then the caller runs them, e.g. with `sample_update`)."""
        inputs = self.prepare_step(episode, update=update)
        return self.finish_step(episode, inputs, self.compiled.call(inputs))

    def prepare_step(self, episode: Episode, *, update: bool = True) -> StepInputs:
        """The inputs of this step's compiled call, filled: the updates due (training only), their
        sampled batches and draws, and the acting inputs."""
        h = self.hierarchy
        training = episode.training
        random_phase = training and self.env_steps < self.warmup_steps
        due = self.due_updates() if training and update else self._no_updates
        inputs = self.compiled.inputs(due)
        act = inputs.act
        act.observation[...] = episode.observation
        act.context[...] = episode.context
        act.origin_states[...] = episode.origin_states
        act.origin_goals[...] = episode.origin_goals
        for i, lvl in enumerate(h.levels):
            act.noise[i][...] = self.rng.standard_normal(lvl.action_dim) if training else 0.0
            act.random_actions[i][...] = lvl.random_action(self.rng) if random_phase else 0.0
        act.new_step[...] = [episode.t % k == 0 for k in h.env_steps_per_step]
        act.explore[...] = training
        act.use_random[...] = random_phase
        self.sample_batches(inputs)
        return inputs

    def sample_update(self, due) -> StepInputs:
        """The inputs of the compiled updates in `due` alone, with freshly sampled batches: run them
        with `compiled.call`, then hand the outputs to `record_update`."""
        inputs = self.compiled.inputs(due, acting=False)
        self.sample_batches(inputs)
        return inputs

    def record_update(self, inputs: StepInputs, outputs: StepOutputs) -> None:
        """Counts the updates that ran and keeps their losses; raises on a non-finite loss."""
        if not inputs.levels:
            return
        h, losses, due = self.hierarchy, outputs.losses, inputs.due
        table = losses.table()
        if not np.all(np.isfinite(table)):
            bad = [f"level {i} ('{h.levels[i].level_name}')" for i in range(h.num_levels)
                   if not np.all(np.isfinite(table[i]))]
            raise FloatingPointError(
                f"non-finite loss after environment step {self.env_steps} in {', '.join(bad)}: "
                f"[{', '.join(Losses.NAMES)}] = {table.tolist()}")
        last = self.last_losses
        for i in inputs.levels:
            if due[i, 0]:
                self.critic_updates[i] += 1
                last.critic[i] = losses.critic[i]
            if due[i, 1]:
                last.actor[i], last.cg[i] = losses.actor[i], losses.cg[i]
                last.cg_lambda[i] = losses.cg_lambda[i]

    def finish_step(self, episode: Episode, inputs: StepInputs, outputs: StepOutputs) -> np.ndarray:
        """Records a compiled step's outputs: the updates' losses, and each level that started a
        step now opens its transition. Returns the environment action."""
        h, n = self.hierarchy, self.hierarchy.num_levels
        self.record_update(inputs, outputs)
        new_step = inputs.act.new_step > 0.5
        obs = episode.observation
        for i in range(n):
            if not new_step[i]:
                continue
            action = outputs.actions[i].copy()
            episode.actions[i] = action
            k = h.child_steps[i]
            observations = np.zeros((k + 1, obs.shape[0]), np.float32)
            observations[0] = obs
            child_actions = (np.zeros((k, h.levels[i + 1].action_dim), np.float32)
                             if h.uses_child_actions(i) else None)
            episode.open[i] = Transition(observations=observations, num_steps=0,
                                         goal=outputs.goals[i].copy(), action=action, reward=0.0,
                                         discount=1.0, child_actions=child_actions)
            if i + 1 < n:
                # Level i sets the goal of level i + 1 here; it is carried from this origin.
                episode.origin_states[i + 1] = obs
                episode.origin_goals[i + 1] = action
        for i in range(n - 1):
            tr = episode.open[i]
            if new_step[i + 1] and tr.child_actions is not None:
                tr.child_actions[tr.num_steps] = episode.actions[i + 1]
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
            tr.reward += float(reward)
            child_env_steps = h.env_steps_per_step[i + 1] if i + 1 < h.num_levels else 1
            if episode.t % child_env_steps == 0 or done:
                tr.num_steps += 1
                tr.observations[tr.num_steps] = next_obs
            if tr.num_steps == h.child_steps[i] or done:
                if episode.training:
                    tr.discount = 0.0 if terminated else 1.0
                    self.buffers[i].add(tr, new_episode=not episode.segments[i])
                episode.segments[i].append((tr.observations[0], tr.goal, next_obs))
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
            r = goals.intrinsic_reward(s, g, s1, space=h.goal_space)
            out.append(float(h.levels[i].scale_reward(tf.reduce_sum(r))))
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
                 "last_losses": self.last_losses.table(),
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
        self.last_losses = Losses.from_table(state["last_losses"])
        self.rng.bit_generator.state = json.loads(bytes(np.asarray(state["rng"])).decode())
