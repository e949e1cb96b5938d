"""tf-agents' TD3 as the throughput benchmark measures it (`TFAgentsLoop`): `Td3Agent` with
`TFUniformReplayBuffer`, a `DynamicStepDriver` of one step per iteration, the buffer's dataset and
`common.function(agent.train)`, as tf-agents' TD3 example does it. Needs the optional tf-agents extra
(requirements-tf-agents.txt); importing this module does not import tf-agents.
"""

from __future__ import annotations

import time
from typing import Dict

import gymnasium as gym
import numpy as np

from benchmarks.performance.loops import BATCH_SIZE, HIDDEN, REPLAY_CAPACITY, make_env, tf

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


