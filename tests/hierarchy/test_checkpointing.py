"""Checkpoint directories under crashes and non-finite variables (no training involved)."""

import os

import numpy as np
import pytest
from run_helpers import flip_bytes, tf_data_file

from hierarchy.run import checkpointing


def loop_state(step, **changes):
    return checkpointing.LoopState(**{"step": step, "episodes": step // 10, "elapsed": step / 7,
                                      "env_rng": {}, **changes})


class FakeAgent:
    """Enough of an Agent for the Checkpointer: one variable and some numpy state."""

    def __init__(self, value):
        import tensorflow as tf

        self.var = tf.Variable(float(value))
        self.state = {"env_steps": np.asarray(int(value)), "replay0/x": np.arange(3.0) * value}

    def tf_checkpoint(self):
        import tensorflow as tf

        return tf.train.Checkpoint(var=self.var)

    def numpy_state(self):
        return dict(self.state)

    def load_numpy_state(self, state):
        self.state = dict(state)


def test_checkpointer_keeps_newest_and_ignores_incomplete(tmp_path):
    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=2, writer=True)
    for step in (10, 20, 30):
        ckpt.save(step, FakeAgent(step), loop_state(step))
    assert sorted(os.listdir(directory)) == ["ckpt-20", "ckpt-30", "latest"]
    # A writer killed mid-save leaves a temporary directory; one killed after the rename but before
    # the pointer update leaves a complete directory the pointer does not name yet. Both are safe.
    os.makedirs(os.path.join(directory, ".tmp-ckpt-40-123", "tf"))
    os.makedirs(os.path.join(directory, "ckpt-50"))            # incomplete: no loop_state.json
    reader = checkpointing.Checkpointer(directory)
    assert os.path.basename(reader.latest()) == "ckpt-30"
    assert os.path.exists(os.path.join(directory, ".tmp-ckpt-40-123"))   # readers touch nothing
    os.remove(os.path.join(directory, "latest"))                # lost pointer: newest complete one
    assert os.path.basename(reader.latest()) == "ckpt-30"
    checkpointing.Checkpointer(directory, writer=True)
    assert not os.path.exists(os.path.join(directory, ".tmp-ckpt-40-123"))
    agent = FakeAgent(0)
    state = reader.restore(reader.latest(), agent)
    assert state == loop_state(30) and float(agent.var.numpy()) == 30.0
    np.testing.assert_array_equal(agent.state["replay0/x"], [0.0, 30.0, 60.0])


def test_checkpointer_refuses_non_finite_variables_and_keeps_the_previous_checkpoint(tmp_path):
    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=2, writer=True)
    ckpt.save(10, FakeAgent(10), loop_state(10))
    for bad in (np.nan, np.inf, -np.inf):
        agent = FakeAgent(20)
        agent.var.assign(bad)
        with pytest.raises(checkpointing.NonFiniteVariablesError,
                           match=r"ckpt-20 was not written: 1 variable\(s\) .*NaN or inf.*var \("):
            ckpt.save(20, agent, loop_state(20))
        # Nothing was written: no directory, no temporary directory, the pointer unchanged.
        assert sorted(os.listdir(directory)) == ["ckpt-10", "latest"]
        assert os.path.basename(ckpt.latest()) == "ckpt-10"
    assert isinstance(checkpointing.NonFiniteVariablesError("x"), FloatingPointError)


def test_non_finite_variables_names_paths_and_counts():
    import tensorflow as tf

    module = tf.Module()
    module.weights = [tf.Variable([1.0, 2.0, 3.0]), tf.Variable([np.nan, 1.0, np.inf])]
    module.steps = tf.Variable(7, dtype=tf.int64)          # not floating point: never non-finite
    root = tf.train.Checkpoint(net=module, alias=module.weights[1])
    bad = checkpointing.non_finite_variables(root)
    assert len(bad) == 1, bad                               # reachable twice, reported once
    assert ("2 of 3 values non-finite" in bad[0]
            and bad[0].split(" ")[0] in ("alias", "net/weights/1")), bad
    module.weights[1].assign([0.0, 1.0, 2.0])
    assert checkpointing.non_finite_variables(root) == []




def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_and_no_temporary_directory(tmp_path):
    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=2, writer=True)
    ckpt.save(10, FakeAgent(10), loop_state(10))
    with pytest.raises(TypeError):
        ckpt.save(20, FakeAgent(20), loop_state(20, env_rng={"not json": object()}))   # written last
    assert sorted(os.listdir(directory)) == ["ckpt-10", "latest"]
    assert os.path.basename(ckpt.latest()) == "ckpt-10"



def test_restore_skips_a_damaged_newest_checkpoint_and_moves_it_aside(tmp_path):
    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=3, writer=True)
    for step in (10, 20, 30):
        ckpt.save(step, FakeAgent(step), loop_state(step))
    flip_bytes(tf_data_file(os.path.join(directory, "ckpt-30")))
    flip_bytes(os.path.join(directory, "ckpt-20", checkpointing.AGENT_STATE))
    agent, lines = FakeAgent(0), []
    path, state = ckpt.restore_newest_intact(agent, log=lines.append)
    assert os.path.basename(path) == "ckpt-10" and state == loop_state(10)
    assert float(agent.var.numpy()) == 10.0
    np.testing.assert_array_equal(agent.state["replay0/x"], [0.0, 10.0, 20.0])
    assert sorted(os.listdir(directory)) == ["ckpt-10", "damaged-ckpt-20", "damaged-ckpt-30", "latest"]
    assert len(lines) == 2 and "ckpt-30 is damaged" in lines[0] and "ckpt-20 is damaged" in lines[1]
    assert "resumed from" in lines[0] and lines[0].count("\n") == 0
    assert os.path.basename(ckpt.latest()) == "ckpt-10"
    # The next save at the same step as a damaged one does not collide with it.
    ckpt.save(30, FakeAgent(30), loop_state(30))
    assert os.path.basename(ckpt.latest()) == "ckpt-30"


def test_no_intact_checkpoint_names_the_files_and_moves_nothing(tmp_path):
    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=2, writer=True)
    for step in (10, 20):
        ckpt.save(step, FakeAgent(step), loop_state(step))
    for step in (10, 20):
        flip_bytes(tf_data_file(os.path.join(directory, f"ckpt-{step}")))
    before = sorted(os.listdir(directory))
    with pytest.raises(checkpointing.NoIntactCheckpointError) as raised:
        ckpt.restore_newest_intact(FakeAgent(0), log=lambda s: None)
    message = str(raised.value)
    for step in (10, 20):
        assert tf_data_file(os.path.join(directory, f"ckpt-{step}")) in message
    assert "Nothing was moved or deleted" in message
    assert sorted(os.listdir(directory)) == before


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """The error is injected where the replay state is written: half the file, then ENOSPC."""
    import errno

    directory = str(tmp_path / "checkpoints")
    ckpt = checkpointing.Checkpointer(directory, keep=2, writer=True)
    ckpt.save(10, FakeAgent(10), loop_state(10))

    def full_disk(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpointing.np, "savez", full_disk)
    with pytest.raises(checkpointing.CheckpointWriteError) as raised:
        ckpt.save(20, FakeAgent(20), loop_state(20))
    message = str(raised.value)
    assert "ckpt-20 could not be written" in message and "No space left on device" in message
    assert f"the previous checkpoint {os.path.join(directory, 'ckpt-10')} is intact" in message
    assert sorted(os.listdir(directory)) == ["ckpt-10", "latest"]   # no partial directory left
    monkeypatch.undo()
    agent = FakeAgent(0)
    path, state = ckpt.restore_newest_intact(agent, log=lambda s: None)
    assert state == loop_state(10) and float(agent.var.numpy()) == 10.0


def test_loop_state_json_keeps_the_keys_and_order_of_the_dict_it_replaced(tmp_path):
    import hashlib
    import json

    ckpt = checkpointing.Checkpointer(str(tmp_path / "checkpoints"), writer=True)
    env_rng = {"": {"bit_generator": "PCG64", "state": {"state": 2 ** 127 + 3, "inc": 5},
                    "has_uint32": 0, "uinteger": 0}}
    state = checkpointing.LoopState(step=350, episodes=1, elapsed=2.9866511990003346, env_rng=env_rng,
                                    open_episode=True, last_scheduled_save=None)
    path = ckpt.save(350, FakeAgent(350), state, blobs={"extra.bin": b"abc"})
    digest = hashlib.sha256(b"abc").hexdigest()
    with open(os.path.join(path, checkpointing.LOOP_STATE)) as f:
        assert f.read() == json.dumps(
            {"step": 350, "episodes": 1, "elapsed": 2.9866511990003346, "env_rng": env_rng,
             "open_episode": True, "last_scheduled_save": None,
             "blob_sha256": {"extra.bin": digest}}, indent=1)
    back = ckpt.restore(path, FakeAgent(0))
    assert back == checkpointing.LoopState(**{**vars(state), "blob_sha256": {"extra.bin": digest}})
    # A scheduled checkpoint has no blob_sha256 key at all.
    scheduled = ckpt.save(400, FakeAgent(400), loop_state(400, last_scheduled_save=400))
    with open(os.path.join(scheduled, checkpointing.LOOP_STATE)) as f:
        assert list(json.load(f)) == ["step", "episodes", "elapsed", "env_rng", "open_episode",
                                      "last_scheduled_save"]


def test_loop_states_of_older_checkpoints_and_damaged_ones():
    old = {"step": 200, "episodes": 1, "elapsed": 1.5, "env_rng": {}}   # before open_episode
    assert checkpointing.LoopState.from_json(old) == checkpointing.LoopState(
        step=200, episodes=1, elapsed=1.5, env_rng={}, open_episode=False, last_scheduled_save=200)
    with pytest.raises(ValueError, match="ckpt-9/loop_state.json lacks episodes, env_rng"):
        checkpointing.LoopState.from_json({"step": 9, "elapsed": 0.0}, path="ckpt-9/loop_state.json")
    with pytest.raises(ValueError, match="lacks step, episodes, elapsed, env_rng"):
        checkpointing.LoopState.from_json([1, 2])
