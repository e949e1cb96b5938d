"""The export binary on the run of the `point_run` fixture (tests/bin/conftest.py), and its errors."""

import json
import os

import pytest
from run_helpers import run_binary

from hierarchy.agent import export


def test_export_binary_writes_a_savedmodel_with_its_provenance(point_run, tmp_path):
    root, _ = point_run
    out = str(tmp_path / "policy")
    proc = run_binary("export", root, extra=[f"--out={out}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record == json.load(open(os.path.join(out, "assets", export.PROVENANCE_FILE)))
    assert record["step"] == 300 and record["num_levels"] == 2 and record["env_steps_per_step"] == [10, 1]
    assert record["observation"]["shape"] and record["action"]["low"] and record["commit"]
    assert os.path.isfile(os.path.join(out, "saved_model.pb"))
    assert os.path.isfile(os.path.join(out, "assets", export.CONFIG_ASSET))
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


@pytest.mark.slow
def test_export_errors_are_one_line_and_write_nothing(point_run, tmp_path):
    root, _ = point_run
    # Not a run directory: exit 2.
    proc = run_binary("export", str(tmp_path / "nothing"), extra=[f"--out={tmp_path / 'a'}"])
    assert proc.returncode == 2 and "config.gin not found" in proc.stderr
    # A run without a checkpoint: exit 1.
    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    (empty / "config.gin").write_text(open(os.path.join(root, "config.gin")).read())
    proc = run_binary("export", str(empty), extra=[f"--out={tmp_path / 'b'}"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Nothing was exported: no complete checkpoint found" in proc.stderr
    # An --out that cannot be written (/sys is read-only even for root): exit 1.
    proc = run_binary("export", root, extra=["--out=/sys/hierarchy-export-test/policy"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot write the export to /sys/hierarchy-export-test/policy" in proc.stderr
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")
