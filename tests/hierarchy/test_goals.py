"""Hand-computed intrinsic rewards and goal transitions."""

import numpy as np
import pytest

from hierarchy.core import goals

I = (0, 2)  # goal indices into a 3-dim observation
REL = goals.GoalSpace(indices=I, relative=True)
ABS = goals.GoalSpace(indices=I, relative=False)


def test_select():
    s = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(goals.select(s, REL), [[1.0, 3.0]])


def test_relative_transition_and_reward_hand_computed():
    s = np.array([1.0, 5.0, 2.0], np.float32)       # s[I] = (1, 2)
    g = np.array([3.0, -1.0], np.float32)           # target s[I] + g = (4, 1)
    s1 = np.array([2.0, 0.0, 4.0], np.float32)      # s'[I] = (2, 4)
    # h = s[I] + g - s'[I] = (4, 1) - (2, 4) = (2, -3)
    np.testing.assert_allclose(goals.goal_transition(s, g, s1, space=REL), [2.0, -3.0])
    # r = -||(2, -3)|| = -sqrt(13)
    r = goals.intrinsic_reward(s, g, s1, space=REL)
    np.testing.assert_allclose(r, -np.sqrt(13.0), rtol=1e-6)


def test_absolute_goals_are_kept_and_rewarded_against_next_state():
    s = np.array([1.0, 5.0, 2.0], np.float32)
    g = np.array([3.0, -1.0], np.float32)
    s1 = np.array([2.0, 0.0, 4.0], np.float32)
    np.testing.assert_allclose(
        goals.goal_transition(s, g, s1, space=ABS), g)
    # r = -||g - s'[I]|| = -||(1, -5)|| = -sqrt(26)
    np.testing.assert_allclose(
        goals.intrinsic_reward(s, g, s1, space=ABS), -np.sqrt(26.0),
        rtol=1e-6)


def test_goal_carried_over_several_steps_matches_closed_form():
    """Applying h step by step over a trajectory equals s_t[I] + g_t - s_{t+j}[I] at every j, and
    the absolute target s[I] + g stays fixed."""
    traj = np.array([[0.0, 9.0, 0.0], [1.0, 8.0, 0.5], [1.5, 7.0, 2.0], [3.0, 6.0, 2.5]],
                    np.float32)
    g0 = np.array([4.0, 3.0], np.float32)   # target (4, 3)
    g = g0
    expected = [[4.0, 3.0], [3.0, 2.5], [2.5, 1.0], [1.0, 0.5]]
    for j in range(1, len(traj)):
        g = goals.goal_transition(traj[j - 1], g, traj[j], space=REL).numpy()
        np.testing.assert_allclose(g, expected[j], atol=1e-6)
        np.testing.assert_allclose(goals.goal_transition(traj[0], g0, traj[j], space=REL), g,
                                   atol=1e-6)
        np.testing.assert_allclose(goals.select(traj[j], REL) + g, [4.0, 3.0], atol=1e-6)


def test_reward_is_zero_when_goal_reached_and_batched():
    s = np.zeros((4, 3), np.float32)
    g = np.array([[1.0, 1.0]] * 4, np.float32)
    s1 = np.tile(np.array([1.0, 7.0, 1.0], np.float32), (4, 1))
    r = goals.intrinsic_reward(s, g, s1, space=REL)
    assert r.shape == (4,)
    np.testing.assert_allclose(r, 0.0, atol=1e-5)


@pytest.mark.parametrize("relative", [True, False])
def test_reward_gradient_is_finite_at_the_goal(relative):
    import tensorflow as tf

    s = tf.zeros([1, 3])
    g = tf.Variable([[1.0, 1.0]])
    s1 = tf.constant([[1.0, 0.0, 1.0]])
    with tf.GradientTape() as tape:
        r = goals.intrinsic_reward(s, g, s1, space=goals.GoalSpace(indices=I, relative=relative))
    assert np.all(np.isfinite(tape.gradient(r, g).numpy()))


def test_goal_space_value_and_index_checks():
    assert REL.dim == 2 and REL.indices == (0, 2) and not ABS.relative
    assert goals.GoalSpace(indices=[1, 2]) == goals.GoalSpace(indices=(1, 2), relative=True)
    goals.check_indices(REL, goal_dim=2, obs_dim=3)
    with pytest.raises(ValueError, match="goal_indices has 2 entries but the goals have 3 dims"):
        goals.check_indices(REL, goal_dim=3, obs_dim=3)
    with pytest.raises(ValueError, match=r"goal_indices \[2\] are outside the observation \(dim 2\)"):
        goals.check_indices(REL, goal_dim=2, obs_dim=2)
