"""Helpers of the tests that train: tiny configurations, and running the binaries as processes."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POINT = ["envs/point_reach.gin", "methods/hrl_cg.gin"]

# Tiny networks and batches: the tests check plumbing, not learning.
TINY = [
    "Level.actor_hidden_sizes = (16, 16)",
    "Level.critic_hidden_sizes = (16, 16)",
    "ReplayBuffer.batch_size = 16",
    "ReplayBuffer.capacity = 5000",
]
# Warm-up longer than the run: acting only, no compiled training step to trace (fast). No
# trajectory pictures (about 0.2 s each, 4 per PointReach evaluation): test_trajectory_plot.py and
# the binaries' shared run check them.
NO_TRAINING = ["Agent.warmup_steps = 100000", "train.log_interval = 100",
               "train.eval_episodes_per_context = 1", "train.trajectory_plots = False"]
# A 100-step warm-up, then every level updates on schedule (tiny networks: still fast).
TRAINING = ["Agent.warmup_steps = 100", "train.log_interval = 100", "train.eval_episodes_per_context = 1",
            "train.trajectory_plots = False"]


# The fault tests' run (tests/bin): 200-step episodes (the task's own horizon is 50), so that most
# steps are mid-episode; checkpoints at 200, 400 and 600, evaluations at 0, 400 and 600.
FAULT_SETTINGS = TINY + [
    "train.trajectory_plots = False", "Agent.warmup_steps = 100", "train.max_episode_steps = 200",
    "train.total_steps = 600", "train.eval_interval = 400", "train.checkpoint_interval = 200",
    "train.log_interval = 50", "train.eval_episodes_per_context = 1", "train.keep_checkpoints = 2"]


def binary_env():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="2", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"))
    return env


def binary_command(name, root_dir, gin_files=(), bindings=(), extra=()):
    cmd = [sys.executable, "-m", f"hierarchy.bin.{name}", f"--root_dir={root_dir}"]
    cmd += [f"--gin_file={f}" for f in gin_files]
    cmd += [f"--gin_bindings={b}" for b in bindings]
    return cmd + list(extra)


def run_binary(name, root_dir, gin_files=(), bindings=(), extra=(), timeout=300):
    """Runs `python -m hierarchy.bin.<name>`; returns the CompletedProcess (output captured)."""
    return subprocess.run(binary_command(name, root_dir, gin_files, bindings, extra), cwd=REPO,
                          env=binary_env(), capture_output=True, text=True, timeout=timeout)


def metric_rows(root_dir, name):
    """The rows of a run's metrics file `name` (train_metrics.jsonl, eval_metrics.jsonl) without
    their wall times: what an interrupted and resumed run must reproduce exactly."""
    from hierarchy.run import metrics
    return [{k: v for k, v in r.items() if k != "time"}
            for r in metrics.read_jsonl(os.path.join(root_dir, name))]


def assert_same_metrics(root, reference, last_step=600):
    """The run at `root` wrote exactly the rows of the uninterrupted run at `reference`."""
    for name in ("train_metrics.jsonl", "eval_metrics.jsonl"):
        assert metric_rows(root, name) == metric_rows(reference, name), name
    assert metric_rows(reference, "train_metrics.jsonl")[-1]["step"] == last_step


def copy_run(source, root):
    """A copy of the run directory `source` at `root`; returns its checkpoints directory."""
    import shutil

    shutil.copytree(source, root)
    return os.path.join(root, "checkpoints")


def run_until_log_line(root_dir, gin_files, bindings, text, sig, timeout=240):
    """Starts the train binary and sends `sig` right after it logs a line containing `text`;
    returns (exit status, its stderr)."""
    proc = subprocess.Popen(binary_command("train", root_dir, gin_files, bindings), cwd=REPO,
                            env=binary_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if text in line:
                proc.send_signal(sig)
                break
        lines.append(proc.stderr.read())
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines)


def kill_after_checkpoint(proc, root_dir, min_step, *, poll_s=0.02, safety_cap_s=1800.0):
    """SIGKILLs the train binary `proc` once its newest checkpoint is at step >= `min_step` AND a
    training row newer than that checkpoint was written (a row the resumed run must drop).

    The polling waits on the run's own progress, not on a wall-clock deadline, so a slow machine only
    makes it wait longer; the cap only stops a hung run from hanging the test suite. Returns the
    checkpoint step. Fails if the run ends (or dies) before the condition is met.
    """
    import signal
    import time

    from hierarchy.run import metrics
    pointer = os.path.join(root_dir, "checkpoints", "latest")
    train_path = os.path.join(root_dir, "train_metrics.jsonl")
    start = time.monotonic()
    try:
        while proc.poll() is None:
            if os.path.exists(pointer) and os.path.exists(train_path):
                text = open(pointer).read().strip()
                step = int(text.split("-")[1]) if text.startswith("ckpt-") else -1
                rows = metrics.read_jsonl(train_path)
                if step >= min_step and rows and rows[-1]["step"] > step:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return step
            if time.monotonic() - start > safety_cap_s:
                raise AssertionError(f"no checkpoint at step >= {min_step} after {safety_cap_s} s")
            time.sleep(poll_s)
        raise AssertionError(f"the run ended (exit status {proc.returncode}) before it could be killed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def flip_bytes(path, offset=None, count=8):
    """Inverts `count` bytes of the file at `path` from `offset` (default: its middle)."""
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        start = len(data) // 2 if offset is None else offset
        for k in range(start, min(start + count, len(data))):
            data[k] ^= 0xFF
        f.seek(0)
        f.write(data)


def tf_data_file(ckpt_dir):
    (name,) = [n for n in os.listdir(os.path.join(ckpt_dir, "tf")) if ".data-" in n]
    return os.path.join(ckpt_dir, "tf", name)
