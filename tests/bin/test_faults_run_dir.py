"""Faults of a run directory's files and of its use: truncated checkpoint data, a damaged loop
state, checkpoints deleted under existing rows, a torn last metrics line (power loss), two trainings
in one root_dir, Ctrl-C. Every case runs the train binary on real files (the shared `reference` and
`killed` runs of conftest.py, copied)."""

import json
import os
import signal
import subprocess

import pytest
from run_helpers import (
    FAULT_SETTINGS,
    POINT,
    REPO,
    assert_same_metrics,
    binary_command,
    binary_env,
    copy_run,
    metric_rows,
    run_binary,
    run_until_log_line,
    tf_data_file,
)

from hierarchy.run import checkpointing


def resume_falls_back_to_step_200(root, reference, damaged_because):
    done = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "is damaged" in line]
    assert "ckpt-400" in line and "damaged-ckpt-400" in line and damaged_because in line
    assert "(step 200, 1 episodes)" in done.stderr
    assert_same_metrics(root, reference)


@pytest.mark.parametrize("keep", [0.0, pytest.param(0.5, marks=pytest.mark.slow)])
def test_a_truncated_checkpoint_data_file_falls_back_to_the_previous_checkpoint(
        tmp_path, reference, killed, keep):
    root = str(tmp_path / "run")
    data = tf_data_file(os.path.join(copy_run(killed, root), "ckpt-400"))
    os.truncate(data, int(os.path.getsize(data) * keep))
    resume_falls_back_to_step_200(root, reference, "Read less bytes than requested")


@pytest.mark.slow
def test_an_empty_loop_state_falls_back_to_the_previous_checkpoint(tmp_path, reference, killed):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    with open(os.path.join(directory, "ckpt-400", checkpointing.LOOP_STATE), "w") as f:
        f.write("{}")
    resume_falls_back_to_step_200(root, reference, "lacks step, episodes, elapsed, env_rng")


@pytest.mark.parametrize("damage", ["delete the directory",
                                    pytest.param("remove every loop state", marks=pytest.mark.slow)])
def test_rows_without_checkpoints_refuse_to_start_over_until_told(tmp_path, reference, killed, damage):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    if damage == "delete the directory":
        subprocess.run(["rm", "-r", directory], check=True)
    else:
        for name in ("ckpt-200", "ckpt-400"):
            os.remove(os.path.join(directory, name, checkpointing.LOOP_STATE))
    train_rows = open(os.path.join(root, "train_metrics.jsonl")).read()
    eval_rows = open(os.path.join(root, "eval_metrics.jsonl")).read()
    refused = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "Traceback" not in refused.stderr
    (line,) = [line for line in refused.stderr.splitlines() if "no checkpoint is left" in line]
    assert "2 training rows up to step 400" in line and "--start_over" in line
    assert open(os.path.join(root, "train_metrics.jsonl")).read() == train_rows
    assert open(os.path.join(root, "eval_metrics.jsonl")).read() == eval_rows
    over = run_binary("train", root, POINT, FAULT_SETTINGS, extra=["--start_over"])
    assert over.returncode == 0, over.stderr[-3000:]
    assert "Starting a new run" in over.stderr
    assert_same_metrics(root, reference)


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_starts_over_without_asking(tmp_path, reference):
    """Rows with no checkpoint are normal when the run died before its first checkpoint was due:
    here the first checkpoint falls at step 400, the run is killed at 350 with the row of step 200
    on disk."""
    root = str(tmp_path / "run")
    settings = FAULT_SETTINGS + ["train.checkpoint_interval = 400"]
    code, _ = run_until_log_line(root, POINT, settings, "step 350/600", signal.SIGKILL)
    assert code == -signal.SIGKILL and not os.path.exists(os.path.join(root, "checkpoints", "latest"))
    assert [r["step"] for r in metric_rows(root, "train_metrics.jsonl")] == [200]
    done = run_binary("train", root, POINT, settings)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting a new run" in done.stderr
    assert_same_metrics(root, reference)   # checkpoints do not change what the run computes


def test_a_nul_filled_last_metrics_line_is_dropped_and_the_run_resumes(tmp_path, reference, killed):
    """What a power loss leaves: the file's last blocks read back as NUL bytes."""
    root = str(tmp_path / "run")
    copy_run(killed, root)
    with open(os.path.join(root, "train_metrics.jsonl"), "ab") as f:
        f.write(b"\0" * 300 + b"\n")
    done = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "unreadable end of the file" in line]
    assert "train_metrics.jsonl" in line and "line 3" in line
    assert "(step 400, 2 episodes)" in done.stderr
    assert_same_metrics(root, reference)


def test_a_second_training_in_the_same_root_dir_refuses_and_writes_nothing(tmp_path):
    root = str(tmp_path / "run")
    first = subprocess.Popen(binary_command("train", root, POINT, FAULT_SETTINGS + [
        "train.total_steps = 100000"]), cwd=REPO, env=binary_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stderr:
            if "step 300/100000" in line:
                break
        before = {name: os.path.getmtime(os.path.join(root, name))
                  for name in ("config.gin", "operative_config.gin")}
        second = run_binary("train", root, POINT, FAULT_SETTINGS + ["train.total_steps = 100000"])
        assert second.returncode == 2, second.stderr[-3000:]
        assert "Traceback" not in second.stderr
        (line,) = [line for line in second.stderr.splitlines() if "another training process" in line]
        assert f"pid {first.pid}" in line and root in line
        assert {name: os.path.getmtime(os.path.join(root, name)) for name in before} == before
        assert first.poll() is None   # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 0


def test_ctrl_c_checkpoints_and_resumes_exactly(tmp_path, reference):
    root = str(tmp_path / "run")
    code, err = run_until_log_line(root, POINT, FAULT_SETTINGS, "step 350/600", signal.SIGINT)
    assert code == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    latest = checkpointing.Checkpointer(os.path.join(root, "checkpoints")).latest()
    step = json.load(open(os.path.join(latest, checkpointing.LOOP_STATE)))["step"]
    assert 350 <= step < 400 and f"Stopped by SIGINT at step {step}" in err
    done = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_metrics(root, reference)
    assert metric_rows(root, "eval_metrics.jsonl")[-1]["step"] == 600
