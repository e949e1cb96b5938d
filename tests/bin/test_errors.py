"""The binaries' exit status and messages for a bad configuration or a diverging run."""

import json
import os

import pytest
from run_helpers import POINT, TINY, run_binary

from hierarchy.run import checkpointing


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
        "build_hierarchy.task_reward_scale = 1e38"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Training diverged" in proc.stderr and "is intact" in proc.stderr
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    state = json.load(open(os.path.join(ckpt.latest(), checkpointing.LOOP_STATE)))
    assert state["step"] == 100
    assert not os.path.exists(os.path.join(root, "finished.json"))


@pytest.mark.parametrize("binding, problem", [
    ("ReplayBuffer.batch_size = 0", "level 'top': replay batch_size must be >= 1, got 0"),
    ("train.env_id = 'hierarchy/Nope-v0'", "Environment `Nope` doesn't exist in namespace hierarchy"),
    ("Level.actor_learning_rate = 1e999", "actor_learning_rate must be a finite number > 0, got inf"),
    ("ReplayBuffer.batch_size = 100000000", "batch_size (100000000) must not exceed its capacity (5000)"),
    ("train.total_steps = 600.5", "train.total_steps must be an integer >= 1, got 600.5"),
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




def test_an_unclosed_bracket_names_the_file_and_line(tmp_path):
    gin_file = tmp_path / "broken.gin"
    gin_file.write_text('include "envs/point_reach.gin"\ntrain.total_steps = 600\n'
                        "Level.actor_hidden_sizes = (16, 16\n")
    root = tmp_path / "run"
    proc = run_binary("train", str(root), [str(gin_file)])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "Invalid gin configuration" in line]
    assert f"{gin_file}, line 3: a bracket opened here is never closed" in line
    assert not root.exists()


def test_a_gin_file_that_is_a_directory_says_so(tmp_path):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), [str(tmp_path)])
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = [line for line in proc.stderr.splitlines() if "Invalid gin configuration" in line]
    assert f"gin file '{tmp_path}' is a directory" in line
    assert not root.exists()


def test_a_run_too_short_to_update_warns_at_start(tmp_path):
    proc = run_binary("train", str(tmp_path / "run"), POINT, TINY + [
        "Agent.warmup_steps = 10000", "train.total_steps = 100", "train.eval_interval = 100",
        "train.eval_episodes_per_context = 1", "train.trajectory_plots = False"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [line for line in proc.stderr.splitlines() if "no update will happen" in line]
    assert "train.total_steps (100) is not above Agent.warmup_steps (10000)" in line


@pytest.mark.parametrize("episodes", ["0", pytest.param("-1", marks=pytest.mark.slow)])
def test_evaluate_refuses_fewer_than_one_episode(point_run, episodes):
    root, _ = point_run
    before = sorted(os.listdir(root))
    proc = run_binary("evaluate", root, extra=[f"--num_episodes={episodes}"])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"--num_episodes must be >= 1 (episodes per evaluation context), got {episodes}" in proc.stderr
    assert sorted(os.listdir(root)) == before
