"""The split of a parent's actor gradient into its TD3 and connected-gradient parts.

Oracles: the two parts add up to the production gradient (`Hierarchy.actor_gradients`) for every
estimator; each part matches central differences of its own loss, written out independently in
test_connected.py; the same holds per sample for the gradients in the parent's action (closed form
for the reward term, central differences for the others), which chain back through the parent's
actor to the parameter gradient exactly; the statistics are checked on hand-computed vectors.
"""

import numpy as np
import pytest
import tensorflow as tf
from helpers import as_numpy, make_hierarchy, random_batch, randomize_last_layers
from test_connected import LAMBDA, I, Pieces, _gather, directional_fd, dot, setup

from hierarchy.agent.replay import Draws
from hierarchy.core import diagnostics


@pytest.mark.parametrize("estimator", ["paper", "reference", "critic"])
def test_parts_add_up_to_the_update_gradient(estimator):
    h, batch, _, _ = setup(estimator)
    parts = diagnostics.actor_gradient_parts(h, 0, *batch)
    _, _, total, _ = h.actor_gradients(0, h.relabelled(0, *batch), batch[1])
    assert len(parts.td3) == len(parts.cg) == len(total)
    for a, b, t in zip(parts.td3, parts.cg, total):
        np.testing.assert_allclose(a.numpy() + b.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
    assert diagnostics.gradient_statistics(parts)["cg_norm"] > 0


def test_each_part_matches_finite_differences_of_its_own_loss():
    h, batch, variables, directions = setup("paper", seed=3)
    pieces = Pieces(h, batch)
    parts = diagnostics.actor_gradient_parts(h, 0, *batch)
    for direction in directions:
        td3 = directional_fd(pieces.f_parent, variables, direction)
        cg = LAMBDA * (directional_fd(pieces.f_reward, variables, direction)
                       + directional_fd(pieces.f_actor, variables, direction))
        assert dot(parts.td3, direction) == pytest.approx(td3, abs=1e-3 + 2e-2 * abs(td3))
        assert dot(parts.cg, direction) == pytest.approx(cg, abs=1e-3 + 2e-2 * abs(cg))


def test_cg_part_is_linear_in_lambda_and_td3_part_does_not_depend_on_it():
    rng = np.random.default_rng(4)
    small, large = (make_hierarchy(2, periods=4, cg_lambda=lam) for lam in (0.01, 0.04))
    for a, b in zip(small.levels, large.levels):   # same weights (same seeds), larger outputs
        randomize_last_layers(a, np.random.default_rng(5), scale=1.0)
        randomize_last_layers(b, np.random.default_rng(5), scale=1.0)
    batch = random_batch(small, 0, rng, batch_size=16)
    p1 = diagnostics.actor_gradient_parts(small, 0, *batch)
    p4 = diagnostics.actor_gradient_parts(large, 0, *batch)
    for g1, g4 in zip(p1.td3, p4.td3):
        np.testing.assert_allclose(g1.numpy(), g4.numpy(), rtol=1e-6, atol=1e-7)
    for g1, g4 in zip(p1.cg, p4.cg):
        np.testing.assert_allclose(4 * g1.numpy(), g4.numpy(), rtol=1e-4, atol=1e-7)
    s1, s4 = (diagnostics.gradient_statistics(p) for p in (p1, p4))
    assert s4["ratio"] == pytest.approx(4 * s1["ratio"], rel=1e-4)
    assert s4["cosine"] == pytest.approx(s1["cosine"], abs=1e-5)


def test_statistics_by_hand():
    parts = diagnostics.GradientParts(td3=[tf.constant([3.0, 0.0]), tf.constant([[0.0]])],
                                      cg=[tf.constant([0.0, 4.0]), tf.constant([[0.0]])])
    assert diagnostics.gradient_statistics(parts) == {
        "td3_norm": 3.0, "cg_norm": 4.0, "ratio": pytest.approx(4 / 3), "cosine": 0.0}
    opposed = diagnostics.GradientParts(td3=[tf.constant([3.0, 4.0])], cg=[tf.constant([-0.6, -0.8])])
    stats = diagnostics.gradient_statistics(opposed)
    assert (stats["ratio"], stats["cosine"]) == (pytest.approx(0.2), pytest.approx(-1.0))
    none = diagnostics.gradient_statistics(
        diagnostics.GradientParts(td3=[tf.constant([1.0])], cg=[tf.constant([0.0])]))
    assert none["ratio"] == 0.0 and np.isnan(none["cosine"])


def test_levels_without_connected_gradients_are_refused():
    h = make_hierarchy(3, periods=2, cg_lambda=[0.0, 0.01])
    batch = random_batch(h, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="level 0 \\('top'\\) receives no connected-gradient term"):
        diagnostics.actor_gradient_parts(h, 0, *batch)
    with pytest.raises(ValueError, match="level 2 \\('low'\\) receives no connected-gradient term"):
        diagnostics.actor_gradient_parts(h, 2, *random_batch(h, 2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="level must be in \\[0, 3\\)"):
        diagnostics.actor_gradient_parts(h, 3, *batch)


def test_as_tensors_keeps_missing_fields():
    draws = diagnostics.as_tensors(Draws(noise=np.zeros((2, 3), np.float32)))
    assert isinstance(draws.noise, tf.Tensor) and draws.noise.shape == (2, 3)
    assert draws.child_step is None


# ------------------------------------------------------------------------------------------------
# The same two objectives differentiated in the parent's action, per sample.

def _action_oracle(h, batch, estimator, eps=1e-3):
    """Central differences, per sample and action coordinate, of the pieces written out here from
    the child's and parent's networks (independently of `hierarchy.core.connected_gradients`): returns the
    unweighted (d Q_p / da, d V_c / da) and the closed-form d r_c / da, each `[B, goal_dim]`."""
    b = as_numpy(batch)
    parent, child = h.levels[0], h.levels[1]
    obs, j = b["observations"], b["child_step"]
    idx = np.arange(obs.shape[0])
    s0, sj, sj1 = obs[:, 0], obs[idx, j], obs[idx, j + 1]
    a0 = parent.policy(s0, b["goal"]).numpy().astype(np.float64)

    def goal_of(a):                    # relative goals: g_{t+j} = s_t[I] + a - s_{t+j}[I]
        return (s0[:, I] + a - sj[:, I]).astype(np.float32)

    g0 = goal_of(a0)
    values = {
        "paper": lambda a: child.q1(sj, g0, child.policy(sj, goal_of(a))),
        "reference": lambda a: child.q1(sj, goal_of(a), _gather(b["child_actions"], j)),
        "critic": lambda a: child.q1(sj, goal_of(a), child.policy(sj, goal_of(a))),
    }

    def fd(fn):
        out = np.zeros_like(a0)
        for k in range(a0.shape[1]):
            step = np.zeros_like(a0)
            step[:, k] = eps
            plus = fn((a0 + step).astype(np.float32)).numpy().astype(np.float64)
            minus = fn((a0 - step).astype(np.float32)).numpy().astype(np.float64)
            out[:, k] = (plus - minus) / (2 * eps)
        return out

    td3 = fd(lambda a: parent.q1(s0, b["goal"], a))
    value = fd(values[estimator])
    residual = s0[:, I] + a0 - sj1[:, I]                # r_c = -scale ||s_{t+j}[I] + g - s_{t+j+1}[I]||
    reward = -child.reward_scale * residual / np.linalg.norm(residual, axis=1, keepdims=True)
    return a0, td3, value, (np.zeros_like(reward) if estimator == "critic" else reward)


@pytest.mark.parametrize("estimator", ["paper", "reference", "critic"])
def test_action_gradients_match_closed_form_and_finite_differences(estimator):
    h, batch, _, _ = setup(estimator, seed=5)
    batch = (h.relabelled(0, *batch), batch[1])
    parts = diagnostics.action_gradient_parts(h, 0, *batch)
    a0, td3, value, reward = _action_oracle(h, batch, estimator)
    assert parts.action.shape == parts.td3.shape == parts.reward.shape == parts.value.shape == a0.shape
    np.testing.assert_allclose(parts.action, a0, atol=1e-6)
    np.testing.assert_allclose(parts.reward, LAMBDA * reward, rtol=1e-4, atol=1e-5)
    for got, want in ((parts.td3, td3), (parts.value / LAMBDA, value)):
        assert np.abs(want).max() > 1e-2                   # a real path, well above the noise
        np.testing.assert_allclose(got, want, atol=2e-3 + 2e-2 * np.abs(want).max())


@pytest.mark.parametrize("estimator", ["paper", "reference", "critic"])
def test_action_gradients_chain_to_the_parameter_gradient(estimator):
    """Back through the parent's actor, -mean(reward + value) is exactly the connected-gradient
    part of the parameter gradient (`actor_gradient_parts`)."""
    h, batch, variables, _ = setup(estimator, seed=6)
    parts = diagnostics.actor_gradient_parts(h, 0, *batch)
    action = diagnostics.action_gradient_parts(h, 0, *batch)
    relabelled = h.relabelled(0, *batch)
    state, goal = relabelled.observations[:, 0], relabelled.goal
    with tf.GradientTape() as tape:
        a = h.levels[0].policy(state, goal)
    size = a.shape[0]
    cg = tape.gradient(a, variables, output_gradients=-(action.reward + action.value) / size)
    for got, want in zip(cg, parts.cg):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-6)


def test_action_statistics_by_hand():
    parts = diagnostics.ActionGradients(
        action=np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]),
        td3=np.array([[0.0, 2.0], [0.0, 1.0], [0.0, 0.0]]),
        reward=np.array([[-0.5, 0.0], [0.0, -3.0], [0.0, 1.0]]),
        value=np.array([[-0.5, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    # cg per sample: (-1, 0), (0, -3), (0, 2); |td3| 2, 1, 0 (the third sample has no ratio and no
    # cosine with td3); cosine with -a: 1, 1, 0.
    stats = diagnostics.action_statistics(parts)
    assert stats == {"td3_norm": 1.0, "reward_norm": 1.0, "value_norm": 0.5, "cg_norm": 2.0,
                     "ratio": pytest.approx((0.5 + 3.0) / 2), "cosine": pytest.approx(-0.5),
                     "toward_zero": 1.0, "goal_norm": 2.0}


def test_action_gradients_refuse_levels_without_connected_gradients():
    h = make_hierarchy(3, periods=2, cg_lambda=[0.0, 0.01])
    batch = random_batch(h, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="level 0 \\('top'\\) receives no connected-gradient term"):
        diagnostics.action_gradient_parts(h, 0, *batch)


# ------------------------------------------------------------------------------------------------
# The child's side of Eq. 14's value term.

def test_child_actor_path_is_the_value_term_of_eq14():
    """lambda * dQ_c/da_c . da_c/dg, with dg/da = I for relative goals, is exactly the value term
    of `action_gradient_parts` under the "paper" estimator; da_c/dg matches central differences."""
    h, batch, _, _ = setup("paper", seed=7)
    path = diagnostics.child_actor_path(h, 0, *batch)
    parts = diagnostics.action_gradient_parts(h, 0, *batch)
    chained = LAMBDA * np.einsum("ba,bag->bg", path.critic_gradient, path.policy_jacobian)
    assert np.abs(chained).max() > 1e-2
    np.testing.assert_allclose(chained, parts.value, rtol=1e-4, atol=1e-6)
    b = as_numpy((h.relabelled(0, *batch), batch[1]))
    obs, j = b["observations"], b["child_step"]
    idx = np.arange(obs.shape[0])
    s0, sj = obs[:, 0], obs[idx, j]
    goal = (s0[:, I] + h.levels[0].policy(s0, b["goal"]).numpy() - sj[:, I]).astype(np.float64)
    child, eps = h.levels[1], 1e-3
    for k in range(goal.shape[1]):
        step = np.zeros_like(goal)
        step[:, k] = eps
        fd = (child.policy(sj, (goal + step).astype(np.float32)).numpy().astype(np.float64)
              - child.policy(sj, (goal - step).astype(np.float32)).numpy()) / (2 * eps)
        np.testing.assert_allclose(path.policy_jacobian[:, :, k], fd, atol=2e-3)


def test_saturated_child_actions_have_no_slope():
    h, batch, _, _ = setup("paper", seed=8)
    child = h.levels[1]
    bias = child.actor.biases[-1]
    low = diagnostics.child_actor_path(h, 0, *batch)
    bias.assign(np.full(bias.shape, 20.0, np.float32))        # tanh(>> 1): every action at its bound
    high = diagnostics.child_actor_path(h, 0, *batch)
    assert np.all(high.saturated == 1.0) and np.abs(high.policy_jacobian).max() < 1e-4
    assert np.median(low.saturated) < 0.5 and np.abs(low.policy_jacobian).max() > 1e-2
    stats = diagnostics.child_path_statistics(high)
    assert stats["saturated"] == 1.0 and stats["policy_slope"] < 1e-4 and stats["critic_slope"] > 0


def test_child_path_statistics_by_hand():
    path = diagnostics.ChildActorPath(
        critic_gradient=np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]]),
        policy_jacobian=np.array([[[1.0, 0.0], [0.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]],
                                  [[0.0, 0.0], [0.0, 0.0]]]),
        saturated=np.array([0.5, 1.0, 0.0]))
    assert diagnostics.child_path_statistics(path) == {
        "saturated": 0.5, "critic_slope": 1.0, "policy_slope": 1.0}


# ------------------------------------------------------------------------------------------------
# The goals any parent sets, connected gradients or not.

def test_parent_goals_of_a_level_without_connected_gradients():
    """Level 0 of a 3-level hierarchy with lambda 0 above: its goals are its actor's output at the
    relabelled batch's start states and goals; the bounds check counts components by hand."""
    rng = np.random.default_rng(3)
    h = make_hierarchy(3, periods=2, cg_lambda=[0.0, 0.01])
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=1.0)
    batch = random_batch(h, 0, rng)
    goals = diagnostics.parent_goals(h, 0, *batch)
    relabelled = h.relabelled(0, *batch)
    want = h.levels[0].policy(relabelled.observations[:, 0], relabelled.goal).numpy()
    np.testing.assert_array_equal(goals.goal, want)
    top = h.levels[0]
    low, high = np.asarray(top.action_low), np.asarray(top.action_high)
    near = (want <= low + 0.01 * (high - low)) | (want >= high - 0.01 * (high - low))
    np.testing.assert_array_equal(goals.at_bound, near.mean(axis=1))
    bias = top.actor.biases[-1]
    bias.assign(np.full(bias.shape, 20.0, np.float32))        # tanh(>> 1): every goal at its bound
    assert np.all(diagnostics.parent_goals(h, 0, *batch).at_bound == 1.0)
    with pytest.raises(ValueError, match="level 2 \\('low'\\) is the bottom level: it sets no goals"):
        diagnostics.parent_goals(h, 2, *random_batch(h, 2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="level must be in \\[0, 3\\)"):
        diagnostics.parent_goals(h, -1, *batch)


def test_parent_goals_are_the_action_of_the_action_gradients():
    h, batch, _, _ = setup("paper", seed=9)
    goals = diagnostics.parent_goals(h, 0, *batch)
    np.testing.assert_array_equal(goals.goal, diagnostics.action_gradient_parts(h, 0, *batch).action)


def test_goal_statistics_by_hand():
    goals = diagnostics.ParentGoals(goal=np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0], [0.0, 9.0]]),
                                    at_bound=np.array([0.5, 0.0, 0.0, 1.0]))
    # |a|: 5, 1, 1, 9 -> median 3; at_bound median 0.25.
    assert diagnostics.goal_statistics(goals) == {"goal_norm": 3.0, "at_bound": 0.25}
