"""The evidence campaign's sweep configs expand to the cells the campaign needs, and the paper's
reference marks name groups those cells produce."""

import json
import pathlib

import pytest

CONFIGS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "configs"
BUDGET = "train.total_steps = 1000000"
# PointMaze's budget and schedule, from the pilot (configs/point_maze_pilot.json).
POINT_MAZE = ["train.total_steps = 200000", "train.eval_interval = 25000",
              "train.checkpoint_interval = 25000"]


def cells_of(sweep, name):
    return sweep.expand_grid(sweep.load_config(CONFIGS / f"{name}.json"))


def test_point_maze_suite(sweep):
    cells = cells_of(sweep, "point_maze_suite")
    groups = {c.group for c in cells}
    assert groups == {"flat_L1", "hrl_L2", "hrl_L3", "hrl_cg_L3_lam0.01"} | {
        f"hrl_cg_L2_lam{lam}" for lam in ("0.005", "0.01", "0.1")}
    for g in groups:                                   # 5 seeds per cell
        assert sorted(c.seed for c in cells if c.group == g) == [0, 1, 2, 3, 4]
    assert len(cells) == 35
    for c in cells:                        # the paper's settings: no override but budget and schedule
        assert c.gin_files[0] == "envs/point_maze.gin" and c.env == "point_maze"
        assert [b for b in c.gin_bindings if not b.startswith(
            ("build_hierarchy.num_levels", "Hierarchy.cg_lambda", "train.seed"))] == POINT_MAZE


def test_lambda_study_shares_cells_with_the_suite(sweep, tmp_path):
    cells = cells_of(sweep, "lambda_study")
    assert sorted({c.cg_lambda for c in cells}) == [0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0]
    assert {c.num_levels for c in cells} == {2} and len(cells) == 7 * 3
    assert {c.seed for c in cells} == {0, 1, 2}
    suite = {c.cell_id: c.args(tmp_path) for c in cells_of(sweep, "point_maze_suite")}
    shared = [c for c in cells if c.cell_id in suite]
    # Same directory, same command: a sweep into the same root runs these once.
    assert len(shared) == 12 and all(c.args(tmp_path) == suite[c.cell_id] for c in shared)


def test_estimator_study_differs_from_the_suite_in_the_estimator_only(sweep, tmp_path):
    cells = cells_of(sweep, "estimator_study")
    suite = {c.cell_id: c for c in cells_of(sweep, "point_maze_suite")}
    assert [c.cell_id for c in cells] == [f"point_maze/hrl_cg_L2_lam0.01/seed{s}" for s in range(3)]
    for c in cells:
        twin = suite[c.cell_id]
        assert c.gin_files == twin.gin_files
        assert c.gin_bindings == (*twin.gin_bindings, "Hierarchy.cg_estimator = 'reference'")


def test_ant_paper_budget(sweep):
    cells = cells_of(sweep, "ant_paper_budget")
    assert sorted(c.cell_id for c in cells) == sorted(
        f"{env}/{g}/seed{s}" for env, lam in (("ant_maze", "0.005"), ("ant_gather", "0.01"))
        for g in ("hrl_L2", f"hrl_cg_L2_lam{lam}") for s in (0, 1))
    assert all(c.gin_bindings[-1] == BUDGET for c in cells)


def test_paper_reference_marks_match_campaign_groups(sweep, compare):
    path = CONFIGS.parent / "paper_reference.json"
    marks = compare.evidence.load_reference(path)
    groups = {(c.env, c.group) for c in cells_of(sweep, "ant_paper_budget")}
    assert all((m["env"], m["group"]) in groups for m in marks)
    gather = {m["group"]: (m["value"], m["plus_minus"]) for m in marks if m["env"] == "ant_gather"}
    assert gather == {"hrl_cg_L2_lam0.01": (4.10, 0.18), "hrl_L2": (3.04, 0.54)}
    maze = [m for m in marks if m["env"] == "ant_maze"]
    assert {m["target"] for m in maze} == {"(16, 0)", "(16, 16)", "(0, 16)"}
    assert all(m["value"] is None and m["note"] for m in maze)
    assert json.loads(path.read_text())["description"]


@pytest.mark.parametrize("name, budget", [("point_maze_suite", "200k"), ("lambda_study", "200k"),
                                          ("estimator_study", "200k"), ("ant_paper_budget", "1M")])
def test_descriptions_name_the_budget(name, budget):
    config = json.loads((CONFIGS / f"{name}.json").read_text())
    assert config["name"] == name and budget in config["description"]


def test_pilot_is_a_prefix_of_the_suite(sweep):
    # The pilot's cells are the suite's seed-0 HRL and HRL-CG (0.01) cells, trained longer.
    pilot = cells_of(sweep, "point_maze_pilot")
    assert [c.cell_id for c in pilot] == ["point_maze/hrl_L2/seed0", "point_maze/hrl_cg_L2_lam0.01/seed0"]
    assert all(c.gin_bindings[-3:] == ("train.total_steps = 300000", "train.eval_interval = 25000",
                                       "train.checkpoint_interval = 25000") for c in pilot)
