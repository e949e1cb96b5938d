"""Evaluating a saved run (`hierarchy.run.saved_run.evaluate_run`) in-process."""

import glob
import json
import os

import gin
import pytest
from run_helpers import NO_TRAINING, POINT, TINY

from hierarchy.run import metrics
from hierarchy.run.config import ConfigurationError, parse_gin
from hierarchy.run.runner import train
from hierarchy.run.saved_run import evaluate_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 200-step run (acting only) with checkpoints at steps 100 and 200."""
    root = str(tmp_path_factory.mktemp("saved") / "run")
    gin.clear_config()
    parse_gin(POINT, TINY + NO_TRAINING + ["train.total_steps = 200", "train.eval_interval = 200",
                                           "train.checkpoint_interval = 100"])
    train(root)
    gin.clear_config()
    return root


def test_each_checkpoint_gets_its_own_file(run_dir):
    parse_gin([os.path.join(run_dir, "config.gin")])
    newest = evaluate_run(run_dir)
    assert newest["step"] == 200 and newest["checkpoint"].endswith("ckpt-200")
    assert newest["episodes_per_context"] == 1 and newest["num_episodes"] == 4
    assert newest["success_rule"] == "final_step"
    # The run's final evaluation used the same weights and the same episode seeds.
    final_eval = metrics.read_jsonl(os.path.join(run_dir, "eval_metrics.jsonl"))[-1]
    assert [r for c in newest["per_context"] for r in c["returns"]] == pytest.approx(
        [r for c in final_eval["per_context"] for r in c["returns"]], rel=1e-5)
    assert newest["checkpoint"] == os.path.join("checkpoints", "ckpt-200")  # relative to the run
    assert newest["trajectory_plots"] == [
        os.path.join("plots", f"evaluation_200_ctx{k}.png") for k in range(4)]
    assert all(os.path.isfile(os.path.join(run_dir, p)) for p in newest["trajectory_plots"])
    older = evaluate_run(run_dir, episodes_per_context=2, trajectory_plots=False,
                         checkpoint=os.path.join(run_dir, "checkpoints", "ckpt-100"))
    assert older["step"] == 100 and older["num_episodes"] == 8
    assert older["trajectory_plots"] == []
    assert not glob.glob(os.path.join(run_dir, "plots", "evaluation_100_*"))
    assert json.load(open(os.path.join(run_dir, "evaluation_100.json"))) == older
    assert json.load(open(os.path.join(run_dir, "evaluation_200.json"))) == newest


def test_a_binding_that_cannot_be_built_writes_nothing(run_dir):
    before = sorted(glob.glob(os.path.join(run_dir, "evaluation*.json")))
    parse_gin([os.path.join(run_dir, "config.gin")], ["low/ReplayBuffer.capacity = 0"])
    with pytest.raises(ConfigurationError, match="level 'low': replay capacity must be >= 1"):
        evaluate_run(run_dir, checkpoint=os.path.join(run_dir, "checkpoints", "ckpt-100"))
    assert sorted(glob.glob(os.path.join(run_dir, "evaluation*.json"))) == before


def test_a_missing_checkpoint_is_named(run_dir):
    parse_gin([os.path.join(run_dir, "config.gin")])
    missing = os.path.join(run_dir, "checkpoints", "ckpt-999")
    with pytest.raises(FileNotFoundError, match=f"no complete checkpoint found at {missing}"):
        evaluate_run(run_dir, checkpoint=missing)


def test_result_paths_are_relative_to_the_run_inside_it_only(tmp_path):
    from hierarchy.run.saved_run import run_relative

    root = str(tmp_path / "run")
    assert run_relative(os.path.join(root, "plots", "a.png"), root) == os.path.join("plots", "a.png")
    assert run_relative(os.path.join(root, "x", "..", "v.mp4"), root) == "v.mp4"
    outside = str(tmp_path / "run2" / "v.mp4")          # a sibling whose name extends the run's
    assert run_relative(outside, root) == outside
    assert run_relative("../v.gif", root) == "../v.gif"


def test_a_saved_configuration_with_scopes_of_other_depths_still_evaluates(run_dir, tmp_path):
    # Environment files used to bind `top/` and `flat/` so that one file served every depth; a run
    # saved then has `flat/Level.reward_scale` in its two-level config.gin. Training with such a
    # binding is refused; restoring the saved run logs it and evaluates.
    import shutil
    old = str(tmp_path / "old")
    shutil.copytree(run_dir, old)
    for name in ("evaluation_100.json", "evaluation_200.json"):
        if os.path.exists(os.path.join(old, name)):
            os.remove(os.path.join(old, name))
    with open(os.path.join(old, "config.gin"), "a") as f:
        f.write("\nflat/Level.reward_scale = 0.1\n")
    parse_gin([os.path.join(old, "config.gin")])
    result = evaluate_run(old)
    assert result["step"] == 200 and result["num_episodes"] == 4
    with pytest.raises(ConfigurationError, match="'flat/' names no level of this 2-level hierarchy"):
        train(str(tmp_path / "new"))
