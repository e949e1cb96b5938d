"""The evaluate binary, on the run of the `point_run` fixture (tests/bin/conftest.py)."""

import json
import os

import pytest
from PIL import Image
from run_helpers import run_binary

from hierarchy import metrics


def test_evaluate_binary(point_run):
    root, _ = point_run
    video = os.path.join(root, "eval.gif")
    proc = run_binary("evaluate", root, extra=["--num_episodes=2", f"--video={video}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.load(open(os.path.join(root, "evaluation_300.json")))
    assert out["step"] == 300 and out["num_episodes"] == 8 and len(out["per_context"]) == 4
    assert out["checkpoint"].endswith("ckpt-300")
    assert json.loads(proc.stdout) == out
    # Same weights, same seeds: the final in-training evaluation's first episodes agree.
    final_eval = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    for a, b in zip(out["per_context"], final_eval["per_context"]):
        assert a["returns"][0] == pytest.approx(b["returns"][0], rel=1e-4)
    assert os.path.getsize(video) > 0
    # One picture per context, beside the training's pictures of each evaluation.
    plots = [os.path.join(root, "plots", f"evaluation_300_ctx{k}.png") for k in range(4)]
    assert out["trajectory_plots"] == plots
    for step in (0, 150, 300):
        assert os.path.isfile(os.path.join(root, "plots", f"trajectory_{step}_ctx3.png"))
    for path in plots:
        assert Image.open(path).size == (720, 540)
