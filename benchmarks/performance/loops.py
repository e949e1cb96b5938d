"""The training loops whose speed `benchmarks.performance.throughput` measures: ours (`OurLoop`:
flat TD3, HRL, HIRO and HRL-CG at 2 and 3 levels, by `LOOPS`) and tf-agents' TD3
(`benchmarks.performance.tf_agents_loop`), each with its loop, its compiled updates alone
(`ceiling`) and, ours only, the fused call, the leanest possible loop (`bound`) and the environment
alone; see the throughput module's docstring for what each measures.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import importlib.util  # noqa: E402

# tf-agents (the optional extra, requirements-tf-agents.txt) needs Keras 2 as tf.keras, which
# TensorFlow 2.16+ gives only when this is set before it is imported.
HAS_TF_AGENTS = importlib.util.find_spec("tf_agents") is not None
if importlib.util.find_spec("tf_keras") is not None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import gin  # noqa: E402
import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402, F401  (after TF_USE_LEGACY_KERAS is set)

HIDDEN = (256, 256)
BATCH_SIZE = 256
REPLAY_CAPACITY = 200_000
PERIOD = 10
CG_LAMBDA = 0.01

CANDIDATES = 10   # off-policy correction candidates of the hiro2 loop

# name -> (number of levels, cg_lambda[, off-policy correction]); None marks tf-agents.
LOOPS: Dict[str, tuple | None] = {
    "flat": (1, 0.0),
    "hrl2": (2, 0.0),
    "hiro2": (2, 0.0, True),
    "hrl_cg2": (2, CG_LAMBDA),
    "hrl_cg3": (3, CG_LAMBDA),
    "tf_agents": None,
}
DESCRIPTIONS = {
    "flat": "ours, flat TD3 (1 level)",
    "hrl2": "ours, HRL (2 levels, lambda 0)",
    "hiro2": f"ours, HIRO (hrl2 + off-policy correction, {CANDIDATES} candidates)",
    "hrl_cg2": f"ours, HRL-CG (2 levels, lambda {CG_LAMBDA})",
    "hrl_cg3": f"ours, HRL-CG (3 levels, lambda {CG_LAMBDA})",
    "tf_agents": "tf-agents Td3Agent (driver + replay + dataset)",
}


def default_loops() -> List[str]:
    """The loops measured when --loops is not given: all of LOOPS, tf_agents only where installed."""
    return [name for name in LOOPS if name != "tf_agents" or HAS_TF_AGENTS]


# --------------------------------------------------------------------------------------------------
# Environments.

def make_env(env_id: str) -> gym.Env:
    """The library's environment of a run (`hierarchy.run.assembly.make_env`); Ant-v5 without its
    contact forces (see the module docstring)."""
    from hierarchy.run.assembly import make_env as make_run_env

    kwargs = {"include_cfrc_ext_in_observation": False} if env_id.startswith("Ant-") else {}
    return make_run_env(env_id, **kwargs)


def goal_space(env: gym.Env):
    """(goal_indices, goal_low, goal_high): the environment's published one, else the Ant tasks'
    sub-goal space without x and y (Ant-v5's observation starts at the torso height)."""
    task = getattr(env.unwrapped, "task_spec", None)
    if task is not None:
        return tuple(task.goal_indices), tuple(task.goal_low), tuple(task.goal_high)
    from envs.ant import ANT_GOAL_HIGH

    high = ANT_GOAL_HIGH[2:]
    dim = env.observation_space["observation"].shape[0]
    if dim < len(high):
        raise ValueError(f"no goal space known for an observation of {dim} dims; use an env that "
                         f"publishes a task_spec")
    return tuple(range(len(high))), tuple(-h for h in high), high


# --------------------------------------------------------------------------------------------------
# Our loops.

class OurLoop:
    """Our training loop (`Agent.act` / `env.step` / `Agent.observe`) on one environment."""

    def __init__(self, env_id: str, num_levels: int, cg_lambda: float, warmup_steps: int, seed: int,
                 hidden=HIDDEN, batch_size: int = BATCH_SIZE, correction: bool = False):
        import hierarchy

        gin.clear_config()
        gin.bind_parameter("ReplayBuffer.batch_size", batch_size)
        gin.bind_parameter("ReplayBuffer.capacity", REPLAY_CAPACITY)
        gin.bind_parameter("Level.actor_hidden_sizes", tuple(hidden))
        gin.bind_parameter("Level.critic_hidden_sizes", tuple(hidden))
        self.env = make_env(env_id)
        obs_spec, ctx_spec, act_spec = hierarchy.specs_from_env(self.env)
        kwargs = {}
        if num_levels > 1:
            idx, low, high = goal_space(self.env)
            kwargs = dict(goal_indices=idx, goal_low=low, goal_high=high, periods=PERIOD,
                          cg_lambda=cg_lambda, cg_estimator="paper")
            if correction:
                kwargs.update(off_policy_correction=True, correction_candidates=CANDIDATES)
        self.hierarchy = hierarchy.build_hierarchy(
            observation_spec=obs_spec, context_spec=ctx_spec, action_spec=act_spec,
            num_levels=num_levels, seed=seed, **kwargs)
        self.agent = hierarchy.Agent(hierarchy=self.hierarchy, warmup_steps=warmup_steps, seed=seed)
        gin.clear_config()
        self.warmup_steps = warmup_steps
        obs, _ = self.env.reset(seed=seed)
        self.episode = self.agent.begin_episode(obs["observation"], obs["context"])
        self._fixed = None

    def run(self, steps: int) -> float:
        """Runs `steps` environment steps of the training loop; returns the seconds taken."""
        env, agent = self.env, self.agent
        episode = self.episode
        start = time.perf_counter()
        for _ in range(steps):
            action = agent.act(episode)
            obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(episode, reward, obs["observation"], terminated, truncated)
            if terminated or truncated:
                obs, _ = env.reset()
                episode = agent.begin_episode(obs["observation"], obs["context"])
        elapsed = time.perf_counter() - start
        self.episode = episode
        return elapsed

    def breakdown(self, steps: int) -> Dict[str, float]:
        """Milliseconds per step of each part of the loop over `steps` steps: the compiled call
        (`CompiledStep.call`), the rest of `Agent.act` (`prepare_step`: replay sampling, draws,
        inputs; `finish_step`: bookkeeping), `env.step` (with resets and new episodes) and
        `Agent.observe`."""
        env, agent = self.env, self.agent
        call = agent.compiled.call
        acc = {"compiled call": 0.0, "rest of Agent.act": 0.0, "env.step": 0.0, "Agent.observe": 0.0}
        episode = self.episode
        clock = time.perf_counter
        for _ in range(steps):
            t0 = clock()
            inputs = agent.prepare_step(episode)
            t1 = clock()
            outputs = call(inputs)
            t2 = clock()
            action = agent.finish_step(episode, inputs, outputs)
            t3 = clock()
            obs, reward, terminated, truncated, _ = env.step(action)
            t4 = clock()
            agent.observe(episode, reward, obs["observation"], terminated, truncated)
            t5 = clock()
            if terminated or truncated:
                obs, _ = env.reset()
                episode = agent.begin_episode(obs["observation"], obs["context"])
            acc["compiled call"] += t2 - t1
            acc["rest of Agent.act"] += (t1 - t0) + (t3 - t2)
            acc["env.step"] += (t4 - t3) + (clock() - t5)
            acc["Agent.observe"] += t5 - t4
        self.episode = episode
        return {k: v / steps * 1e3 for k, v in acc.items()}

    def prepare(self, trace_steps: int) -> None:
        """Fills the replay buffers with the random warm-up, then traces with a few learning steps."""
        self.run(self.warmup_steps + trace_steps)
        self._prepare_fixed()

    def _prepare_fixed(self) -> None:
        """Fixed inputs of the compiled step for the ceiling: one batch per level, one act row, and
        the loop's schedule of due flags over one full cycle of the top level."""
        import hierarchy

        h, agent = self.hierarchy, self.agent
        step = agent.compiled
        rows = [buf.sample(agent.rng) for buf in agent.buffers]
        draws = [agent.sample_draws(i, rows[i]) for i in range(h.num_levels)]
        ep = self.episode
        zeros = [np.zeros(lvl.action_dim, np.float32) for lvl in h.levels]
        schedule = []   # per step of the cycle: (update inputs, fused step inputs)
        critic_updates = [0] * h.num_levels
        periods = [lvl.actor_update_period for lvl in h.levels]
        cycle = h.env_steps_per_step[0] * max(periods)
        for s in range(cycle):
            # The agent's own schedule (`hierarchy.agent.agent.due_updates`) past the warm-up.
            due = hierarchy.agent.agent.due_updates(
                env_steps=s, warmup_steps=0, env_steps_per_step=h.env_steps_per_step,
                actor_update_periods=periods, critic_updates=critic_updates,
                ready=[True] * h.num_levels)
            critic_updates = [c + int(d) for c, d in zip(critic_updates, due[:, 0])]
            new_step = due[:, 0].astype(np.float32)   # a level updates once per own step
            act = hierarchy.agent.compiled_step.ActInputs(
                observation=ep.observation, context=ep.context, origin_states=ep.origin_states,
                origin_goals=ep.origin_goals, noise=zeros, random_actions=zeros, new_step=new_step,
                explore=np.ones(1), use_random=np.zeros(1))
            trained = h.trained_levels(due)
            batch = [rows[i] for i in trained], [draws[i] for i in trained]
            # One input buffer per pattern (a pattern always comes with the same new_step flags).
            update = step.inputs(due, acting=False).fill(*batch)
            fused = step.inputs(due).fill(*batch, act)
            schedule.append((update, fused))
        self._fixed = schedule
        for update, fused in schedule:   # trace every graph the measurements call
            step.call(update)
            step.call(fused)
        space = self.env.action_space
        self._actions = np.random.default_rng(0).uniform(space.low, space.high,
                                                         (1000, *space.shape)).astype(np.float32)

    def _time_schedule(self, calls: int, fused: bool) -> float:
        """Seconds for `calls` compiled calls over the fixed schedule: `CompiledStep.call` on the
        inputs of `CompiledStep.step` (the updates due, then acting) if `fused`, else of
        `CompiledStep.update` (the updates alone), filled once beforehand."""
        schedule = [entry[1 if fused else 0] for entry in self._fixed]
        call = self.agent.compiled.call
        start = time.perf_counter()
        for c in range(calls):
            call(schedule[c % len(schedule)])
        return time.perf_counter() - start

    def ceiling(self, calls: int) -> float:
        """Seconds for `calls` compiled update calls (the updates due alone) on the fixed inputs."""
        return self._time_schedule(calls, fused=False)

    def fused(self, calls: int) -> float:
        """Seconds for `calls` compiled steps (updates due, then acting) on the fixed inputs."""
        return self._time_schedule(calls, fused=True)

    def bound(self, steps: int) -> float:
        """Seconds for `steps` of the leanest loop conceivable: the ceiling's call (the updates due
        on the fixed inputs), then `env.step` (uniform random actions; resets at episode ends), and
        nothing else: no acting, no replay sampling, no random draws, no bookkeeping, no storing.
        Every training loop must at least update and step the environment, so no loop that does
        the two one after the other can beat it here."""
        return self._lean_loop(steps, [entry[0] for entry in self._fixed])

    def env_alone(self, steps: int) -> float:
        """Seconds for `steps` environment steps with no training in between (same actions)."""
        return self._lean_loop(steps, None)

    def _lean_loop(self, steps: int, schedule) -> float:
        """`steps` environment steps on the fixed random actions, each after a compiled call over
        `schedule` (or none for None); the training loop goes on afterwards from a fresh episode."""
        call, env, actions = self.agent.compiled.call, self.env, self._actions
        env.reset()
        start = time.perf_counter()
        for c in range(steps):
            if schedule is not None:
                call(schedule[c % len(schedule)])
            _, _, terminated, truncated, _ = env.step(actions[c % len(actions)])
            if terminated or truncated:
                env.reset()
        elapsed = time.perf_counter() - start
        obs, _ = env.reset()
        self.episode = self.agent.begin_episode(obs["observation"], obs["context"])
        return elapsed

    def describe(self) -> dict:
        h = self.hierarchy
        return {"levels": [lvl.level_name for lvl in h.levels], "periods": h.periods,
                "cg_lambda": h.cg_lambda, "goal_indices": list(h.goal_space.indices),
                "batch_size": [buf.batch_size for buf in self.agent.buffers]}


def make_loop(name: str, env_id: str, warmup_steps: int, seed: int, hidden=HIDDEN,
              batch_size: int = BATCH_SIZE):
    spec = LOOPS[name]
    if spec is None:
        from benchmarks.performance.tf_agents_loop import TFAgentsLoop

        return TFAgentsLoop(env_id, warmup_steps, seed, hidden, batch_size)
    num_levels, cg_lambda, *correction = spec
    return OurLoop(env_id, num_levels, cg_lambda, warmup_steps, seed, hidden, batch_size,
                   correction=bool(correction and correction[0]))


