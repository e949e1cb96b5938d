"""The tf-agents PyEnvironment adapter (the tf-agents extra; skipped where it is not installed)."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("tf_agents", reason="tf-agents not installed (the tf-agents extra)")

from tf_agents.environments import utils  # noqa: E402

from envs import ENV_IDS  # noqa: E402
from envs.tf_agents_adapter import TFAgentsEnv  # noqa: E402

pytestmark = pytest.mark.tf_agents


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_validate_py_environment(env_id):
    env = TFAgentsEnv(gym.make(env_id, max_episode_steps=20), seed=0)
    utils.validate_py_environment(env, episodes=2)
    assert env.observation_spec()["observation"].dtype == np.float32
    assert env.task_spec.max_episode_steps >= 20


def test_truncation_discount_one_and_auto_reset():
    env = TFAgentsEnv(gym.make("hierarchy/PointReach-v0"), seed=0,
                      reset_options={"context": [4.0, 4.0]})
    time_step = env.reset()
    np.testing.assert_array_equal(time_step.observation["context"], np.float32([4, 4]))
    steps = 0
    while not time_step.is_last():
        position = time_step.observation["observation"]
        time_step = env.step(np.clip([4.0, 4.0] - position, -1, 1).astype(np.float32))
        steps += 1
    assert steps == 50 and time_step.discount == 1.0
    assert env.get_info()["is_success"]
    assert env.step(np.zeros(2, np.float32)).is_first()


class _Terminating(gym.Wrapper):
    def step(self, action):
        obs, reward, _, truncated, info = self.env.step(action)
        return obs, reward, True, truncated, info


def test_termination_discount_zero():
    env = TFAgentsEnv(_Terminating(gym.make("hierarchy/PointReach-v0")), seed=0)
    env.reset()
    time_step = env.step(np.zeros(2, np.float32))
    assert time_step.is_last() and time_step.discount == 0.0


def test_rejects_foreign_env():
    with pytest.raises(TypeError, match="Dict observation"):
        TFAgentsEnv(gym.make("Pendulum-v1"))


def test_reset_options_apply_on_every_automatic_reset():
    # PointReach draws training contexts uniformly in [-5, 5]^2, so a context of exactly
    # (4, -3) at a reset comes from the options, not from chance.
    env = TFAgentsEnv(gym.make("hierarchy/PointReach-v0", max_episode_steps=3), seed=0,
                      reset_options={"context": [4.0, -3.0]})
    time_step = env.reset()
    firsts = [time_step]
    for _ in range(4 * 4 - 1):  # 4 episodes: FIRST + 3 steps each, the last one LAST
        time_step = env.step(np.zeros(2, np.float32))
        if time_step.is_first():
            firsts.append(time_step)
    assert len(firsts) == 4
    for first in firsts:
        np.testing.assert_array_equal(first.observation["context"], np.float32([4.0, -3.0]))
    starts = [tuple(first.observation["observation"]) for first in firsts]
    assert len(set(starts)) == 4  # the seed applies once: later resets draw new start noise
    # Changing reset_options takes effect at the next automatic reset.
    env.reset_options = {"context": [-1.0, 2.0]}
    while not time_step.is_last():
        time_step = env.step(np.zeros(2, np.float32))
    time_step = env.step(np.zeros(2, np.float32))
    assert time_step.is_first()
    np.testing.assert_array_equal(time_step.observation["context"], np.float32([-1.0, 2.0]))
