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
