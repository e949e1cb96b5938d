"""Episode bookkeeping of `Agent`: what each level stores, carried goals, the update schedule."""

import numpy as np
import pytest
from helpers import GOAL_INDICES, make_agent, make_hierarchy

from hierarchy.core import goals

I = list(GOAL_INDICES)


def states(T):
    """A deterministic trajectory s_t = (t, 10 t, -t, 1)."""
    return np.array([[t, 10.0 * t, -t, 1.0] for t in range(T + 1)], np.float32)


def run_episode(agent, traj, rewards, terminate_at=None, context=(0.5, -0.5)):
    ep = agent.begin_episode(traj[0], np.asarray(context, np.float32))
    actions = []
    for t in range(len(traj) - 1):
        actions.append(agent.act(ep))
        term = terminate_at is not None and t + 1 == terminate_at
        trunc = t + 1 == len(traj) - 1 and not term
        agent.observe(ep, rewards[t], traj[t + 1], term, trunc)
        if term:
            break
    return ep, actions


def rows(agent, level):
    buf = agent.buffers[level]
    packed = buf.gather(np.arange(len(buf)))
    transition = buf.layout.unpack(packed)
    return {k: v.numpy() for k, v in vars(transition).items() if v is not None}


def test_two_level_transitions_hand_checked():
    h = make_hierarchy(2, periods=3)
    agent = make_agent(h, warmup_steps=1000, seed=0)
    traj = states(7)
    rewards = np.arange(1.0, 8.0)
    ep, _ = run_episode(agent, traj, rewards)
    top, low = rows(agent, 0), rows(agent, 1)
    # Top steps start at t = 0, 3, 6; the last one is cut by the end of the episode (n = 1).
    np.testing.assert_array_equal(top["num_steps"], [3, 3, 1])
    np.testing.assert_allclose(top["observations"][0], traj[0:4])
    np.testing.assert_allclose(top["observations"][1], traj[3:7])
    np.testing.assert_allclose(top["observations"][2][:2], traj[6:8])
    np.testing.assert_allclose(top["observations"][2][2:], 0.0)
    np.testing.assert_allclose(top["reward"], [1 + 2 + 3, 4 + 5 + 6, 7])
    np.testing.assert_allclose(top["goal"], [[0.5, -0.5]] * 3)
    np.testing.assert_allclose(top["discount"], [1, 1, 1])          # truncation bootstraps
    # Bottom: one transition per env step, (s_t, s_{t+1}).
    assert len(agent.buffers[1]) == 7
    np.testing.assert_array_equal(low["num_steps"], [1] * 7)
    np.testing.assert_allclose(low["observations"][:, 0], traj[:7])
    np.testing.assert_allclose(low["observations"][:, 1], traj[1:])
    # The bottom's goal is the top's action at the period start, carried by h(s, g, s').
    for t in range(7):
        p = t // 3
        expected = traj[3 * p][I] + top["action"][p] - traj[t][I]
        np.testing.assert_allclose(low["goal"][t], expected, atol=1e-5)
        # ... equal to applying h step by step from the period start.
        if t % 3:
            carried = goals.goal_transition(traj[t - 1], low["goal"][t - 1], traj[t],
                                            space=h.goal_space).numpy()
            np.testing.assert_allclose(low["goal"][t], carried, atol=1e-5)
    assert ep.env_return == pytest.approx(rewards.sum())


def test_termination_zeroes_the_discount_of_every_level():
    h = make_hierarchy(2, periods=3)
    agent = make_agent(h, warmup_steps=1000, seed=0)
    traj = states(10)
    run_episode(agent, traj, np.ones(10), terminate_at=5)
    top, low = rows(agent, 0), rows(agent, 1)
    np.testing.assert_array_equal(top["num_steps"], [3, 2])
    np.testing.assert_allclose(top["discount"], [1, 0])
    np.testing.assert_allclose(low["discount"], [1, 1, 1, 1, 0])


def test_three_levels_store_child_step_states():
    h = make_hierarchy(3, periods=[2, 3])    # top every 6 env steps, mid every 3
    agent = make_agent(h, warmup_steps=1000, seed=0)
    traj = states(8)
    run_episode(agent, traj, np.ones(8))
    top, mid = rows(agent, 0), rows(agent, 1)
    # Top: children are mid steps (3 env steps each): s_0, s_3, s_6; then s_6, s_8 (partial child).
    np.testing.assert_array_equal(top["num_steps"], [2, 1])
    np.testing.assert_allclose(top["observations"][0], traj[[0, 3, 6]])
    np.testing.assert_allclose(top["observations"][1][:2], traj[[6, 8]])
    # Mid: children are env steps: s_0..s_3, s_3..s_6, s_6..s_8 (n = 2).
    np.testing.assert_array_equal(mid["num_steps"], [3, 3, 2])
    np.testing.assert_allclose(mid["observations"][1], traj[3:7])
    assert len(agent.buffers[2]) == 8
    # Mid's goal at t = 3 is the top's goal carried from t = 0.
    expected = traj[0][I] + top["action"][0] - traj[3][I]
    np.testing.assert_allclose(mid["goal"][1], expected, atol=1e-5)


def test_reference_estimator_stores_child_actions():
    h = make_hierarchy(2, periods=3, cg_lambda=0.1, cg_estimator="reference")
    agent = make_agent(h, warmup_steps=1000, seed=0)
    traj = states(6)
    _, actions = run_episode(agent, traj, np.ones(6))
    top = rows(agent, 0)
    np.testing.assert_allclose(top["child_actions"][0], actions[0:3], atol=1e-6)
    np.testing.assert_allclose(top["child_actions"][1], actions[3:6], atol=1e-6)


def test_child_step_is_uniform_over_all_steps_of_the_period():
    h = make_hierarchy(2, periods=4, cg_lambda=0.1)
    agent = make_agent(h, warmup_steps=0, seed=0)
    layout = h.transition_layout(0)
    rows_ = np.zeros((4000, layout.width), np.float32)
    n = np.where(np.arange(4000) % 2 == 0, 4, 2)
    layout.views(rows_).num_steps[...] = n
    draws = np.concatenate([agent.sample_draws(0, rows_[k:k + 16]) for k in range(0, 4000, 16)])
    j = h.draws_layout(0).views(draws).child_step.astype(int)
    full, part = j[n == 4], j[n == 2]
    # Every step of a full period is drawn, the last one (j = k - 1) included, about equally often.
    counts = np.bincount(full, minlength=4) / len(full)
    np.testing.assert_allclose(counts, 0.25, atol=0.04)
    assert set(part) == {0, 1}


def test_schedule_warmup_then_updates():
    h = make_hierarchy(2, periods=3, cg_lambda=0.1)
    agent = make_agent(h, batch_size=8, warmup_steps=12, seed=0)
    traj = states(30)
    run_episode(agent, traj, np.ones(30))
    # 30 steps, learning from step 12: bottom critic at 12..29 (18), actor every 2nd (9);
    # top at 12, 15, ..., 27 (6 updates).
    assert agent.critic_updates == [6, 18]
    assert np.all(agent.last_losses.critic != 0)
    assert agent.last_losses.cg[0] != 0            # connected-gradient loss of the top


def test_evaluation_episode_changes_nothing():
    h = make_hierarchy(2, periods=3)
    agent = make_agent(h, warmup_steps=0, seed=0)
    run_episode(agent, states(6), np.ones(6))
    sizes, steps = [len(b) for b in agent.buffers], agent.env_steps
    weights = [v.numpy().copy() for v in h.trainable_variables]
    ep = agent.begin_episode(states(3)[0], np.zeros(2, np.float32), training=False)
    a1 = agent.act(ep)
    ep2 = agent.begin_episode(states(3)[0], np.zeros(2, np.float32), training=False)
    np.testing.assert_allclose(agent.act(ep2), a1)          # deterministic, no noise
    agent.observe(ep, 0.0, states(3)[1], False, False)
    assert [len(b) for b in agent.buffers] == sizes and agent.env_steps == steps
    for w, v in zip(weights, h.trainable_variables):
        np.testing.assert_array_equal(w, v.numpy())


def test_state_round_trip(tmp_path):
    h = make_hierarchy(2, periods=3, cg_lambda=0.1)
    agent = make_agent(h, batch_size=8, warmup_steps=5, seed=3)
    run_episode(agent, states(12), np.ones(12))
    path = agent.tf_checkpoint().write(str(tmp_path / "ckpt"))
    np.savez(tmp_path / "state.npz", **agent.numpy_state())
    saved_updates = list(agent.critic_updates)
    ep = agent.begin_episode(states(3)[0], np.zeros(2, np.float32))
    expected_action = agent.act(ep)

    h2 = make_hierarchy(2, periods=3, cg_lambda=0.1)
    restored = make_agent(h2, batch_size=8, warmup_steps=5, seed=99)
    restored.tf_checkpoint().read(path).assert_existing_objects_matched()
    with np.load(tmp_path / "state.npz") as state:
        restored.load_numpy_state(dict(state))
    assert restored.env_steps == 12 and restored.critic_updates == saved_updates
    assert [len(b) for b in restored.buffers] == [len(b) for b in agent.buffers]
    ep2 = restored.begin_episode(states(3)[0], np.zeros(2, np.float32))
    # Same weights, optimizer state, replay and random state: the very same next update and action.
    np.testing.assert_allclose(restored.act(ep2), expected_action, rtol=1e-5)


def test_non_finite_loss_stops_with_a_clear_error():
    h = make_hierarchy(2, periods=3)
    agent = make_agent(h, batch_size=8, warmup_steps=2, seed=0)
    traj = states(4)
    ep = agent.begin_episode(traj[0], np.zeros(2, np.float32))
    for t in range(2):
        agent.act(ep)
        agent.observe(ep, 1.0, traj[t + 1], False, False)
    buf = agent.buffers[1]
    stored = buf.gather(np.arange(len(buf)))
    buf.layout.views(stored).observations[...] = np.nan
    buf.restore(dict(buf.state(), rows=stored))
    with pytest.raises(FloatingPointError, match=r"non-finite loss .* level 1 \('low'\)"):
        agent.act(ep)


def test_intrinsic_returns():
    h = make_hierarchy(2, periods=3, level_kwargs=dict(reward_scale=2.0))
    agent = make_agent(h, warmup_steps=1000, seed=0)
    traj = states(3)
    ep, _ = run_episode(agent, traj, np.ones(3))
    low = rows(agent, 1)
    expected = 2.0 * sum(float(goals.intrinsic_reward(low["observations"][t, 0], low["goal"][t],
                                                      low["observations"][t, 1], space=h.goal_space))
                         for t in range(3))
    returns = agent.intrinsic_returns(ep)
    assert np.isnan(returns[0]) and returns[1] == pytest.approx(expected, rel=1e-5)


def test_wrong_observation_shape_is_an_error():
    agent = make_agent(make_hierarchy(2, periods=3), warmup_steps=0, seed=0)
    with pytest.raises(ValueError, match=r"the observation has shape \(3,\), the hierarchy expects \(4,\)"):
        agent.begin_episode(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"the context has shape \(\), the hierarchy expects \(2,\)"):
        agent.begin_episode(np.zeros(4), 0.0)
    ep = agent.begin_episode(np.zeros(4), np.zeros(2))
    agent.act(ep)
    with pytest.raises(ValueError, match=r"the next observation has shape \(1,\)"):
        agent.observe(ep, 0.0, [1.0], False, False)


