"""Metric files under crashes, JSON conversion, the TensorBoard restart marker, the learning curve."""

import json
import math
import os

import numpy as np
import pytest

from hierarchy.run import metrics


def test_truncate_jsonl_drops_newer_rows_and_a_cut_off_line(tmp_path):
    path = str(tmp_path / "m.jsonl")
    with open(path, "w") as f:
        for step in (50, 100, 150, 200):
            f.write(json.dumps({"step": step}) + "\n")
        f.write('{"step": 25')                                   # killed while writing
    assert [r["step"] for r in metrics.read_jsonl(path)] == [50, 100, 150, 200]
    assert metrics.truncate_jsonl(path, 100) == 2   # rows 150 and 200; the cut-off line is no row
    assert [r["step"] for r in metrics.read_jsonl(path)] == [50, 100]
    assert open(path).read().endswith("\n")


def test_a_torn_end_is_dropped_with_a_warning_and_damage_before_rows_is_an_error(tmp_path, monkeypatch):
    """A power loss leaves NUL bytes (or a half row) where the last rows were: dropped, with the
    line named; an unreadable line with rows after it is damage no crash explains."""
    path = str(tmp_path / "m.jsonl")
    good = "".join(json.dumps({"step": s}) + "\n" for s in (50, 100))
    with open(path, "w") as f:
        f.write(good + "\0" * 40 + "\n" + '{"step": 1' + "\0" * 8 + "\n")
    warnings = []
    monkeypatch.setattr(metrics.logging, "warning", lambda msg, *args: warnings.append(msg % args))
    assert [r["step"] for r in metrics.read_jsonl(path)] == [50, 100]
    assert metrics.truncate_jsonl(path, 1000) == 0   # the torn end is not counted as rows
    assert len(warnings) == 2 and "m.jsonl: dropped the unreadable end of the file from line 3" in warnings[0]
    assert open(path).read() == good
    with open(path, "w") as f:
        f.write(good + "garbage\n" + json.dumps({"step": 150}) + "\n")
    with pytest.raises(ValueError, match=r"m.jsonl, line 3: not a JSON row, and rows follow it"):
        metrics.read_jsonl(path)


def test_jsonable_writes_non_finite_as_null():
    row = metrics.jsonable({"a": np.float32(np.nan), "b": [np.inf, 1.5], "c": np.int64(3),
                            "d": np.bool_(True), "e": np.arange(2)})
    assert json.loads(json.dumps(row)) == {"a": None, "b": [None, 1.5], "c": 3, "d": True, "e": [0, 1]}
    assert not any(isinstance(v, float) and math.isnan(v) for v in row["b"])


def test_restart_marker_sorts_after_the_files_of_an_earlier_second(tmp_path):
    # TensorBoard reads event files in name order; a marker named in the same second as the dead
    # run's writer file would sort before it and drop nothing, so mark_start waits for a new second.
    import time

    log_dir = str(tmp_path / "tensorboard")
    os.makedirs(log_dir)
    dead = f"events.out.tfevents.{int(time.time())}.host.12345.1.v2"
    open(os.path.join(log_dir, dead), "w").close()
    marker = os.path.basename(metrics.mark_start(log_dir, 0))
    assert int(marker.split(".")[3]) > int(dead.split(".")[3])
    assert sorted(os.listdir(log_dir)) == [dead, marker]


def test_learning_curve_replaces_the_plot_in_one_step(tmp_path):
    path = str(tmp_path / "learning_curve.png")
    rows = [{"step": 0, "mean_return": -10.0, "success_rate": 0.0},
            {"step": 100, "mean_return": None, "success_rate": 0.5}]
    metrics.plot_learning_curve(rows, path, title="t")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["learning_curve.png"]     # no temporary file left
