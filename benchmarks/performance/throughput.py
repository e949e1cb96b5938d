"""Training-loop throughput: our flat TD3 level and 2/3-level hierarchies against tf-agents' TD3.

Every loop runs on the same environment with the same networks ((256, 256) ReLU actor and critics)
and batch size (256), in one process, and is measured in interleaved repeats (A B C D E A B C D E ...)
because this machine's speed drifts by 15-25% over minutes. For each loop these numbers are taken:

- loop: environment steps per second of the whole training loop (acting, stepping the environment,
  storing the transition, every update that is due), after a warm-up of random steps that fills the
  replay buffers (excluded from timing) and a few untimed learning steps (tracing).
- ceiling: the same number of compiled update calls on one fixed batch, with the loop's own update
  schedule, and nothing else (no acting, no environment, no replay sampling, no bookkeeping): the
  loop's upper bound. Ours: the compiled graph of the updates due alone (`CompiledStep.update`)
  called with `CompiledStep.call` on inputs filled once. tf-agents: `agent.train` (wrapped in
  `common.function`) on one fixed experience.
- fused (ours only): the one compiled call per environment step of our loop (`CompiledStep.step`'s
  graph: the updates due, then acting for every level), on the same fixed inputs. tf-agents acts in
  its driver, so it has no such number; its acting is part of its loop's overhead.
- bound (ours only): the leanest loop conceivable: the ceiling's call (the updates due, fixed
  inputs), then `env.step`, nothing else (no acting, no replay sampling, no random draws, no
  bookkeeping, no storing). Below the ceiling by what the environment step costs between updates:
  on a 2-core machine the update evicts the caches, so an environment step costs more there than
  alone ("env alone": the same steps with no training in between).

The loops:
  flat        our `Agent` with one `Level` (TD3).
  hrl2        two levels, cg_lambda 0 (independent levels, HRL).
  hrl_cg2     two levels, cg_lambda 0.01 (HRL-CG, paper estimator).
  hrl_cg3     three levels, cg_lambda 0.01 for both pairs.
  hiro2       hrl2 plus HIRO's off-policy correction of the top level's stored goals, inside the
              compiled update (10 candidates, docs/relabelling.md).
  tf_agents   tf-agents' `Td3Agent` trained as its TD3 example does it: `TFUniformReplayBuffer`,
              `DynamicStepDriver` (one step per iteration, `common.function`), the buffer's
              `as_dataset(sample_batch_size=256, num_steps=2)` iterator (3 parallel calls, prefetch 3)
              and `common.function(agent.train)`.

Environment: gymnasium's Ant-v5 without contact forces (`include_cfrc_ext_in_observation=False`:
27 observation dims, qpos[2:15] + qvel[:14]); `NoContext` gives it the {"observation", "context"}
layout with an empty context. Ant-v5 publishes no goal space, so the 2- and 3-level hierarchies set
goals on observation dims 0..12 (= qpos[2:15]: torso z, torso quaternion, 8 joint angles) with the
Ant tasks' sub-goal bounds for those coordinates, +/-[0.5, 1, 1, 1, 1, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3,
0.5, 0.3] (`envs.ant.ANT_GOAL_HIGH` without x and y, which are not in Ant-v5's observation;
docs/environments.md, section 1).
`--env hierarchy/AntMaze-v0` (or any id whose environment publishes a `task_spec`) uses the
environment's own goal space instead; then tf-agents sees [observation, context] concatenated.

Update schedule (all loops): the bottom level's critics every environment step, its actor and targets
every 2 (tf-agents: actor_update_period=2, target_update_period=2); a parent every `period` (10)
steps of its child.

Usage (repository root):
  python -m benchmarks.performance.throughput                 # full measurement (~15-20 minutes)
  python -m benchmarks.performance.throughput --quick         # smoke run (tiny step counts)
  python -m benchmarks.performance.throughput --profile flat  # cProfile one loop, then exit

Writes a Markdown table to stdout and to `<out_dir>/throughput.md`, the raw numbers to
`<out_dir>/throughput.json`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pathlib
import platform
import pstats
import statistics
import sys
import time
from typing import Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import importlib.util  # noqa: E402

# tf-agents (the optional extra, requirements-tf-agents.txt) needs Keras 2 as tf.keras, which
# TensorFlow 2.16+ gives only when this is set before it is imported.
HAS_TF_AGENTS = importlib.util.find_spec("tf_agents") is not None
if importlib.util.find_spec("tf_keras") is not None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]   # the repository

import gin  # noqa: E402
import tensorflow as tf  # noqa: E402

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
    """The library's environment of a run (`hierarchy.experiment.make_env`); Ant-v5 without its
    contact forces (see the module docstring)."""
    from hierarchy.experiment import make_env as make_run_env

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
            # The agent's own schedule (`hierarchy.agent.due_updates`) past the warm-up.
            due = hierarchy.agent.due_updates(
                env_steps=s, warmup_steps=0, env_steps_per_step=h.env_steps_per_step,
                actor_update_periods=periods, critic_updates=critic_updates,
                ready=[True] * h.num_levels)
            critic_updates = [c + int(d) for c, d in zip(critic_updates, due[:, 0])]
            new_step = due[:, 0].astype(np.float32)   # a level updates once per own step
            act = hierarchy.compiled.ActInputs(
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


# --------------------------------------------------------------------------------------------------
# tf-agents.

def _flat_py_env(env: gym.Env):
    """tf-agents PyEnvironment of a dict-observation env, with [observation, context] as one vector."""
    from tf_agents.environments import wrappers
    from tf_agents.specs import array_spec

    from envs.tf_agents_adapter import TFAgentsEnv

    class FlatObservation(wrappers.PyEnvironmentBaseWrapper):
        def __init__(self, py_env):
            super().__init__(py_env)
            spec = py_env.observation_spec()
            dim = spec["observation"].shape[0] + spec["context"].shape[0]
            self._spec = array_spec.ArraySpec((dim,), np.float32, name="observation")

        def observation_spec(self):
            return self._spec

        def _flatten(self, time_step):
            o = time_step.observation
            return time_step._replace(observation=np.concatenate([o["observation"], o["context"]]))

        def _reset(self):
            return self._flatten(self._env.reset())

        def _step(self, action):
            return self._flatten(self._env.step(action))

    return FlatObservation(TFAgentsEnv(env))


class TFAgentsLoop:
    """tf-agents' TD3 training loop as its TD3 example (agents/td3/examples/v2/train_eval.py) runs it."""

    def __init__(self, env_id: str, warmup_steps: int, seed: int, hidden=HIDDEN,
                 batch_size: int = BATCH_SIZE):
        from tf_agents.agents.ddpg import actor_network, critic_network
        from tf_agents.agents.td3 import td3_agent
        from tf_agents.drivers import dynamic_step_driver
        from tf_agents.environments import tf_py_environment
        from tf_agents.policies import random_tf_policy
        from tf_agents.replay_buffers import tf_uniform_replay_buffer
        from tf_agents.utils import common

        tf.random.set_seed(seed)
        self.env = make_env(env_id)
        self.env.reset(seed=seed)
        self.tf_env = tf_env = tf_py_environment.TFPyEnvironment(_flat_py_env(self.env))
        obs_spec, act_spec = tf_env.observation_spec(), tf_env.action_spec()
        actor_net = actor_network.ActorNetwork(obs_spec, act_spec, fc_layer_params=tuple(hidden))
        critic_net = critic_network.CriticNetwork((obs_spec, act_spec),
                                                  joint_fc_layer_params=tuple(hidden))
        self.batch_size = batch_size
        self.agent = agent = td3_agent.Td3Agent(
            tf_env.time_step_spec(), act_spec, actor_network=actor_net, critic_network=critic_net,
            actor_optimizer=tf.keras.optimizers.Adam(learning_rate=3e-4),
            critic_optimizer=tf.keras.optimizers.Adam(learning_rate=3e-4),
            exploration_noise_std=0.1, target_update_tau=0.005, target_update_period=2,
            actor_update_period=2, gamma=0.99, target_policy_noise=0.2, target_policy_noise_clip=0.5,
            train_step_counter=tf.Variable(0, dtype=tf.int64))
        agent.initialize()
        self.replay = tf_uniform_replay_buffer.TFUniformReplayBuffer(
            agent.collect_data_spec, batch_size=tf_env.batch_size, max_length=REPLAY_CAPACITY)
        self.initial_driver = dynamic_step_driver.DynamicStepDriver(
            tf_env, random_tf_policy.RandomTFPolicy(tf_env.time_step_spec(), act_spec),
            observers=[self.replay.add_batch], num_steps=warmup_steps)
        self.driver = dynamic_step_driver.DynamicStepDriver(
            tf_env, agent.collect_policy, observers=[self.replay.add_batch], num_steps=1)
        self.initial_driver.run = common.function(self.initial_driver.run)
        self.driver.run = common.function(self.driver.run)
        self.train = common.function(agent.train)
        self.time_step, self.policy_state = None, agent.collect_policy.get_initial_state(
            tf_env.batch_size)
        self.iterator = None
        self.experience = None

    def prepare(self, trace_steps: int) -> None:
        self.initial_driver.run()
        dataset = self.replay.as_dataset(num_parallel_calls=3, sample_batch_size=self.batch_size,
                                         num_steps=2).prefetch(3)
        self.iterator = iter(dataset)
        self.run(trace_steps)
        self.experience, _ = next(self.iterator)

    def run(self, steps: int) -> float:
        time_step, policy_state = self.time_step, self.policy_state
        start = time.perf_counter()
        for _ in range(steps):
            time_step, policy_state = self.driver.run(time_step=time_step, policy_state=policy_state)
            experience, _ = next(self.iterator)
            self.train(experience)
        elapsed = time.perf_counter() - start
        self.time_step, self.policy_state = time_step, policy_state
        return elapsed

    def breakdown(self, steps: int) -> Dict[str, float]:
        """Milliseconds per step of the driver (acting, env step, storing), the dataset iterator and
        the update."""
        acc = {"driver.run": 0.0, "next(iterator)": 0.0, "agent.train": 0.0}
        time_step, policy_state = self.time_step, self.policy_state
        for _ in range(steps):
            t0 = time.perf_counter()
            time_step, policy_state = self.driver.run(time_step=time_step, policy_state=policy_state)
            t1 = time.perf_counter()
            experience, _ = next(self.iterator)
            t2 = time.perf_counter()
            self.train(experience)
            t3 = time.perf_counter()
            acc["driver.run"] += t1 - t0
            acc["next(iterator)"] += t2 - t1
            acc["agent.train"] += t3 - t2
        self.time_step, self.policy_state = time_step, policy_state
        return {k: v / steps * 1e3 for k, v in acc.items()}

    def ceiling(self, calls: int) -> float:
        experience = self.experience
        start = time.perf_counter()
        for _ in range(calls):
            loss = self.train(experience)
        loss.loss.numpy()
        return time.perf_counter() - start

    def describe(self) -> dict:
        return {"replay": "TFUniformReplayBuffer", "driver": "DynamicStepDriver(num_steps=1)",
                "dataset": "as_dataset(num_parallel_calls=3, sample_batch_size=256, num_steps=2)"
                           ".prefetch(3)"}


def make_loop(name: str, env_id: str, warmup_steps: int, seed: int, hidden=HIDDEN,
              batch_size: int = BATCH_SIZE):
    spec = LOOPS[name]
    if spec is None:
        return TFAgentsLoop(env_id, warmup_steps, seed, hidden, batch_size)
    num_levels, cg_lambda, *correction = spec
    return OurLoop(env_id, num_levels, cg_lambda, warmup_steps, seed, hidden, batch_size,
                   correction=bool(correction and correction[0]))


# --------------------------------------------------------------------------------------------------
# Measurement and report.

def measure(loops: Dict[str, object], steps: int, ceiling_calls: int, repeats: int,
            log: Callable[[str], None] = print) -> Dict[str, Dict[str, List[float]]]:
    """Interleaved repeats; per loop the lists of loop steps/s, ceiling calls/s and, ours only,
    fused calls/s, the leanest loop's (`bound`) steps/s and the environment's steps/s alone."""
    results = {name: {"loop": [], "ceiling": []} for name in loops}
    for r in range(repeats):
        for name, loop in loops.items():
            results[name]["loop"].append(steps / loop.run(steps))
            results[name]["ceiling"].append(ceiling_calls / loop.ceiling(ceiling_calls))
            if hasattr(loop, "fused"):
                results[name].setdefault("fused", []).append(ceiling_calls / loop.fused(ceiling_calls))
                results[name].setdefault("bound", []).append(steps / loop.bound(steps))
                results[name].setdefault("env_alone", []).append(steps / loop.env_alone(steps))
        log(f"repeat {r + 1}/{repeats}: " + ", ".join(
            f"{n} {v['loop'][-1]:.0f}/{v['ceiling'][-1]:.0f}" for n, v in results.items()))
    return results


def _ratio(results, a: str, b: str) -> Dict[str, float]:
    """a / b from the medians, with the median and range of the per-repeat (paired) ratios.

    a and b are "loop:quantity" keys, e.g. "flat:loop" / "tf_agents:loop"."""
    (na, qa), (nb, qb) = a.split(":"), b.split(":")
    xs, ys = results[na][qa], results[nb][qb]
    paired = [x / y for x, y in zip(xs, ys)]
    return {"value": statistics.median(xs) / statistics.median(ys),
            "paired_median": statistics.median(paired), "paired_min": min(paired),
            "paired_max": max(paired)}


def summarize(results: Dict[str, Dict[str, List[float]]]) -> dict:
    """Medians and the ratios the benchmark reports."""
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    ratios = {}
    for n, m in med.items():
        ratios[f"{n} loop / own ceiling"] = _ratio(results, f"{n}:loop", f"{n}:ceiling")
        if "fused" in m:
            ratios[f"{n} loop / own fused call"] = _ratio(results, f"{n}:loop", f"{n}:fused")
        if "bound" in m:
            ratios[f"{n} bound / own ceiling"] = _ratio(results, f"{n}:bound", f"{n}:ceiling")
            ratios[f"{n} loop / own bound"] = _ratio(results, f"{n}:loop", f"{n}:bound")
    if "tf_agents" in med:
        for n in med:
            if n != "tf_agents":
                ratios[f"{n} loop / tf_agents loop"] = _ratio(results, f"{n}:loop", "tf_agents:loop")
        if "flat" in med:
            ratios["flat ceiling / tf_agents ceiling"] = _ratio(results, "flat:ceiling",
                                                                "tf_agents:ceiling")
    if "flat" in med:
        for n in ("hrl2", "hrl_cg2", "hrl_cg3"):
            if n in med:
                ratios[f"{n} loop / flat loop"] = _ratio(results, f"{n}:loop", "flat:loop")
    if "hiro2" in med and "hrl2" in med:
        ratios["hiro2 loop / hrl2 loop"] = _ratio(results, "hiro2:loop", "hrl2:loop")
    return {"medians": med, "ratios": ratios}


TARGETS = {  # (ratio key, minimum) from the project's goals, for information
    "flat loop / tf_agents loop": 1.5,
    "flat loop / own ceiling": 0.85,
    "hrl_cg2 loop / flat loop": 0.85,
    "hiro2 loop / hrl2 loop": 0.9,
}


def markdown(summary: dict, results: dict, config: dict) -> str:
    med, ratios = summary["medians"], summary["ratios"]
    lines = [
        "# Training-loop throughput",
        "",
        f"Environment `{config['env']}`, networks {'x'.join(map(str, config['hidden']))}, batch "
        f"{config['batch_size']}; "
        f"{config['steps']} timed learning steps per repeat after {config['warmup_steps']} random "
        f"warm-up steps; {config['ceiling_calls']} ceiling calls; {config['repeats']} interleaved "
        f"repeats, medians. {config['when']}, {config['machine']}, TensorFlow intra-op threads "
        f"{config.get('intra_op_threads') or 'default'} (every loop).",
        "",
        f"Command: `{config['command']}`",
        "",
        "| loop | what | loop steps/s | min-max | update ceiling calls/s | min-max | fused call/s "
        "| bound steps/s | env alone steps/s | loop / ceiling | bound / ceiling |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, m in med.items():
        lo, ce = results[n]["loop"], results[n]["ceiling"]
        cell = {k: f"{m[k]:.0f}" if k in m else "-" for k in ("fused", "bound", "env_alone")}
        bound = f"{m['bound'] / m['ceiling']:.3f}" if "bound" in m else "-"
        lines.append(f"| {n} | {DESCRIPTIONS.get(n, n)} | {m['loop']:.0f} | {min(lo):.0f}-{max(lo):.0f} "
                     f"| {m['ceiling']:.0f} | {min(ce):.0f}-{max(ce):.0f} | {cell['fused']} "
                     f"| {cell['bound']} | {cell['env_alone']} | {m['loop'] / m['ceiling']:.3f} "
                     f"| {bound} |")
    lines += ["", "Ratios: of the medians, and the median and range of the per-repeat (paired) ratios.",
              "", "| ratio | of medians | paired median | paired min-max | target |",
              "|---|---:|---:|---:|---|"]
    for k, r in ratios.items():
        target = TARGETS.get(k)
        mark = "" if target is None else f">= {target}" + (" (met)" if r["value"] >= target
                                                           else " (NOT met)")
        lines.append(f"| {k} | {r['value']:.3f} | {r['paired_median']:.3f} "
                     f"| {r['paired_min']:.3f}-{r['paired_max']:.3f} | {mark} |")
    lines += ["", "Per-step cost (1 / median calls/s, ms): " + "; ".join(
        f"{n}: " + ", ".join(f"{k} {1e3 / v:.2f}" for k, v in m.items()) for n, m in med.items())]
    if summary.get("breakdown_ms"):
        lines += ["", "Where a loop step's time goes (one instrumented pass after the repeats, ms per "
                  "step; timers add a few us):", "", "| loop | parts | total |", "|---|---|---:|"]
        for n, parts in summary["breakdown_ms"].items():
            text = ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
            lines.append(f"| {n} | {text} | {sum(parts.values()):.3f} |")
    return "\n".join(lines) + "\n"


def profile(loop, steps: int, out_path: pathlib.Path | None, top: int = 30) -> str:
    """cProfile of `steps` loop steps; returns (and writes) the top functions by total time."""
    prof = cProfile.Profile()
    prof.enable()
    loop.run(steps)
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    report = text.getvalue()
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(report)
    return report


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="Ant-v5", help="Ant-v5 (default) or an id with a task_spec")
    p.add_argument("--loops", default=",".join(default_loops()),
                   help="comma-separated subset of " + ",".join(LOOPS) +
                        " (default: every loop of LOOPS; tf_agents where tf-agents is installed)")
    p.add_argument("--warmup_steps", type=int, default=2000, help="random steps filling the buffers")
    p.add_argument("--trace_steps", type=int, default=200, help="untimed learning steps (tracing)")
    p.add_argument("--steps", type=int, default=2000, help="timed learning steps per repeat")
    p.add_argument("--ceiling_calls", type=int, default=1000, help="update calls per ceiling repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--breakdown_steps", type=int, default=1000,
                   help="after the repeats, steps of one instrumented pass per loop that splits the "
                        "per-step time into its parts (0: none)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN),
                   help="hidden layer sizes of every network (the comparison uses 256 256; tiny "
                        "networks isolate the loops' fixed per-step overhead)")
    p.add_argument("--batch_size", type=int, default=BATCH_SIZE)
    p.add_argument("--intra_op_threads", type=int, default=1,
                   help="TensorFlow's intra-op threads for every loop (hierarchy.runtime; the "
                        "training binary's default is 1); 0 keeps TensorFlow's default")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 300 warm-up, 20 trace, 100 steps, 60 ceiling calls, 2 repeats")
    p.add_argument("--profile", default="", help="cProfile this loop (e.g. flat) for --steps and exit")
    p.add_argument("--out_dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--no_write", action="store_true", help="print only, write no files")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup_steps, args.trace_steps, args.steps = 300, 20, 100
        args.ceiling_calls, args.repeats, args.breakdown_steps = 60, 2, 50
    names = [n.strip() for n in args.loops.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOOPS]
    if unknown:
        p.error(f"unknown loops {unknown}; choose from {list(LOOPS)}")
    if "tf_agents" in names and not HAS_TF_AGENTS:
        p.error("the tf_agents loop needs tf-agents, the optional extra: pip install --no-deps -r "
                "requirements-tf-agents.txt (or leave it out with --loops)")
    args.loops = names
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hierarchy import runtime
    intra_op = runtime.configure_tensorflow(intra_op_threads=args.intra_op_threads or None)
    out_dir = pathlib.Path(args.out_dir)
    if args.profile:
        loop = make_loop(args.profile, args.env, args.warmup_steps, args.seed, args.hidden,
                         args.batch_size)
        loop.prepare(args.trace_steps)
        path = None if args.no_write else out_dir / f"profile_{args.profile}.txt"
        print(profile(loop, args.steps, path))
        return {}

    loops = {}
    for name in args.loops:
        t0 = time.perf_counter()
        loops[name] = make_loop(name, args.env, args.warmup_steps, args.seed, args.hidden,
                                args.batch_size)
        loops[name].prepare(args.trace_steps)
        print(f"prepared {name} in {time.perf_counter() - t0:.1f} s", flush=True)
    results = measure(loops, args.steps, args.ceiling_calls, args.repeats,
                      log=lambda s: print(s, flush=True))
    summary = summarize(results)
    if args.breakdown_steps > 0:
        summary["breakdown_ms"] = {n: loop.breakdown(args.breakdown_steps) for n, loop in loops.items()}
    config = {"env": args.env, "warmup_steps": args.warmup_steps, "trace_steps": args.trace_steps,
              "steps": args.steps, "ceiling_calls": args.ceiling_calls, "repeats": args.repeats,
              "seed": args.seed, "quick": args.quick, "hidden": list(args.hidden),
              "batch_size": args.batch_size, "intra_op_threads": intra_op,
              "when": time.strftime("%Y-%m-%d %H:%M"),
              "command": " ".join(["python -m benchmarks.performance.throughput",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}"}
    text = markdown(summary, results, config)
    print(text)
    record = {"config": config, "loops": {n: loop.describe() for n, loop in loops.items()},
              "results": results, **summary}
    if not args.no_write:
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = "_quick" if args.quick else ""
        (out_dir / f"throughput{suffix}.md").write_text(text)
        (out_dir / f"throughput{suffix}.json").write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    main()
