"""The TD3 math of one `Level`: hand-computed targets, and tf-agents' Td3Agent as an oracle."""

import numpy as np
import pytest
import tensorflow as tf
from tf_agents.agents.ddpg import actor_network, critic_network
from tf_agents.agents.td3 import td3_agent
from tf_agents.specs import tensor_spec
from tf_agents.trajectories import time_step as ts
from tf_agents.trajectories import trajectory
from tf_agents.utils import common

from hierarchy.level import Level, td_loss

OBS, GOAL, ACT = 5, 2, 2
LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([2.0, 4.0], np.float32)


def make_level(**kw):
    args = dict(observation_spec=tensor_spec.TensorSpec([OBS], tf.float32),
                goal_spec=tensor_spec.TensorSpec([GOAL], tf.float32),
                action_spec=tensor_spec.BoundedTensorSpec([ACT], tf.float32, LOW, HIGH),
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
    (dict(target_noise=-0.1), "target_noise"),
    (dict(action_spec=tensor_spec.TensorSpec([ACT], tf.float32)), "BoundedTensorSpec"),
    (dict(observation_spec=tensor_spec.TensorSpec([2, 3], tf.float32)), "vector"),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_level(**kwargs)


# --------------------------------------------------------------------------------------------------
# tf-agents' Td3Agent as an oracle.

def _copy_into_tf_agents(lvl, agent):
    """Our weights into tf-agents' networks (and their targets)."""
    def actor_vars(mlp):
        return [v for k, b in zip(mlp.kernels, mlp.biases) for v in (k, b)]

    def critic_vars(ensemble, m):
        return actor_vars(ensemble.members[m])

    pairs = [(agent._actor_network, actor_vars(lvl.actor)),
             (agent._target_actor_network, actor_vars(lvl.target_actor))]
    for m, (net, target) in enumerate([(agent._critic_network_1, agent._target_critic_network_1),
                                       (agent._critic_network_2, agent._target_critic_network_2)]):
        pairs += [(net, critic_vars(lvl.critics, m)), (target, critic_vars(lvl.target_critics, m))]
    for net, values in pairs:
        assert len(net.trainable_variables) == len(values)
        for var, value in zip(net.trainable_variables, values):
            var.assign(value)


@pytest.mark.parametrize("critic_loss", ["huber", "squared"])
def test_flat_level_matches_tf_agents_td3(critic_loss):
    """Same weights and batch: the same critic loss, actor loss and updated weights."""
    tf.keras.utils.set_random_seed(0)
    lvl = make_level(actor_learning_rate=1e-3, critic_learning_rate=2e-3, tau=0.05, gamma=0.97,
                     reward_scale=0.5, actor_update_period=1, critic_loss=critic_loss,
                     target_noise=0.0, target_noise_clip=0.0)
    obs_spec = tensor_spec.TensorSpec([OBS + GOAL], tf.float32)   # tf-agents sees [obs, goal]
    act_spec = lvl.action_spec
    actor = actor_network.ActorNetwork(obs_spec, act_spec, fc_layer_params=(16, 16))
    critics = [critic_network.CriticNetwork((obs_spec, act_spec), joint_fc_layer_params=(16, 16))
               for _ in range(2)]
    loss_fn = (common.element_wise_huber_loss if critic_loss == "huber"
               else common.element_wise_squared_loss)
    agent = td3_agent.Td3Agent(
        ts.time_step_spec(obs_spec), act_spec, actor_network=actor, critic_network=critics[0],
        critic_network_2=critics[1],
        actor_optimizer=tf.keras.optimizers.Adam(1e-3),
        critic_optimizer=tf.keras.optimizers.Adam(2e-3), target_update_tau=0.05,
        target_update_period=1, actor_update_period=1, td_errors_loss_fn=loss_fn, gamma=0.97,
        reward_scale_factor=0.5, target_policy_noise=0.0, target_policy_noise_clip=0.0)
    agent.initialize()
    _copy_into_tf_agents(lvl, agent)

    rng = np.random.default_rng(1)
    B = 32
    s = rng.normal(size=(B, OBS)).astype(np.float32)
    g = rng.normal(size=(B, GOAL)).astype(np.float32)
    s1 = rng.normal(size=(B, OBS)).astype(np.float32)
    a = rng.uniform(LOW, HIGH, size=(B, ACT)).astype(np.float32)
    r = rng.normal(size=B).astype(np.float32) * 3
    d = (rng.random(B) > 0.2).astype(np.float32)
    exp = trajectory.Trajectory(
        step_type=tf.constant([[1, 1]] * B, tf.int32),
        observation=tf.constant(np.stack([np.concatenate([s, g], 1), np.concatenate([s1, g], 1)],
                                         axis=1)),
        action=tf.constant(np.stack([a, a], axis=1)), policy_info=(),
        next_step_type=tf.constant([[1, 1]] * B, tf.int32),
        reward=tf.constant(np.stack([r, r], axis=1)),
        discount=tf.constant(np.stack([d, d], axis=1)))
    zeros = np.zeros((B, ACT), np.float32)

    @tf.function
    def ours():
        c = lvl.train_critic(s, g, a, r, d, s1, g, zeros)
        al, _ = lvl.train_actor(s, g)
        return c, al

    initial_actor = lvl.actor.kernels[0].numpy().copy()
    initial_critic = lvl.critics.members[0].kernels[0].numpy().copy()
    for _ in range(3):
        c_ours, a_ours = ours()
        info = agent.train(exp)
        np.testing.assert_allclose(c_ours, info.extra.critic_loss, rtol=1e-5)
        np.testing.assert_allclose(a_ours, info.extra.actor_loss, rtol=1e-5)
    check = [(lvl.actor.kernels[-1], agent._actor_network.trainable_variables[-2]),
             (lvl.actor.kernels[0], agent._actor_network.trainable_variables[0]),
             (lvl.critics.members[1].kernels[0], agent._critic_network_2.trainable_variables[0]),
             (lvl.critics.members[0].kernels[-1], agent._critic_network_1.trainable_variables[-2]),
             (lvl.target_critics.members[0].kernels[1],
              agent._target_critic_network_1.trainable_variables[2]),
             (lvl.target_actor.kernels[1], agent._target_actor_network.trainable_variables[2])]
    # The updates moved the weights (the comparison below is not between untouched copies).
    assert np.abs(lvl.actor.kernels[0].numpy() - initial_actor).max() > 1e-4
    assert np.abs(lvl.critics.members[0].kernels[0].numpy() - initial_critic).max() > 1e-4
    for ours_v, theirs in check:
        np.testing.assert_allclose(ours_v.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
