"""tf-agents' `Td3Agent` as an oracle of one `Level`: the same weights and batch give the same
losses and updated weights. Runs where tf-agents is installed (the tf-agents extra,
requirements-tf-agents.txt); skipped elsewhere."""

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("tf_agents", reason="tf-agents not installed (the tf-agents extra)")

from test_level import ACT, GOAL, HIGH, LOW, OBS, make_level  # noqa: E402
from tf_agents.agents.ddpg import actor_network, critic_network  # noqa: E402
from tf_agents.agents.td3 import td3_agent  # noqa: E402
from tf_agents.specs import tensor_spec  # noqa: E402
from tf_agents.trajectories import time_step as ts  # noqa: E402
from tf_agents.trajectories import trajectory  # noqa: E402
from tf_agents.utils import common  # noqa: E402

pytestmark = pytest.mark.tf_agents

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
