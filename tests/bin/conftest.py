"""Shared set-up of the binaries' tests: short runs of the train binary (helpers: run_helpers)."""

import os
import signal

import pytest
from run_helpers import FAULT_SETTINGS, POINT, TINY, run_binary, run_until_log_line


@pytest.fixture(scope="session")
def point_run(tmp_path_factory):
    """A few hundred steps of 2-level HRL-CG on PointReach through the train binary:
    (root_dir, the CompletedProcess)."""
    root = str(tmp_path_factory.mktemp("point") / "run")
    bindings = TINY + ["Agent.warmup_steps = 100", "train.total_steps = 300", "train.eval_interval = 150",
                       "train.checkpoint_interval = 100", "train.log_interval = 100",
                       "train.eval_episodes_per_context = 1"]
    proc = run_binary("train", root, POINT, bindings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, proc


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The uninterrupted fault-test run (FAULT_SETTINGS) that every interrupted one must reproduce
    row for row."""
    root = str(tmp_path_factory.mktemp("reference") / "run")
    proc = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def killed(tmp_path_factory):
    """A fault-test run SIGKILLed after step 450 (checkpoints at 200 and 400; rows after 400 on
    disk). Tests work on copies (`run_helpers.copy_run`)."""
    root = str(tmp_path_factory.mktemp("killed") / "run")
    code, _ = run_until_log_line(root, POINT, FAULT_SETTINGS, "step 450/600", signal.SIGKILL)
    assert code == -signal.SIGKILL
    directory = os.path.join(root, "checkpoints")
    assert sorted(n for n in os.listdir(directory) if n.startswith("ckpt-")) == ["ckpt-200", "ckpt-400"]
    return root


@pytest.fixture(scope="session")
def sigtermed(tmp_path_factory):
    """A fault-test run stopped by SIGTERM after step 350, mid-episode (the episode boundaries are
    200 and 400): (root_dir, its stderr). Tests work on copies (`run_helpers.copy_run`)."""
    root = str(tmp_path_factory.mktemp("sigtermed") / "run")
    code, err = run_until_log_line(root, POINT, FAULT_SETTINGS, "step 350/600", signal.SIGTERM)
    assert code == 0, err[-3000:]
    return root, err
