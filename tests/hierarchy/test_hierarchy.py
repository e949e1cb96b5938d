"""Hierarchy construction checks and the update's structure (which variables move, lambda = 0)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from helpers import GOAL_INDICES, make_hierarchy, make_levels, random_batch, variables_snapshot

from hierarchy import Hierarchy, Level, level_names
from hierarchy.agent.replay import Transition
from hierarchy.core import specs


def test_level_names():
    assert level_names(1) == ["flat"]
    assert level_names(2) == ["top", "low"]
    assert level_names(3) == ["top", "mid1", "low"]
    assert level_names(4) == ["top", "mid1", "mid2", "low"]
    # A name means the same level at every depth that has it: mid<k> is k levels below the top.
    for n in range(2, 8):
        names = level_names(n)
        assert names[0] == "top" and names[-1] == "low"
        assert all(names[k] == f"mid{k}" for k in range(1, n - 1))
    assert level_names(5) == ["top", "mid1", "mid2", "mid3", "low"]
    with pytest.raises(ValueError, match="at least one level"):
        level_names(0)


def test_schedule_constants():
    h = make_hierarchy(3, periods=[4, 5])
    assert h.env_steps_per_step == [20, 5, 1]
    assert h.child_steps == [4, 5, 1]
    assert make_hierarchy(2, periods=10).env_steps_per_step == [10, 1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(periods=0), r"periods\[0\].*>= 1"),
    (dict(periods=[3, 3]), "periods has 2 entries but the hierarchy has 1"),
    (dict(cg_lambda=-0.1), r"cg_lambda\[0\].*'top' -> 'low'.*>= 0"),
    (dict(cg_lambda=[0.1, 0.2]), "cg_lambda has 2 entries"),
    (dict(cg_lambda=float("nan")), "finite"),
    (dict(cg_estimator="mine"), "cg_estimator must be one of"),
    (dict(learn_cg_lambda=True, cg_lambda=0.1), "cg_delta"),
    (dict(goal_indices=(0,)), "goal_indices has 1 entries"),
    (dict(goal_indices=(0, 9)), r"goal_indices \[9\] are outside"),
])
def test_bad_hierarchy_arguments_raise(kwargs, match):
    levels = make_levels(2)
    args = dict(levels=levels, periods=3, goal_indices=GOAL_INDICES)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Hierarchy(**args)


def test_mismatched_specs_name_the_levels():
    levels = make_levels(3)
    obs = levels[0].observation_spec
    wrong_goal = specs.BoundedTensorSpec([3], tf.float32, -3.0, 3.0)
    levels[2] = Level(observation_spec=obs, goal_spec=wrong_goal, action_spec=levels[2].action_spec,
                      actor_hidden_sizes=(8,), critic_hidden_sizes=(8,), name="low")
    with pytest.raises(ValueError, match=r"level 1 \('mid1'\) sets goals for level 2 \('low'\).*"
                                         r"shape \(2,\).*shape \(3,\)"):
        Hierarchy(levels=levels, periods=2, goal_indices=GOAL_INDICES)
    levels = make_levels(2)
    other_bounds = specs.BoundedTensorSpec([2], tf.float32, -1.0, 1.0)
    levels[1] = Level(observation_spec=obs, goal_spec=other_bounds,
                      action_spec=levels[1].action_spec, actor_hidden_sizes=(8,),
                      critic_hidden_sizes=(8,), name="low")
    with pytest.raises(ValueError, match="action bounds .* differ from the child's goal bounds"):
        Hierarchy(levels=levels, periods=2, goal_indices=GOAL_INDICES)
    with pytest.raises(TypeError, match="expected a Level"):
        Hierarchy(levels=[levels[0], "low"], periods=2, goal_indices=GOAL_INDICES)


def test_environment_mismatch_is_named():
    h = make_hierarchy(2)
    obs = specs.TensorSpec([4], tf.float32)
    ctx = specs.TensorSpec([2], tf.float32)
    act = specs.BoundedTensorSpec([2], tf.float32, -1.0, 1.0)
    h.check_environment(observation_spec=obs, context_spec=ctx, action_spec=act)
    with pytest.raises(ValueError, match="environment's context has shape \\(3,\\)"):
        h.check_environment(observation_spec=obs, context_spec=specs.TensorSpec([3], tf.float32),
                            action_spec=act)
    with pytest.raises(ValueError, match="action spec .* differs from the bottom level's \\('low'"):
        h.check_environment(observation_spec=obs, context_spec=ctx,
                            action_spec=specs.BoundedTensorSpec([2], tf.float32, -2.0, 2.0))


def _all_due(n):
    return tf.constant(np.ones((n, 2), bool))


def _level_vars(level):
    return (level.actor.trainable_variables + level.critics.trainable_variables
            + level.target_actor.trainable_variables + level.target_critics.trainable_variables)


@pytest.mark.parametrize("estimator", ["paper", "reference", "critic"])
def test_parent_update_moves_no_child_variable(estimator):
    rng = np.random.default_rng(0)
    h = make_hierarchy(2, cg_lambda=0.5, cg_estimator=estimator)
    child_before = variables_snapshot(_level_vars(h.levels[1]))
    parent_before = variables_snapshot(h.levels[0].actor.trainable_variables)
    batches = [random_batch(h, 0, rng), random_batch(h, 1, rng)]
    due = tf.constant([[True, True], [False, False]])
    losses = h.train(batches, due).table()
    assert losses[0, 2] != 0.0          # the CG loss was computed
    for before, var in zip(child_before, _level_vars(h.levels[1])):
        np.testing.assert_array_equal(before, var.numpy())
    moved = [np.abs(b - v.numpy()).max() for b, v in
             zip(parent_before, h.levels[0].actor.trainable_variables)]
    assert max(moved) > 0


def test_lambda_zero_equals_independent_updates():
    """With lambda = 0 the hierarchy's update is exactly that of independent TD3 levels."""
    rng = np.random.default_rng(1)
    h = make_hierarchy(2, cg_lambda=0.0)
    independent = make_levels(2)          # same seeds -> same initial weights
    batches = [random_batch(h, 0, rng), random_batch(h, 1, rng)]
    for _ in range(3):
        h.train(batches, _all_due(2))
        for i, lvl in enumerate(independent):
            transition, draws = batches[i]
            s, g, a, r, d, s1, g1 = h.td3_transition(i, transition)
            lvl.train_critic(s, g, a, r, d, s1, g1, draws.noise)
            lvl.train_actor(s, g)
    for ours, theirs in zip(h.levels, independent):
        for a, b in zip(_level_vars(ours), _level_vars(theirs)):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # ... and lambda > 0 changes the parent's actor (the term is live).
    h_cg = make_hierarchy(2, cg_lambda=1.0)
    transition0, draws0 = batches[0]
    b0 = (transition0, dataclasses.replace(draws0, child_step=tf.zeros_like(transition0.num_steps)))
    h_cg.train([b0, batches[1]], _all_due(2))
    h0 = make_hierarchy(2, cg_lambda=0.0)
    h0.train(batches, _all_due(2))
    diff = max(np.abs(a.numpy() - b.numpy()).max() for a, b in
               zip(h_cg.levels[0].actor.trainable_variables, h0.levels[0].actor.trainable_variables))
    assert diff > 0


def test_td3_transition_of_a_sub_level_uses_intrinsic_reward_and_carried_goal():
    h = make_hierarchy(2, periods=3)
    obs = np.zeros((1, 4, 4), np.float32)
    obs[0, 0] = [1.0, 0.0, 2.0, 0.0]       # s_t[I] = (1, 2)
    obs[0, 2] = [2.0, 9.0, 5.0, 9.0]       # s_{t+2}[I] = (2, 5), n = 2
    batch = Transition(observations=obs, num_steps=np.array([2], np.int32),
                       goal=np.array([[3.0, 1.0]], np.float32), action=np.zeros((1, 2), np.float32),
                       reward=np.array([7.0], np.float32), discount=np.array([1.0], np.float32))
    top_batch = dataclasses.replace(batch, goal=np.zeros((1, 2), np.float32))
    s, g, a, r, d, s1, g1 = h.td3_transition(0, top_batch)
    np.testing.assert_allclose(r, [7.0])                            # top: environment reward
    s, g, a, r, d, s1, g1 = h.td3_transition(1, batch)
    np.testing.assert_allclose(s1, obs[:, 2])
    # target (1, 2) + (3, 1) = (4, 3); s'[I] = (2, 5): goal' = (2, -2), r = -sqrt(8)
    np.testing.assert_allclose(g1, [[2.0, -2.0]], atol=1e-6)
    np.testing.assert_allclose(r, [-np.sqrt(8.0)], rtol=1e-6)


def test_learned_lambda_moves():
    rng = np.random.default_rng(2)
    h = make_hierarchy(2, cg_lambda=0.5, learn_cg_lambda=True, cg_delta=-100.0,
                       cg_lambda_learning_rate=0.1)
    before = float(h.log_cg_lambda[0].numpy())
    batches = [random_batch(h, 0, rng), random_batch(h, 1, rng)]
    losses = h.train(batches, _all_due(2)).table()
    after = float(h.log_cg_lambda[0].numpy())
    # r_c + Q_c is far above delta = -100: the constraint holds, lambda decreases.
    assert after < before
    np.testing.assert_allclose(losses[0, 3], np.exp(after), rtol=1e-5)


def test_building_levels_without_a_goal_space_says_why():
    import gymnasium as gym

    from envs.wrappers import NoContext
    from hierarchy import build_for_env
    env = NoContext(gym.make("Pendulum-v1"))
    assert build_for_env(env, num_levels=1).num_levels == 1
    with pytest.raises(ValueError, match="2 levels needs a goal space .* no task_spec"):
        build_for_env(env, num_levels=2)
