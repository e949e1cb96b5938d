"""benchmarks.analysis.aggregate on synthetic runs, checked against hand-computed statistics."""

import json
import math

import numpy as np
import pytest


def write_run(root, cell_id, rows, *, finished=True, meta=None, cut_off_line=False):
    run_dir = root / cell_id
    run_dir.mkdir(parents=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if cut_off_line:
        text += '{"step": 999, "mean_ret'          # a crash while writing: no newline
    (run_dir / "eval_metrics.jsonl").write_text(text)
    if finished:
        (run_dir / "finished.json").write_text("{}")
    if meta is not None:
        (run_dir / "cell.json").write_text(json.dumps(meta))
    return run_dir


def rows(steps, returns, success):
    return [{"step": s, "mean_return": r, "success_rate": u, "num_episodes": 4}
            for s, r, u in zip(steps, returns, success)]


@pytest.fixture
def sweep_root(tmp_path):
    root = tmp_path / "sweep"
    meta = dict(env="maze", method="hrl", num_levels=2, cg_lambda=0.0, group="hrl_L2")
    # Three seeds of one group; seed 2 is unfinished (stops at step 100).
    write_run(root, "maze/hrl_L2/seed0", rows([0, 100, 200], [1, 3, 5], [0, 0.5, 1]),
              meta=dict(meta, seed=0))
    write_run(root, "maze/hrl_L2/seed1", rows([0, 100, 200], [2, 4, 3], [0, 1, 1]),
              meta=dict(meta, seed=1), cut_off_line=True)
    write_run(root, "maze/hrl_L2/seed2", rows([0, 100], [0, 2], [0, 0]), finished=False,
              meta=dict(meta, seed=2))
    # A group without cell.json (named by its path), evaluated at different steps per seed.
    write_run(root, "maze/flat_L1/seed0", rows([0, 100], [0, 10], [0, 0]))
    write_run(root, "maze/flat_L1/seed1", rows([0, 50, 100], [0, 1, 2], [0, 0, 0]))
    # A task without success (null success rates).
    write_run(root, "gather/hrl_cg_L2_lam0.01/seed0", rows([0, 100], [1.0, 2.0], [None, None]))
    return root


def test_load_and_group(aggregate, sweep_root):
    runs = aggregate.load_runs([sweep_root])
    groups = aggregate.group_runs(runs)
    assert list(groups) == [("gather", "hrl_cg_L2_lam0.01"), ("maze", "flat_L1"), ("maze", "hrl_L2")]
    hrl = groups[("maze", "hrl_L2")]
    assert [r["seed"] for r in hrl] == [0, 1, 2]
    assert [r["finished"] for r in hrl] == [True, True, False]
    np.testing.assert_array_equal(hrl[1]["steps"], [0, 100, 200])   # cut-off line ignored
    flat = groups[("maze", "flat_L1")]
    assert [r["seed"] for r in flat] == [0, 1]                       # from the path "seed<k>"
    assert np.isnan(groups[("gather", "hrl_cg_L2_lam0.01")][0]["success"]).all()


def test_table_statistics(aggregate, sweep_root):
    groups = aggregate.group_runs(aggregate.load_runs([sweep_root]))
    s = aggregate.summarize_group(groups[("maze", "hrl_L2")], {"return": 4.0, "success": 0.5})
    assert s["seeds"] == 3 and s["finished"] == 2
    # Final returns 5, 3, 2: mean 10/3, sample variance (25/9 + 1/9 + 16/9) / 2 = 7/3.
    mean, std, n = s["final_return"]
    assert n == 3 and mean == pytest.approx(10 / 3) and std == pytest.approx(math.sqrt(7 / 3))
    # Best returns 5, 4, 2: mean 11/3, the same spread.
    mean, std, _ = s["best_return"]
    assert mean == pytest.approx(11 / 3) and std == pytest.approx(math.sqrt(7 / 3))
    # Final success 1, 1, 0: mean 2/3, sample variance (1/9 + 1/9 + 4/9) / 2 = 1/3.
    mean, std, _ = s["final_success"]
    assert mean == pytest.approx(2 / 3) and std == pytest.approx(math.sqrt(1 / 3))
    assert s["best_success"][0] == pytest.approx(2 / 3)
    # Return >= 4 first at step 200 (seed 0) and 100 (seed 1); seed 2 never.
    hit = s["steps_to_return"]
    assert (hit["reached"], hit["of"]) == (2, 3)
    assert hit["steps"][0] == pytest.approx(150) and hit["steps"][1] == pytest.approx(math.sqrt(5000))
    # Success >= 0.5 at step 100 for seeds 0 and 1.
    hit = s["steps_to_success"]
    assert (hit["reached"], hit["steps"][:2]) == (2, (100.0, 0.0))


def test_steps_to_threshold_never_and_first_crossing(aggregate):
    run = {"steps": np.array([0, 10, 20, 30]), "return": np.array([0.0, 2.0, 1.0, 3.0])}
    assert aggregate.steps_to_threshold(run, "return", 2.0) == 10
    assert aggregate.steps_to_threshold(run, "return", 2.5) == 30
    assert aggregate.steps_to_threshold(run, "return", 9.0) is None


def test_curve_mean_and_band(aggregate, sweep_root):
    groups = aggregate.group_runs(aggregate.load_runs([sweep_root]))
    c = aggregate.curve(groups[("maze", "hrl_L2")], "return")
    np.testing.assert_array_equal(c["steps"], [0, 100, 200])
    np.testing.assert_array_equal(c["n"], [3, 3, 2])
    # Step 100: values 3, 4, 2 -> mean 3, std 1, half-width t(0.975, 2) / sqrt(3) = 4.30265 / sqrt(3).
    assert c["mean"][1] == pytest.approx(3.0)
    assert c["high"][1] - c["mean"][1] == pytest.approx(4.302652729911275 / math.sqrt(3))
    # Step 200: seed 2 has stopped; values 5, 3 -> mean 4, std sqrt(2), half t(0.975, 1) = 12.7062.
    assert c["mean"][2] == pytest.approx(4.0)
    assert c["low"][2] == pytest.approx(4.0 - 12.706204736174694)


def test_curve_interpolates_between_evaluations(aggregate, sweep_root):
    groups = aggregate.group_runs(aggregate.load_runs([sweep_root]))
    c = aggregate.curve(groups[("maze", "flat_L1")], "return")
    np.testing.assert_array_equal(c["steps"], [0, 50, 100])
    # Seed 0 is evaluated at 0 and 100 only: 5 at step 50 by interpolation; seed 1 has 1 there.
    np.testing.assert_allclose(c["mean"], [0.0, 3.0, 6.0])


def test_single_seed_has_no_band(aggregate):
    run = {"steps": np.array([0, 10]), "return": np.array([1.0, 2.0])}
    c = aggregate.curve([run], "return")
    np.testing.assert_array_equal(c["low"], c["mean"])
    assert aggregate.mean_std([2.0]) == (2.0, 0.0, 1)
    mean, _, n = aggregate.mean_std([])
    assert n == 0 and math.isnan(mean)


def test_outputs(aggregate, sweep_root, tmp_path):
    out = tmp_path / "out"
    result = aggregate.aggregate([sweep_root], out, success_threshold=0.5,
                                 return_thresholds=["maze=4", "1.5"])
    text = (out / "summary.md").read_text()
    assert "## maze" in text and "## gather" in text
    assert "| hrl_L2 | 3 (2) |" in text
    assert "3.33 +/- 1.53" in text                 # final return of hrl_L2
    assert "150 +/- 71 (2/3)" in text              # steps to return >= 4
    gather = text.split("## gather")[1].split("## ")[0]
    assert "success" not in gather                 # no success columns without a success metric
    assert "steps to return >= 1.5" in gather      # the bare threshold applies to other envs
    record = json.loads((out / "summary.json").read_text())
    assert {g["group"] for g in record["groups"]} == {"hrl_L2", "flat_L1", "hrl_cg_L2_lam0.01"}
    assert sorted(p.rsplit("/", 1)[1] for p in result["plots"]) == [
        "curves_gather.png", "curves_maze.png", "summary_gather.png", "summary_maze.png"]
    assert all((out / p.rsplit("/", 1)[1]).stat().st_size > 0 for p in result["plots"])


def test_no_runs_raises(aggregate, tmp_path):
    with pytest.raises(FileNotFoundError):
        aggregate.aggregate([tmp_path], tmp_path / "out")


def test_number_of_levels_of_a_group(aggregate):
    """Curves are split into a row per number of levels: from cell.json, else the group's name."""
    assert aggregate._num_levels("custom", [{"num_levels": 3}]) == 3
    assert aggregate._num_levels("hrl_cg_L2_lam0.1", [{}]) == 2
    assert aggregate._num_levels("my_group", [{}]) == 0
