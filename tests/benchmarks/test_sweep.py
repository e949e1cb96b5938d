"""benchmarks.sweeps.sweep: grid expansion, skip/resume logic and parallel runs (Ray tasks on a local Ray)
with a fake binary."""

import json
import sys

import pytest
from sweep_fakes import CONFIG, FAKE_TRAIN


@pytest.fixture
def fake_command(tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    return [sys.executable, str(script)]


def test_expand_grid_counts_and_names(sweep):
    cells = sweep.expand_grid(CONFIG)
    # Per env: flat 1 x 2 seeds, hrl 2 levels x 2 seeds, hrl_cg 2 levels x 2 lambdas x 2 seeds.
    assert len(cells) == 2 * (2 + 4 + 8)
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == len(ids)
    assert ids[:4] == ["maze/flat_L1/seed0", "maze/flat_L1/seed1", "maze/hrl_L2/seed0",
                       "maze/hrl_L2/seed1"]
    assert "reach/hrl_cg_L3_lam0.005/seed1" in ids
    assert {c.cg_lambda for c in cells if c.method == "hrl"} == {0.0}
    assert {c.cg_lambda for c in cells if c.method == "flat"} == {None}
    assert {c.num_levels for c in cells if c.method == "flat"} == {1}


def test_cell_arguments(sweep, tmp_path):
    cells = {c.cell_id: c for c in sweep.expand_grid(CONFIG)}
    args = cells["reach/hrl_cg_L3_lam0.005/seed1"].args(tmp_path)
    assert args[:2] == ["--root_dir", str(tmp_path / "reach/hrl_cg_L3_lam0.005/seed1")]
    files = [args[i + 1] for i, a in enumerate(args) if a == "--gin_file"]
    bindings = [args[i + 1] for i, a in enumerate(args) if a == "--gin_bindings"]
    assert files == ["envs/point_reach.gin", "methods/hrl_cg.gin"]
    # The grid's bindings come before the config's extras, which therefore win in gin.
    assert bindings == ["build_hierarchy.num_levels = 3", "Hierarchy.cg_lambda = 0.005",
                        "train.seed = 1", "train.eval_interval = 10", "train.total_steps = 100"]
    flat = cells["maze/flat_L1/seed0"].args(tmp_path)
    assert "methods/flat.gin" in flat
    assert not any("cg_lambda" in a for a in flat)


def test_levels_and_lambda_per_env(sweep):
    config = dict(CONFIG, num_levels=[1, 2], cg_lambda={"maze": [0.005], "reach": [0.01, 0.02]},
                  methods=["hrl", "hrl_cg"], seeds=[7])
    ids = [c.cell_id for c in sweep.expand_grid(config)]
    assert ids == ["maze/hrl_L2/seed7", "maze/hrl_cg_L2_lam0.005/seed7", "reach/hrl_L2/seed7",
                   "reach/hrl_cg_L2_lam0.01/seed7", "reach/hrl_cg_L2_lam0.02/seed7"]


def test_exclude_groups(sweep):
    config = dict(CONFIG, envs={"maze": "m.gin"}, seeds=1, env_gin_bindings={},
                  exclude=["hrl_cg_L3_lam0.005", "flat_L.*", "hrl_L3"])
    assert [c.group for c in sweep.expand_grid(config)] == [
        "hrl_L2", "hrl_cg_L2_lam0.005", "hrl_cg_L2_lam0.01", "hrl_cg_L3_lam0.01"]
    # A pattern matches the whole group name: "hrl_L" alone excludes nothing.
    assert len(sweep.expand_grid(dict(config, exclude=["hrl_L"]))) == 7


@pytest.mark.parametrize("change, message", [
    ({"methods": ["hiro"]}, "methods"),
    ({"cg_lambda": [0.0]}, "cg_lambda"),
    ({"num_levels": [1], "methods": ["hrl"]}, "num_levels >= 2"),
    ({"seeds": 0}, "seeds"),
    ({"colour": "red"}, "unknown config keys"),
    ({"envs": {}}, "envs"),
    ({"env_gin_bindings": {"gather": []}}, "unknown envs"),
    ({"cg_lambda": {"maze": [0.01]}}, "one entry per env"),
    ({"exclude": "hrl_L2"}, "exclude must be a list"),
    ({"exclude": ["hrl_cg_L(2"]}, "not a regex"),
])
def test_config_errors(sweep, change, message):
    with pytest.raises(ValueError, match=message):
        sweep.expand_grid(dict(CONFIG, **change))


def test_cell_status(sweep, tmp_path):
    cell = tmp_path / "cell"
    assert sweep.cell_status(cell) == "new"
    cell.mkdir()
    (cell / "cell.json").write_text("{}")
    (cell / "train.log").write_text("crashed before writing anything")
    (cell / ".lock").write_text("")
    (cell / "attempts.jsonl").write_text("")
    assert sweep.cell_status(cell) == "new"
    (cell / "checkpoints").mkdir()
    assert sweep.cell_status(cell) == "resume"
    (cell / "finished.json").write_text("{}")
    assert sweep.cell_status(cell) == "finished"


def test_cell_status_with_a_longer_total(sweep, tmp_path):
    cell = tmp_path / "cell"
    cell.mkdir()
    (cell / "finished.json").write_text(json.dumps({"step": 100}))
    assert sweep.cell_status(cell, 200) == "extend"
    assert sweep.cell_status(cell, 100) == "finished" and sweep.cell_status(cell) == "finished"
    (cell / "finished.json").write_text("{}")        # no step recorded: nothing to compare
    assert sweep.cell_status(cell, 200) == "finished"


def test_cell_total_steps_is_the_last_binding(sweep):
    cells = sweep.expand_grid(dict(CONFIG, gin_bindings=["train.total_steps = 100",
                                                         "train.total_steps = 2_000"]))
    assert {c.total_steps for c in cells} == {2000}
    assert {c.total_steps for c in sweep.expand_grid(dict(CONFIG, gin_bindings=[]))} == {None}
    cell = sweep.expand_grid(dict(CONFIG, gin_bindings=["train.total_steps = %STEPS"]))[0]
    with pytest.raises(ValueError, match="sets no integer"):
        assert cell.total_steps


def test_without_total_steps_keeps_every_other_binding(sweep):
    from benchmarks.sweeps import grid
    bindings = ["train.total_steps = 100", " train.total_steps=5", "train.seed = 1",
                "train.total_steps_extra = 3", "Level.gamma = 0.99"]
    assert [grid.binding_name(b) for b in bindings] == [
        "train.total_steps", "train.total_steps", "train.seed", "train.total_steps_extra", "Level.gamma"]
    assert sweep.without_total_steps(bindings) == ["train.seed = 1", "train.total_steps_extra = 3",
                                                   "Level.gamma = 0.99"]


def test_extend_reruns_finished_cells_that_the_grid_makes_longer(sweep, local_ray, tmp_path,
                                                                   fake_command):
    config = dict(CONFIG, envs={"maze": "envs/point_maze.gin"}, methods=["hrl"], num_levels=[2],
                  seeds=1, env_gin_bindings={}, gin_bindings=["train.total_steps = 200"])
    cells = sweep.expand_grid(config)             # maze/hrl_L2/seed0
    root = tmp_path / "sweep"
    (root / "maze/hrl_L2/seed0").mkdir(parents=True)
    (root / "maze/hrl_L2/seed0/finished.json").write_text(json.dumps({"step": 100}))
    skipped = sweep.run_cells(cells, root, command=fake_command, log=lambda s: None)
    assert skipped["maze/hrl_L2/seed0"]["status"] == "skipped"      # without extend
    logs = []
    results = sweep.run_cells(cells, root, command=fake_command, extend=True, log=logs.append)
    assert results["maze/hrl_L2/seed0"]["status"] == "ok"
    assert logs[0] == "1 cells: 0 finished (skipped), 0 to resume, 0 new, 1 to extend"
    call = json.loads((root / "maze/hrl_L2/seed0/calls.jsonl").read_text().splitlines()[0])
    assert call["args"][-1] == "--extend" and "train.total_steps = 200" in call["args"]


def test_extend_needs_a_total_in_the_grid(sweep, tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(dict(CONFIG, gin_bindings=[])))
    with pytest.raises(SystemExit, match="--extend needs train.total_steps"):
        sweep.main(["--config", str(path), "--root_dir", str(tmp_path / "r"), "--extend", "--dry_run"])


def _collected(results, cell, *, step=100, bindings=None):
    """A collected copy of `cell` in `results` as `collect.collect_cell` leaves it."""
    copy = results / cell.cell_id
    copy.mkdir(parents=True)
    meta = dict(cell.metadata(), gin_bindings=bindings if bindings is not None
                else list(cell.gin_bindings))
    (copy / "cell.json").write_text(json.dumps(meta))
    (copy / "eval_metrics.jsonl").write_text("")
    (copy / "finished.json").write_text(json.dumps({"step": step}))
    return copy


def test_sweep_status_of_collected_cells(sweep, tmp_path):
    cells = sweep.expand_grid(dict(CONFIG, envs={"maze": "m.gin"}, methods=["hrl"], num_levels=[2],
                                   seeds=3, env_gin_bindings={}))      # total_steps = 100
    root, results = tmp_path / "root", tmp_path / "results"
    done, other, missing = cells
    _collected(results, done)
    assert sweep.sweep_status(done, root, results) == "collected"
    assert sweep.sweep_status(done, root) == "new"                   # no results_dir: nothing known
    assert sweep.sweep_status(missing, root, results) == "new"
    # root_dir holds the run itself: it decides, whatever the copy says.
    (root / done.cell_id / "checkpoints").mkdir(parents=True)
    assert sweep.sweep_status(done, root, results) == "resume"
    # A copy of another configuration is refused, naming it.
    _collected(results, other, step=50, bindings=[*other.gin_bindings[:-1], "train.total_steps = 50"])
    with pytest.raises(sweep.CollectedCellError, match=f"{other.cell_id} of another configuration.*"
                       "only train.total_steps differs: --extend"):
        sweep.sweep_status(other, root, results)
    # With --extend only the total may differ; a copy that finished short of the new total cannot be
    # trained on without its checkpoints, one that reached it is collected.
    with pytest.raises(sweep.CollectedCellError, match="finished at 50 steps .* extending it to 100"):
        sweep.sweep_status(other, root, results, extend=True)
    (results / other.cell_id / "finished.json").write_text(json.dumps({"step": 100}))
    assert sweep.sweep_status(other, root, results, extend=True) == "collected"
    # Other gin files: no hint at --extend.
    copy = _collected(results, missing)
    (copy / "cell.json").write_text(json.dumps(dict(missing.metadata(), gin_files=["other.gin"])))
    with pytest.raises(sweep.CollectedCellError, match="another configuration") as refused:
        sweep.sweep_status(missing, root, results)
    assert "--extend" not in str(refused.value) and "other.gin" in str(refused.value)
    # A damaged copy (no cell.json) is refused too.
    (results / other.cell_id / "cell.json").unlink()
    with pytest.raises(sweep.CollectedCellError, match="cannot be read"):
        sweep.sweep_status(other, root, results)


def test_a_new_root_does_not_retrain_collected_cells(sweep, local_ray, tmp_path, fake_command):
    config = dict(CONFIG, envs={"maze": "envs/point_maze.gin"}, methods=["flat"], seeds=2,
                  env_gin_bindings={})
    cells = sweep.expand_grid(config)             # maze/flat_L1/seed0, seed1
    results = tmp_path / "results"
    first = sweep.run_cells(cells[:1], tmp_path / "root1", command=fake_command,
                            results_dir=results, log=lambda s: None)
    assert first["maze/flat_L1/seed0"]["status"] == "ok"
    copied = {p.name: p.read_bytes() for p in (results / "maze/flat_L1/seed0").iterdir()}
    # The scratch root is lost (a new machine): the same sweep into a new root trains only seed 1.
    logs = []
    second = sweep.run_cells(cells, tmp_path / "root2", command=fake_command, results_dir=results,
                             log=logs.append)
    assert logs[0] == ("2 cells: 0 finished (skipped), 1 collected in results_dir (skipped), "
                       "0 to resume, 1 new")
    assert {k: v["status"] for k, v in second.items()} == {"maze/flat_L1/seed0": "skipped",
                                                         "maze/flat_L1/seed1": "ok"}
    assert not (tmp_path / "root2/maze/flat_L1/seed0").exists()
    assert {p.name: p.read_bytes() for p in (results / "maze/flat_L1/seed0").iterdir()} == copied
    assert (results / "maze/flat_L1/seed1/finished.json").exists()


def test_main_refuses_a_results_dir_of_another_grid(sweep, tmp_path, capsys):
    grid = dict(CONFIG, envs={"m": "m.gin"}, methods=["flat"], seeds=1, env_gin_bindings={})
    results = tmp_path / "results"
    _collected(results, sweep.expand_grid(grid)[0])
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    root = tmp_path / "root"
    assert sweep.main(["--config", str(path), "--root_dir", str(root), "--results_dir", str(results),
                       "--dry_run"]) == 0
    assert capsys.readouterr().out.startswith("[collected] ")
    path.write_text(json.dumps(dict(grid, gin_bindings=["train.total_steps = 200"])))
    with pytest.raises(SystemExit, match="refusing to run the sweep: .*m/flat_L1/seed0 of another"):
        sweep.main(["--config", str(path), "--root_dir", str(root), "--results_dir", str(results)])
    assert not root.exists()                      # refused before anything was written


def test_run_skips_finished_resumes_unfinished(sweep, local_ray, tmp_path, fake_command):
    config = dict(CONFIG, envs={"maze": "envs/point_maze.gin"}, methods=["flat", "hrl"],
                  num_levels=[2], env_gin_bindings={})
    cells = sweep.expand_grid(config)             # 4 cells
    root = tmp_path / "sweep"
    (root / "maze/flat_L1/seed0").mkdir(parents=True)
    (root / "maze/flat_L1/seed0/finished.json").write_text("{}")
    (root / "maze/hrl_L2/seed1/checkpoints").mkdir(parents=True)   # an interrupted run
    logs = []
    results = sweep.run_cells(cells, root, command=fake_command, max_parallel=2, log=logs.append)
    assert results["maze/flat_L1/seed0"]["status"] == "skipped"
    assert {k: v["status"] for k, v in results.items() if k != "maze/flat_L1/seed0"} == {
        "maze/flat_L1/seed1": "ok", "maze/hrl_L2/seed0": "ok", "maze/hrl_L2/seed1": "ok"}
    assert logs[0] == "4 cells: 1 finished (skipped), 1 to resume, 2 new"
    assert not (root / "maze/flat_L1/seed0/calls.jsonl").exists()
    call = json.loads((root / "maze/hrl_L2/seed1/calls.jsonl").read_text().splitlines()[0])
    assert "train.seed = 1" in call["args"] and "methods/hrl.gin" in call["args"]
    meta = json.loads((root / "maze/hrl_L2/seed1/cell.json").read_text())
    assert (meta["method"], meta["num_levels"], meta["cg_lambda"], meta["seed"]) == ("hrl", 2, 0.0, 1)
    assert "fake_train.py" in meta["command"]
    # A second run of the same sweep launches nothing.
    again = sweep.run_cells(cells, root, command=fake_command, max_parallel=2, log=lambda s: None)
    assert all(v["status"] == "skipped" for v in again.values())
    assert len((root / "maze/hrl_L2/seed0/calls.jsonl").read_text().splitlines()) == 2


def test_parallel_limit_and_failures(sweep, local_ray, tmp_path, fake_command):
    config = dict(CONFIG, envs={"maze": "m.gin", "fail": "f.gin"}, methods=["flat"], seeds=3,
                  env_gin_bindings={})
    cells = sweep.expand_grid(config)             # 6 cells, 3 of them fail
    root = tmp_path / "sweep"
    results = sweep.run_cells(cells, root, command=fake_command, max_parallel=2, log=lambda s: None)
    assert sorted(k for k, v in results.items() if v["status"] == "failed") == [
        f"fail/flat_L1/seed{s}" for s in range(3)]
    assert all(v["returncode"] == 3 for k, v in results.items() if k.startswith("fail"))
    # Never more than 2 runs at once.
    spans = []
    for cell in cells:
        lines = (root / cell.cell_id / "calls.jsonl").read_text().splitlines()
        spans.append((json.loads(lines[0])["start"], json.loads(lines[1])["end"]))
    assert len(spans) == 6
    for start, _ in spans:
        assert sum(s <= start < e for s, e in spans) <= 2
    for cell in cells:
        assert (root / cell.cell_id / "train.log").exists()


def test_main_dry_run_and_exit_code(sweep, local_ray, tmp_path, fake_command, capsys):
    config_path = tmp_path / "grid.json"
    config_path.write_text(json.dumps(dict(CONFIG, envs={"fail": "f.gin"}, methods=["flat"],
                                           seeds=1, env_gin_bindings={})))
    root = tmp_path / "sweep"
    assert sweep.main(["--config", str(config_path), "--root_dir", str(root), "--dry_run"]) == 0
    out = capsys.readouterr().out
    assert "[new]" in out and "--gin_file f.gin" in out and "1 cells" in out
    assert not root.exists()
    # --seed_major: every group's seed 0 before any seed 1, groups in the grid's order.
    grid = tmp_path / "grid2.json"
    grid.write_text(json.dumps(dict(CONFIG, envs={"m": "m.gin"}, methods=["flat", "hrl"],
                                    num_levels=[2], seeds=2, env_gin_bindings={})))
    assert sweep.main(["--config", str(grid), "--root_dir", str(root), "--dry_run", "--seed_major"]) == 0
    order = [line.split("--root_dir ")[1].split()[0].split("/sweep/")[1]
             for line in capsys.readouterr().out.splitlines() if line.startswith("[new]")]
    assert order == ["m/flat_L1/seed0", "m/hrl_L2/seed0", "m/flat_L1/seed1", "m/hrl_L2/seed1"]
    command = " ".join(fake_command)
    import signal

    handler_before = signal.getsignal(signal.SIGTERM)
    code = sweep.main(["--config", str(config_path), "--root_dir", str(root),
                       "--train_command", command])
    assert code == 1
    # The sweep's SIGTERM handler is the caller's again afterwards (main can run in a process).
    assert signal.getsignal(signal.SIGTERM) is handler_before
    assert json.loads((root / "sweep.json").read_text())["cells"] == ["fail/flat_L1/seed0"]


def test_shipped_configs_expand(sweep):
    import pathlib

    from hierarchy.run.config import resolve_gin_file

    configs = sorted((pathlib.Path(sweep.__file__).parents[1] / "configs").glob("*.json"))
    assert configs
    for path in configs:
        cells = sweep.expand_grid(sweep.load_config(path))
        assert cells
        # Every gin file a cell names is a packaged one (found under gin/ from any directory).
        for name in {f for cell in cells for f in cell.gin_files}:
            assert resolve_gin_file(name).endswith(name) and not pathlib.Path(name).exists(), name
