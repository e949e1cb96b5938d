"""Faults during a sweep: the cell lock, retries after a killed worker (local Ray) and after a killed
node (a two-node Ray cluster on 127.0.0.1, slow), with the real training binary."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from ray_cluster import LoopbackCluster, alive, command_line

from benchmarks.sweeps import cell_runner
from hierarchy.run.files import FINISHED

REPO = str(pathlib.Path(__file__).resolve().parents[2])

# The binary's output is compared between cells of the same configuration: one thread each, so that
# TensorFlow's reductions run in the same order in every process.
TINY_CELL = [
    "Level.actor_hidden_sizes = (16, 16)",
    "Level.critic_hidden_sizes = (16, 16)",
    "ReplayBuffer.batch_size = 16",
    "ReplayBuffer.capacity = 5000",
    "Agent.warmup_steps = 100",
    "train.eval_interval = 200",
    "train.checkpoint_interval = 100",
    "train.log_interval = 100",
    "train.eval_episodes_per_context = 1",
]


def read_rows(path):
    with open(path) as f:
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in f if line.strip()]


def attempts(cell_dir):
    path = os.path.join(cell_dir, cell_runner.ATTEMPTS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --------------------------------------------------------------------------------------------------
# The lock and the attempt's outcome, without Ray.

# Writes <root>/started, then on SIGTERM takes 1.5 s "checkpointing" before writing <root>/stopped.
SLOW_STOPPER = textwrap.dedent("""
    import os, signal, sys, time
    root = sys.argv[sys.argv.index("--root_dir") + 1]
    def stop(signum, frame):
        open(os.path.join(root, "got_sigterm"), "w").close()
        time.sleep(1.5)
        open(os.path.join(root, "stopped"), "w").close()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    open(os.path.join(root, "started"), "w").close()
    time.sleep(60)
""")

ATTEMPT = textwrap.dedent("""
    from benchmarks.sweeps import cell_runner
    cell_runner.run_attempt([cell_runner.PYTHON, {script!r}, "--root_dir", {cell!r}], {cell!r},
                            cwd={cell!r}, env_overrides={{}}, finished_file="finished.json")
""")


def test_a_dead_attempt_keeps_the_lock_until_its_child_has_stopped(tmp_path):
    """The attempt is SIGKILLed: its child gets SIGTERM from the kernel, and the cell's lock stays
    taken (the child holds it) until the child has finished its last writes."""
    script = tmp_path / "stopper.py"
    script.write_text(SLOW_STOPPER)
    cell = str(tmp_path / "cell")
    wrapper = subprocess.Popen([sys.executable, "-c", ATTEMPT.format(script=str(script), cell=cell)],
                               cwd=REPO)
    try:
        wait_for(lambda: os.path.exists(os.path.join(cell, "started")), 30, "the child to start")
        child = attempts(cell)[0]["child_pid"]
        wrapper.kill()
        wrapper.wait()
        wait_for(lambda: os.path.exists(os.path.join(cell, "got_sigterm")), 10, "SIGTERM in the child")
        assert alive(child) and not os.path.exists(os.path.join(cell, "stopped"))
        with pytest.raises(cell_runner.CellInterrupted, match="locked by another attempt"):
            cell_runner.acquire_lock(cell, wait_s=0)
        fd = cell_runner.acquire_lock(cell, wait_s=20)   # free once the child has exited
        os.close(fd)
        assert os.path.exists(os.path.join(cell, "stopped"))
        wait_for(lambda: not alive(child), 5, "the child to be gone")
    finally:
        if wrapper.poll() is None:
            wrapper.kill()


FAKE = textwrap.dedent("""
    import json, os, signal, sys, time
    root = sys.argv[sys.argv.index("--root_dir") + 1]
    mode = sys.argv[sys.argv.index("--mode") + 1]
    with open(os.path.join(root, "child.jsonl"), "a") as f:
        f.write(json.dumps({"start": time.time()}) + "\\n")
    if mode == "finish":
        open(os.path.join(root, "finished.json"), "w").close()
    elif mode == "signal":
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "fail":
        sys.exit(3)
""")


@pytest.mark.parametrize("mode, outcome", [("finish", 0), ("fail", 3), ("stop", "interrupted"),
                                           ("signal", "interrupted")])
def test_attempt_outcomes(tmp_path, mode, outcome):
    """A finished run returns 0 and a failing one its exit status (not retried); a run that stops
    unfinished (exit 0 without finished.json: SIGTERM's checkpoint-and-exit) or dies by a signal
    raises CellInterrupted (retried)."""
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    cell = str(tmp_path / "cell")
    args = [cell_runner.PYTHON, str(script), "--root_dir", cell, "--mode", mode]
    if outcome == "interrupted":
        with pytest.raises(cell_runner.CellInterrupted, match="stopped unfinished"):
            cell_runner.run_attempt(args, cell, cwd=str(tmp_path), env_overrides={},
                                    finished_file=FINISHED)
        record = attempts(cell)[-1]
        assert record["event"] == "end" and record["returncode"] == (-9 if mode == "signal" else 0)
    else:
        record = cell_runner.run_attempt(args, cell, cwd=str(tmp_path), env_overrides={},
                                    finished_file=FINISHED)
        assert record["returncode"] == outcome and record["finished"] == (mode == "finish")
    assert [a["event"] for a in attempts(cell)] == ["start", "end"]
    with open(os.path.join(cell, "train.log")) as f:
        assert "attempt ended: exit status" in f.read()


def test_an_attempt_waits_for_the_lock(tmp_path):
    """While another process holds the cell's lock, an attempt does not start its child."""
    script = tmp_path / "fake.py"
    script.write_text(FAKE)
    cell = str(tmp_path / "cell")
    fd = cell_runner.acquire_lock(cell, wait_s=0)
    result = {}

    def attempt():
        result["record"] = cell_runner.run_attempt(
            [cell_runner.PYTHON, str(script), "--root_dir", cell, "--mode", "finish"], cell,
            cwd=str(tmp_path), env_overrides={}, finished_file=FINISHED)

    thread = threading.Thread(target=attempt)
    thread.start()
    time.sleep(1.0)
    released = time.time()
    os.close(fd)
    thread.join(timeout=30)
    with open(os.path.join(cell, "child.jsonl")) as f:
        (start,) = [json.loads(line)["start"] for line in f]
    assert start > released and result["record"]["returncode"] == 0
    with open(os.path.join(cell, "train.log")) as f:
        assert "waiting for the lock" in f.read()


# --------------------------------------------------------------------------------------------------
# Real runs of the training binary.

def identical_cells_config(path, names, total_steps):
    """A grid whose cells all have the same configuration (one env gin file under several names),
    so every cell must write the same metric rows as every other."""
    config = {"envs": {name: "envs/point_reach.gin" for name in names}, "methods": ["hrl_cg"],
              "num_levels": [2], "cg_lambda": [0.01], "seeds": [0],
              "gin_bindings": TINY_CELL + [f"train.total_steps = {total_steps}"]}
    path.write_text(json.dumps(config))
    return str(path)


def assert_same_rows(cell_dirs, total_steps):
    for name in ("train_metrics.jsonl", "eval_metrics.jsonl"):
        rows = [read_rows(os.path.join(d, name)) for d in cell_dirs]
        assert rows[0], name
        for other in rows[1:]:
            assert other == rows[0], name
    assert read_rows(os.path.join(cell_dirs[0], "eval_metrics.jsonl"))[-1]["step"] == total_steps


def kill_when_checkpointed(cell_dir, kill, timeout=300):
    """Waits until the cell's run has written a checkpoint, then calls kill(its first attempt)."""
    wait_for(lambda: os.path.exists(os.path.join(cell_dir, "checkpoints", "latest")), timeout,
             f"a checkpoint in {cell_dir}")
    first = [a for a in attempts(cell_dir) if a["event"] == "start"][0]
    kill(first)
    return first


def test_local_sweep_resumes_a_cell_whose_worker_was_killed(sweep, local_ray, tmp_path):
    """Two cells of one configuration on the local Ray; the Ray worker running one of them is
    SIGKILLed after the run's first checkpoint. Its binary gets SIGTERM from the kernel and saves a
    checkpoint at its next step; Ray retries the task, the retry resumes the run there (mid-episode),
    and both cells end with the same rows."""
    total = 400
    config = sweep.load_config(identical_cells_config(tmp_path / "grid.json", ["a", "b"], total))
    cells = sweep.expand_grid(config)
    root = tmp_path / "sweep"
    killed = {}

    def killer():
        first = kill_when_checkpointed(str(root / cells[0].cell_id),
                                       lambda a: os.kill(a["pid"], signal.SIGKILL))
        killed.update(first)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    results = sweep.run_cells(cells, root, cpus_per_cell=1, threads=1, max_retries=2, log=lambda s: None)
    thread.join(timeout=5)
    assert killed, "the worker was not killed"
    assert {k: v["status"] for k, v in results.items()} == {c.cell_id: "ok" for c in cells}
    dirs = [str(root / c.cell_id) for c in cells]
    starts = [a for a in attempts(dirs[0]) if a["event"] == "start"]
    assert len(starts) == 2 and starts[1]["pid"] != killed["pid"]
    assert not alive(killed["child_pid"])
    assert len([a for a in attempts(dirs[1]) if a["event"] == "start"]) == 1
    with open(os.path.join(dirs[0], "train.log")) as f:
        log = f.read()
    # The orphaned binary got SIGTERM, checkpointed at its next step, and the retry resumed there.
    assert "Stopped by SIGTERM" in log and "mid-episode" in log
    assert_same_rows(dirs, total)


def test_ctrl_c_to_the_sweep_stops_its_cells_cleanly(tmp_path, tmp_path_factory):
    """SIGINT to the sweep driver (Ctrl-C) while a cell trains: the driver cancels the cell's Ray
    task, the attempt sends the binary SIGTERM, the binary checkpoints and exits, the attempt writes
    its end record, and the driver exits 130; re-running the sweep would resume the cell."""
    config_path = identical_cells_config(tmp_path / "grid.json", ["a"], 100_000)
    root = tmp_path / "sweep"
    cell_dir = root / "a" / "hrl_cg_L2_lam0.01" / "seed0"
    driver = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sweeps.sweep", "--config", config_path, "--root_dir",
         str(root), "--max_parallel", "1", "--threads_per_cell", "1",
         "--ray_temp_dir", str(tmp_path_factory.mktemp("ray"))],   # short: Ray's socket paths
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    binary = None
    try:
        wait_for(lambda: os.path.exists(cell_dir / "checkpoints" / "latest"), 300,
                 "the cell's first checkpoint")
        binary = attempts(str(cell_dir))[0]["child_pid"]
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if binary is not None and alive(binary):
            os.kill(binary, signal.SIGKILL)
    assert driver.returncode == 130, out[-3000:]
    assert "stopped a/hrl_cg_L2_lam0.01/seed0 (interrupted" in out
    assert "interrupted; re-run the same command to resume" in out
    assert not alive(binary)
    start, end = attempts(str(cell_dir))
    assert (start["event"], end["event"]) == ("start", "end") and end["child_pid"] == binary
    assert end["returncode"] == 0 and end["interrupted"] and not end["finished"]
    log = (cell_dir / "train.log").read_text()
    assert "Stopped by SIGTERM" in log and "attempt interrupted" in log


@pytest.mark.slow
def test_cluster_sweep_survives_a_killed_node(sweep, tmp_path):
    """A head and a worker node (one CPU each) on 127.0.0.1; a 4-cell sweep joins them with
    --address. Once the worker node's cell has a checkpoint, every Ray process of that node is
    SIGKILLed (its training binary is left to the kernel's SIGTERM), and the node is started again.
    Every cell finishes, the killed one on a second attempt, all with the same rows."""
    total = 600
    config_path = identical_cells_config(tmp_path / "grid.json", ["a", "b", "c", "d"], total)
    cells = sweep.expand_grid(sweep.load_config(config_path))
    root = tmp_path / "sweep"
    cluster = LoopbackCluster(str(tmp_path / "cluster"), workers=1)
    worker = cluster.workers[0]
    driver = None
    try:
        cluster.start()
        driver = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sweeps.sweep", "--config", config_path, "--root_dir",
             str(root), "--address", cluster.address, "--threads_per_cell", "1", "--max_retries", "3"],
            cwd=REPO, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def cell_on_worker():
            pids = set(worker.processes())
            for cell in cells:
                starts = [a for a in attempts(str(root / cell.cell_id)) if a["event"] == "start"]
                if starts and starts[0]["pid"] in pids:
                    return cell
            return None

        victim = wait_for(cell_on_worker, 240, "a cell on the worker node")
        victim_dir = str(root / victim.cell_id)

        def kill_node(first):
            binary = first["child_pid"]
            killed = worker.kill(spare=lambda pid: pid == binary or "hierarchy.bin.train" in
                                 command_line(pid))
            assert first["pid"] in killed
            wait_for(lambda: not alive(binary), 60, "the killed node's binary to stop")
            worker.start()

        first = kill_when_checkpointed(victim_dir, kill_node)
        out, _ = driver.communicate(timeout=600)
        assert driver.returncode == 0, out[-3000:]
        assert "4 ran, 0 skipped, 0 failed" in out
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait()
        cluster.stop()
    dirs = [str(root / c.cell_id) for c in cells]
    starts = [a for a in attempts(victim_dir) if a["event"] == "start"]
    assert len(starts) == 2 and starts[1]["pid"] != first["pid"]
    assert sum(len([a for a in attempts(d) if a["event"] == "start"]) for d in dirs) == 5
    with open(os.path.join(victim_dir, "train.log")) as f:
        log = f.read()
    assert "Stopped by SIGTERM" in log and "mid-episode" in log
    assert_same_rows(dirs, total)
    # Re-running the finished sweep skips every cell.
    again = subprocess.run([sys.executable, "-m", "benchmarks.sweeps.sweep", "--config", config_path,
                            "--root_dir", str(root), "--dry_run"], cwd=REPO, capture_output=True,
                           text=True, timeout=60)
    assert again.stdout.count("[finished]") == 4
