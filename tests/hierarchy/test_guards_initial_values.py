"""Initial values of learned quantities: what a refactor of construction code (seeds, parameterisation,
per-pair lists) tends to get wrong.

  - the learned lambda of every parent/child pair of a 3-level hierarchy (a distinct lambda per pair)
    starts at its configured value, read as the VALUE lambda = exp(w) (`cg_lambda_value`), not as the
    raw variable w; and its first Adam step moves w by the learning rate, so lambda becomes
    lambda_0 * exp(+-lr) (hand-computed: Adam's first step is lr * g / (|g| + eps'));
  - a fixed (not learned) lambda is the configured one, per pair, also as the compiled step reports it;
  - every level's target networks start as exact copies of its online networks.
"""

import numpy as np
import pytest
from helpers import make_agent, make_hierarchy, pack_rows, random_batch

LAMBDAS = [0.3, 1.7]


def three_levels(**kwargs):
    return make_hierarchy(3, periods=[2, 3], cg_lambda=LAMBDAS, **kwargs)


def test_learned_lambda_of_every_pair_starts_at_its_configured_value():
    h = three_levels(learn_cg_lambda=True, cg_delta=1.0)
    for i, lam in enumerate(LAMBDAS):
        assert float(h.cg_lambda_value(i)) == pytest.approx(lam, rel=1e-6), i
    # The pairs differ by far more than the tolerance: a pair reading the other's value fails.
    assert abs(LAMBDAS[1] - LAMBDAS[0]) > 1.0


def test_learned_lambdas_first_step_moves_it_by_the_learning_rate_in_log_space():
    """Adam's first step on w is lr * g / (|g| + eps / sqrt(1 - beta_2)): +-lr up to 1e-4 relative
    for |g| >> 1e-7. So lambda_1 = lambda_0 * exp(-lr * sign(g)) for each pair."""
    lr = 0.05
    h = three_levels(learn_cg_lambda=True, cg_delta=1.0, cg_lambda_learning_rate=lr)
    rng = np.random.default_rng(3)
    due = np.array([[False, True], [False, True], [False, False]])
    batches = [random_batch(h, i, rng, batch_size=16) for i in range(2)] + [None]
    reported = h.train(batches, due).cg_lambda.numpy()[:2]
    for i, lam in enumerate(LAMBDAS):
        after = float(h.cg_lambda_value(i))
        ratio = np.log(after / lam)
        assert abs(abs(ratio) - lr) < 1e-3 * lr, (i, lam, after)
        assert reported[i] == pytest.approx(after, rel=1e-6)


def test_fixed_lambda_is_the_configured_one_per_pair_also_in_the_compiled_step():
    h = three_levels()
    agent = make_agent(h, batch_size=8, warmup_steps=0, seed=0)
    for i, lam in enumerate(LAMBDAS):
        assert float(h.cg_lambda_value(i)) == pytest.approx(lam, rel=1e-6)
    rng = np.random.default_rng(4)
    due = np.array([[True, True], [True, True], [True, True]])
    rows, draws = [], []
    for i in range(3):
        transition, _ = random_batch(h, i, rng, batch_size=8)
        row = pack_rows(h.transition_layout(i), transition)
        rows.append(row)
        draws.append(agent.sample_draws(i, row))
    losses = agent.compiled.update(due, rows, draws)
    np.testing.assert_allclose(losses.cg_lambda[:2], LAMBDAS, rtol=1e-6)
    assert losses.cg_lambda[2] == 0.0               # the bottom has no child


def test_targets_start_as_copies_of_the_online_networks():
    h = three_levels()
    for lvl in h.levels:
        pairs = [(lvl.actor, lvl.target_actor), (lvl.critics, lvl.target_critics)]
        for online, target in pairs:
            assert len(online.trainable_variables) == len(target.trainable_variables) > 0
            for a, b in zip(online.trainable_variables, target.trainable_variables):
                np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=lvl.level_name)
        # The critics' two members differ (distinct initial weights), so equality above has power.
        first, second = (m.kernels[0].numpy() for m in lvl.critics.members)
        assert not np.array_equal(first, second)
