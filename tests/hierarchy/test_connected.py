"""Finite-difference checks of the connected-gradient term for every estimator.

The parent's actor gradient computed by `Hierarchy.actor_gradients` is compared, along random
directions in the parent's actor-parameter space, with central differences of the loss written out
here independently of `hierarchy.core.connected_gradients` (docs/connected_gradients.md, sections 2 and 4):

  F_p      = -mean Q_p(s_t, ctx, pi_p(s_t, ctx))
  F_reward = -mean r_c(s_{t+j}, g, s_{t+j+1})              g = s_t[I] + pi_p(s_t, ctx) - s_{t+j}[I]
  F_actor  = -mean Q_c(s_{t+j}, g0, pi_c(s_{t+j}, g))       (critic's goal input frozen at g0)
  F_cgoal  = -mean Q_c(s_{t+j}, g, pi_c(s_{t+j}, g0))       (the critic's own goal input)
  F_buffer = -mean Q_c(s_{t+j}, g, a_c from the buffer)

paper = F_p + lambda (F_reward + F_actor); reference = F_p + lambda (F_reward + F_buffer);
critic = F_p + lambda (F_actor + F_cgoal).
"""

import numpy as np
import pytest
import tensorflow as tf
from helpers import GOAL_INDICES, as_numpy, make_hierarchy, random_batch, randomize_last_layers

from hierarchy.core import connected_gradients, goals

LAMBDA = 1.5
I = list(GOAL_INDICES)
SPACE = goals.GoalSpace(indices=GOAL_INDICES, relative=True)


def _gather(x, idx):
    return x[np.arange(x.shape[0]), idx]



class Pieces:
    """The loss pieces as functions of the parent's current actor weights."""

    def __init__(self, h, batch):
        self.h, self.b = h, as_numpy(batch)
        self.parent, self.child = h.levels[0], h.levels[1]
        obs, j = self.b["observations"], self.b["child_step"]
        self.s0, self.sj, self.sj1 = obs[:, 0], _gather(obs, j), _gather(obs, j + 1)
        self.g0 = self.goal().numpy()   # the goal at the unperturbed weights

    def goal(self):
        a_p = self.parent.policy(self.s0, self.b["goal"])
        return self.s0[:, I] + a_p - self.sj[:, I]

    # Each returns the per-sample terms `[B]`; the loss is their mean.

    def f_parent(self):
        a_p = self.parent.policy(self.s0, self.b["goal"])
        return -self.parent.q1(self.s0, self.b["goal"], a_p)

    def f_reward(self):
        residual = self.sj[:, I] + self.goal() - self.sj1[:, I]
        return self.child.reward_scale * tf.norm(residual, axis=-1)

    def f_actor(self):
        return -self.child.q1(self.sj, self.g0, self.child.policy(self.sj, self.goal()))

    def f_cgoal(self):
        return -self.child.q1(self.sj, self.goal(), self.child.policy(self.sj, self.g0))

    def f_buffer(self):
        a_buf = _gather(self.b["child_actions"], self.b["child_step"])
        return -self.child.q1(self.sj, self.goal(), a_buf)


def directional_fd(fn, variables, direction, eps=1e-3):
    """Central difference of mean(fn()) along a unit-norm direction.

    The networks are float32 ReLU MLPs: a small step keeps kinks from being crossed, and the
    per-sample differences are averaged in float64 to keep the rounding error small."""
    saved = [v.numpy().copy() for v in variables]
    for v, s, d in zip(variables, saved, direction):
        v.assign(s + eps * d)
    plus = fn().numpy().astype(np.float64)
    for v, s, d in zip(variables, saved, direction):
        v.assign(s - eps * d)
    minus = fn().numpy().astype(np.float64)
    for v, s in zip(variables, saved):
        v.assign(s)
    return float(np.mean(plus - minus) / (2 * eps))


def dot(grads, direction):
    return float(sum(np.sum(g.numpy() * d) for g, d in zip(grads, direction)))


def setup(estimator, seed=0, relative=True):
    rng = np.random.default_rng(seed)
    h = make_hierarchy(2, periods=4, cg_lambda=LAMBDA, cg_estimator=estimator,
                       relative_goals=relative, level_kwargs=dict(reward_scale=0.7))
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=1.0)
    batch = random_batch(h, 0, rng, batch_size=32)
    variables = h.levels[0].actor.trainable_variables
    directions = []
    for _ in range(3):
        d = [rng.normal(size=v.shape) for v in variables]
        norm = np.sqrt(sum(np.sum(x * x) for x in d))
        directions.append([(x / norm).astype(np.float32) for x in d])
    return h, batch, variables, directions


EXPECTED = {
    "paper": ("f_reward", "f_actor"),
    "reference": ("f_reward", "f_buffer"),
    "critic": ("f_actor", "f_cgoal"),
}


@pytest.mark.parametrize("estimator", sorted(EXPECTED))
def test_gradient_matches_finite_differences(estimator):
    h, batch, variables, directions = setup(estimator)
    pieces = Pieces(h, batch)
    _, cg_loss, grads, _ = h.actor_gradients(0, *batch)
    largest = dict.fromkeys(EXPECTED[estimator], 0.0)
    for direction in directions:
        names = ["f_parent", "f_reward", "f_actor", "f_cgoal"]
        if estimator == "reference":
            names.append("f_buffer")
        fd_parts = {name: directional_fd(getattr(pieces, name), variables, direction)
                    for name in names}
        expected = fd_parts["f_parent"] + LAMBDA * sum(fd_parts[p] for p in EXPECTED[estimator])
        scale = abs(expected)
        assert dot(grads, direction) == pytest.approx(expected, abs=1e-3 + 2e-2 * scale)
        for part in largest:
            largest[part] = max(largest[part], abs(fd_parts[part]))
    # Each path of the estimator contributes, well above the finite-difference noise (~1e-4).
    for part, size in largest.items():
        assert size > 2e-3, (estimator, part, size)


def test_paper_estimator_holds_the_critics_goal_input_fixed():
    """The critic's own goal path is real (non-zero) but absent from Eq. 14's gradient; with it the
    gradient would be the 'critic + reward' one, which differs measurably."""
    h, batch, variables, directions = setup("paper", seed=1)
    pieces = Pieces(h, batch)
    _, _, grads, _ = h.actor_gradients(0, *batch)
    separation = []
    for direction in directions:
        parts = {n: directional_fd(getattr(pieces, n), variables, direction)
                 for n in ("f_parent", "f_reward", "f_actor", "f_cgoal")}
        paper = parts["f_parent"] + LAMBDA * (parts["f_reward"] + parts["f_actor"])
        with_critic_goal = paper + LAMBDA * parts["f_cgoal"]
        got = dot(grads, direction)
        tol = 1e-3 + 2e-2 * abs(paper)
        assert got == pytest.approx(paper, abs=tol)
        separation.append(abs(got - with_critic_goal) / tol)
    assert max(separation) > 5.0, separation


def test_absolute_goals_gradient_matches_finite_differences():
    h, batch, variables, directions = setup("paper", seed=2, relative=False)
    b = as_numpy(batch)
    parent, child = h.levels[0], h.levels[1]
    obs, j = b["observations"], b["child_step"]
    s0, sj, sj1 = obs[:, 0], _gather(obs, j), _gather(obs, j + 1)
    g0 = parent.policy(s0, b["goal"]).numpy()

    def total():
        a_p = parent.policy(s0, b["goal"])
        r = -child.reward_scale * tf.norm(a_p - sj1[:, I], axis=-1)   # absolute: ||g - s'[I]||
        q = child.q1(sj, g0, child.policy(sj, a_p))
        return -parent.q1(s0, b["goal"], a_p) - LAMBDA * (r + q)

    _, _, grads, _ = h.actor_gradients(0, *batch)
    for direction in directions:
        expected = directional_fd(total, variables, direction)
        assert dot(grads, direction) == pytest.approx(expected, abs=1e-3 + 2e-2 * abs(expected))


def test_goal_uses_the_state_at_step_j_not_the_end_of_the_period():
    """g_{t+j} = s_t[I] + g_t - s_{t+j}[I] (the reference code's later version used s_{t+k})."""
    rng = np.random.default_rng(3)
    obs = rng.normal(size=(5, 4, 4)).astype(np.float32)
    a = rng.normal(size=(5, 2)).astype(np.float32)
    j = np.array([0, 1, 2, 2, 1], np.int32)
    g = connected_gradients.child_goal(a, obs, j, space=SPACE).numpy()
    expected = obs[:, 0][:, I] + a - _gather(obs, j)[:, I]
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    np.testing.assert_allclose(g[j == 0], a[j == 0], rtol=1e-6)


def test_cg_reward_is_the_childs_training_reward():
    """The reward in the CG term is the same function and scale the child's critic learns from."""
    h, batch, _, _ = setup("paper", seed=4)
    child = h.levels[1]
    b = as_numpy(batch)
    obs, j = b["observations"], b["child_step"]
    a_p = h.levels[0].policy(obs[:, 0], b["goal"])
    g = connected_gradients.child_goal(a_p, obs, j, space=SPACE)
    sj, sj1 = _gather(obs, j), _gather(obs, j + 1)
    total = connected_gradients.cg_objective("paper", parent_action=a_p, observations=obs, j=j, child=child,
                                   space=SPACE)
    q = child.q1(sj, g, child.policy(sj, g))
    reward_in_cg = total - q
    # The child's own TD3 transition on (s_{t+j}, g, s_{t+j+1}) uses reward_scale * r.
    child_reward = child.reward_scale * goals.intrinsic_reward(sj, g, sj1, space=SPACE)
    np.testing.assert_allclose(reward_in_cg, child_reward, rtol=1e-4, atol=1e-4)


def test_lagrangian_lambda_moves_against_the_constraint():
    w = tf.Variable(0.0)
    for objective, sign in ((tf.constant([2.0, 4.0]), 1.0), (tf.constant([-5.0, -7.0]), -1.0)):
        with tf.GradientTape() as tape:
            loss = connected_gradients.lagrangian_lambda_loss(w, objective, delta=0.0)
        # d/dw = exp(w) * mean(objective - delta): positive (lambda shrinks) when satisfied.
        assert np.sign(tape.gradient(loss, w).numpy()) == sign


@pytest.fixture
def buffer_reward_estimator():
    """A user's estimator, registered for one test: the child's reward plus its critic at the
    buffer's action (the "reference" estimator written from outside the library)."""
    def terms(b: connected_gradients.PairBatch):
        reward = b.child.scale_reward(goals.intrinsic_reward(b.state, b.goal, b.next_state, space=b.space))
        return reward, b.child.q1(b.state, b.goal, b.child_action)

    estimator = connected_gradients.register_estimator(connected_gradients.Estimator(
        name="buffer_reward", terms=terms, replay_fields=frozenset({"child_actions"})))
    yield estimator
    connected_gradients._ESTIMATORS.pop(estimator.name)


def test_a_registered_estimator_is_selected_by_name_and_gets_its_replay_fields(
        buffer_reward_estimator):
    assert "buffer_reward" in connected_gradients.estimator_names()
    h, batch, variables, directions = setup("buffer_reward")
    assert h.uses_child_actions(0) and "child_actions" in h.transition_layout(0).fields
    assert not make_hierarchy(2, periods=4, cg_lambda=LAMBDA).uses_child_actions(0)
    pieces = Pieces(h, batch)
    _, _, grads, _ = h.actor_gradients(0, *batch)
    for direction in directions[:2]:
        fd = {name: directional_fd(getattr(pieces, name), variables, direction)
              for name in ("f_parent", "f_reward", "f_buffer")}
        expected = fd["f_parent"] + LAMBDA * (fd["f_reward"] + fd["f_buffer"])
        assert dot(grads, direction) == pytest.approx(expected, abs=1e-3 + 2e-2 * abs(expected))


def test_the_registry_refuses_a_taken_name_and_an_unknown_replay_field():
    paper = connected_gradients.get_estimator("paper")
    with pytest.raises(ValueError, match="named 'paper' is registered already"):
        connected_gradients.register_estimator(paper)
    with pytest.raises(ValueError, match=r"replay fields \['child_rewards'\]"):
        connected_gradients.register_estimator(connected_gradients.Estimator(
            name="other", terms=paper.terms, replay_fields=frozenset({"child_rewards"})))
    with pytest.raises(ValueError, match="unknown connected-gradient estimator 'nope'"):
        connected_gradients.get_estimator("nope")
    assert connected_gradients.estimator_names()[:3] == ("paper", "reference", "critic")
