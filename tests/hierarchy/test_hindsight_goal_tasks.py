"""Hindsight goals at the top level of adapted goal-conditioned tasks (`envs.GoalTask`): the reward
is recomputed by the wrapped task's own `compute_reward`, checked against that function called one
step at a time (the oracle) and against the rewards the real task returns, on gymnasium-robotics'
sparse and dense PointMaze, for flat TD3 and two levels."""

import gin
import numpy as np
import pytest
from helpers import make_agent

from hierarchy.agent import builder
from hierarchy.run.assembly import make_envs_and_agent, make_task_env
from hierarchy.run.config import ConfigurationError, parse_gin

TASKS = ["PointMaze_UMaze-v3", "PointMaze_UMazeDense-v3"]


def oracle(env, achieved, desired):
    """The real task's compute_reward, called on one step (one goal pair) at a time."""
    task = env.unwrapped.env.unwrapped
    return float(task.compute_reward(np.asarray(achieved, np.float64),
                                     np.asarray(desired, np.float64), {}))


def observation(xy):
    """A PointMaze observation in our form, [x, y, vx, vy] + achieved goal (x, y)."""
    return np.array([xy[0], xy[1], 0.3, -0.2, xy[0], xy[1]], np.float32)


@pytest.mark.parametrize("env_id", TASKS)
def test_the_context_reward_is_the_tasks_compute_reward(env_id):
    env = make_task_env(env_id)
    reward = builder.context_reward_for_env(env)
    # Hand-picked states and contexts: distances 0, 0.3, 0.6 and 2 (the sparse task pays within 0.45).
    states = np.stack([observation(xy) for xy in [(1.0, 1.0), (1.0, 1.3), (0.4, 1.0), (-1.0, 1.0)]])
    context = np.array([1.0, 1.0], np.float32)
    np.testing.assert_array_equal(reward.achieved(states), states[:, 4:])
    got = reward.reward(states, context)
    distances = np.array([0.0, 0.3, 0.6, 2.0])
    by_hand = (distances <= 0.45).astype(float) if "Dense" not in env_id else np.exp(-distances)
    np.testing.assert_allclose(got, by_hand, atol=1e-6)
    np.testing.assert_allclose(got, [oracle(env, s[4:], context) for s in states], atol=1e-6)
    # A batch of rows [B, k] against one context per row, as the relabelling calls it.
    rows = np.stack([states, states[::-1]])                      # [2, 4, 6]
    contexts = np.array([[[1.0, 1.0]], [[-1.0, 1.0]]], np.float32)  # [2, 1, 2]
    expected = [[oracle(env, s[4:], c[0]) for s in r] for r, c in zip(rows, contexts)]
    np.testing.assert_allclose(reward.reward(rows, contexts), expected, atol=1e-6)
    # The reward of the real task's steps, recomputed from the next observation and the context.
    obs, _ = env.reset(seed=3, options={"context": np.array([1.0, 0.0])})
    env.action_space.seed(3)
    for _ in range(20):
        obs, r, *_ = env.step(env.action_space.sample())
        assert reward.reward(obs["observation"], obs["context"]) == pytest.approx(r, abs=1e-5)
    env.close()


def run_episodes(agent, env, episodes, length):
    """Warm-up (uniformly random) episodes of `length` steps, stored in the agent's replays."""
    for e in range(episodes):
        obs, _ = env.reset(seed=e)
        ep = agent.begin_episode(obs["observation"], obs["context"])
        for t in range(length):
            obs, r, term, trunc, _ = env.step(agent.act(ep, update=False))
            agent.observe(ep, r, obs["observation"], term, trunc or t == length - 1)


@pytest.mark.parametrize("env_id", TASKS)
@pytest.mark.parametrize("num_levels", [1, 2])
def test_top_rows_are_relabelled_with_the_tasks_rewards(env_id, num_levels):
    env = make_task_env(env_id)
    h = builder.build_for_env(env, num_levels=num_levels, periods=4)
    agent = make_agent(h, batch_size=256, capacity=2000, warmup_steps=10_000, seed=0,
                       hindsight_context=0.5, context_reward=builder.context_reward_for_env(env))
    run_episodes(agent, env, episodes=3, length=60)
    buf = agent.buffers[0]
    stored = buf.layout.views(buf.gather(range(len(buf))))
    due = np.zeros((num_levels, 2), bool)
    due[0, 0] = True
    inputs = agent.sample_update(due)
    rows = inputs.transitions[0]
    n = rows.num_steps.astype(int)
    # The rows the update reads: the stored row's own context, or the one a later row achieved.
    stored_index = [int(np.flatnonzero([np.array_equal(o, s) for s in stored.observations])[0])
                    for o in rows.observations]
    changed = np.array([not np.array_equal(rows.goal[b], stored.goal[i])
                        for b, i in enumerate(stored_index)])
    assert 0.35 < changed.mean() < 0.65
    finals = stored.observations[np.arange(len(buf)), stored.num_steps.astype(int)]
    paid = 0
    for b, i in enumerate(stored_index):
        if not changed[b]:   # untouched rows keep the task's summed reward
            assert rows.reward[b] == stored.reward[i]
            continue
        achieved = finals[:, 4:]
        source = np.flatnonzero(np.all(achieved == rows.goal[b], axis=1))
        assert np.any(source >= i), b                     # achieved at or after this row
        steps = [oracle(env, s[4:], rows.goal[b]) for s in rows.observations[b, 1:n[b] + 1]]
        assert rows.reward[b] == pytest.approx(sum(steps), rel=1e-5, abs=1e-5), b
        paid += sum(steps) > 0
    assert paid > 0
    # The top's update trains on these rewards.
    tensors = buf.layout.unpack(inputs.rows[0])
    np.testing.assert_allclose(h.td3_transition(0, tensors)[3].numpy(), rows.reward, rtol=1e-6)
    env.close()


def test_gin_gives_flat_and_two_level_agents_hindsight_on_adapted_tasks():
    for method, expected in [("methods/flat.gin", [0.5]), ("methods/hindsight.gin", [0.5, 0.5])]:
        gin.clear_config()
        parse_gin(["envs/point_maze_robotics.gin", method], ["Agent.hindsight_context = 0.5"])
        (env,), agent = make_envs_and_agent("PointMaze_UMaze-v3", max_episode_steps=None, seed=0,
                                            count=1)
        env.close()
        assert agent.hindsight_goals == expected
    # Three levels: the top's rows hold every tenth state only, so its reward cannot be recomputed.
    gin.clear_config()
    parse_gin(["envs/point_maze_robotics.gin", "methods/hindsight.gin"],
              ["Agent.hindsight_context = 0.5", "build_hierarchy.num_levels = 3"])
    with pytest.raises(ConfigurationError, match="child steps once per environment step"):
        make_envs_and_agent("PointMaze_UMaze-v3", max_episode_steps=None, seed=0, count=1)
    gin.clear_config()
