"""benchmarks.analysis.cg_gradients on a real trained run (the session's short HRL-CG PointReach run)."""

import json
import os

import numpy as np
import pytest
from run_helpers import TINY, TRAINING, run_binary

from benchmarks.analysis import cg_gradients as cg_gradients_module


@pytest.fixture(scope="module")
def cg_gradients():
    return cg_gradients_module


def test_report_of_a_trained_run(cg_gradients, point_run, tmp_path):
    root, _ = point_run
    out, js, png = tmp_path / "cg.md", tmp_path / "cg.json", tmp_path / "cg.png"
    assert cg_gradients.main([root, "--batches", "3", "--out", str(out), "--json", str(js),
                              "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (result,) = json.loads(js.read_text())
    assert (result["step"], result["batches"], result["seed"]) == (300, 3, 0)
    assert (result["run"], result["checkpoint"]) == (root, os.path.join("checkpoints", "ckpt-300"))
    (level,) = result["levels"]
    assert (level["name"], level["child"], level["estimator"], level["batch_size"]) == (
        "top", "low", "paper", 16)
    assert level["lambda"] == pytest.approx(0.01)
    ratios = [b["ratio"] for b in level["batches"]]
    assert len(ratios) == 3 and all(np.isfinite(ratios)) and min(ratios) > 0
    for b in level["batches"]:
        assert b["ratio"] == pytest.approx(b["cg_norm"] / b["td3_norm"])
        assert -1.0 <= b["cosine"] <= 1.0
    assert level["summary"]["ratio"] == {"median": np.median(ratios), "min": min(ratios),
                                         "max": max(ratios)}
    # The batches come from the seeded generator: the same figures again; another seed, others.
    again = cg_gradients.analyse_run(root, batches=3)
    assert again["levels"][0]["batches"] == level["batches"]
    other = cg_gradients.analyse_run(root, batches=3, seed=1)
    assert other["levels"][0]["batches"] != level["batches"]
    # The action-space view of the same batches: per-batch medians, summarised over the batches.
    assert len(level["action_batches"]) == 3
    for b in level["action_batches"]:
        assert b["td3_norm"] > 0 and b["reward_norm"] > 0 and b["value_norm"] > 0
        assert -1.0 <= b["cosine"] <= 1.0 and -1.0 <= b["toward_zero"] <= 1.0
    zero = [b["toward_zero"] for b in level["action_batches"]]
    assert level["action_summary"]["toward_zero"] == {"median": np.median(zero), "min": min(zero),
                                                      "max": max(zero)}
    for b in level["child_batches"]:
        assert 0.0 <= b["saturated"] <= 1.0 and b["critic_slope"] > 0 and b["policy_slope"] >= 0
    # The goals table: the same batches, so the same |a| as the action-space table, batch by batch.
    (goals,) = result["goals"]
    assert (goals["level"], goals["name"], goals["child"]) == (0, "top", "low")
    assert goals["lambda"] == pytest.approx(0.01)
    assert [b["goal_norm"] for b in goals["batches"]] == [b["goal_norm"]
                                                          for b in level["action_batches"]]
    assert all(0.0 <= b["at_bound"] <= 1.0 for b in goals["batches"])
    text = out.read_text()
    assert "## The goals each parent sets" in text
    assert "| top <- low | 0.01 | paper | 3 x 16 |" in text
    assert "## The child's actor path" in text
    assert "## In the parent's action space" in text
    assert text.count("| top <- low | 0.01 | paper |") == 2
    assert text.startswith("# Connected gradient against TD3 gradient")
    assert "Code: commit " in text and "Runs trained on: unknown (no cell.json) (1 run)." in text


def test_every_checkpoint_of_a_run(cg_gradients, point_run, tmp_path):
    root, _ = point_run
    js, png = tmp_path / "cg.json", tmp_path / "cg.png"
    assert cg_gradients.main([root, "--every_checkpoint", "--batches", "1", "--json", str(js),
                              "--plot", str(png)]) == 0
    steps = [r["step"] for r in json.loads(js.read_text())]
    assert steps == [200, 300]   # the two checkpoints the run keeps, oldest first
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_axis_follows_what_varies(cg_gradients):
    """Several checkpoints of one lambda: against the step; several lambdas at one step: against
    lambda (log axis)."""
    import matplotlib.pyplot as plt

    stat = {"median": 0.1, "min": 0.05, "max": 0.2}
    level = lambda lam: {"name": "top", "child": "low", "lambda": lam,     # noqa: E731
                         "summary": {"ratio": stat, "cosine": stat}}
    over_steps = cg_gradients.figure([{"step": s, "levels": [level(0.01)]} for s in (1000, 2000)])
    ax = over_steps.axes[0]
    assert (ax.get_xlabel(), ax.get_xscale()) == ("training step", "linear")
    assert list(ax.lines[0].get_xdata()) == [1000.0, 2000.0]
    over_lambda = cg_gradients.figure([{"step": 5, "levels": [level(lam)]} for lam in (0.01, 1.0)])
    ax = over_lambda.axes[0]
    assert (ax.get_xlabel(), ax.get_xscale()) == ("lambda", "log")
    plt.close("all")


def test_another_estimator_on_the_same_checkpoint(cg_gradients, point_run, tmp_path):
    root, _ = point_run
    own, critic = (cg_gradients.analyse_run(root, batches=2, estimator=e) for e in (None, "critic"))
    assert own["levels"][0]["estimator"] == "paper" and critic["levels"][0]["estimator"] == "critic"
    # Same batches, same TD3 part; the connected-gradient part is the other estimator's.
    for a, b in zip(own["levels"][0]["batches"], critic["levels"][0]["batches"]):
        assert a["td3_norm"] == pytest.approx(b["td3_norm"], rel=1e-6) and a["cg_norm"] != b["cg_norm"]
    assert all(b["reward_norm"] == 0 for b in critic["levels"][0]["action_batches"])
    js, md = tmp_path / "both.json", tmp_path / "both.md"
    assert cg_gradients.main([root, "--estimator", "paper", "--estimator", "critic", "--batches", "2",
                              "--json", str(js), "--out", str(md)]) == 0
    both = json.loads(js.read_text())
    # The goals are the checkpoint's, whatever the estimator: one row in their table, not two.
    assert both[0]["goals"] == both[1]["goals"]
    goal_table = md.read_text().split("## The goals each parent sets")[1]
    assert goal_table.count("| top <- low |") == 1
    assert [r["levels"][0]["estimator"] for r in both] == ["paper", "critic"]
    for a, b in zip(both[1]["levels"][0]["batches"], critic["levels"][0]["batches"]):
        assert a == pytest.approx(b, rel=1e-6)     # each estimator's batches drawn from the seed
    # The run trained with Eq. 14 and no correction: its replay holds no child actions.
    with pytest.raises(SystemExit, match="the 'reference' estimator needs the child's actions, which "
                                         "the replay of \\['top'\\] does not hold"):
        cg_gradients.main([root, "--estimator", "reference", "--batches", "1"])


def test_bad_input_is_named(cg_gradients, point_run, tmp_path):
    root, _ = point_run
    with pytest.raises(SystemExit, match="config.gin not found: is .* a run directory"):
        cg_gradients.main([str(tmp_path)])
    with pytest.raises(SystemExit, match="--checkpoint names one checkpoint"):
        cg_gradients.main([root, root, "--checkpoint", os.path.join(root, "checkpoints", "ckpt-300")])
    with pytest.raises(SystemExit, match="no complete checkpoint found at"):
        cg_gradients.main([root, "--checkpoint", str(tmp_path)])
    with pytest.raises(SystemExit, match="exclude each other"):
        cg_gradients.main([root, "--every_checkpoint", "--checkpoint", str(tmp_path)])
    with pytest.raises(SystemExit, match="no complete checkpoint in checkpoints/"):
        cg_gradients.main([str(tmp_path), "--every_checkpoint"])
    with pytest.raises(ValueError, match="batches must be >= 1"):
        cg_gradients.analyse_run(root, batches=0)


def test_runs_without_connected_gradients_get_a_row(cg_gradients):
    stat = {"median": 2.5, "min": 2.0, "max": 3.0}
    goals = [{"level": 0, "name": "top", "child": "low", "lambda": 0.0,
              "summary": {"goal_norm": stat, "at_bound": {"median": 0.0, "min": 0.0, "max": 0.5}}}]
    text = cg_gradients.markdown([{"run": "/x/point_maze/hrl_L2/seed0", "step": 200000, "levels": [],
                                   "goals": goals, "batches": 5}], command="c")
    assert "| point_maze/hrl_L2/seed0 | 200,000 | no connected gradients |" in text
    assert ("| point_maze/hrl_L2/seed0 | 200,000 | top <- low | 0 | 2.5 (2 to 3) | 0.00 (0.00 to 0.50) |"
            in text)


def test_goals_of_a_run_without_connected_gradients(cg_gradients, tmp_path):
    """A real HRL run (lambda 0): no gradient split, but its parent's goals are measured."""
    root = str(tmp_path / "hrl")
    bindings = TINY + TRAINING + ["train.total_steps = 200", "train.eval_interval = 200",
                                  "train.checkpoint_interval = 100"]
    proc = run_binary("train", root, ["envs/point_reach.gin", "methods/hrl.gin"], bindings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = cg_gradients.analyse_run(root, batches=2)
    assert result["levels"] == []
    (goals,) = result["goals"]
    assert (goals["name"], goals["lambda"], len(goals["batches"])) == ("top", 0.0, 2)
    assert all(b["goal_norm"] > 0 for b in goals["batches"])


def test_training_commit_of_sweep_cells(cg_gradients, tmp_path):
    cells = [tmp_path / f"seed{i}" for i in range(3)]
    for cell, code in zip(cells, [{"commit": "a" * 40, "dirty": False},
                                  {"commit": "a" * 40, "dirty": False},
                                  {"commit": "b" * 40, "dirty": True}]):
        cell.mkdir()
        (cell / "cell.json").write_text(json.dumps({"code": code}))
    results = [{"run": str(c), "step": 1, "levels": [], "batches": 1} for c in cells]
    text = cg_gradients.markdown(results, command="c", commit="x")
    assert ("Runs trained on: aaaaaaaaaa (2 runs); bbbbbbbbbb (with uncommitted changes) (1 run)."
            in text)
