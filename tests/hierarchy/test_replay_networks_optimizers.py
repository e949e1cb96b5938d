"""Replay rows, network shapes and the fused Adam."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from hierarchy.agent.replay import Draws, ReplayBuffer, RowLayout, Transition, draws_layout, transition_layout
from hierarchy.core import networks, optimizers

LAYOUT = transition_layout(obs_dim=2, goal_dim=1, action_dim=4, child_steps=2)


def row(k):
    return Transition(observations=np.full((3, 2), k, np.float32), num_steps=k % 3, goal=[k],
                      action=np.arange(4) + k, reward=0.5 * k, discount=1.0)


def actions(buf, indices):
    return buf.layout.unpack(buf.gather(indices)).action.numpy()


def test_layout_pack_unpack_round_trip():
    assert LAYOUT.width == 6 + 1 + 1 + 4 + 1 + 1
    packed = np.stack([LAYOUT.pack(row(k)) for k in range(5)])
    out = LAYOUT.unpack(packed)
    assert isinstance(out, Transition) and out.child_actions is None
    assert out.observations.shape == (5, 3, 2) and out.num_steps.dtype == tf.int32
    np.testing.assert_array_equal(out.num_steps.numpy(), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(out.action.numpy()[2], [2, 3, 4, 5])
    np.testing.assert_array_equal(out.reward.numpy(), [0.0, 0.5, 1.0, 1.5, 2.0])
    # Numpy views of the same fields write through to the rows.
    views = LAYOUT.views(packed)
    np.testing.assert_array_equal(views.observations[3], np.full((3, 2), 3.0))
    views.num_steps[...] = 7
    np.testing.assert_array_equal(LAYOUT.unpack(packed).num_steps.numpy(), [7] * 5)
    with pytest.raises(ValueError, match="Transition.goal is None but this layout stores it"):
        LAYOUT.pack(dataclasses.replace(row(0), goal=None))
    with pytest.raises(ValueError, match=r"Transition.action has shape \(3,\)"):
        LAYOUT.pack(dataclasses.replace(row(0), action=np.zeros(3)))
    with pytest.raises(TypeError, match="expected a Transition, got Draws"):
        LAYOUT.pack(Draws(noise=np.zeros(4)))
    with pytest.raises(ValueError, match=r"Draws has no field\(s\) \['goal'\]"):
        RowLayout(Draws, {"goal": ((1,), np.float32)})


def test_child_actions_and_draws_layouts():
    with_children = transition_layout(obs_dim=2, goal_dim=1, action_dim=4, child_steps=2,
                                      child_action_dim=3)
    assert with_children.width == LAYOUT.width + 2 * 3
    draws = draws_layout(action_dim=4, child_step=True)
    unpacked = draws.unpack(np.stack([draws.pack(Draws(noise=np.ones(4), child_step=k))
                                      for k in range(3)]))
    assert unpacked.child_step.dtype == tf.int32
    np.testing.assert_array_equal(unpacked.child_step.numpy(), [0, 1, 2])
    assert draws_layout(action_dim=4, child_step=False).unpack(np.zeros((2, 4))).child_step is None


def test_ring_buffer_overwrites_oldest_and_restores():
    buf = ReplayBuffer(layout=LAYOUT, capacity=4, batch_size=3)
    for k in range(6):
        buf.add(row(k))
    assert len(buf) == 4
    assert sorted(actions(buf, range(4))[:, 0].tolist()) == [2, 3, 4, 5]
    other = ReplayBuffer(layout=LAYOUT, capacity=4, batch_size=3)
    other.restore(buf.state())
    np.testing.assert_array_equal(other.gather(range(4)), buf.gather(range(4)))
    other.add(row(9))     # continues at the same write position: overwrites row 2's slot
    assert sorted(actions(other, range(4))[:, 0].tolist()) == [3, 4, 5, 9]
    assert buf.sample(np.random.default_rng(0)).shape == (3, LAYOUT.width)   # its batch size
    with pytest.raises(ValueError, match="different configuration"):
        ReplayBuffer(layout=LAYOUT, capacity=8, batch_size=3).restore(buf.state())
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(layout=LAYOUT, capacity=2, batch_size=2).sample_indices(np.random.default_rng(0), 3)
    for key in ("capacity", "batch_size"):
        with pytest.raises(ValueError, match=f"replay {key} must be >= 1, got 0"):
            ReplayBuffer(layout=LAYOUT, **{key: 0})
    with pytest.raises(ValueError, match=r"batch_size \(100000000\) must not exceed its capacity \(8\)"):
        ReplayBuffer(layout=LAYOUT, capacity=8, batch_size=100_000_000)


def test_sample_into_draws_the_same_rows_as_sample():
    buf = ReplayBuffer(layout=LAYOUT, capacity=10, batch_size=10)
    for k in range(6):
        buf.add(row(k))
    out = np.full((32, buf.layout.width), np.nan, np.float32)
    buf.sample_into(np.random.default_rng(7), out)
    expected = buf.sample(np.random.default_rng(7), 32)
    np.testing.assert_array_equal(out, expected)
    assert set(LAYOUT.views(out).action[:, 0].tolist()) <= set(range(6))   # only filled rows
    with pytest.raises(ValueError, match="width 14"):
        buf.sample_into(np.random.default_rng(0), np.zeros((4, 10), np.float32))


def test_ensemble_mlp_shapes_and_members():
    ensemble = networks.Ensemble(size=2, input_dim=5, hidden_sizes=(7, 7), output_dim=1, seed=0)
    x = tf.random.normal([3, 5])
    both = ensemble(x)
    assert both.shape == (2, 3, 1)
    np.testing.assert_allclose(ensemble(x, member=1), both[1], rtol=1e-6)
    np.testing.assert_allclose(ensemble.members[0](x), both[0], rtol=1e-6)
    # Independent members: different initial weights, four variables each.
    a, b = (m.kernels[0].numpy() for m in ensemble.members)
    assert np.abs(a - b).max() > 1e-3
    assert len(ensemble.trainable_variables) == 2 * 2 * 3
    single = networks.MLP(input_dim=5, hidden_sizes=(7,), output_dim=2, seed=0)
    assert single(x).shape == (3, 2)
    assert np.abs(single.kernels[-1].numpy()).max() <= networks.LAST_LAYER_INIT
    with pytest.raises(ValueError, match="size >= 1"):
        networks.Ensemble(size=0, input_dim=5, hidden_sizes=(7,), output_dim=1)


def test_fused_adam_matches_keras_adam():
    rng = np.random.default_rng(0)
    init = [rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(3,)).astype(np.float32)]
    ours = [tf.Variable(v) for v in init]
    theirs = [tf.Variable(v) for v in init]
    opt = optimizers.Adam(ours, learning_rate=0.01)
    keras = tf.keras.optimizers.Adam(learning_rate=0.01)
    for _ in range(5):
        grads = [tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in init]
        opt.apply_gradients(grads)
        keras.apply_gradients(zip(grads, theirs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert int(opt.iterations.numpy()) == 5
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply_gradients(grads[:1])
