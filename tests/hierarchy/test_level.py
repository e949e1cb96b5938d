"""The TD3 math of one `Level`: hand-computed targets (tf-agents' Td3Agent as an oracle is in
test_level_tf_agents.py)."""

import numpy as np
import pytest
import tensorflow as tf

from hierarchy.core import specs
from hierarchy.core.level import Level, td_loss

OBS, GOAL, ACT = 5, 2, 2
LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([2.0, 4.0], np.float32)


def make_level(**kw):
    args = dict(observation_spec=specs.TensorSpec([OBS], tf.float32),
                goal_spec=specs.TensorSpec([GOAL], tf.float32),
                action_spec=specs.BoundedTensorSpec([ACT], tf.float32, LOW, HIGH),
                actor_hidden_sizes=(16, 16), critic_hidden_sizes=(16, 16), seed=3)
    args.update(kw)
    return Level(**args)


def set_constant_output(mlp, value):
    """Zero the last kernel and set the last bias so the network outputs `value`."""
    mlp.kernels[-1].assign(tf.zeros_like(mlp.kernels[-1]))
    mlp.biases[-1].assign(tf.fill(mlp.biases[-1].shape, float(value)))


def test_huber_and_squared_losses_hand_computed():
    targets = tf.constant([0.0, 0.0, 0.0])
    pred = tf.constant([0.5, -2.0, 3.0])
    np.testing.assert_allclose(td_loss("huber", targets, pred), [0.125, 1.5, 2.5])
    np.testing.assert_allclose(td_loss("squared", targets, pred), [0.25, 4.0, 9.0])


def test_policy_is_scaled_tanh_within_bounds():
    lvl = make_level()
    set_constant_output(lvl.actor, 0.0)
    a = lvl.policy(np.zeros((3, OBS), np.float32), np.zeros((3, GOAL), np.float32)).numpy()
    np.testing.assert_allclose(a, np.tile((LOW + HIGH) / 2, (3, 1)), atol=1e-6)
    set_constant_output(lvl.actor, 100.0)
    a = lvl.policy(np.zeros((1, OBS), np.float32), np.zeros((1, GOAL), np.float32)).numpy()
    np.testing.assert_allclose(a[0], HIGH, atol=1e-5)


def test_td_targets_hand_computed():
    """y = reward_scale * r + gamma * d * min(Q'_1, Q'_2) with constant target critics 3 and 5."""
    lvl = make_level(gamma=0.9, reward_scale=0.5)
    set_constant_output(lvl.target_critics.members[0], 3.0)
    set_constant_output(lvl.target_critics.members[1], 5.0)
    s1 = np.random.default_rng(0).normal(size=(2, OBS)).astype(np.float32)
    g1 = np.zeros((2, GOAL), np.float32)
    y = lvl.td_targets(reward=[2.0, 2.0], discount=[1.0, 0.0], next_observation=s1,
                       next_goal=g1, noise=np.zeros((2, ACT), np.float32))
    # 0.5 * 2 + 0.9 * 1 * min(3, 5) = 3.7 ; terminated: 0.5 * 2 = 1
    np.testing.assert_allclose(y, [3.7, 1.0], rtol=1e-6)


def test_target_policy_smoothing_hand_computed():
    """Noise is scaled by 0.2 x half-range, clipped at 0.5 x half-range, then the action is clipped
    to the bounds. Half-ranges are (1.5, 2); the target policy outputs the midpoint (0.5, 2)."""
    lvl = make_level(target_noise=0.2, target_noise_clip=0.5)
    set_constant_output(lvl.target_actor, 0.0)
    s1 = np.zeros((3, OBS), np.float32)
    g1 = np.zeros((3, GOAL), np.float32)
    noise = np.array([[1.0, -1.0], [10.0, -10.0], [100.0, 0.0]], np.float32)
    a = lvl.smoothed_target_action(s1, g1, noise).numpy()
    expected = np.array([[0.5 + 0.3, 2.0 - 0.4],        # 0.2 * 1.5, 0.2 * 2
                         [0.5 + 0.75, 2.0 - 1.0],       # clipped at 0.5 * 1.5, 0.5 * 2
                         [0.5 + 0.75, 2.0]], np.float32)
    np.testing.assert_allclose(a, expected, atol=1e-6)
    # Near the bound the smoothed action is clipped into [low, high].
    set_constant_output(lvl.target_actor, 100.0)
    a = lvl.smoothed_target_action(s1[:1], g1[:1], np.array([[10.0, 10.0]], np.float32)).numpy()
    np.testing.assert_allclose(a[0], HIGH, atol=1e-6)


def test_exploration_noise_scaled_and_clipped():
    lvl = make_level(exploration_noise=0.1)
    a = lvl.explore(np.array([[0.5, 2.0]], np.float32), np.array([[1.0, -1.0]], np.float32))
    np.testing.assert_allclose(a, [[0.65, 1.8]], atol=1e-6)
    a = lvl.explore(np.array([[1.95, 3.9]], np.float32), np.array([[10.0, 10.0]], np.float32))
    np.testing.assert_allclose(a, [HIGH], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(critic_loss="l1"), "critic_loss"),
    (dict(actor_update_period=0), "actor_update_period"),
    (dict(gamma=1.5), "gamma"),
    (dict(actor_learning_rate=float("inf")), "actor_learning_rate must be a finite number > 0, got inf"),
    (dict(critic_learning_rate=float("nan")), "critic_learning_rate must be a finite number > 0, got nan"),
    (dict(critic_learning_rate=0.0), "critic_learning_rate must be a finite number > 0, got 0.0"),
    (dict(target_noise=-0.1), "target_noise"),
    (dict(action_spec=specs.TensorSpec([ACT], tf.float32)), "BoundedTensorSpec"),
    (dict(observation_spec=specs.TensorSpec([2, 3], tf.float32)), "vector"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_level(**kwargs)
