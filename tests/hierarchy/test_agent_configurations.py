"""Configurations trained through the `Agent` on a real task (PointReach): absolute goals with the
"reference" estimator, and 4 levels with learned lambdas restored exactly from the agent's state.

Short runs with small networks: they check the plumbing of each configuration, not learning.
"""

import gin
import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the hierarchy/ environments)
import hierarchy as H


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def small(num_levels, **kwargs):
    for scope in H.level_names(num_levels):
        for key, value in {"actor_hidden_sizes": (16, 16), "critic_hidden_sizes": (16, 16)}.items():
            gin.bind_parameter(f"{scope}/Level.{key}", value)
        gin.bind_parameter(f"{scope}/ReplayBuffer.batch_size", 16)
        gin.bind_parameter(f"{scope}/ReplayBuffer.capacity", 2000)
    env = gym.make("hierarchy/PointReach-v0")
    return env, H.build_for_env(env, num_levels=num_levels, seed=0, **kwargs)


def run(agent, env, episodes, first_episode=0):
    """Whole training episodes, the environment reset with seed = episode index; returns the
    agent's losses after each episode `[episodes, N, 4]`."""
    out = []
    for e in range(first_episode, first_episode + episodes):
        obs, _ = env.reset(seed=e)
        ep = agent.begin_episode(obs["observation"], obs["context"])
        while True:
            obs, reward, term, trunc, _ = env.step(agent.act(ep))
            agent.observe(ep, reward, obs["observation"], term, trunc)
            if term or trunc:
                break
        out.append(agent.last_losses.table())
    return np.stack(out)


def test_absolute_goals_and_reference_estimator_train_through_the_agent():
    env, h = small(2, periods=5, relative_goals=False, cg_estimator="reference", cg_lambda=0.3)
    agent = H.Agent(hierarchy=h, warmup_steps=50, seed=0)
    top_before = [v.numpy().copy() for v in h.levels[0].actor.trainable_variables]
    losses = run(agent, env, 3)[-1]
    assert agent.critic_updates == [20, 100]          # (150 - 50) / 5 and every step after warm-up
    assert np.all(losses[:, 0] > 0) and losses[0, 2] != 0 and losses[0, 3] == pytest.approx(0.3)
    # The top's replay holds the bottom level's actions of each period (the reference estimator).
    buffer = agent.buffers[0]
    packed = buffer.gather(np.arange(len(buffer)))
    child_actions = buffer.layout.unpack(packed).child_actions.numpy()
    assert child_actions.shape == (30, 5, 2) and np.abs(child_actions).max() > 0
    assert all(np.abs(a - v.numpy()).max() > 0
               for a, v in zip(top_before, h.levels[0].actor.trainable_variables))
    # Absolute goals: the bottom level's goal is the one the top set, unchanged over the top's
    # 5-step period (relative goals would move with the state); a new period sets a new goal.
    low = agent.buffers[1]
    goal_inputs = low.layout.unpack(low.gather(np.arange(len(low)))).goal.numpy()
    periods = goal_inputs.reshape(30, 5, 2)
    np.testing.assert_array_equal(periods, np.repeat(periods[:, :1], 5, axis=1))
    assert np.abs(np.diff(periods[:, 0], axis=0)).max() > 0


def test_four_levels_with_learned_lambdas_restore_exactly(tmp_path):
    """After 4 episodes, the agent's full state (weights, optimizers, learned lambdas, replay,
    counters, random generator) is saved; a fresh agent restored from it and the original then
    train 2 more identical episodes to bit-identical variables and losses."""
    def build():
        env, h = small(4, periods=[2, 2, 3], cg_lambda=0.1, learn_cg_lambda=True, cg_delta=0.0,
                       cg_lambda_learning_rate=0.05)
        return env, H.Agent(hierarchy=h, warmup_steps=60, seed=1)

    env, agent = build()
    run(agent, env, 4)
    assert agent.critic_updates == [12, 24, 47, 140]    # multiples of 12, 6, 3, 1 in [60, 200)
    lambdas = [float(agent.hierarchy.cg_lambda_value(i)) for i in range(3)]
    assert all(abs(lam - 0.1) > 1e-3 for lam in lambdas), lambdas
    path = agent.tf_checkpoint().write(str(tmp_path / "ckpt"))
    np.savez(tmp_path / "state.npz", **agent.numpy_state())
    expected = run(agent, env, 2, first_episode=4)

    gin.clear_config()
    env2, restored = build()
    restored.tf_checkpoint().read(path).assert_existing_objects_matched()
    with np.load(tmp_path / "state.npz") as state:
        restored.load_numpy_state(dict(state))
    assert [float(restored.hierarchy.cg_lambda_value(i)) for i in range(3)] == lambdas
    got = run(restored, env2, 2, first_episode=4)
    np.testing.assert_array_equal(got, expected)
    for a, b in zip(agent.hierarchy.variables, restored.hierarchy.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.name)
