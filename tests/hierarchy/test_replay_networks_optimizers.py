"""Replay rows, network shapes and the fused Adam."""

import numpy as np
import pytest
import tensorflow as tf

from hierarchy import networks, optimizers
from hierarchy.replay import ReplayBuffer, RowLayout

FIELDS = {"obs": ((3, 2), np.float32), "n": ((), np.int32), "a": ((4,), np.float32)}


def row(k):
    return {"obs": np.full((3, 2), k, np.float32), "n": k % 3, "a": np.arange(4) + k}


def test_layout_pack_unpack_round_trip():
    layout = RowLayout(FIELDS)
    assert layout.width == 6 + 1 + 4
    packed = np.stack([layout.pack(row(k)) for k in range(5)])
    out = layout.unpack(packed)
    assert out["obs"].shape == (5, 3, 2) and out["n"].dtype == tf.int32
    np.testing.assert_array_equal(out["n"].numpy(), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(out["a"].numpy()[2], [2, 3, 4, 5])
    with pytest.raises(ValueError, match="missing \\['n'\\]"):
        layout.pack({"obs": np.zeros((3, 2)), "a": np.zeros(4)})
    with pytest.raises(ValueError, match="field 'a' has shape \\(3,\\)"):
        layout.pack({**row(0), "a": np.zeros(3)})


def test_ring_buffer_overwrites_oldest_and_restores():
    buf = ReplayBuffer(capacity=4, fields=FIELDS)
    for k in range(6):
        buf.add(row(k))
    assert len(buf) == 4
    kept = sorted(buf.layout.unpack(buf.gather(range(4)))["a"].numpy()[:, 0].tolist())
    assert kept == [2, 3, 4, 5]
    other = ReplayBuffer(capacity=4, fields=FIELDS)
    other.restore(buf.state())
    np.testing.assert_array_equal(other.gather(range(4)), buf.gather(range(4)))
    other.add(row(9))     # continues at the same write position: overwrites row 2's slot
    assert sorted(other.layout.unpack(other.gather(range(4)))["a"].numpy()[:, 0].tolist()) == [3, 4, 5, 9]
    with pytest.raises(ValueError, match="different configuration"):
        ReplayBuffer(capacity=8, fields=FIELDS).restore(buf.state())
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(capacity=2, fields=FIELDS).sample_indices(np.random.default_rng(0), 3)


def test_sample_into_draws_the_same_rows_as_sample():
    buf = ReplayBuffer(capacity=10, fields=FIELDS)
    for k in range(6):
        buf.add(row(k))
    out = np.full((32, buf.layout.width), np.nan, np.float32)
    buf.sample_into(np.random.default_rng(7), out)
    expected = buf.sample(np.random.default_rng(7), 32)
    np.testing.assert_array_equal(out, expected)
    assert set(out[:, -4].tolist()) <= set(range(6))      # only filled rows: "a"[0] = k
    with pytest.raises(ValueError, match="width 11"):
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
