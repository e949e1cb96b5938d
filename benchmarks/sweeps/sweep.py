"""Sweep runner: environment x method x number of levels x lambda x seed, one training run per cell.

Each cell is a normal run of the training binary in its own root_dir:

  python -m hierarchy.bin.train --root_dir <root>/<env>/<method>_L<levels>[_lam<lambda>]/seed<seed> \
      --gin_file <env gin> --gin_file methods/<method>.gin [--gin_file <extra> ...] \
      --gin_bindings 'build_hierarchy.num_levels = <levels>' \
      [--gin_bindings 'Hierarchy.cg_lambda = <lambda>'] --gin_bindings 'train.seed = <seed>' \
      [--gin_bindings <extra> ...]

The grid is a JSON file (see benchmarks/configs/ and benchmarks/sweeps/grid.py, which expands it). A cell's
metadata is written to `<cell dir>/cell.json` (read by benchmarks/analysis/aggregate.py), its output to
`<cell dir>/train.log`.

Ray runs the cells: each is a Ray task (`--cpus_per_cell` CPUs, optional `--gpus_per_cell`, a
fraction shares a GPU) that runs the binary as a child process (benchmarks/sweeps/cell_runner.py). Without
`--address` the sweep starts a local Ray on this machine (127.0.0.1 only, no dashboard, no usage
statistics, `--max_parallel` x `--cpus_per_cell` CPUs, default all cores); with `--address host:port`
it joins a running cluster, and `--root_dir` must then be a path every node reaches (a shared
filesystem), as must the repository and its Python environment (the same paths on every node).

Faults: a cell whose worker or node dies, or whose binary is stopped by a signal (SIGTERM: it
checkpoints and exits), is retried up to `--max_retries` times and resumes from its checkpoint; the
cell's lock file (`<cell dir>/.lock`, held by the attempt and by its binary) keeps a retry from
starting while the previous attempt's binary still writes. A cell that fails by itself (exit status
1 or 2: diverged, bad configuration) is not retried. Re-running the same sweep skips finished cells
(`finished.json` present) and resumes the others from their checkpoints. Each attempt is recorded in
`<cell dir>/attempts.jsonl`. With `--extend`, a finished cell whose `train.total_steps` binding is now
larger than the step it finished at trains on to it (the binary's --extend); so does an unfinished one.

With `--results_dir`, the results directory is a record of finished cells too: a cell that root_dir
holds nothing of (a new scratch root, say, after the machine that trained it was replaced) but whose
collected copy in results_dir is finished is skipped (status "collected"), not trained again. A
collected copy of another configuration (other gin files or bindings) is refused by name before
anything runs, so that no committed result is overwritten by a different run; so is `--extend` of a
collected cell whose checkpoints are not in root_dir.

Usage (repository root):
  python -m benchmarks.sweeps.sweep --config benchmarks/configs/smoke.json --root_dir runs/smoke \
      --max_parallel 2 --threads_per_cell 1 [--dry_run] [--filter hrl_cg]
  python -m benchmarks.sweeps.sweep --config benchmarks/configs/paper.json --root_dir /shared/runs/paper \
      --address 10.0.0.1:6379 --cpus_per_cell 2 --threads_per_cell 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time
from typing import Dict, Sequence

from benchmarks.sweeps import cell_runner, collect, status
from benchmarks.sweeps.grid import (  # noqa: F401  (the grid's names, as the sweep's)
    METHOD_GIN,
    METHODS,
    Cell,
    expand_grid,
    load_config,
    validate_config,
    without_total_steps,
)
from benchmarks.sweeps.status import (  # noqa: F401  (the cells' status, as the sweep's)
    CollectedCellError,
    cell_status,
    collected_copy,
    sweep_status,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]   # the repository
CELL_FILE = status.CELL_FILE
FINISHED = status.FINISHED
LOG_FILE = cell_runner.LOG_FILE
# The node's own Python runs the binary (cell_runner.PYTHON is replaced by it on the node).
DEFAULT_COMMAND = (cell_runner.PYTHON, "-m", "hierarchy.bin.train")


def _cell_env(threads: int) -> Dict[str, str]:
    """Variables set for every cell's binary on top of its node's environment."""
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if threads > 0:
        for key in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            env[key] = str(threads)
    return env


# --------------------------------------------------------------------------------------------------
# Ray.

def _is_loopback(address: str | None) -> bool:
    host = (address or "127.0.0.1").rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _ray_environment(address: str | None) -> None:
    """Environment variables Ray reads when it is imported (call before the first `import ray`)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if _is_loopback(address):
        # Ray turns a loopback node address into the machine's routable one unless it believes it
        # runs on one machine only; this keeps every connection of a local Ray (or of a driver joining
        # a cluster at 127.0.0.1) on the loopback interface.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def start_ray(address: str | None = None, *, num_cpus: int = 1, object_store_mb: int = 100,
              temp_dir: str | None = None, log=print):
    """Starts a local Ray on this machine (`address` None) or joins the cluster at `address`.

    Local Ray binds to 127.0.0.1 only, without dashboard or usage statistics, with `num_cpus` CPUs
    and a small object store (cells pass only a few small values). Reuses a Ray already initialised
    in this process. Returns the `ray` module.
    """
    _ray_environment(address)
    import ray
    from ray import cloudpickle

    # cell_runner is a script next to this one, not an installed module: ship its code by value.
    cloudpickle.register_pickle_by_value(cell_runner)
    if ray.is_initialized():
        return ray
    start = time.time()
    if address:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        log(f"joined the Ray cluster at {address} in {time.time() - start:.1f} s: "
            f"{ray.cluster_resources().get('CPU', 0):g} CPUs, {len(ray.nodes())} node(s)")
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 object_store_memory=object_store_mb * 1024 * 1024, _temp_dir=temp_dir,
                 log_to_driver=False, logging_level="WARNING")
        log(f"started a local Ray with {num_cpus} CPU(s) in {time.time() - start:.1f} s")
    return ray


def run_cells(cells: Sequence[Cell], root_dir: pathlib.Path, *, command: Sequence[str] = DEFAULT_COMMAND,
              cpus_per_cell: float = 1, gpus_per_cell: float = 0, max_parallel: int = 0,
              max_retries: int = 3, threads: int = 0, lock_wait_s: float = 600.0,
              results_dir: pathlib.Path | None = None, commit_results: bool = False,
              extend: bool = False, log=print) -> Dict[str, dict]:
    """Runs every cell that is not finished as a Ray task, on the Ray this process is connected to
    (`start_ray`), or else on a local Ray started for these cells and stopped after them.

    Each task needs `cpus_per_cell` CPUs and `gpus_per_cell` GPUs (a fraction shares a GPU); Ray runs
    as many at once as the cluster's resources allow, and at most `max_parallel` (0: no limit). A task
    whose worker or node dies, or whose run stops unfinished, is retried up to `max_retries` times;
    each retry resumes the run from its checkpoint (`cell_runner`).

    With `results_dir`, each cell that finishes has its report files copied there as soon as it
    finishes (`collect.collect_cell`), and committed to git on their own when `commit_results`.
    Every cell's cell.json records the commit of the code it runs (`collect.git_commit_of`).
    With `extend`, every binary gets --extend, and a finished cell that its `train.total_steps`
    binding makes longer runs on (status "extend") instead of being skipped.

    Returns:
      cell_id -> {"status": "skipped" | "ok" | "failed", "returncode", "seconds", "overhead",
      "error"}; "seconds" is the driver's wall time from submission to the result, "overhead" that
      minus the binary's own run time (Ray's scheduling and start-up, and the wait for resources
      when more cells are submitted than fit at once; None if unknown).
    """
    if max_parallel < 0:
        raise ValueError(f"max_parallel must be >= 0, got {max_parallel}")
    if "ray" not in sys.modules:
        _ray_environment(None)
    import ray

    started = not ray.is_initialized()
    start_ray(None, num_cpus=_local_cpus(max_parallel, cpus_per_cell), log=log)
    try:
        return _run_on_ray(ray, cells, root_dir, command=command, cpus_per_cell=cpus_per_cell,
                           gpus_per_cell=gpus_per_cell, max_parallel=max_parallel,
                           max_retries=max_retries, threads=threads, lock_wait_s=lock_wait_s,
                           results_dir=results_dir, commit_results=commit_results, extend=extend,
                           log=log)
    finally:
        if started:
            ray.shutdown()


def _run_on_ray(ray, cells, root_dir, *, command, cpus_per_cell, gpus_per_cell, max_parallel,
                max_retries, threads, lock_wait_s, results_dir, commit_results, extend,
                log) -> Dict[str, dict]:
    results: Dict[str, dict] = {}
    pending = []
    statuses = {cell.cell_id: sweep_status(cell, root_dir, results_dir, extend=extend)
                for cell in cells}     # every refusal before anything runs
    for cell in cells:
        status = statuses[cell.cell_id]
        if status in ("finished", "collected"):
            results[cell.cell_id] = {"status": "skipped", "returncode": None, "seconds": 0.0,
                                     "overhead": None, "error": None}
        else:
            pending.append((cell, status))
    collected = sum(s == "collected" for s in statuses.values())
    log(f"{len(cells)} cells: {len(cells) - len(pending) - collected} finished (skipped), "
        + (f"{collected} collected in results_dir (skipped), " if results_dir is not None else "")
        + f"{sum(s == 'resume' for _, s in pending)} to resume, {sum(s == 'new' for _, s in pending)} new"
        + (f", {sum(s == 'extend' for _, s in pending)} to extend" if extend else ""))
    task = ray.remote(cell_runner.run_attempt).options(
        num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=max_retries,
        retry_exceptions=True, name="sweep_cell")
    env = _cell_env(threads)
    code = collect.git_commit_of(ROOT)
    running = {}   # ObjectRef -> (cell_id, submit time)
    total, done = len(pending), 0
    try:
        while pending or running:
            while pending and (max_parallel == 0 or len(running) < max_parallel):
                cell, status = pending.pop(0)
                cell_dir = root_dir / cell.cell_id
                cell_dir.mkdir(parents=True, exist_ok=True)
                args = [*command, *cell.args(root_dir), *(["--extend"] if extend else [])]
                meta = dict(cell.metadata(), command=shlex.join(args), code=code,
                            code_history=_code_history(cell_dir / CELL_FILE, code))
                (cell_dir / CELL_FILE).write_text(json.dumps(meta, indent=1) + "\n")
                ref = task.remote(args, str(cell_dir), cwd=str(ROOT), env_overrides=env,
                                  finished_file=FINISHED, lock_wait_s=lock_wait_s)
                running[ref] = (cell.cell_id, time.time())
                log(f"submit {cell.cell_id} ({status})")
            ready, _ = ray.wait(list(running), num_returns=1, timeout=5.0)
            for ref in ready:
                cell_id, submitted = running.pop(ref)
                done += 1
                results[cell_id] = _result(ray, ref, root_dir / cell_id, submitted)
                r = results[cell_id]
                ok = r["status"] == "ok"
                tail = "" if ok else f" ({r['error']}; see {root_dir / cell_id / LOG_FILE})"
                log(f"{'done' if ok else 'FAILED'} {cell_id}: rc {r['returncode']}, "
                    f"{r['seconds']:.0f} s [{done}/{total}]{tail}")
                if ok and results_dir is not None:
                    try:
                        collect.collect(root_dir, results_dir, [cell_id], commit=commit_results, log=log)
                    except (OSError, subprocess.CalledProcessError) as e:   # the run itself is safe
                        log(f"COLLECT FAILED {cell_id}: {e}; run benchmarks/sweeps/collect.py to retry")
    finally:
        # Interrupted (Ctrl-C, SIGTERM): cancel the running cells; each binary gets SIGTERM, saves a
        # checkpoint and exits, and a later sweep resumes it.
        for ref, (cell_id, _) in running.items():
            ray.cancel(ref)
            log(f"stopped {cell_id} (interrupted; re-run the sweep to resume it)")
        if running:
            ray.wait(list(running), num_returns=len(running), timeout=150)
    return results


def _code_history(cell_file: pathlib.Path, code) -> list:
    """The code (commit) of every submission of a cell, oldest first: a resumed cell may have run part
    of its steps on an earlier commit."""
    try:
        history = json.loads(cell_file.read_text()).get("code_history", [])
    except (OSError, ValueError):
        history = []
    return history if history and history[-1] == code else [*history, code]


def _result(ray, ref, cell_dir: pathlib.Path, submitted: float) -> dict:
    """The driver's record of one finished task."""
    seconds = time.time() - submitted
    try:
        record = ray.get(ref)
    except Exception as e:   # retries exhausted: the task's last error (a worker or node death ...)
        first = str(e).strip().splitlines()
        return {"status": "failed", "returncode": None, "seconds": seconds, "overhead": None,
                "error": f"{type(e).__name__}: {first[-1] if first else ''}"[:500]}
    ok = record["returncode"] == 0 and (cell_dir / FINISHED).exists()
    overhead = seconds - (record["child_end"] - record["child_start"])
    return {"status": "ok" if ok else "failed", "returncode": record["returncode"], "seconds": seconds,
            "overhead": overhead, "error": None if ok else f"exit status {record['returncode']}"}


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="grid JSON (see benchmarks/configs/)")
    p.add_argument("--root_dir", required=True,
                   help="where the cells' root_dirs go; on a cluster, a path every node can reach")
    p.add_argument("--address", default="",
                   help="Ray cluster to join (host:port of its head); default: start a local Ray")
    p.add_argument("--cpus_per_cell", type=float, default=1, help="Ray CPUs each cell needs")
    p.add_argument("--gpus_per_cell", type=float, default=0,
                   help="Ray GPUs each cell needs (a fraction such as 0.25 shares one GPU)")
    p.add_argument("--max_parallel", type=int, default=0,
                   help="cells run at once at most (0: as many as the resources allow; a local Ray "
                        "gets max_parallel x cpus_per_cell CPUs, default all cores)")
    p.add_argument("--max_retries", type=int, default=3,
                   help="retries of a cell whose worker or node dies or whose run is interrupted")
    p.add_argument("--lock_wait_s", type=float, default=600,
                   help="how long a retry waits for a previous attempt of its cell to let go")
    p.add_argument("--threads_per_cell", type=int, default=0,
                   help="TF intra/inter-op threads per cell (0: TensorFlow's default)")
    p.add_argument("--ray_temp_dir", default=None, help="temporary directory of a local Ray")
    p.add_argument("--filter", default="", help="regex: run only cells whose id matches")
    p.add_argument("--seed_major", action="store_true",
                   help="run every group's seed 0 first, then every seed 1, ... (default: each group's "
                        "seeds together), so that an interrupted campaign has paired seeds")
    p.add_argument("--dry_run", action="store_true", help="print the cells and commands, run nothing")
    p.add_argument("--results_dir", default="",
                   help="copy each finished cell's report files here (benchmarks/sweeps/collect.py)")
    p.add_argument("--commit_results", action="store_true",
                   help="with --results_dir: git-commit each finished cell's files at once")
    p.add_argument("--extend", action="store_true",
                   help="train finished cells on to a larger train.total_steps of the grid's "
                        "gin_bindings (every cell must bind it)")
    p.add_argument("--train_command", default="",
                   help="command prefix of the training binary (default: python -m hierarchy.bin.train)")
    return p.parse_args(argv)


def _local_cpus(max_parallel: int, cpus_per_cell: float) -> int:
    if max_parallel > 0:
        return max(1, math.ceil(max_parallel * cpus_per_cell))
    return max(1, os.cpu_count() or 1, math.ceil(cpus_per_cell))


def main(argv=None) -> int:
    args = parse_args(argv)
    config = load_config(args.config)
    cells = expand_grid(config)
    if args.filter:
        cells = [c for c in cells if re.search(args.filter, c.cell_id)]
    if args.seed_major:
        cells = sorted(cells, key=lambda c: c.seed)   # stable: the grid's order within a seed
    root_dir = pathlib.Path(args.root_dir).resolve()
    command = shlex.split(args.train_command) if args.train_command else list(DEFAULT_COMMAND)
    unbound = [c.cell_id for c in cells if c.total_steps is None]
    if args.extend and unbound:
        raise SystemExit(f"--extend needs train.total_steps in the grid's gin_bindings; "
                         f"{len(unbound)} cell(s) bind none, e.g. {unbound[0]}")
    results_dir = pathlib.Path(args.results_dir).resolve() if args.results_dir else None
    try:
        statuses = [sweep_status(cell, root_dir, results_dir, extend=args.extend) for cell in cells]
    except CollectedCellError as e:
        raise SystemExit(f"refusing to run the sweep: {e}") from None
    if args.dry_run:
        shown = [sys.executable if a == cell_runner.PYTHON else a for a in command]
        for cell, status in zip(cells, statuses):
            extra = ["--extend"] if args.extend else []
            print(f"[{status}] {shlex.join([*shown, *cell.args(root_dir), *extra])}")
        print(f"{len(cells)} cells")
        return 0
    if args.cpus_per_cell <= 0 or args.gpus_per_cell < 0 or args.max_retries < 0:
        raise SystemExit("--cpus_per_cell must be > 0, --gpus_per_cell and --max_retries >= 0")
    if args.commit_results and not args.results_dir:
        raise SystemExit("--commit_results needs --results_dir")
    root_dir.mkdir(parents=True, exist_ok=True)
    previous_handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run_sweep(args, config, cells, root_dir, command)
    finally:
        signal.signal(signal.SIGTERM, previous_handler)   # a caller's own handler comes back


def _run_sweep(args, config, cells, root_dir: pathlib.Path, command) -> int:
    """Writes sweep.json, then runs the cells on Ray (local or --address); returns the exit status."""
    (root_dir / "sweep.json").write_text(json.dumps(
        {"config": config, "config_path": str(args.config),
         "cells": [c.cell_id for c in cells]}, indent=1) + "\n")
    log = lambda s: print(s, flush=True)  # noqa: E731
    _ray_environment(args.address or None)
    import ray

    started = not ray.is_initialized()
    start_ray(args.address or None, num_cpus=_local_cpus(args.max_parallel, args.cpus_per_cell),
              temp_dir=args.ray_temp_dir, log=log)
    try:
        results = run_cells(cells, root_dir, command=command, cpus_per_cell=args.cpus_per_cell,
                            gpus_per_cell=args.gpus_per_cell, max_parallel=args.max_parallel,
                            max_retries=args.max_retries, threads=args.threads_per_cell,
                            lock_wait_s=args.lock_wait_s,
                            results_dir=pathlib.Path(args.results_dir).resolve() if args.results_dir
                            else None,
                            commit_results=args.commit_results, extend=args.extend, log=log)
    except KeyboardInterrupt:
        print("interrupted; re-run the same command to resume", flush=True)
        return 130
    finally:
        if started:
            ray.shutdown()
    failed = sorted(k for k, v in results.items() if v["status"] == "failed")
    overheads = sorted(v["overhead"] for v in results.values() if v["overhead"] is not None)
    print(f"{sum(v['status'] == 'ok' for v in results.values())} ran, "
          f"{sum(v['status'] == 'skipped' for v in results.values())} skipped, {len(failed)} failed"
          + (": " + ", ".join(failed) if failed else "")
          + (f"; Ray's time per cell outside the binary: median {overheads[len(overheads) // 2]:.2f} s"
             if overheads else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
