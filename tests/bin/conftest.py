"""Shared set-up of the binaries' tests: one short run of the train binary (helpers: run_helpers)."""

import pytest
from run_helpers import POINT, TINY, run_binary


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
