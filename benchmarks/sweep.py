"""Sweep runner: environment x method x number of levels x lambda x seed, one training run per cell.

Each cell is a normal run of the training binary in its own root_dir:

  python -m hierarchy.bin.train --root_dir <root>/<env>/<method>_L<levels>[_lam<lambda>]/seed<seed> \
      --gin_file <env gin> --gin_file methods/<method>.gin [--gin_file <extra> ...] \
      --gin_bindings 'build_hierarchy.num_levels = <levels>' \
      [--gin_bindings 'Hierarchy.cg_lambda = <lambda>'] --gin_bindings 'train.seed = <seed>' \
      [--gin_bindings <extra> ...]

The grid is a JSON file (see benchmarks/configs/); its keys:
  envs          {name: gin file (path, or name under gin/)}            required
  methods       subset of ["flat", "hrl", "hrl_cg"]                     required
  num_levels    levels of the hierarchical methods, e.g. [2, 3]        default [2]
  cg_lambda     lambdas of "hrl_cg" (each > 0), or {env name: lambdas}  default [0.01]
  seeds         list of seeds, or an int n for range(n)                 default [0]
  gin_files     extra gin files for every cell                          default []
  gin_bindings  extra bindings for every cell (after the grid's own)    default []
  env_gin_bindings  {env name: [bindings]} extra bindings per env       default {}
Expansion: "flat" gives one cell per env and seed (1 level, no lambda); "hrl" one per levels >= 2 in
`num_levels` (lambda 0); "hrl_cg" one per levels >= 2 and lambda. A cell's metadata is written to
`<cell dir>/cell.json` (read by benchmarks/aggregate.py), its output to `<cell dir>/train.log`.

Re-running the same sweep skips finished cells (`finished.json` present) and restarts unfinished ones,
which the binary resumes from their checkpoints. Cells run in parallel processes, at most
`--max_parallel` at a time. Do not run two sweeps on the same root at once.

Usage (repository root):
  python benchmarks/sweep.py --config benchmarks/configs/smoke.json --root_dir runs/smoke \
      --max_parallel 2 [--dry_run] [--filter hrl_cg] [--threads_per_cell 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time
from typing import Dict, List, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `hierarchy` importable
    sys.path.insert(0, str(ROOT))

from hierarchy.run_files import FINISHED  # noqa: E402

METHODS = ("flat", "hrl", "hrl_cg")
METHOD_GIN = {"flat": "methods/flat.gin", "hrl": "methods/hrl.gin", "hrl_cg": "methods/hrl_cg.gin"}
CELL_FILE = "cell.json"
LOG_FILE = "train.log"
DEFAULT_COMMAND = (sys.executable, "-m", "hierarchy.bin.train")
_CONFIG_KEYS = {"envs", "methods", "num_levels", "cg_lambda", "seeds", "gin_files", "gin_bindings",
                "env_gin_bindings", "name", "description"}


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    env: str
    method: str
    num_levels: int
    cg_lambda: float | None   # None for flat
    seed: int
    gin_files: tuple
    gin_bindings: tuple

    @property
    def group(self) -> str:
        """The cell's name without the seed: `<method>_L<levels>[_lam<lambda>]`."""
        name = f"{self.method}_L{self.num_levels}"
        if self.method == "hrl_cg":
            name += f"_lam{self.cg_lambda:g}"
        return name

    @property
    def cell_id(self) -> str:
        """Path of the cell's root_dir relative to the sweep root: `<env>/<group>/seed<seed>`."""
        return f"{self.env}/{self.group}/seed{self.seed}"

    def args(self, root_dir: pathlib.Path) -> List[str]:
        """The training binary's arguments."""
        out = ["--root_dir", str(root_dir / self.cell_id)]
        for f in self.gin_files:
            out += ["--gin_file", f]
        for b in self.gin_bindings:
            out += ["--gin_bindings", b]
        return out

    def metadata(self) -> dict:
        return {"env": self.env, "method": self.method, "num_levels": self.num_levels,
                "cg_lambda": self.cg_lambda, "seed": self.seed, "group": self.group,
                "gin_files": list(self.gin_files), "gin_bindings": list(self.gin_bindings)}


def _seeds(value) -> List[int]:
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"seeds: an int means range(n) and must be >= 1, got {value}")
        return list(range(value))
    if not isinstance(value, list) or not value or not all(isinstance(s, int) for s in value):
        raise ValueError(f"seeds must be a non-empty list of ints or an int, got {value!r}")
    return value


def load_config(path: str | os.PathLike) -> dict:
    with open(path) as f:
        config = json.load(f)
    validate_config(config)
    return config


def validate_config(config: dict) -> None:
    """Raises ValueError naming what is wrong with a grid config."""
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
    envs = config.get("envs")
    if not isinstance(envs, dict) or not envs:
        raise ValueError("config needs 'envs': {name: gin file} with at least one entry")
    for name in envs:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"env name {name!r} must be usable as a directory name")
    methods = config.get("methods")
    if not isinstance(methods, list) or not methods or set(methods) - set(METHODS):
        raise ValueError(f"config 'methods' must be a non-empty subset of {list(METHODS)}, got "
                         f"{methods!r}")
    levels = config.get("num_levels", [2])
    if not all(isinstance(n, int) and n >= 1 for n in levels):
        raise ValueError(f"num_levels must be ints >= 1, got {levels!r}")
    if {"hrl", "hrl_cg"} & set(methods) and not any(n >= 2 for n in levels):
        raise ValueError(f"methods hrl/hrl_cg need some num_levels >= 2, got {levels!r}")
    lambdas = config.get("cg_lambda", [0.01])
    if isinstance(lambdas, dict):
        if set(lambdas) != set(envs):
            raise ValueError(f"cg_lambda as a dict needs one entry per env {sorted(envs)}, got "
                             f"{sorted(lambdas)}")
        lambdas = [x for v in lambdas.values() for x in v]
    if not all(isinstance(x, (int, float)) and x > 0 for x in lambdas):
        raise ValueError(f"cg_lambda values must be > 0 (lambda 0 is method 'hrl'), got {lambdas!r}")
    _seeds(config.get("seeds", [0]))
    extra = config.get("env_gin_bindings", {})
    if set(extra) - set(envs):
        raise ValueError(f"env_gin_bindings names unknown envs {sorted(set(extra) - set(envs))}")


def expand_grid(config: dict) -> List[Cell]:
    """Every cell of the grid, in a stable order (env, method, levels, lambda, seed)."""
    validate_config(config)
    cells = []
    levels = sorted(set(config.get("num_levels", [2])))
    lambda_config = config.get("cg_lambda", [0.01])
    seeds = _seeds(config.get("seeds", [0]))
    extra_files = tuple(config.get("gin_files", []))
    extra_bindings = tuple(config.get("gin_bindings", []))
    for env, env_gin in config["envs"].items():
        env_bindings = tuple(config.get("env_gin_bindings", {}).get(env, []))
        lambdas = lambda_config[env] if isinstance(lambda_config, dict) else lambda_config
        lambdas = sorted(set(float(x) for x in lambdas))
        for method in METHODS:
            if method not in config["methods"]:
                continue
            if method == "flat":
                variants = [(1, None)]
            elif method == "hrl":
                variants = [(n, 0.0) for n in levels if n >= 2]
            else:
                variants = [(n, lam) for n in levels if n >= 2 for lam in lambdas]
            for n, lam in variants:
                for seed in seeds:
                    bindings = [f"build_hierarchy.num_levels = {n}"]
                    if lam is not None:
                        bindings.append(f"Hierarchy.cg_lambda = {lam!r}")
                    bindings.append(f"train.seed = {seed}")
                    cells.append(Cell(env=env, method=method, num_levels=n, cg_lambda=lam, seed=seed,
                                      gin_files=(env_gin, METHOD_GIN[method], *extra_files),
                                      gin_bindings=(*bindings, *env_bindings, *extra_bindings)))
    return cells


def cell_status(cell_dir: pathlib.Path) -> str:
    """"finished" (finished.json present), "resume" (the dir holds something) or "new"."""
    if (cell_dir / FINISHED).exists():
        return "finished"
    if cell_dir.is_dir() and any(p.name not in (CELL_FILE, LOG_FILE) for p in cell_dir.iterdir()):
        return "resume"
    return "new"


def _cell_env(threads: int) -> Dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + path if path else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads > 0:
        for key in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            env[key] = str(threads)
    return env


def run_cells(cells: Sequence[Cell], root_dir: pathlib.Path, *, command: Sequence[str] = DEFAULT_COMMAND,
              max_parallel: int = 1, threads: int = 0, poll_s: float = 1.0,
              log=print) -> Dict[str, dict]:
    """Runs every cell that is not finished, at most `max_parallel` at a time.

    Returns:
      cell_id -> {"status": "skipped" | "ok" | "failed", "returncode", "seconds"}.
    """
    if max_parallel < 1:
        raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
    results: Dict[str, dict] = {}
    pending = []
    for cell in cells:
        status = cell_status(root_dir / cell.cell_id)
        if status == "finished":
            results[cell.cell_id] = {"status": "skipped", "returncode": None, "seconds": 0.0}
        else:
            pending.append((cell, status))
    log(f"{len(cells)} cells: {len(cells) - len(pending)} finished (skipped), "
        f"{sum(s == 'resume' for _, s in pending)} to resume, {sum(s == 'new' for _, s in pending)} new")
    env = _cell_env(threads)
    running = {}   # cell_id -> (Popen, log file, start time)
    try:
        _run_loop(pending, running, results, root_dir, command, max_parallel, env, poll_s, log)
    finally:
        # Interrupted (Ctrl-C, SIGTERM): stop the cells still running; a later sweep resumes them.
        for proc, _, _ in running.values():
            if proc.poll() is None:
                proc.terminate()
        for cell_id, (proc, logf, _) in running.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logf.close()
            log(f"stopped {cell_id} (interrupted; re-run the sweep to resume it)")
    return results


def _run_loop(pending, running, results, root_dir, command, max_parallel, env, poll_s, log) -> None:
    total = len(pending)
    done = 0
    while pending or running:
        while pending and len(running) < max_parallel:
            cell, status = pending.pop(0)
            cell_dir = root_dir / cell.cell_id
            cell_dir.mkdir(parents=True, exist_ok=True)
            args = [*command, *cell.args(root_dir)]
            meta = dict(cell.metadata(), command=shlex.join(args))
            (cell_dir / CELL_FILE).write_text(json.dumps(meta, indent=1) + "\n")
            logf = open(cell_dir / LOG_FILE, "a")
            logf.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} ({status}): {shlex.join(args)}\n")
            logf.flush()
            proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            running[cell.cell_id] = (proc, logf, time.time())
            log(f"start  {cell.cell_id} ({status})")
        time.sleep(poll_s if running else 0)
        for cell_id, (proc, logf, start) in list(running.items()):
            rc = proc.poll()
            if rc is None:
                continue
            logf.close()
            del running[cell_id]
            done += 1
            finished = (root_dir / cell_id / FINISHED).exists()
            ok = rc == 0 and finished
            results[cell_id] = {"status": "ok" if ok else "failed", "returncode": rc,
                                "seconds": time.time() - start}
            tail = "" if ok else f" (see {root_dir / cell_id / LOG_FILE})"
            log(f"{'done' if ok else 'FAILED'} {cell_id}: rc {rc}, {time.time() - start:.0f} s "
                f"[{done}/{total}]{tail}")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="grid JSON (see benchmarks/configs/)")
    p.add_argument("--root_dir", required=True, help="where the cells' root_dirs go")
    p.add_argument("--max_parallel", type=int, default=1, help="cells run at once")
    p.add_argument("--threads_per_cell", type=int, default=0,
                   help="TF intra/inter-op threads per cell (0: TensorFlow's default)")
    p.add_argument("--filter", default="", help="regex: run only cells whose id matches")
    p.add_argument("--dry_run", action="store_true", help="print the cells and commands, run nothing")
    p.add_argument("--train_command", default="",
                   help="command prefix of the training binary (default: python -m hierarchy.bin.train)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    config = load_config(args.config)
    cells = expand_grid(config)
    if args.filter:
        cells = [c for c in cells if re.search(args.filter, c.cell_id)]
    root_dir = pathlib.Path(args.root_dir).resolve()
    command = shlex.split(args.train_command) if args.train_command else list(DEFAULT_COMMAND)
    if args.dry_run:
        for cell in cells:
            status = cell_status(root_dir / cell.cell_id)
            print(f"[{status}] {shlex.join([*command, *cell.args(root_dir)])}")
        print(f"{len(cells)} cells")
        return 0
    root_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminate)
    (root_dir / "sweep.json").write_text(json.dumps(
        {"config": config, "config_path": str(args.config),
         "cells": [c.cell_id for c in cells]}, indent=1) + "\n")
    try:
        results = run_cells(cells, root_dir, command=command, max_parallel=args.max_parallel,
                            threads=args.threads_per_cell, log=lambda s: print(s, flush=True))
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", flush=True)
        return 130
    failed = sorted(k for k, v in results.items() if v["status"] == "failed")
    print(f"{sum(v['status'] == 'ok' for v in results.values())} ran, "
          f"{sum(v['status'] == 'skipped' for v in results.values())} skipped, {len(failed)} failed"
          + (": " + ", ".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
