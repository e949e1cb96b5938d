"""Relabelling of parents' batches: the off-policy correction against a brute-force numpy oracle,
its sign, hindsight actions, and the child actions the agent stores for them.

The oracle is written here from the rule in docs/relabelling.md with plain numpy (the child's actor
evaluated from its weights), independently of `hierarchy.core.relabelling` and `hierarchy.core.goals`.
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from helpers import (
    GOAL_BOUND,
    GOAL_INDICES,
    OBS,
    as_tensors,
    make_agent,
    make_hierarchy,
    randomize_last_layers,
)

from hierarchy.agent.replay import Draws, Transition
from hierarchy.core import relabelling

I = list(GOAL_INDICES)


# --------------------------------------------------------------------------------------------------
# The oracle.

def numpy_policy(level, states, goal):
    """pi(s, g) from the level's actor weights: ReLU MLP, tanh scaled to the action bounds."""
    x = np.concatenate([states, goal], axis=-1).astype(np.float64)
    kernels, biases = level.actor.kernels, level.actor.biases
    for m, (w, b) in enumerate(zip(kernels, biases)):
        x = x @ w.numpy().astype(np.float64) + b.numpy()
        if m < len(kernels) - 1:
            x = np.maximum(x, 0.0)
    return level.action_mid + level.action_half_range * np.tanh(x)


def oracle(parent, child, batch, relative, num_candidates, std):
    """(candidates [B, C, G], scores [B, C]) by enumeration, one row and one candidate at a time."""
    obs, n = batch["observations"].astype(np.float64), batch["num_steps"]
    low, high = parent.action_low, parent.action_high
    half = (high - low) / 2.0
    out_c, out_s = [], []
    for b in range(obs.shape[0]):
        s0, final = obs[b, 0], obs[b, n[b]]
        achieved = final[I] - s0[I] if relative else final[I]
        cands = [batch["action"][b].astype(np.float64)]
        if num_candidates >= 2:
            cands.append(np.clip(achieved, low, high))
        for m in range(num_candidates - 2):
            cands.append(np.clip(achieved + std * half * batch["candidate_noise"][b, m], low, high))
        scores = []
        for g in cands:
            total = 0.0
            for j in range(n[b]):        # only the child steps the transition holds
                sj = obs[b, j]
                goal_j = s0[I] + g - sj[I] if relative else g
                predicted = numpy_policy(child, sj[None], goal_j[None])[0]
                total += np.sum((batch["child_actions"][b, j] - predicted) ** 2)
            scores.append(-0.5 * total)
        out_c.append(cands)
        out_s.append(scores)
    return np.array(out_c), np.array(out_s)


def make_batch(h, level, rng, batch_size, partial=True):
    """Numpy fields of a random corrected-parent batch (wide spreads so candidates differ)."""
    lvl, child = h.levels[level], h.levels[level + 1]
    k = h.child_steps[level]
    n = rng.integers(1, k + 1, size=batch_size) if partial else np.full(batch_size, k)
    c = h.corrections[level]
    return {
        "observations": rng.normal(scale=1.5, size=(batch_size, k + 1, OBS)).astype(np.float32),
        "num_steps": n.astype(np.int32),
        "goal": rng.uniform(-2, 2, size=(batch_size, lvl.goal_dim)).astype(np.float32),
        "action": rng.uniform(-GOAL_BOUND, GOAL_BOUND, (batch_size, lvl.action_dim)).astype(np.float32),
        "reward": rng.normal(size=batch_size).astype(np.float32),
        "discount": np.ones(batch_size, np.float32),
        "child_actions": rng.uniform(child.action_low, child.action_high,
                                     size=(batch_size, k, child.action_dim)).astype(np.float32),
        "noise": rng.normal(size=(batch_size, lvl.action_dim)).astype(np.float32),
        "candidate_noise": rng.normal(size=(batch_size, c.num_draws, lvl.action_dim)).astype(
            np.float32),
    }


def records(batch):
    fields = {f.name for f in dataclasses.fields(Transition)}
    tr = Transition(**{k: v for k, v in batch.items() if k in fields})
    dr = Draws(noise=batch["noise"], candidate_noise=batch["candidate_noise"])
    return as_tensors(tr), as_tensors(dr)


def present_fields(record):
    return {k: v for k, v in vars(record).items() if v is not None}


def compiled_correction(h, level):
    """The correction as the compiled update runs it (`Hierarchy.relabelled` in a tf.function),
    returning the relabelled goals and the chosen indices."""
    lvl = h.levels[level]

    @tf.function(autograph=False)
    def compiled(tr_fields, draw_fields):
        transition, draws = Transition(**tr_fields), Draws(**draw_fields)
        corrected = h.relabelled(level, transition, draws).action
        _, index = relabelling.correct(transition, draws.candidate_noise,
                                   correction=h.corrections[level], low=lvl.action_low,
                                   high=lvl.action_high, child_policy=h.levels[level + 1].policy,
                                   space=h.goal_space)
        return corrected, index

    def run(transition, draws):
        return compiled(present_fields(transition), present_fields(draws))
    return run


def corrected_hierarchy(num_levels, relative, candidates=10, std=0.5, seed=0, periods=4):
    h = make_hierarchy(num_levels, periods=periods, relative_goals=relative,
                       off_policy_correction=True, correction_candidates=candidates,
                       correction_std=std)
    rng = np.random.default_rng(seed)
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=1.0)
    return h


# --------------------------------------------------------------------------------------------------
# The compiled correction picks the oracle's candidate.

@pytest.mark.parametrize("num_levels, level", [(2, 0), (3, 0), (3, 1)])
@pytest.mark.parametrize("relative", [True, False])
def test_compiled_correction_matches_the_brute_force_oracle(num_levels, level, relative):
    h = corrected_hierarchy(num_levels, relative, seed=num_levels + level)
    rng = np.random.default_rng(100 + 10 * num_levels + level + relative)
    batch = make_batch(h, level, rng, batch_size=48)
    assert (batch["num_steps"] < h.child_steps[level]).any()     # episodes cut short are in it
    run = compiled_correction(h, level)
    chosen, index = (x.numpy() for x in run(*records(batch)))
    cands, scores = oracle(h.levels[level], h.levels[level + 1], batch, relative, 10, 0.5)
    best = scores.argmax(axis=1)
    # The candidates are the oracle's, and the chosen goal is the chosen candidate.
    np.testing.assert_allclose(chosen, cands[np.arange(len(best)), index], atol=1e-5)
    # Same argmax, except where two scores tie within float32 rounding (none expected here).
    gap = scores[np.arange(len(best)), best] - scores[np.arange(len(best)), index]
    assert np.all((index == best) | (gap < 1e-4 * (1 + np.abs(scores).max(axis=1)))), (index, best)
    assert (index == best).mean() > 0.95
    # The batch exercises the choice: some rows keep the stored goal, most do not.
    assert len(set(index.tolist())) > 2


def test_single_candidate_keeps_the_stored_goal():
    h = corrected_hierarchy(2, True, candidates=1)
    assert h.draws_layout(0).fields.keys() == {"noise"}          # no Gaussian draws
    rng = np.random.default_rng(0)
    batch = make_batch(h, 0, rng, batch_size=8)
    chosen, index = (x.numpy() for x in compiled_correction(h, 0)(*records(batch)))
    np.testing.assert_array_equal(chosen, batch["action"])
    assert not index.any()


@pytest.mark.parametrize("candidates", [2, 3])
def test_few_candidates_match_the_oracle(candidates):
    h = corrected_hierarchy(2, True, candidates=candidates, std=0.3)
    rng = np.random.default_rng(candidates)
    batch = make_batch(h, 0, rng, batch_size=32)
    _, index = (x.numpy() for x in compiled_correction(h, 0)(*records(batch)))
    _, scores = oracle(h.levels[0], h.levels[1], batch, True, candidates, 0.3)
    assert scores.shape[1] == candidates
    np.testing.assert_array_equal(index, scores.argmax(axis=1))


# --------------------------------------------------------------------------------------------------
# Sign: the goal that explains the child's actions wins; a bad stored goal is replaced.

def followed_batch(h, rng, relative, batch_size=16):
    """(batch, g*): a goal g* drawn in [-2.5, 2.5]^2 per row, and a batch whose child followed
    pi_c(s, g*) exactly from s_t (so L(g*) = 0, its maximum)."""
    goal_star = rng.uniform(-2.5, 2.5, size=(batch_size, 2)).astype(np.float32)
    batch = make_batch(h, 0, rng, batch_size)
    child, obs = h.levels[1], batch["observations"]
    for b in range(batch_size):
        for j in range(h.child_steps[0]):
            g = obs[b, 0, I] + goal_star[b] - obs[b, j, I] if relative else goal_star[b]
            batch["child_actions"][b, j] = child.policy(obs[b, j][None], g[None][:, :]).numpy()[0]
    return batch, goal_star


@pytest.mark.parametrize("relative", [True, False])
def test_the_goal_the_child_followed_is_kept_when_stored(relative):
    h = corrected_hierarchy(2, relative, seed=5)
    rng = np.random.default_rng(1)
    batch, goal_star = followed_batch(h, rng, relative)
    batch["action"] = goal_star
    chosen, index = (x.numpy() for x in compiled_correction(h, 0)(*records(batch)))
    np.testing.assert_array_equal(index, 0)
    np.testing.assert_array_equal(chosen, goal_star)


@pytest.mark.parametrize("relative", [True, False])
def test_a_bad_stored_goal_is_replaced_by_the_followed_one(relative):
    h = corrected_hierarchy(2, relative, seed=6)
    rng = np.random.default_rng(2)
    batch, goal_star = followed_batch(h, rng, relative)
    batch["action"] = np.where(goal_star > 0, -GOAL_BOUND, GOAL_BOUND).astype(np.float32)  # far off
    # Put g* among the candidates as draw number 3 (candidate index 5): solve achieved + std *
    # half_range * noise = g* for the noise.
    obs, n = batch["observations"], batch["num_steps"]
    final = obs[np.arange(16), n]
    achieved = final[:, I] - obs[:, 0, I] if relative else final[:, I]
    batch["candidate_noise"][:, 3] = (goal_star - achieved) / (0.5 * GOAL_BOUND)
    chosen, index = (x.numpy() for x in compiled_correction(h, 0)(*records(batch)))
    np.testing.assert_array_equal(index, 5)
    np.testing.assert_allclose(chosen, goal_star, atol=1e-5)
    # The worst candidate (what an argmin, the reference code's sign error, would pick) is another.
    _, scores = oracle(h.levels[0], h.levels[1], batch, relative, 10, 0.5)
    assert np.all(scores.argmin(axis=1) != 5)
    assert np.all(scores.argmax(axis=1) == 5)


# --------------------------------------------------------------------------------------------------
# Hindsight actions.

@pytest.mark.parametrize("relative", [True, False])
def test_hindsight_actions_replace_the_drawn_fraction_by_the_achieved_goal(relative):
    h = make_hierarchy(2, periods=4, relative_goals=relative, hindsight_actions=0.3)
    assert set(h.draws_layout(0).fields) == {"noise", "hindsight"}
    assert "hindsight" not in h.draws_layout(1).fields          # the bottom has no child
    rng = np.random.default_rng(3)
    size = 4000
    obs = rng.normal(scale=2.0, size=(size, 5, OBS)).astype(np.float32)
    n = rng.integers(1, 5, size=size).astype(np.int32)
    action = rng.uniform(-GOAL_BOUND, GOAL_BOUND, (size, 2)).astype(np.float32)
    u = rng.random(size).astype(np.float32)
    tr = Transition(observations=obs, num_steps=n, goal=np.zeros((size, 2), np.float32),
                    action=action, reward=np.zeros(size, np.float32),
                    discount=np.ones(size, np.float32))
    draws = Draws(noise=np.zeros((size, 2), np.float32), hindsight=u)
    out = h.relabelled(0, as_tensors(tr), as_tensors(draws)).action.numpy()
    final = obs[np.arange(size), n]
    achieved = np.clip(final[:, I] - obs[:, 0, I] if relative else final[:, I], -GOAL_BOUND,
                       GOAL_BOUND)
    use = u < 0.3
    np.testing.assert_allclose(out[use], achieved[use], atol=1e-5)
    np.testing.assert_array_equal(out[~use], action[~use])
    # The relabelled fraction is the setting (binomial std ~ 0.007 at 4000 rows).
    assert abs(use.mean() - 0.3) < 0.03


@pytest.mark.parametrize("binding, problem", [
    ({"correction_candidates": 0}, "correction_candidates must be an integer >= 1, got 0"),
    ({"correction_std": -1.0}, "correction_std must be finite and >= 0"),
    ({"hindsight_actions": 1.5}, r"hindsight_actions\[0\] is a probability in \[0, 1\]"),
    ({"off_policy_correction": [True, True]}, "off_policy_correction has 2 entries"),
])
def test_settings_the_hierarchy_cannot_honour_are_named(binding, problem):
    with pytest.raises(ValueError, match=problem):
        make_hierarchy(2, **binding)


# --------------------------------------------------------------------------------------------------
# The agent stores what the correction reads, and trains with it compiled.

@pytest.mark.parametrize("num_levels", [2, 3])
def test_agent_stores_the_child_actions_it_took_and_trains_corrected(num_levels):
    h = make_hierarchy(num_levels, periods=3, off_policy_correction=True, hindsight_actions=0.2,
                       cg_lambda=0.1)
    agent = make_agent(h, batch_size=8, warmup_steps=20, seed=1)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=OBS).astype(np.float32)
    ep = agent.begin_episode(obs, np.zeros(2, np.float32))
    taken = []                       # per env step: every level's current decision
    for t in range(60):
        agent.act(ep)
        taken.append([a.copy() for a in ep.actions])
        obs = obs + 0.1 * rng.normal(size=OBS).astype(np.float32)
        agent.observe(ep, -1.0, obs, False, t == 59)
    assert agent.critic_updates[0] > 0 and np.all(np.isfinite(agent.last_losses.table()))
    for i in range(num_levels - 1):
        rows = agent.buffers[i].layout.views(agent.buffers[i].gather(range(len(agent.buffers[i]))))
        child_steps = h.env_steps_per_step[i + 1]
        for r in range(len(agent.buffers[i])):
            start = r * h.env_steps_per_step[i]          # one episode, so rows are in order
            for j in range(int(rows.num_steps[r])):
                np.testing.assert_array_equal(rows.child_actions[r, j],
                                              taken[start + j * child_steps][i + 1])


# --------------------------------------------------------------------------------------------------
# Composition with connected gradients and a learned lambda.

@pytest.mark.parametrize("estimator", ["paper", "reference", "critic"])
def test_the_connected_gradient_term_reads_the_fresh_action_not_the_relabelled_goal(estimator):
    h = make_hierarchy(2, periods=4, off_policy_correction=True, hindsight_actions=0.5,
                       cg_lambda=0.5, cg_estimator=estimator)
    rng = np.random.default_rng(7)
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=1.0)
    batch = make_batch(h, 0, rng, batch_size=32)
    transition, draws = records(batch)
    draws.child_step = tf.constant(np.minimum((rng.random(32) * batch["num_steps"]).astype(np.int32),
                                              batch["num_steps"] - 1))
    draws.hindsight = tf.constant(rng.random(32).astype(np.float32))
    relabelled = h.relabelled(0, transition, draws)
    assert not np.allclose(relabelled.action.numpy(), batch["action"])      # goals did change
    stored = h.actor_gradients(0, transition, draws)
    changed = h.actor_gradients(0, relabelled, draws)
    np.testing.assert_array_equal(stored[1].numpy(), changed[1].numpy())    # the cg loss
    for a, b in zip(stored[2], changed[2]):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_learned_lambda_trains_with_the_correction():
    h = make_hierarchy(2, periods=3, off_policy_correction=True, cg_lambda=0.1,
                       learn_cg_lambda=True, cg_delta=-5.0)
    agent = make_agent(h, batch_size=8, warmup_steps=20, seed=3)
    rng = np.random.default_rng(1)
    obs = rng.normal(size=OBS).astype(np.float32)
    ep = agent.begin_episode(obs, np.zeros(2, np.float32))
    for _ in range(80):
        agent.act(ep)
        obs = obs + 0.1 * rng.normal(size=OBS).astype(np.float32)
        agent.observe(ep, -1.0, obs, False, False)
    assert agent.critic_updates[0] > 2 and np.all(np.isfinite(agent.last_losses.table()))
    assert float(h.cg_lambda_value(0)) != pytest.approx(0.1, rel=1e-6)    # lambda was trained
