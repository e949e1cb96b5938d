"""benchmarks.sweeps.collect: copying finished cells' report files and committing each on its own, in a
real git repository; and the sweep doing it as each cell finishes."""

import gzip
import json
import subprocess
import sys

import pytest
from sweep_fakes import CONFIG, FAKE_TRAIN

from benchmarks.analysis import evidence
from hierarchy.run import metrics


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    (repo / "README").write_text("x\n")
    _git(repo, "add", "README")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def _cell(path, finished=True, train=True):
    path.mkdir(parents=True)
    (path / "cell.json").write_text(json.dumps({"seed": 0, "command": f"train --root_dir {path}"}))
    (path / "eval_metrics.jsonl").write_text('{"step": 10, "success_rate": 0.5}\n')
    if train:
        (path / "train_metrics.jsonl").write_text('{"step": 5}\n')
    (path / "checkpoints").mkdir()
    (path / "checkpoints" / "ckpt-1").write_text("large")
    if finished:
        (path / "finished.json").write_text('{"step": 10}\n')


def test_collect_cell_copies_report_files_only(collect, tmp_path):
    _cell(tmp_path / "root" / "a")
    copied = collect.collect_cell(tmp_path / "root" / "a", tmp_path / "out" / "a")
    assert sorted(p.name for p in copied) == ["cell.json", "eval_metrics.jsonl", "finished.json",
                                              "train_metrics.jsonl.gz"]
    assert sorted(p.name for p in (tmp_path / "out" / "a").iterdir()) == sorted(p.name for p in copied)
    assert (tmp_path / "out" / "a" / "eval_metrics.jsonl").read_text() == \
        '{"step": 10, "success_rate": 0.5}\n'
    # train_metrics.jsonl is optional; eval rows are not; an unfinished cell is refused.
    _cell(tmp_path / "root" / "b", train=False)
    assert len(collect.collect_cell(tmp_path / "root" / "b", tmp_path / "out" / "b")) == 3
    _cell(tmp_path / "root" / "c", finished=False)
    with pytest.raises(collect.CollectError, match="not finished"):
        collect.collect_cell(tmp_path / "root" / "c", tmp_path / "out" / "c")
    (tmp_path / "root" / "b" / "eval_metrics.jsonl").unlink()
    with pytest.raises(collect.CollectError, match="missing eval_metrics.jsonl"):
        collect.collect_cell(tmp_path / "root" / "b", tmp_path / "out" / "b2")
    assert not (tmp_path / "out" / "c").exists() and not (tmp_path / "out" / "b2").exists()


def test_commit_only_the_collected_files(collect, repo, tmp_path):
    # Something else is staged in the repository: it must stay staged and out of the commit.
    (repo / "other.txt").write_text("work in progress\n")
    _git(repo, "add", "other.txt")
    _cell(tmp_path / "root" / "env" / "hrl_L2" / "seed0")
    _cell(tmp_path / "root" / "env" / "hrl_L2" / "seed1", finished=False)
    results = repo / "results"
    done = collect.collect(tmp_path / "root", results, ["env/hrl_L2/seed0", "env/hrl_L2/seed1"],
                           commit=True, log=lambda s: None)
    assert done == ["env/hrl_L2/seed0"]
    files = _git(repo, "show", "--name-only", "--format=%s", "HEAD").splitlines()
    assert files[0] == "Campaign results: env/hrl_L2/seed0 finished"
    assert sorted(f for f in files[1:] if f) == [
        f"results/env/hrl_L2/seed0/{n}" for n in ("cell.json", "eval_metrics.jsonl", "finished.json",
                                                   "train_metrics.jsonl.gz")]
    assert _git(repo, "diff", "--cached", "--name-only") == "other.txt"
    # Collecting the same cell again commits nothing.
    head = _git(repo, "rev-parse", "HEAD")
    assert collect.commit_paths(sorted((results / "env/hrl_L2/seed0").iterdir()), "again") == ""
    assert _git(repo, "rev-parse", "HEAD") == head


def test_copies_name_no_machine_and_compress_the_training_rows(collect, tmp_path):
    # The campaign's cell.json names its scratch root; the copy names the placeholder instead,
    # whether the root was given as written or through a symbolic link.
    root = tmp_path / "scratch"
    _cell(root / "env" / "hrl_L2" / "seed0")
    (tmp_path / "link").symlink_to(root)
    rows = "".join(json.dumps({"step": s, "root": str(root)}) + "\n" for s in range(5, 500, 5))
    (root / "env/hrl_L2/seed0/train_metrics.jsonl").write_text(rows)
    out = tmp_path / "out"
    assert collect.collect(tmp_path / "link", out, ["env/hrl_L2/seed0"], log=lambda s: None)
    dest = out / "env" / "hrl_L2" / "seed0"
    meta = json.loads((dest / "cell.json").read_text())
    assert meta == {"seed": 0, "command": "train --root_dir {root_dir}/env/hrl_L2/seed0"}
    assert str(tmp_path) not in "".join(p.read_text() for p in dest.glob("*.json"))
    packed = (dest / "train_metrics.jsonl.gz").read_bytes()
    assert gzip.decompress(packed).decode() == rows.replace(str(root), "{root_dir}")
    assert packed[4:8] == b"\0\0\0\0"                  # mtime 0: the same rows, the same bytes
    assert len(packed) < len(rows) / 5
    # The library's reader and the evidence report's loader read the compressed rows.
    assert [r["step"] for r in metrics.read_jsonl(str(dest / "train_metrics.jsonl.gz"))][-1] == 495
    assert evidence.training_rows_file(dest).name == "train_metrics.jsonl.gz"
    assert evidence.training_rows_file(root / "env/hrl_L2/seed0").name == "train_metrics.jsonl"
    # Collecting again writes the same bytes; a root that is only a name's prefix stays.
    assert collect.collect(tmp_path / "link", out, ["env/hrl_L2/seed0"], log=lambda s: None)
    assert (dest / "train_metrics.jsonl.gz").read_bytes() == packed
    # The same rows compressed by another tool (another system byte in gzip's header) are left as
    # they are; other rows replace them.
    other_tool = packed[:9] + b"\x03" + packed[10:]
    (dest / "train_metrics.jsonl.gz").write_bytes(other_tool)
    assert collect.collect(tmp_path / "link", out, ["env/hrl_L2/seed0"], log=lambda s: None)
    assert (dest / "train_metrics.jsonl.gz").read_bytes() == other_tool
    (dest / "train_metrics.jsonl.gz").write_bytes(gzip.compress(b"{}\n", mtime=0))
    assert collect.collect(tmp_path / "link", out, ["env/hrl_L2/seed0"], log=lambda s: None)
    assert (dest / "train_metrics.jsonl.gz").read_bytes() == packed
    assert collect.without_root(f"{root}2/a {root}/a '{root}'", root) == \
        f"{root}2/a {{root_dir}}/a '{{root_dir}}'"


def test_git_commit_of(collect, repo, tmp_path):
    assert collect.git_commit_of(repo) == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False}
    # A change under an excluded folder (reports being rewritten) does not count; elsewhere it does,
    # also when asked from a subfolder.
    (repo / "results").mkdir()
    (repo / "results" / "report.md").write_text("old\n")
    _git(repo, "add", "results/report.md")
    _git(repo, "commit", "-q", "-m", "report")
    (repo / "results" / "report.md").write_text("new\n")
    assert collect.git_commit_of(repo, exclude=["results"])["dirty"] is False
    assert collect.git_commit_of(repo / "results", exclude=["results"])["dirty"] is False
    assert collect.git_commit_of(repo)["dirty"] is True
    (repo / "README").write_text("changed\n")
    assert collect.git_commit_of(repo / "results", exclude=["results"])["dirty"] is True
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    assert collect.git_commit_of(outside) is None


def test_main_collects_every_finished_cell(collect, tmp_path, capsys):
    _cell(tmp_path / "root" / "e" / "flat_L1" / "seed0")
    _cell(tmp_path / "root" / "e" / "flat_L1" / "seed1", finished=False)
    assert collect.main(["--root_dir", str(tmp_path / "root"), "--results_dir", str(tmp_path / "r")]) == 0
    assert "1 of 1 finished cells collected" in capsys.readouterr().out
    assert (tmp_path / "r" / "e" / "flat_L1" / "seed0" / "finished.json").exists()
    with pytest.raises(SystemExit, match="not a directory"):
        collect.main(["--root_dir", str(tmp_path / "nothing"), "--results_dir", str(tmp_path / "r")])


def test_sweep_commits_each_cell_as_it_finishes(sweep, local_ray, repo, tmp_path):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    config = dict(CONFIG, envs={"maze": "m.gin", "fail": "f.gin"}, methods=["flat"], seeds=2,
                  env_gin_bindings={})
    cells = sweep.expand_grid(config)           # 2 finish, 2 fail
    root, results = tmp_path / "sweep", repo / "results"
    logs = []
    out = sweep.run_cells(cells, root, command=[sys.executable, str(script)], max_parallel=2,
                          results_dir=results, commit_results=True, log=logs.append)
    assert sorted(k for k, v in out.items() if v["status"] == "ok") == ["maze/flat_L1/seed0",
                                                                     "maze/flat_L1/seed1"]
    subjects = _git(repo, "log", "--format=%s").splitlines()
    assert sorted(subjects[:2]) == ["Campaign results: maze/flat_L1/seed0 finished",
                                    "Campaign results: maze/flat_L1/seed1 finished"]
    assert not (results / "fail").exists()
    meta = json.loads((results / "maze/flat_L1/seed1/cell.json").read_text())
    # The cell records the commit of the code that ran it (this repository's checkout).
    assert meta["code"] is None or len(meta["code"]["commit"]) == 40
    assert meta["code_history"] == [meta["code"]]


def test_partial_collects_the_running_cells_rows_and_commits_them(collect, repo, tmp_path, capsys):
    root = tmp_path / "root"
    _cell(root / "e" / "flat_L1" / "seed0")                    # finished: not a partial cell
    _cell(root / "e" / "flat_L1" / "seed1", finished=False)
    running = root / "e" / "flat_L1" / "seed1"
    # Two whole rows and the torn start of a third, as a running cell's file can be read.
    (running / "train_metrics.jsonl").write_text('{"step": 5}\n{"step": 9}\n{"ste')
    out = repo / "partial"
    assert collect.main(["--root_dir", str(root), "--results_dir", str(out), "--partial",
                         "--commit"]) == 0
    assert "1 unfinished cells collected as partial rows" in capsys.readouterr().out
    dest = out / "e" / "flat_L1" / "seed1"
    assert sorted(p.name for p in dest.iterdir()) == ["cell.json", "eval_metrics.jsonl", "partial.json",
                                                      "train_metrics.jsonl.gz"]
    assert json.loads((dest / "cell.json").read_text())["command"] == \
        "train --root_dir {root_dir}/e/flat_L1/seed1"
    assert json.loads((dest / "partial.json").read_text())["step"] == 9
    assert not (out / "e" / "flat_L1" / "seed0").exists()
    assert "partial rows of 1 running cells" in _git(repo, "log", "-1", "--format=%s")
    assert _git(repo, "status", "--porcelain") == ""
    with pytest.raises(collect.CollectError, match="finished"):
        collect.collect_partial_cell(root / "e" / "flat_L1" / "seed0", tmp_path / "x")
