"""The binaries' exit status and messages for a bad configuration or a diverging run."""

import json
import os

import pytest
from run_helpers import POINT, TINY, run_binary

from hierarchy import checkpointing


def test_binary_rejects_unknown_binding_and_runs_nothing(tmp_path):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), POINT, ["Foo.bar = 1"])
    assert proc.returncode == 2
    assert "Invalid gin configuration" in proc.stderr and "No configurable matching 'Foo'" in proc.stderr
    assert not root.exists()


def test_real_nan_loss_through_the_binary(tmp_path):
    # A reward scale of 1e38 overflows float32 in the top level's TD targets at its first update.
    root = str(tmp_path / "run")
    proc = run_binary("train", root, POINT, TINY + [
        "Agent.warmup_steps = 100", "train.total_steps = 400", "train.checkpoint_interval = 50",
        "train.eval_interval = 1000", "train.eval_episodes_per_context = 1",
        "top/Level.reward_scale = 1e38"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Training diverged" in proc.stderr and "is intact" in proc.stderr
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    state = json.load(open(os.path.join(ckpt.latest(), checkpointing.LOOP_STATE)))
    assert state["step"] == 100
    assert not os.path.exists(os.path.join(root, "finished.json"))


@pytest.mark.parametrize("binding, problem", [
    ("ReplayBuffer.batch_size = 0", "level 'top': replay batch_size must be >= 1, got 0"),
    ("train.env_id = 'hierarchy/Nope-v0'", "Environment `Nope` doesn't exist in namespace hierarchy"),
])
def test_binary_reports_a_bad_value_in_one_paragraph_and_writes_nothing(tmp_path, binding, problem):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), POINT, TINY + [binding])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "Invalid configuration" in line]
    assert len(lines) == 1 and problem in lines[0], proc.stderr[-3000:]
    assert f"nothing was written to {root}" in lines[0]
    assert not root.exists()


