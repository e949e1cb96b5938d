"""Hindsight goal transitions: the replay's episode bookkeeping, the relabelled goals and rewards
(checked against the rule written out here), the fractions, no leak across episodes, checkpoints,
and the settings a hierarchy cannot honour."""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from helpers import GOAL_INDICES, make_agent, make_hierarchy

import envs  # noqa: F401  (registers the hierarchy/ environments)
from envs import task as envs_task
from hierarchy.agent import builder
from hierarchy.agent.replay import ReplayBuffer, Transition, transition_layout
from hierarchy.core import relabelling

I = list(GOAL_INDICES)


def tiny_buffer(capacity):
    layout = transition_layout(obs_dim=1, goal_dim=1, action_dim=1, child_steps=1)
    buf = ReplayBuffer(layout=layout, capacity=capacity, batch_size=4)
    buf.track_episodes()
    return buf


def add_episode(buf, episode, length):
    for t in range(length):
        buf.add(Transition(observations=np.full((2, 1), 100.0 * episode + t, np.float32),
                           num_steps=1, goal=np.zeros(1, np.float32), action=np.zeros(1, np.float32),
                           reward=0.0, discount=1.0), new_episode=t == 0)


@pytest.mark.parametrize("capacity", [1000, 7])
def test_future_rows_stay_in_their_episode_and_cover_it(capacity):
    buf = tiny_buffer(capacity)
    for episode, length in enumerate([5, 3, 6, 4]):       # the small capacity wraps the ring
        add_episode(buf, episode, length)
    rng = np.random.default_rng(0)
    rows = buf.layout.views(buf.gather(range(len(buf))))
    ids = rows.observations[:, 0, 0]
    for r in range(len(buf)):
        future = buf.future_indices(rng, np.full(3000, r))
        fut_ids = buf.layout.views(buf.gather(future)).observations[:, 0, 0]
        episode, t = divmod(ids[r], 100.0)
        held = [x for x in ids if x // 100 == episode and x >= ids[r]]   # itself and its later rows
        assert set(fut_ids.tolist()) == set(held), (r, fut_ids, held)
        counts = np.array([np.sum(fut_ids == x) for x in held])
        assert np.all(np.abs(counts / 3000 - 1 / len(held)) < 0.05)      # uniform


def test_episode_bookkeeping_survives_a_checkpoint():
    buf = tiny_buffer(50)
    add_episode(buf, 0, 4)
    add_episode(buf, 1, 2)
    other = tiny_buffer(50)
    other.restore(buf.state())
    add_episode(buf, 1, 0)   # nothing
    for b in (buf, other):   # the open episode continues in both
        b.add(Transition(observations=np.full((2, 1), 102.0, np.float32), num_steps=1,
                         goal=np.zeros(1, np.float32), action=np.zeros(1, np.float32), reward=0.0,
                         discount=1.0))
    idx = np.arange(7)
    assert buf.future_indices(np.random.default_rng(1), idx).tolist() == \
        other.future_indices(np.random.default_rng(1), idx).tolist()
    plain = ReplayBuffer(layout=buf.layout, capacity=50, batch_size=4)
    with pytest.raises(ValueError, match="tracking episodes"):
        plain.restore(buf.state())


def run_agent(agent, episodes, length, rng):
    """Episodes whose observation dim 1 holds the episode number and dim 3 the step."""
    for e in range(episodes):
        obs = np.array([rng.normal(), e, rng.normal(), 0.0], np.float32)
        ep = agent.begin_episode(obs, np.zeros(2, np.float32))
        for t in range(length):
            agent.act(ep, update=False)
            obs = np.array([obs[0] + rng.normal(), e, obs[2] + rng.normal(), t + 1], np.float32)
            agent.observe(ep, -1.0, obs, False, t == length - 1)


@pytest.mark.parametrize("relative", [True, False])
def test_hindsight_goals_below_the_top_come_from_the_rows_own_future(relative):
    h = make_hierarchy(2, periods=3, relative_goals=relative)
    agent = make_agent(h, batch_size=512, warmup_steps=10_000, seed=0,
                       hindsight_goals=0.4)
    rng = np.random.default_rng(0)
    run_agent(agent, episodes=4, length=20, rng=rng)
    buf = agent.buffers[1]
    stored = buf.layout.views(buf.gather(range(len(buf))))
    inputs = agent.sample_update(np.array([[False, False], [True, False]]))
    rows = inputs.transitions[0]
    s0 = rows.observations[:, 0]
    # Which rows were relabelled: a goal that no stored row with this start state has.
    original = {tuple(o[0].tolist()): g for o, g in zip(stored.observations, stored.goal)}
    changed = np.array([not np.array_equal(original[tuple(o.tolist())], g)
                        for o, g in zip(s0, rows.goal)])
    assert abs(changed.mean() - 0.4) < 0.08
    # Each new goal is met by the final state of a row of the same episode, at or after this one.
    target = rows.goal[changed] + (s0[changed][:, I] if relative else 0.0)
    finals = stored.observations[np.arange(len(buf)), stored.num_steps.astype(int)]
    for tgt, s in zip(target, s0[changed]):
        match = np.all(np.isclose(finals[:, I], tgt, atol=1e-5), axis=1)
        assert match.any()
        assert np.all(finals[match, 1] == s[1])          # the same episode
        assert np.all(finals[match, 3] > s[3])           # reached after s_t
    # The reward the level trains on is its own, re-evaluated on the relabelled goal.
    tensors = buf.layout.unpack(inputs.rows[0])
    reward = h.td3_transition(1, tensors)[3].numpy()
    s1 = rows.observations[:, 1]
    expected = -np.linalg.norm((s0[:, I] + rows.goal if relative else rows.goal) - s1[:, I], axis=1)
    np.testing.assert_allclose(reward, expected, atol=1e-4)


@pytest.mark.parametrize("env_id", ["hierarchy/PointReach-v0", "hierarchy/PointMaze-v0",
                                    "hierarchy/AntMaze-v0"])
def test_the_published_context_reward_is_the_environments(env_id):
    env = gym.make(env_id)
    spec = envs_task.task_spec(env)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert envs_task.context_reward(spec, obs["observation"], obs["context"]) == \
            pytest.approx(reward, rel=1e-5, abs=1e-5)
        np.testing.assert_allclose(envs_task.achieved_context(spec, obs["observation"]),
                                   obs["observation"][:2])
    env.close()


def test_top_level_hindsight_goals_recompute_the_tasks_reward():
    env = gym.make("hierarchy/PointMaze-v0")
    context_reward = builder.context_reward_for_env(env)
    h = builder.build_for_env(env, num_levels=2, periods=5)
    agent = make_agent(h, batch_size=256, warmup_steps=10_000, seed=0, hindsight_context=0.5,
                       context_reward=context_reward)
    obs, _ = env.reset(seed=0)
    ep = agent.begin_episode(obs["observation"], obs["context"])
    for t in range(60):
        obs, r, term, trunc, _ = env.step(agent.act(ep, update=False))
        agent.observe(ep, r, obs["observation"], term, trunc or t == 59)
    buf = agent.buffers[0]
    stored = buf.layout.views(buf.gather(range(len(buf))))
    rows = agent.sample_update(np.array([[True, False], [False, False]])).transitions[0]
    changed = ~np.all(np.isclose(rows.goal, obs["context"]), axis=1)
    assert 0.35 < changed.mean() < 0.65
    n = rows.num_steps.astype(int)
    for b in range(len(n)):
        xy = rows.observations[b, 1:n[b] + 1, :2]
        expected = -np.sum(np.linalg.norm(xy - rows.goal[b], axis=1))
        assert rows.reward[b] == pytest.approx(expected, rel=1e-5), b
        if not changed[b]:   # untouched rows keep the environment's summed reward
            assert any(np.array_equal(rows.observations[b], o) and rows.reward[b] == sr
                       for o, sr in zip(stored.observations, stored.reward))
    env.close()


@pytest.mark.parametrize("kwargs, problem", [
    (dict(hindsight_strategy="final"), "hindsight_strategy 'final' is unknown"),
    (dict(hindsight_context=0.5), "needs a task that publishes a reward function of the context"),
    (dict(hindsight_goals=[2.0]), r"hindsight_goals\[0\] is a probability"),
    (dict(hindsight_context=-0.1), "hindsight_context is a probability"),
    (dict(hindsight_goals=[0.5, 0.5]), "hindsight_goals has 2 entries but the hierarchy has 1 level"),
])
def test_hindsight_settings_the_hierarchy_cannot_honour_are_named(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        make_agent(make_hierarchy(2), **kwargs)


def test_top_level_hindsight_needs_every_step_in_the_tops_rows():
    reward = relabelling.ContextReward(reward=lambda s, c: -np.linalg.norm(s[..., :2] - c, axis=-1),
                                     achieved=lambda s: s[..., :2])
    with pytest.raises(ValueError, match="top whose child steps once per environment step"):
        make_agent(make_hierarchy(3), hindsight_context=0.5, context_reward=reward)
    agent = make_agent(make_hierarchy(3), hindsight_goals=0.5)           # below the top: fine
    assert agent.hindsight_goals == [0.0, 0.5, 0.5]
    agent = make_agent(make_hierarchy(2), hindsight_goals=[0.3], hindsight_context=0.2,
                       context_reward=reward)
    assert agent.hindsight_goals == [0.2, 0.3]


def test_agent_checkpoint_keeps_what_future_relabelling_needs():
    def agent_with_data():
        agent = make_agent(make_hierarchy(2, periods=3), batch_size=64, warmup_steps=10_000,
                           seed=2, hindsight_goals=0.5)
        run_agent(agent, episodes=3, length=12, rng=np.random.default_rng(4))
        return agent
    a = agent_with_data()
    b = make_agent(make_hierarchy(2, periods=3), batch_size=64, warmup_steps=10_000, seed=9,
                   hindsight_goals=0.5)
    b.load_numpy_state(a.numpy_state())
    due = np.array([[False, False], [True, False]])
    va = a.sample_update(due).vector.copy()
    vb = b.sample_update(due).vector.copy()
    np.testing.assert_array_equal(va, vb)
    assert tf.reduce_all(tf.math.is_finite(va))


class RandomAchievedGoals:
    """The worked example of docs/extending.md: HER's "random" strategy below the top. With
    probability p a sampled row's goal becomes one achieved at the end of a uniformly drawn stored
    row (of any episode), as a displacement from the row's start for relative goals."""

    def __init__(self, p: float):
        self.p = p

    def tracks_episodes(self, level: int) -> bool:
        return False

    def __call__(self, batch: relabelling.SampledBatch) -> None:
        if batch.level == 0:
            return                       # the top's goal is the context, its reward the task's
        rows, rng, space = batch.rows, batch.rng, batch.space
        use = np.flatnonzero(rng.random(len(batch.indices)) < self.p)
        drawn = batch.buffer.layout.views(batch.buffer.gather(rng.integers(len(batch.buffer),
                                                                           size=len(use))))
        achieved = drawn.observations[np.arange(len(use)), drawn.num_steps.astype(np.int64)]
        goal = achieved[:, list(space.indices)]
        if space.relative:
            goal = goal - rows.observations[use, 0][:, list(space.indices)]
        rows.goal[use] = goal


def test_a_relabeller_of_ones_own_rewrites_sampled_rows_after_the_hindsight_goals():
    h = make_hierarchy(2, periods=3, relative_goals=True)
    agent = make_agent(h, batch_size=512, warmup_steps=10_000, seed=0,
                       relabellers=[RandomAchievedGoals(0.5)])
    assert [type(r) for r in agent.relabellers] == [RandomAchievedGoals]
    assert not any(buf.tracks_episodes for buf in agent.buffers)   # the rule asked for none
    run_agent(agent, episodes=4, length=20, rng=np.random.default_rng(0))
    buf = agent.buffers[1]
    stored = buf.layout.views(buf.gather(range(len(buf))))
    inputs = agent.sample_update(np.array([[True, False], [True, False]]))
    top, rows = inputs.transitions
    top_stored = agent.buffers[0].layout.views(agent.buffers[0].gather(range(len(agent.buffers[0]))))
    originals = {tuple(o[0].tolist()): g for o, g in zip(top_stored.observations, top_stored.goal)}
    assert all(np.array_equal(originals[tuple(o[0].tolist())], g)
               for o, g in zip(top.observations, top.goal))             # the top is untouched
    s0 = rows.observations[:, 0]
    original = {tuple(o[0].tolist()): g for o, g in zip(stored.observations, stored.goal)}
    changed = np.array([not np.array_equal(original[tuple(o.tolist())], g)
                        for o, g in zip(s0, rows.goal)])
    assert abs(changed.mean() - 0.5) < 0.08
    finals = stored.observations[np.arange(len(buf)), stored.num_steps.astype(int)]
    episodes = set()
    for goal, s in zip(rows.goal[changed], s0[changed]):
        match = np.all(np.isclose(finals[:, I], s[I] + goal, atol=1e-5), axis=1)
        assert match.any()                                 # achieved by some stored row
        episodes |= set((finals[match, 1] != s[1]).tolist())
    assert True in episodes                                # ... of other episodes too


def test_a_relabeller_must_follow_the_protocol():
    with pytest.raises(TypeError, match=r"relabellers\[0\] is a function, which is not a RowRelabeller"):
        make_agent(make_hierarchy(2), relabellers=[lambda batch: None])
