"""The split of a parent's actor gradient into its TD3 and connected-gradient parts.

Oracles: the two parts add up to the production gradient (`Hierarchy.actor_gradients`) for every
estimator; each part matches central differences of its own loss, written out independently in
test_connected.py; the statistics are checked on hand-computed vectors.
"""

import numpy as np
import pytest
import tensorflow as tf
from helpers import make_hierarchy, random_batch, randomize_last_layers
from test_connected import LAMBDA, Pieces, directional_fd, dot, setup

from hierarchy import diagnostics
from hierarchy.replay import Draws


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
