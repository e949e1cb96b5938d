"""Properties that single-line bugs (the mutants of `scripts/mutants.py`) used to slip past.

Each test checks the property itself against an oracle written here, independently of the library:
  - the parent's actor gradient of EVERY pair of a 3- and a 4-level hierarchy, with a different lambda
    per pair, against the gradient of the loss written out here from the paper's Eq. 14 (the right
    child, the right lambda). The oracle is differentiated by TensorFlow, which matches the library
    to float32 rounding (1e-4 relative), far tighter than central differences through ReLU kinks
    allow at this network scale; `test_connected.py` checks the same expressions by finite
    differences on two levels. Each test also asserts the term it guards is >= 100 tolerances wide;
  - a learned lambda (moved away from its initial value by training) is the one in the actor's
    gradient;
  - the child-actor path of the "paper" and "critic" estimators, at a scale where it is well above
    the finite-difference tolerance (a stop_gradient on the goal fed to the child's actor fails);
  - each level's TD3 transition, hand-computed (the top level's next context is its context);
  - the exploration and target-smoothing noise the `Agent` draws (standard normal, scaled);
  - evaluation: success is read at the final step, and the training random state is untouched.
"""

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    GOAL_INDICES,
    OBS,
    as_numpy,
    make_agent,
    make_hierarchy,
    pack_rows,
    random_batch,
    randomize_last_layers,
)

from hierarchy import Hierarchy, Level, level_names
from hierarchy.core import specs
from hierarchy.run import evaluation

I = list(GOAL_INDICES)


def _gather(x, idx):
    return x[np.arange(x.shape[0]), idx]


def _flat(grads):
    return np.concatenate([np.asarray(g).ravel() for g in grads]).astype(np.float64)


def _gradient_of(fn, variables):
    """The gradient of mean(fn()) with respect to `variables`, flattened `[P]`."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(fn())
    return _flat(tape.gradient(loss, variables))


def assert_same_gradient(got, expected, what):
    """The library's gradient equals the oracle's to float32 rounding: |got - expected| <= TOL."""
    error = np.linalg.norm(got - expected)
    assert error <= tolerance(expected), (what, error, np.linalg.norm(expected))


def tolerance(expected):
    return 1e-6 + 1e-4 * np.linalg.norm(expected)


class PairOracle:
    """The per-sample pieces of the loss of parent `i` (child i + 1), written out from the paper's
    Eq. 14 and the estimators' definitions, as functions of the parent's current actor weights:

      parent:  -Q_p(s_t, c, pi_p(s_t, c))
      reward:  -r_c(s_{t+j}, g, s_{t+j+1})        g = s_t[I] + pi_p(s_t, c) - s_{t+j}[I]
      actor:   -Q_c(s_{t+j}, g0, pi_c(s_{t+j}, g))   (critic's goal input frozen at g0)
      cgoal:   -Q_c(s_{t+j}, g, pi_c(s_{t+j}, g0))   (the critic's own goal input)
      buffer:  -Q_c(s_{t+j}, g, a_c from the buffer)
    """

    PATHS = {"paper": ("reward", "actor"), "critic": ("actor", "cgoal"),
             "reference": ("reward", "buffer")}

    def __init__(self, h, i, batch):
        self.parent, self.child = h.levels[i], h.levels[i + 1]
        self.b = as_numpy(batch)
        obs, j = self.b["observations"], self.b["child_step"]
        self.s0, self.sj, self.sj1 = obs[:, 0], _gather(obs, j), _gather(obs, j + 1)
        self.g0 = self.goal().numpy()

    def goal(self):
        return self.s0[:, I] + self.parent.policy(self.s0, self.b["goal"]) - self.sj[:, I]

    def parent_term(self):
        return -self.parent.q1(self.s0, self.b["goal"], self.parent.policy(self.s0, self.b["goal"]))

    def reward(self):
        return self.child.reward_scale * tf.norm(self.sj[:, I] + self.goal() - self.sj1[:, I], axis=-1)

    def actor(self):
        return -self.child.q1(self.sj, self.g0, self.child.policy(self.sj, self.goal()))

    def cgoal(self):
        return -self.child.q1(self.sj, self.goal(), self.child.policy(self.sj, self.g0))

    def buffer(self):
        return -self.child.q1(self.sj, self.goal(), _gather(self.b["child_actions"],
                                                            self.b["child_step"]))

    def gradients(self, estimator, variables):
        """{piece: gradient of its mean, flattened} for the parent term and the estimator's paths."""
        names = ("parent_term",) + self.PATHS[estimator]
        return {n: _gradient_of(getattr(self, n), variables) for n in names}


def deep_hierarchy(num_levels, *, periods, seed, scale=1.0, **kwargs):
    """`num_levels` small levels (goal and action dims 2), output layers enlarged so every path shows."""
    obs = specs.TensorSpec([OBS], tf.float32)
    goal = specs.BoundedTensorSpec([2], tf.float32, -3.0, 3.0)
    ctx = specs.BoundedTensorSpec([2], tf.float32, -5.0, 5.0)
    act = specs.BoundedTensorSpec([2], tf.float32, -1.0, 1.0)
    levels = [Level(observation_spec=obs, goal_spec=ctx if i == 0 else goal,
                    action_spec=act if i == num_levels - 1 else goal, actor_hidden_sizes=(8, 8),
                    critic_hidden_sizes=(8, 8), seed=10 * i + 1,
                    reward_scale=0.5 + 0.25 * i, name=name)
              for i, name in enumerate(level_names(num_levels))]
    h = Hierarchy(levels=levels, periods=periods, goal_indices=GOAL_INDICES, **kwargs)
    rng = np.random.default_rng(seed)
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=scale)
    return h, rng


def check_pair(h, i, rng, lam, *, estimator):
    """Asserts level i's actor gradient equals the oracle's with weight `lam`; returns the
    connected-gradient part of the oracle's gradient, unweighted, and the tolerance used."""
    batch = random_batch(h, i, rng, batch_size=32)
    oracle = PairOracle(h, i, batch)
    _, _, grads, _ = h.actor_gradients(i, *batch)
    parts = oracle.gradients(estimator, h.levels[i].actor.trainable_variables)
    cg = sum(v for k, v in parts.items() if k != "parent_term")
    expected = parts["parent_term"] + lam * cg
    assert_same_gradient(_flat(grads), expected, (i, estimator))
    return cg, parts, tolerance(expected)


@pytest.mark.parametrize("estimator", ["paper", "critic", "reference"])
def test_every_pair_of_three_levels_has_its_own_child_and_lambda(estimator):
    """A different lambda per pair; each parent's gradient reads its own child (not the bottom level)
    and its own lambda. The checks have power: the term is many tolerances large, and the other
    pair's lambda is far from this one's."""
    lambdas = [0.6, 2.5]
    h, rng = deep_hierarchy(3, periods=[3, 4], seed=5, cg_lambda=lambdas, cg_estimator=estimator)
    for i, lam in enumerate(lambdas):
        cg, _, tol = check_pair(h, i, rng, lam, estimator=estimator)
        # The other pair's lambda, or no term at all, would move the gradient by many tolerances.
        assert abs(lambdas[1 - i] - lam) * np.linalg.norm(cg) > 100 * tol, (i, estimator)


def test_every_pair_of_four_levels_matches_finite_differences():
    lambdas = [0.4, 1.3, 2.2]
    h, rng = deep_hierarchy(4, periods=[2, 3, 2], seed=6, cg_lambda=lambdas)
    assert [lvl.level_name for lvl in h.levels] == ["top", "mid1", "mid2", "low"]
    assert h.env_steps_per_step == [12, 6, 2, 1]
    for i, lam in enumerate(lambdas):
        cg, _, tol = check_pair(h, i, rng, lam, estimator="paper")
        assert lam * np.linalg.norm(cg) > 100 * tol, i


def test_learned_lambda_is_the_one_in_the_actor_gradient():
    """Train the learned lambdas away from their initial 0.5 (a fast lambda optimizer), then the
    actor's gradient must carry exp(w) now, not the initial value."""
    h, rng = deep_hierarchy(3, periods=[3, 2], seed=7, cg_lambda=0.5, learn_cg_lambda=True,
                            cg_delta=50.0, cg_lambda_learning_rate=0.5)
    due = np.array([[False, True], [False, True], [False, False]])
    for _ in range(3):
        batches = [random_batch(h, i, rng, batch_size=32) for i in range(2)] + [None]
        losses = h.train(batches, due).table()
    lams = [float(h.cg_lambda_value(i)) for i in range(2)]
    np.testing.assert_allclose(losses[:2, 3], lams, rtol=1e-5)     # the reported lambda
    for i, lam in enumerate(lams):
        assert lam > 1.5, lams          # objective < delta: lambda rose from 0.5 (about e^1.5 x)
        cg, _, tol = check_pair(h, i, rng, lam, estimator="paper")
        # With the initial 0.5 instead, the gradient would be off by (lam - 0.5) * |cg|.
        assert (lam - 0.5) * np.linalg.norm(cg) > 100 * tol, i


@pytest.mark.parametrize("estimator", ["paper", "critic"])
def test_child_actor_path_is_well_above_the_tolerance(estimator):
    """The gradient through the goal fed to the child's actor, pi_c(s_{t+j}, g), is in the update:
    that path alone is >= 100 tolerances wide, so dropping it (a stop_gradient on that goal) fails."""
    h = make_hierarchy(2, periods=4, cg_lambda=1.5, cg_estimator=estimator)
    rng = np.random.default_rng(11)
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=1.0)
    _, parts, tol = check_pair(h, 0, rng, 1.5, estimator=estimator)
    assert 1.5 * np.linalg.norm(parts["actor"]) > 100 * tol, estimator


def test_td3_transitions_hand_computed():
    """Every level's (s, g, a, r, d, s', g'): the top keeps its context and its environment reward;
    below, r = -||s[I] + g - s'[I]|| and g' = s[I] + g - s'[I], with s' the state after num_steps."""
    h = make_hierarchy(3, periods=[2, 3])
    rng = np.random.default_rng(12)
    for i in range(3):
        batch = random_batch(h, i, rng, batch_size=8)
        b = as_numpy(batch)
        s, g, a, r, d, s1, g1 = (np.asarray(x) for x in h.td3_transition(i, batch[0]))
        obs, n = b["observations"], b["num_steps"]
        s_next = obs[np.arange(8), n]
        np.testing.assert_array_equal(s, obs[:, 0])
        np.testing.assert_array_equal(g, b["goal"])
        np.testing.assert_array_equal(a, b["action"])
        np.testing.assert_array_equal(d, b["discount"])
        np.testing.assert_array_equal(s1, s_next)
        if i == 0:
            np.testing.assert_array_equal(r, b["reward"])
            np.testing.assert_array_equal(g1, b["goal"])
        else:
            carried = obs[:, 0][:, I] + b["goal"] - s_next[:, I]
            np.testing.assert_allclose(g1, carried, rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(r, -np.linalg.norm(carried, axis=-1), rtol=1e-5, atol=1e-5)


def test_absolute_goals_td3_transition_hand_computed():
    h = make_hierarchy(2, periods=3, relative_goals=False)
    rng = np.random.default_rng(13)
    batch = random_batch(h, 1, rng, batch_size=8)
    b = as_numpy(batch)
    _, _, _, r, _, s1, g1 = (np.asarray(x) for x in h.td3_transition(1, batch[0]))
    np.testing.assert_array_equal(g1, b["goal"])
    np.testing.assert_allclose(r, -np.linalg.norm(b["goal"] - s1[:, I], axis=-1), rtol=1e-5,
                               atol=1e-5)


# --------------------------------------------------------------------------------------------------
# The Agent's random draws.


def flat_agent(exploration_noise=0.1, target_noise=0.2):
    h = make_hierarchy(1, level_kwargs=dict(exploration_noise=exploration_noise,
                                            target_noise=target_noise))
    return make_agent(h, batch_size=64, warmup_steps=0, seed=3)


def test_training_actions_carry_gaussian_exploration_noise():
    """After the warm-up, a training action is clip(pi(s, c) + 0.1 * half_range * N(0, 1)); an
    evaluation action is pi(s, c) exactly."""
    agent = flat_agent(exploration_noise=0.1)
    lvl = agent.hierarchy.levels[0]
    obs, ctx = np.array([0.3, -0.2, 0.5, 0.1], np.float32), np.array([1.0, -2.0], np.float32)
    greedy = lvl.policy(obs[None], ctx[None]).numpy()[0]
    assert np.all(np.abs(greedy) < 0.5)          # far from the bounds: no clipping below
    evaluation_episode = agent.begin_episode(obs, ctx, training=False)
    np.testing.assert_allclose(agent.act(evaluation_episode), greedy, atol=1e-6)
    episode = agent.begin_episode(obs, ctx)
    z = np.stack([(agent.act(episode) - greedy) / 0.1 for _ in range(300)])  # no update: empty buffer
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15, (z.mean(), z.std())


def test_target_smoothing_noise_is_standard_normal():
    """The draws of a flat level's update are its target-smoothing noise: N(0, 1) per action dim
    (the level scales and clips it)."""
    agent = flat_agent()
    h = agent.hierarchy
    batch = random_batch(h, 0, np.random.default_rng(14), batch_size=64)
    rows = pack_rows(h.transition_layout(0), batch[0])
    noise = np.concatenate([agent.sample_draws(0, rows) for _ in range(20)])
    assert noise.shape == (20 * 64, 2)
    assert abs(noise.mean()) < 0.1 and 0.9 < noise.std() < 1.1, (noise.mean(), noise.std())
    assert abs(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1]) < 0.1


# --------------------------------------------------------------------------------------------------
# Evaluation.


class SuccessMidway(gym.Env):
    """A 6-step task whose info says success at steps 2-3 only: success at the final step is False."""

    def __init__(self, horizon=6):
        self.horizon = horizon
        box = gym.spaces.Box(-10.0, 10.0, (OBS,), np.float32)
        self.observation_space = gym.spaces.Dict(
            {"observation": box, "context": gym.spaces.Box(-5.0, 5.0, (2,), np.float32)})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def _obs(self):
        return {"observation": np.full(OBS, self.t, np.float32), "context": np.zeros(2, np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {"is_success": False}

    def step(self, action):
        self.t += 1
        info = {"is_success": self.t in (2, 3)}
        return self._obs(), -1.0, False, self.t >= self.horizon, info


def test_evaluation_counts_success_at_the_final_step_only():
    agent = flat_agent()
    result = evaluation.evaluate(agent, SuccessMidway(), episodes_per_context=2, contexts=[None])
    assert result["success_rate"] == 0.0
    assert result["per_context"][0]["returns"] == [-6.0, -6.0]    # every episode ran to the end
    ret, success, length = evaluation.run_episode(agent, SuccessMidway(horizon=3))
    assert (ret, success, length) == (-3.0, True, 3)


def test_evaluation_leaves_the_training_random_state_alone():
    agent = flat_agent()
    agent.rng.standard_normal(5)
    before = agent.rng.bit_generator.state
    evaluation.evaluate(agent, SuccessMidway(), episodes_per_context=3, contexts=[None])
    assert agent.rng.bit_generator.state == before
    assert agent.env_steps == 0 and len(agent.buffers[0]) == 0
