"""Copies finished sweep cells' results into a results directory, and optionally commits them.

A campaign's cells train in a scratch root (checkpoints, logs, summaries: large, not committed); what a
report needs from each cell is small: its evaluation rows, its training rows (the lower levels'
intrinsic returns), its description and its final metrics. `collect_cell` copies those files of one
finished cell into `<results_dir>/<cell id>/`; with `commit=True` it also commits them at once to the
git repository that holds `results_dir`, so that an interrupted campaign loses at most the cells that
were running. `benchmarks/sweeps/sweep.py --results_dir` calls it as each cell finishes; run this script to
collect cells after the fact (for example from a cluster's shared filesystem):

  python -m benchmarks.sweeps.collect --root_dir runs/point_maze \
      --results_dir benchmarks/results/point_maze_suite/runs [--commit]

With `--partial`, the cells still running (or stopped) are collected instead, so that rows measured
so far survive the loss of a machine: their rows as they stand, `cell.json`, and `partial.json`
(the step of the last training row). Give them a results directory of their own (e.g.
`.../partial`): a partial copy is not a finished cell and must not be mistaken for one.

What is copied names no machine: the sweep's scratch root, wherever it appears in a copied file (the
training command in `cell.json`), is written as the placeholder `{root_dir}` (tests/test_repository.py
keeps absolute paths out of the repository). The training rows, the large file, are stored compressed
as `train_metrics.jsonl.gz` (gzip with a zero timestamp, so the same rows give the same bytes;
`hierarchy.run.metrics.read_jsonl` reads either); the other files stay plain.

The commit takes only the copied files (`git commit --only`): whatever else is staged in the
repository stays staged and out of the commit. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import re
import subprocess
import sys
import time
import zlib
from typing import List, Sequence

# The files of a finished cell a report reads (hierarchy/run/files.py names the run's own files; the
# sweep writes cell.json). A missing optional file is skipped.
REQUIRED_FILES = ("cell.json", "eval_metrics.jsonl", "finished.json")
OPTIONAL_FILES = ("train_metrics.jsonl",)
FINISHED = "finished.json"
COMPRESSED = ("train_metrics.jsonl",)   # stored as <name>.gz
ROOT_PLACEHOLDER = "{root_dir}"         # the sweep's scratch root in a copied file


class CollectError(RuntimeError):
    """A cell cannot be collected (unfinished, or a required file is missing)."""


def git_commit_of(path: pathlib.Path, *, exclude: Sequence[str] = ()) -> dict | None:
    """{"commit": HEAD's hash, "dirty": whether tracked files differ from it} of the git work tree that
    holds `path`, or None outside a git work tree (or without git). Changes under the `exclude`
    folders (relative to the top of the work tree, e.g. the reports a script is rewriting) do not
    make it dirty."""
    pathspec = [":/"] + [f":(top,exclude){folder}" for folder in exclude]
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(path), "status", "--porcelain",
                                 "--untracked-files=no", "--", *pathspec], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": head, "dirty": bool(status)}


def collect_cell(cell_dir: pathlib.Path, dest_dir: pathlib.Path,
                 root_dir: pathlib.Path | None = None) -> List[pathlib.Path]:
    """Copies a finished cell's report files from `cell_dir` into `dest_dir` (created), with the
    sweep's scratch root `root_dir` (default: the cell's parent) written as `{root_dir}` and the
    training rows gzipped; returns the copied paths. Raises CollectError, copying nothing, if the
    cell is unfinished or lacks a file."""
    cell_dir, dest_dir = pathlib.Path(cell_dir), pathlib.Path(dest_dir)
    root_dir = pathlib.Path(root_dir) if root_dir is not None else cell_dir.parent
    if not (cell_dir / FINISHED).is_file():
        raise CollectError(f"{cell_dir}: not finished ({FINISHED} missing)")
    missing = [name for name in REQUIRED_FILES if not (cell_dir / name).is_file()]
    if missing:
        raise CollectError(f"{cell_dir}: missing {', '.join(missing)}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    return [copy_file(cell_dir / name, dest_dir, root_dir)
            for name in (*REQUIRED_FILES, *OPTIONAL_FILES) if (cell_dir / name).is_file()]


def without_root(text: str, root_dir: pathlib.Path) -> str:
    """`text` with the scratch root `root_dir` (as given and resolved) written as `{root_dir}`
    wherever it is a whole path or a path's leading part."""
    for root in sorted({str(root_dir), str(pathlib.Path(root_dir).resolve())}, key=len,
                       reverse=True):
        text = re.sub(re.escape(root.rstrip("/")) + r"(?=[/\\\s\"']|$)", ROOT_PLACEHOLDER, text,
                      flags=re.M)
    return text


def _gzipped_holds(path: pathlib.Path, data: bytes) -> bool:
    """Whether the gzip file `path` exists and holds exactly `data` (gzip's header, e.g. the byte
    naming the compressing system, may differ between tools: equal rows are not rewritten)."""
    try:
        return gzip.decompress(path.read_bytes()) == data
    except (OSError, EOFError, zlib.error):
        return False


def copy_file(source: pathlib.Path, dest_dir: pathlib.Path, root_dir: pathlib.Path) -> pathlib.Path:
    """Copies one report file into `dest_dir` with the scratch root replaced (`without_root`),
    gzipped (mtime 0) if its name is in COMPRESSED; returns the written path. A reader never sees
    half a file."""
    text = without_root(source.read_text(errors="replace"), root_dir)
    name = source.name + (".gz" if source.name in COMPRESSED else "")
    data = text.encode()
    if name.endswith(".gz"):
        if _gzipped_holds(dest_dir / name, data):
            return dest_dir / name     # the same rows, compressed elsewhere: left as they are
        data = gzip.compress(data, compresslevel=9, mtime=0)
    tmp = dest_dir / f".{name}.tmp"
    tmp.write_bytes(data)
    tmp.replace(dest_dir / name)
    return dest_dir / name


PARTIAL = "partial.json"


def collect_partial_cell(cell_dir: pathlib.Path, dest_dir: pathlib.Path,
                         root_dir: pathlib.Path | None = None) -> List[pathlib.Path]:
    """Copies an unfinished cell's rows so far (`cell.json`, the metrics files present; as
    `collect_cell` copies them) into `dest_dir` and writes `partial.json` with the last training
    row's step; returns the paths. Raises CollectError for a finished cell or one without rows."""
    cell_dir, dest_dir = pathlib.Path(cell_dir), pathlib.Path(dest_dir)
    root_dir = pathlib.Path(root_dir) if root_dir is not None else cell_dir.parent
    if (cell_dir / FINISHED).is_file():
        raise CollectError(f"{cell_dir}: finished; collect it as a finished cell")
    rows = cell_dir / "train_metrics.jsonl"
    if not (cell_dir / "cell.json").is_file() or not rows.is_file():
        raise CollectError(f"{cell_dir}: no cell.json or no training rows yet")
    dest_dir.mkdir(parents=True, exist_ok=True)
    copied = [copy_file(cell_dir / name, dest_dir, root_dir)
              for name in ("cell.json", "eval_metrics.jsonl", "train_metrics.jsonl")
              if (cell_dir / name).is_file()]
    step = None
    with gzip.open(dest_dir / "train_metrics.jsonl.gz", "rt", errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        try:
            step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            break   # a torn last line of a running cell: the rows before it stand
    (dest_dir / PARTIAL).write_text(json.dumps({"step": step, "collected_at": time.time()}) + "\n")
    return copied + [dest_dir / PARTIAL]


def unfinished_cells(root_dir: pathlib.Path) -> List[str]:
    """Ids of every cell under `root_dir` that has a cell.json but no finished.json, sorted."""
    return sorted(str(p.parent.relative_to(root_dir)) for p in root_dir.rglob("cell.json")
                  if not (p.parent / FINISHED).is_file())


def commit_paths(paths: Sequence[pathlib.Path], message: str, *, attempts: int = 5) -> str:
    """Commits exactly `paths` (and nothing else staged) in the git repository holding them; returns
    the new commit's hash, or "" when the files were already committed unchanged. Retries while
    another git process holds the repository's index lock."""
    paths = [pathlib.Path(p).resolve() for p in paths]
    if not paths:
        raise ValueError("nothing to commit")
    repo = subprocess.run(["git", "-C", str(paths[0].parent), "rev-parse", "--show-toplevel"],
                          capture_output=True, text=True, check=True).stdout.strip()
    rel = [str(p.relative_to(repo)) for p in paths]
    git = ["git", "-C", repo]
    for attempt in range(attempts):
        add = subprocess.run([*git, "add", "--", *rel], capture_output=True, text=True)
        if add.returncode == 0:
            changed = subprocess.run([*git, "diff", "--cached", "--quiet", "--", *rel])
            if changed.returncode == 0:
                return ""
            done = subprocess.run([*git, "commit", "--quiet", "--only", "-m", message, "--", *rel],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                                      check=True).stdout.strip()
            error = done.stderr
        else:
            error = add.stderr
        if "index.lock" not in error or attempt == attempts - 1:
            raise subprocess.CalledProcessError(1, "git commit", stderr=error)
        time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def collect(root_dir: pathlib.Path, results_dir: pathlib.Path, cell_ids: Sequence[str], *,
            commit: bool = False, log=print) -> List[str]:
    """Collects each finished cell of `cell_ids` (under `root_dir`) into `results_dir`, committing
    each one on its own when `commit`; returns the ids collected. Unfinished cells are skipped."""
    done = []
    for cell_id in cell_ids:
        try:
            copied = collect_cell(root_dir / cell_id, results_dir / cell_id, root_dir)
        except CollectError as e:
            log(f"skip {cell_id}: {e}")
            continue
        if commit:
            sha = commit_paths(copied, f"Campaign results: {cell_id} finished")
            log(f"collected {cell_id}" + (f", committed {sha[:10]}" if sha else ", unchanged"))
        else:
            log(f"collected {cell_id}")
        done.append(cell_id)
    return done


def finished_cells(root_dir: pathlib.Path) -> List[str]:
    """Ids (paths relative to `root_dir`) of every finished cell under it, sorted."""
    return sorted(str(p.parent.relative_to(root_dir)) for p in root_dir.rglob(FINISHED)
                  if (p.parent / REQUIRED_FILES[0]).is_file())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root_dir", required=True, help="the sweep's root_dir")
    p.add_argument("--results_dir", required=True, help="where each cell's files go")
    p.add_argument("--commit", action="store_true", help="commit each collected cell on its own")
    p.add_argument("--partial", action="store_true",
                   help="collect the unfinished cells' rows so far instead (one commit for all)")
    args = p.parse_args(argv)
    root = pathlib.Path(args.root_dir).resolve()
    if not root.is_dir():
        raise SystemExit(f"--root_dir {root}: not a directory")
    if args.partial:
        results, copied, ids = pathlib.Path(args.results_dir).resolve(), [], unfinished_cells(root)
        for cell_id in ids:
            try:
                copied += collect_partial_cell(root / cell_id, results / cell_id, root)
            except CollectError as e:
                print(f"skip {cell_id}: {e}")
        if args.commit and copied:
            sha = commit_paths(copied, f"Campaign results: partial rows of {len(ids)} running cells")
            print(f"committed {sha[:10]}" if sha else "unchanged")
        print(f"{len(ids)} unfinished cells collected as partial rows")
        return 0
    ids = finished_cells(root)
    done = collect(root, pathlib.Path(args.results_dir).resolve(), ids, commit=args.commit)
    print(f"{len(done)} of {len(ids)} finished cells collected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
