"""The status of a sweep's cells: what a cell directory holds ("new", "resume", "finished",
"extend"), and whether a finished copy collected into a results directory stands for the cell
("collected") or is another configuration's (`CollectedCellError`). Imports no TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

from benchmarks.sweeps import cell_runner
from benchmarks.sweeps.grid import Cell, without_total_steps

ROOT = pathlib.Path(__file__).resolve().parents[2]   # the repository


def _run_files():
    """`hierarchy/run/files.py` (the names of a run directory's files) loaded on its own: importing it
    through the `hierarchy` package would load TensorFlow into the sweep's driver (~5 s, ~0.5 GB)."""
    path = ROOT / "hierarchy" / "run" / "files.py"
    spec = importlib.util.spec_from_file_location("hierarchy_run_files_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FINISHED = _run_files().FINISHED

CELL_FILE = "cell.json"
# What the sweep itself writes into a cell directory before the binary writes anything.
_SWEEP_FILES = (CELL_FILE, cell_runner.LOG_FILE, cell_runner.LOCK_FILE, cell_runner.ATTEMPTS_FILE)


def cell_status(cell_dir: pathlib.Path, total_steps: int | None = None) -> str:
    """"finished" (finished.json present), "extend" (finished, at fewer steps than `total_steps`),
    "resume" (the dir holds something) or "new"."""
    if (cell_dir / FINISHED).exists():
        if total_steps is None:
            return "finished"
        step = json.loads((cell_dir / FINISHED).read_text()).get("step")
        return "extend" if step is not None and step < total_steps else "finished"
    if cell_dir.is_dir() and any(p.name not in _SWEEP_FILES for p in cell_dir.iterdir()):
        return "resume"
    return "new"


class CollectedCellError(ValueError):
    """results_dir holds a finished copy of a cell that this sweep cannot treat as that cell's result."""


def collected_copy(cell: Cell, results_dir: pathlib.Path, *, extend: bool = False) -> dict | None:
    """The final metrics (its finished.json) of `cell`'s collected, finished copy in `results_dir`
    (`<results_dir>/<cell id>/`, written by `collect.collect_cell`); None if there is none.

    Raises CollectedCellError if that copy ran another configuration: its cell.json names other gin
    files or bindings (with `extend`, a different `train.total_steps` is allowed), or it has no
    readable cell.json or finished.json."""
    copy = pathlib.Path(results_dir) / cell.cell_id
    if not (copy / FINISHED).exists():
        return None
    try:
        meta = json.loads((copy / CELL_FILE).read_text())
        finished = json.loads((copy / FINISHED).read_text())
    except (OSError, ValueError) as e:
        raise CollectedCellError(f"{copy} holds a finished cell whose {CELL_FILE} or {FINISHED} "
                                 f"cannot be read ({e}); repair or remove it") from None

    want = list(cell.gin_files), list(cell.gin_bindings)
    have = list(meta.get("gin_files", [])), list(meta.get("gin_bindings", []))
    only_total = have[0] == want[0] and without_total_steps(have[1]) == without_total_steps(want[1])
    if not (only_total if extend else have == want):
        hint = "use another --results_dir, or the grid that produced it"
        if only_total:
            hint = ("only train.total_steps differs: --extend trains it on, from the root_dir that "
                    "holds its checkpoints, or " + hint)
        raise CollectedCellError(
            f"{copy} holds a finished cell {cell.cell_id} of another configuration (gin files "
            f"{have[0]}, bindings {have[1]}; this sweep's: {want[0]}, {want[1]}); {hint}")
    return finished


def sweep_status(cell: Cell, root_dir: pathlib.Path, results_dir: pathlib.Path | None = None, *,
                 extend: bool = False) -> str:
    """What the sweep does with `cell`: `cell_status` of its directory in root_dir (with `extend`,
    against the cell's `train.total_steps`), except that a cell root_dir holds nothing of, whose
    finished copy is in `results_dir`, is "collected" (skipped).

    Raises CollectedCellError for a collected copy of another configuration (`collected_copy`),
    and, with `extend`, for a collected cell to be trained longer whose checkpoints root_dir lacks."""
    status = cell_status(root_dir / cell.cell_id, cell.total_steps if extend else None)
    finished = None if results_dir is None else collected_copy(cell, results_dir, extend=extend)
    if finished is None or status != "new":
        return status          # root_dir holds the run itself, or there is no copy: root_dir decides
    step = finished.get("step")
    if extend and cell.total_steps is not None and (step is None or step < cell.total_steps):
        raise CollectedCellError(
            f"{cell.cell_id} finished at {step} steps (its copy in {results_dir}), but "
            f"{root_dir / cell.cell_id} holds none of its checkpoints: extending it to "
            f"{cell.total_steps} steps needs the root_dir it trained in")
    return "collected"
