"""Helpers of the binary / training-loop tests: tiny configurations, running the binaries."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Tiny networks and batches: the tests check plumbing, not learning.
TINY = [
    "Level.actor_hidden_sizes = (16, 16)",
    "Level.critic_hidden_sizes = (16, 16)",
    "ReplayBuffer.batch_size = 16",
    "ReplayBuffer.capacity = 5000",
]


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
