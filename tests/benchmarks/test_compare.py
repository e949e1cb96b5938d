"""benchmarks.analysis.compare (evidence report) on synthetic run directories, against hand-computed
numbers and a brute-force bootstrap."""

import itertools
import json
import math

import numpy as np
import pytest

T2 = 4.302652729911275          # t(0.975, 2): three seeds
A, B = [16.0, 0.0], [0.0, 16.0]

# Per-target success of each run at evaluation steps 0, 100, 200 (return = 10 x success).
SUCCESS = {
    ("hrl_L2", 0): ([0, 0.5, 1.0], [0, 0, 0]),
    ("hrl_L2", 1): ([0, 1.0, 1.0], [0, 0, 0.5]),
    ("hrl_L2", 2): ([0, 0, 0.5], [0, 0, 0]),
    ("hrl_cg_L2_lam0.01", 0): ([0, 1.0, 1.0], [0, 0.5, 1.0]),
    ("hrl_cg_L2_lam0.01", 1): ([0, 1.0, 1.0], [0, 0.5, 0.5]),
    ("hrl_cg_L2_lam0.01", 5): ([0, 0, 0], [0, 0, 0]),          # no HRL seed 5: unpaired
    ("hrl_cg_L2_lam0.1", 0): ([0, 0, 1.0], [0, 0, 1.0]),       # one seed: no interval
}


def eval_rows(success_a, success_b):
    rows = []
    for step, a, b in zip([0, 100, 200], success_a, success_b):
        contexts = [{"context": c, "mean_return": 10 * s, "success_rate": s, "returns": [10 * s]}
                    for c, s in ((A, a), (B, b))]
        rows.append({"step": step, "mean_return": 5 * (a + b), "success_rate": (a + b) / 2,
                     "num_episodes": 2, "per_context": contexts})
    return rows


def train_rows(offset):
    """Episodes ending at steps 50, 100, 150, 200 with low-level intrinsic returns, and environment
    returns, 1, 3, 5, 7 + offset."""
    return [{"step": s, "episode": i + 1, "episode_return": v + offset,
             "intrinsic_returns": {"low": v + offset}} for i, (s, v) in enumerate(
                 zip([50, 100, 150, 200], [1.0, 3.0, 5.0, 7.0]))]


@pytest.fixture
def sweep_root(tmp_path):
    root = tmp_path / "sweep"
    for (group, seed), (a, b) in SUCCESS.items():
        run = root / "maze" / group / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "eval_metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval_rows(a, b)))
        offset = seed + (10 if group.startswith("hrl_cg") else 0)
        (run / "train_metrics.jsonl").write_text("".join(json.dumps(r) + "\n"
                                                         for r in train_rows(offset)))
        (run / "finished.json").write_text("{}")
    return root


@pytest.fixture
def index(compare, sweep_root):
    ev = compare.evidence
    groups = compare.aggregate.group_runs(ev.load_runs([sweep_root]))
    return ev.group_index(groups, "maze")


def test_best_window_mean_by_hand(compare):
    best = compare.evidence.best_window_mean
    assert best([1, 5, 2, 8, 0], 2) == 5.0                  # means 3, 3.5, 5, 4
    assert best([1, 5, 2, 8, 0], 5) == pytest.approx(3.2)
    assert math.isnan(best([1, 5, 2, 8, 0], 6))             # fewer episodes than the window
    assert best([1, float("nan"), 3], 2) == 2.0             # NaN (no value) left out first
    assert best([4.0], 1) == 4.0


def test_ci95_and_auc_by_hand(compare):
    p = compare.stats
    mean, half, n = p.ci95([1.0, 2.0, 3.0, 4.0, None, float("nan")])
    assert (n, mean) == (4, 2.5)
    assert half == pytest.approx(3.182446305284263 * math.sqrt(5 / 3) / 2)   # t(0.975, 3) s / sqrt(4)
    mean, half, n = p.ci95([7.0])
    assert (mean, n) == (7.0, 1) and math.isnan(half)
    assert p.ci95([])[2] == 0
    # Trapezoids 0.5 * 10 * (0 + 1) + 20 * 1 = 25 over a range of 30.
    assert p.normalized_auc([0, 10, 30], [0.0, 1.0, 1.0]) == pytest.approx(25 / 30)
    with pytest.raises(ValueError, match="at least 2"):
        p.normalized_auc([0], [1.0])
    with pytest.raises(ValueError, match="increasing"):
        p.normalized_auc([0, 0], [1.0, 1.0])


def test_bootstrap_matches_brute_force_enumeration(compare):
    p = compare.stats
    d = np.array([0.0, 1.0, 1.0, 2.0])
    # Every one of the 4^4 = 256 equally likely resamples of the four seeds.
    means = np.sort([d[list(idx)].mean() for idx in itertools.product(range(4), repeat=4)])
    atoms, counts = np.unique(means, return_counts=True)
    cdf = np.cumsum(counts) / means.size
    # The exact 2.5% and 97.5% quantiles; this case keeps them away from the CDF's jumps, so 10,000
    # Monte Carlo resamples land on the same atoms (the empirical CDF's std there is ~0.0016).
    low, high = atoms[np.argmax(cdf >= 0.025)], atoms[np.argmax(cdf >= 0.975)]
    assert np.min(np.abs(cdf - 0.025)) > 0.01 and np.min(np.abs(cdf - 0.975)) > 0.01
    assert (low, high) == (0.25, 1.75)
    for seed in range(5):
        mean, lo, hi = p.bootstrap_mean_ci(d, resamples=10000, seed=seed)
        assert mean == pytest.approx(1.0)
        assert (lo, hi) == (pytest.approx(low), pytest.approx(high)), seed
    assert p.bootstrap_mean_ci(d, resamples=10000, seed=0) == (mean, lo, hi)     # deterministic
    assert p.bootstrap_mean_ci([0.3], resamples=100) is None                     # one seed: none
    with pytest.raises(ValueError, match="finite"):
        p.bootstrap_mean_ci([0.0, float("nan")])


def test_per_target_table(compare, index):
    ev = compare.evidence
    runs = index["hrl_L2"]["runs"]
    assert list(runs[0]["targets"]) == ["all", "(16, 0)", "(0, 16)"]
    row = ev.target_row(runs, "(16, 0)", {"success": 0.5, "return": None})
    # Final success 1, 1, 0.5: mean 5/6, sample std sqrt(1/12), half-width t2 sqrt(1/12) / sqrt(3).
    mean, half, n = row["final_success"]
    assert (n, mean) == (3, pytest.approx(5 / 6))
    assert half == pytest.approx(T2 * math.sqrt(1 / 12) / math.sqrt(3))
    assert row["best_success"][0] == pytest.approx(5 / 6)
    assert row["final_return"][0] == pytest.approx(25 / 3)
    # Success >= 0.5 first at steps 100, 100, 200: mean 133.3, std 57.7 -> half t2 * 57.7 / sqrt(3).
    hit = row["steps_to_success"]
    assert (hit["reached"], hit["of"]) == (3, 3)
    assert hit["steps"][0] == pytest.approx(400 / 3)
    assert hit["steps"][1] == pytest.approx(T2 * math.sqrt(10000 / 3) / math.sqrt(3))
    other = ev.target_row(runs, "(0, 16)", {"success": 0.5})
    assert other["final_success"][0] == pytest.approx(1 / 6)
    hit = other["steps_to_success"]
    assert (hit["reached"], hit["steps"][0], hit["steps"][2]) == (1, 200.0, 1)


def test_intrinsic_binning_and_final_window(compare, index):
    ev = compare.evidence
    b = ev.binned(np.array([0, 50, 100, 101, 250, 260.0]), np.array([1, 2, 3, 4, 5, np.nan]), 100)
    np.testing.assert_array_equal(b["steps"], [0, 100, 200, 300])      # bins (k-1)w < s <= kw
    np.testing.assert_allclose(b["values"], [1, 2.5, 4, 5])            # NaN ignored
    runs = index["hrl_L2"]["runs"]
    assert ev.eval_interval(runs) == 100
    c = ev.intrinsic_curve(runs, "low", 100)
    # Bin 100: episodes at 50 and 100, (1 + 3) / 2 + seed = 2, 3, 4 -> mean 3, std 1.
    np.testing.assert_array_equal(c["steps"], [100, 200])
    np.testing.assert_allclose(c["mean"], [3.0, 7.0])
    assert c["high"][0] - c["mean"][0] == pytest.approx(T2 / math.sqrt(3))
    # Final window of 100 steps: episodes at 150, 200 -> 6 + seed.
    assert ev.intrinsic_row(runs, ["low"], 100)["low"][:1] == (pytest.approx(7.0),)
    assert ev.lower_levels(runs) == ["low"]


def test_paired_comparison_by_hand(compare, index):
    ev = compare.evidence
    cg, hrl = index["hrl_cg_L2_lam0.01"]["runs"], index["hrl_L2"]["runs"]
    assert ev.cg_pairs(index) == [("hrl_cg_L2_lam0.01", "hrl_L2"), ("hrl_cg_L2_lam0.1", "hrl_L2")]
    c = ev.paired_comparison(cg, hrl, "(0, 16)", "success", resamples=10000, seed=0)
    assert c["seeds"] == [0, 1] and c["steps"] == [0, 200]              # seed 5 has no partner
    # Final: seed 0 1 - 0, seed 1 0.5 - 0.5. AUC over 0..200: seed 0 (25 + 75) / 200 - 0 = 0.5,
    # seed 1 (25 + 50) / 200 - 25 / 200 = 0.25.
    assert c["final"]["differences"] == [1.0, 0.0] and c["final"]["mean"] == 0.5
    assert (c["final"]["higher"], c["final"]["lower"]) == (1, 0)
    np.testing.assert_allclose(c["auc"]["differences"], [0.5, 0.25])
    # Two seeds: resample means d0, (d0+d1)/2, d1 with probabilities 1/4, 1/2, 1/4 -> [min, max].
    assert c["final"]["ci"] == (0.0, 1.0)
    assert c["auc"]["ci"] == (pytest.approx(0.25), pytest.approx(0.5))
    one = ev.paired_comparison(index["hrl_cg_L2_lam0.1"]["runs"], hrl, "all", "success")
    assert one["seeds"] == [0] and one["final"]["ci"] is None


def test_paired_comparison_uses_common_steps(compare):
    ev = compare.evidence

    def run(seed, steps, success):
        s = np.asarray(success, float)
        return {"seed": seed, "steps": np.asarray(steps), "targets": {"all": {"success": s,
                                                                           "return": s}}}
    cg = [run(0, [0, 100, 200], [0, 1, 0]), run(1, [0, 100, 200], [0, 0.5, 0])]
    hrl = [run(0, [0, 100], [0, 0.5]), run(1, [0, 50, 100, 200], [0, 0, 0, 1])]   # seed 0 unfinished
    c = ev.paired_comparison(cg, hrl, "all", "success")
    assert c["steps"] == [0, 100]
    assert c["final"]["differences"] == [0.5, 0.5]
    np.testing.assert_allclose(c["auc"]["differences"], [0.25, 0.25])


def test_lambda_table(compare, index):
    ev = compare.evidence
    rows = ev.lambda_rows(index, ["low"], 100)[2]
    assert [(r["lambda"], r["seeds"]) for r in rows] == [(0.0, 3), (0.01, 3), (0.1, 1)]
    # HRL overall final success (1 + 0)/2, (1 + 0.5)/2, (0.5 + 0)/2 = 0.5, 0.75, 0.25.
    mean, half, _ = rows[0]["success"]
    assert mean == pytest.approx(0.5) and half == pytest.approx(T2 * 0.25 / math.sqrt(3))
    assert rows[0]["return"][0] == pytest.approx(5.0)
    assert rows[1]["success"][0] == pytest.approx((1 + 0.75 + 0) / 3)
    assert rows[2]["success"][:1] == (1.0,) and math.isnan(rows[2]["success"][1])
    # Intrinsic final window: 6 + seed (+10 for HRL-CG): seeds 0, 1, 5 -> 16, 17, 21.
    assert rows[1]["intrinsic"]["low"][0] == pytest.approx(18.0)
    from benchmarks.analysis import evidence_plots

    np.testing.assert_allclose(evidence_plots.lambda_positions([0.0, 0.01, 0.1]), [0.001, 0.01, 0.1])


def test_report_files(compare, sweep_root, tmp_path):
    reference = tmp_path / "ref.json"
    reference.write_text(json.dumps({"marks": [
        {"env": "maze", "group": "hrl_L2", "metric": "success", "target": [16, 0], "value": 0.9,
         "plus_minus": 0.05, "label": "paper 0.9"},
        {"env": "maze", "group": "hrl_cg_L2_lam0.01", "metric": "success", "target": None,
         "value": None, "label": "paper: none", "note": "no number in the text"},
        {"env": "maze", "group": "hrl_L2", "metric": "return", "target": None, "value": 4.0,
         "label": "paper 4"}]}))
    out = tmp_path / "out"
    result = compare.compare([sweep_root], out, success_threshold=0.5, reference=str(reference),
                             argv=["sweep", "--out_dir", "out"], train_window=2, iqm_resamples=50)
    text = (out / "compare.md").read_text()
    assert "Command: `python -m benchmarks.analysis.compare sweep --out_dir out`" in text
    assert "#### target (16, 0)" in text and "#### target (0, 16)" in text
    assert "| hrl_L2 | 3 (3) | 0.83 +/- 0.72 |" in text
    assert "133 +/- 143 (3/3)" in text and "| 200 (1/3) |" in text
    assert "n/a, needs >= 2 seeds" in text                   # lambda 0.1 has one seed
    assert "| (0, 16) | final success | +0.500 | [+0.000, +1.000] | 1 / 0 / 2 |" in text
    assert "### Lambda study, 2 levels" in text and "no number in the text" in text
    assert "| hrl_L2 | (16, 0) | success | 0.9 +/- 0.05 | 0.83 +/- 0.72 | 0.83 +/- 0.72 | - |" in text
    # Overall return: evaluation 5 (a + b), best = final = 5, 7.5, 2.5; training, the best mean of 2
    # consecutive episodes of 1, 3, 5, 7 + seed: 6, 7, 8 (4.303 x 1 / sqrt(3) = 2.48).
    assert "| hrl_L2 | all | return | 4 | 5.00 +/- 6.21 | 5.00 +/- 6.21 | 7.00 +/- 2.48 |" in text
    assert "| ours: training, best 2-episode mean |" in text
    # Per seed, overall target: success (a + b) / 2 and return 5 (a + b) at the last step.
    assert "| group | seed 0 | seed 1 | seed 2 | seed 5 |" in text
    assert "| hrl_L2 | 0.50 / 5.00 | 0.75 / 7.50 | 0.25 / 2.50 | - |" in text
    assert "| hrl_cg_L2_lam0.01 | 1.00 / 10 | 0.75 / 7.50 | - | 0.00 / 0.00 |" in text
    assert "| hrl_cg_L2_lam0.1 | 1.00 / 10 | - | - | - |" in text
    # Intrinsic final window per seed: episodes at 150 and 200, (5 + 7) / 2 + offset.
    assert "| group | level | seed 0 | seed 1 | seed 2 | seed 5 |" in text
    assert "| hrl_L2 | low | 6.00 | 7.00 | 8.00 | - |" in text
    assert "| hrl_cg_L2_lam0.01 | low | 16 | 17 | - | 21 |" in text
    record = json.loads((out / "compare.json").read_text())
    assert record["provenance"]["command"].endswith("sweep --out_dir out")
    assert record["envs"]["maze"]["bin"] == 100
    assert sorted(p.rsplit("/", 1)[1] for p in result["plots"]) == [
        "intrinsic_maze.png", "lambda_maze_L2.png", "targets_maze.png"]
    assert all((out / p.rsplit("/", 1)[1]).stat().st_size > 10000 for p in result["plots"])


def test_reference_file_errors(compare, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"marks": [{"env": "maze", "group": "g", "metric": "speed",
                                          "value": 1, "label": "x"}]}))
    with pytest.raises(ValueError, match="metric"):
        compare.evidence.load_reference(bad)
    bad.write_text(json.dumps({"marks": [{"env": "maze"}]}))
    with pytest.raises(ValueError, match="lacks"):
        compare.evidence.load_reference(bad)


def test_reference_marks_are_drawn(compare):
    from benchmarks.analysis import evidence_plots

    plt = evidence_plots.pyplot()
    fig, ax = plt.subplots()
    marks = [{"group": "hrl_L2", "value": 3.04, "plus_minus": 0.54, "label": "paper"},
             {"group": "hrl_L2", "value": None, "label": "no number"},
             {"group": "other", "value": 1.0, "plus_minus": None, "label": "not shown here"}]
    evidence_plots.draw_marks(ax, marks, ["hrl_L2"], {"hrl_L2": "C3"})
    assert [tuple(line.get_ydata()) for line in ax.lines] == [(3.04, 3.04)]
    assert len(ax.patches) == 1                     # the band of the one drawn mark
    patch = ax.patches[0]
    y = ax.transData.inverted().transform(patch.get_transform().transform(
        patch.get_path().vertices))[:, 1]
    assert min(y) == pytest.approx(2.5) and max(y) == pytest.approx(3.58)
    plt.close(fig)


def test_task_without_targets_or_success(compare, tmp_path):
    """AntGather-like runs: one empty context, null success: only "all" and the return."""
    root = tmp_path / "sweep"
    for group in ("hrl_L2", "hrl_cg_L2_lam0.01"):
        for seed in (0, 1):
            run = root / "gather" / group / f"seed{seed}"
            run.mkdir(parents=True)
            rows = [{"step": s, "mean_return": float(s + seed + (group != "hrl_L2")),
                     "success_rate": None, "per_context": [
                         {"context": [], "mean_return": 0.0, "success_rate": None, "returns": [0.0]}]}
                    for s in (0, 10)]
            (run / "eval_metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = compare.compare([root], tmp_path / "out", plot=False,
                             return_thresholds=["9", "gather=1.5"], iqm_resamples=50)
    assert compare.evidence.return_threshold(["9", "gather=1.5"], "maze") == 9.0
    a = result["analysis"]["gather"]
    assert a["targets"] == ["all"] and a["keys"] == ["return"]
    (p,) = a["paired"]
    assert [(r["target"], r["metric"]) for r in p["rows"]] == [("all", "return")]
    assert p["rows"][0]["final"]["differences"] == [1.0, 1.0]
    assert "final success" not in result["markdown"]
    # Return >= 1.5 first at step 10 (0 + seed + 1 for HRL-CG seed 1 is 2 at step 0).
    assert "| hrl_cg_L2_lam0.01 | 2 (0) | 11.50 +/- 6.35 | 11.50 +/- 6.35 | 5 +/- 64 (2/2) |" \
        in result["markdown"]
    assert "No run has intrinsic returns" in result["markdown"]


@pytest.mark.slow
def test_real_sweep_end_to_end(compare, sweep, tmp_path):
    """A real two-cell PointMaze sweep (3 levels, tiny settings, ~1-2 minutes), then the report."""
    config = {"envs": {"point_maze": "envs/point_maze.gin"}, "methods": ["hrl", "hrl_cg"],
              "num_levels": [3], "cg_lambda": [0.01], "seeds": [0],
              "gin_bindings": ["train.total_steps = 600", "train.eval_interval = 300",
                               "train.checkpoint_interval = 600", "train.log_interval = 600",
                               "train.eval_episodes_per_context = 1", "Agent.warmup_steps = 200",
                               "Level.actor_hidden_sizes = (16,)", "Level.critic_hidden_sizes = (16,)",
                               "ReplayBuffer.batch_size = 16", "Hierarchy.periods = 3",
                               "train.max_episode_steps = 100"]}
    root = tmp_path / "sweep"
    results = sweep.run_cells(sweep.expand_grid(config), root, max_parallel=2, threads=1,
                              log=lambda s: None)
    assert {v["status"] for v in results.values()} == {"ok"}
    result = compare.compare([root], tmp_path / "out", plot=True, iqm_resamples=50)
    a = result["analysis"]["point_maze"]
    assert a["targets"] == ["all", "(16, 0)", "(16, 16)", "(0, 16)"]
    assert a["levels"] == ["mid", "low"] and a["bin"] == 300
    assert set(a["intrinsic"]) == {"hrl_L3", "hrl_cg_L3_lam0.01"}
    for g in a["intrinsic"].values():
        assert set(g["per_seed"]) == {"mid", "low"} and all(
            list(per) == ["0"] and np.isfinite(per["0"]) for per in g["per_seed"].values())
    assert a["paired"][0]["rows"][0]["seeds"] == [0]
    assert "n/a, needs >= 2 seeds" in result["markdown"]
    assert len(result["plots"]) == 3          # targets, intrinsic, lambda (0 and 0.01 at 3 levels)


def test_campaign_status_names_what_is_not_finished(compare, sweep_root, tmp_path):
    # The grid plans HRL and HRL-CG (0.01) at 2 levels, seeds 0-2: hrl_cg seed 2 has no directory,
    # HRL seed 2 has rows but no finished.json (a run in progress). Cells the grid does not plan
    # (lambda 0.1, seed 5) are not counted.
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"envs": {"maze": "envs/point_maze.gin"}, "methods": ["hrl", "hrl_cg"],
                                "cg_lambda": [0.01], "seeds": 3}))
    for seed in (0, 1):
        (sweep_root / "maze" / "hrl_L2" / f"seed{seed}" / "cell.json").write_text(json.dumps(
            {"env": "maze", "method": "hrl", "num_levels": 2, "cg_lambda": 0.0, "seed": seed,
             "group": "hrl_L2", "code": {"commit": "a" * 40, "dirty": False}}))
    (sweep_root / "maze" / "hrl_L2" / "seed2" / "finished.json").unlink()
    status = compare.campaign_status([sweep_root], [str(grid)])
    assert status["planned"] == 6
    assert status["finished"] == ["maze/hrl_L2/seed0", "maze/hrl_L2/seed1",
                                  "maze/hrl_cg_L2_lam0.01/seed0", "maze/hrl_cg_L2_lam0.01/seed1"]
    assert status["unfinished"] == ["maze/hrl_L2/seed2"]
    assert status["missing"] == ["maze/hrl_cg_L2_lam0.01/seed2"]
    assert status["commits"] == {"aaaaaaaaaa": 2, "unknown": 2}     # cells without a cell.json
    out = tmp_path / "out"
    compare.compare([sweep_root], out, planned=[str(grid)], plot=False, iqm_resamples=50)
    text = (out / "compare.md").read_text()
    assert "6 cells. Finished: 4. Unfinished: 1 (maze/hrl_L2: seeds 2)." in text
    assert "running elsewhere): 1 (maze/hrl_cg_L2_lam0.01: seeds 2)." in text
    assert "commit(s): aaaaaaaaaa (2 cells), unknown (2 cells)." in text
    assert json.loads((out / "compare.json").read_text())["status"]["planned"] == 6


def test_two_roots_with_the_same_cells(compare, sweep_root, tmp_path):
    """A second sweep holding the same group names (another setting of the same method) is refused
    unless --suffix renames its groups; then each of its groups is paired with the same HRL seeds."""
    other = tmp_path / "other"
    for seed, (a, b) in ((0, ([0, 0, 0], [0, 0, 0])), (1, ([0, 0, 1.0], [0, 0, 1.0]))):
        run = other / "maze" / "hrl_cg_L2_lam0.01" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "eval_metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval_rows(a, b)))
        (run / "finished.json").write_text("{}")
    with pytest.raises(SystemExit, match="two runs are maze/hrl_cg_L2_lam0.01 seed 0: .*seed0 and "
                                         ".*other/maze/hrl_cg_L2_lam0.01/seed0"):
        compare.main([str(sweep_root), str(other), "--out_dir", str(tmp_path / "o"), "--no_plots"])
    out = tmp_path / "out"
    assert compare.main([str(sweep_root), str(other), "--out_dir", str(out), "--no_plots",
                         "--suffix", f"{other}=variant", "--iqm_resamples", "50"]) == 0
    text = (out / "compare.md").read_text()
    # The renamed group: final overall success 0 and 1 (return 0 and 10); the original unchanged.
    assert "| hrl_cg_L2_lam0.01_variant | 0.00 / 0.00 | 1.00 / 10 | - | - |" in text
    assert "| hrl_cg_L2_lam0.01 | 1.00 / 10 | 0.75 / 7.50 | - | 0.00 / 0.00 |" in text
    paired = json.loads((out / "compare.json").read_text())["envs"]["maze"]["paired"]
    assert {(p["hrl_cg"], p["hrl"]) for p in paired} >= {("hrl_cg_L2_lam0.01", "hrl_L2"),
                                                         ("hrl_cg_L2_lam0.01_variant", "hrl_L2")}
    rows = json.loads((out / "compare.json").read_text())["envs"]["maze"]["lambda"]["2"]
    assert [(r["lambda"], r["group"], r["variant"]) for r in rows] == [
        (0.0, "hrl_L2", ""), (0.01, "hrl_cg_L2_lam0.01", ""),
        (0.01, "hrl_cg_L2_lam0.01_variant", "variant"), (0.1, "hrl_cg_L2_lam0.1", "")]
    assert compare.main([str(sweep_root), str(other), "--out_dir", str(out),
                         "--suffix", f"{other}=variant", "--iqm_resamples", "50"]) == 0  # figures
    assert (out / "lambda_maze_L2.png").stat().st_size > 10000
    with pytest.raises(SystemExit, match="--suffix names .*nowhere.* not among the roots"):
        compare.main([str(sweep_root), "--out_dir", str(out), "--suffix", "nowhere=x"])
    with pytest.raises(SystemExit):
        compare.main([str(sweep_root), "--out_dir", str(out), "--suffix", f"{other}=bad name"])


def test_report_section_by_hand(compare, index):
    """The synthetic sweep of test_compare: overall final success (mean of the two targets at step
    200) of HRL seeds 0, 1, 2 is 0.5, 0.75, 0.25, of HRL-CG (lambda 0.01) seeds 0, 1, 5 1.0, 0.75, 0."""
    targets = ["all", "(16, 0)", "(0, 16)"]
    a = compare.iqm.section(index, targets, ["success"], resamples=100, seed=0)
    assert a["targets"] == ["(16, 0)", "(0, 16)"] and a["resamples"] == 100
    assert a["iqm"]["hrl_L2"]["success"]["all"][0] == pytest.approx(0.5)
    assert a["iqm"]["hrl_L2"]["success"]["all"][3] == 3
    assert a["iqm"]["hrl_cg_L2_lam0.1"]["success"]["all"] == (1.0, 1.0, 1.0, 1)
    (row,) = [r for r in a["improvement"] if r["hrl_cg"] == "hrl_cg_L2_lam0.01"]
    # 1.0 beats all three; 0.75 beats 0.5 and 0.25 and ties 0.75; 0 beats none: 5.5 of 9 pairs.
    assert row["success"]["all"][0] == pytest.approx(5.5 / 9)
    # Per target: (16, 0) HRL 1, 1, 0.5 against HRL-CG 1, 1, 0 -> 4/9; (0, 16) HRL 0, 0.5, 0
    # against 1, 0.5, 0 -> 6.5/9; averaged.
    assert row["success"]["targets"][0] == pytest.approx((4 + 6.5) / 18)
    text = "\n".join(compare.iqm.markdown(a, ["success"], compare._table))
    assert "IQM final success, over the 2 targets" in text
    assert "| hrl_L2 | 0.50 [" in text and "(n=3)" in text and "100 resamples" in text
    assert "| hrl_cg_L2_lam0.01 | hrl_L2 | 0.61 [" in text
