"""A run prints only our own lines: no TensorFlow start-up noise (CUDA probes, CPU-feature and
oneDNN notices), no gym banner, no gymnasium-robotics notice, in the default output of the
binaries and of `import hierarchy`. The processes run with the user's environment, without the
TF_CPP_MIN_LOG_LEVEL that the other tests set."""

import os
import subprocess
import sys

from run_helpers import POINT, REPO, TINY, binary_command

NOISE = (
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Unable to register cu",
    "absl::InitializeLog",
    "cpu_feature_guard",
    "rebuild TensorFlow with the appropriate compiler flags",
    "oneDNN custom operations",
    "TensorRT",
    "Gym has been unmaintained",
    "AdroitHand",
    "DeprecationWarning",
    "Sharding callback duration",
)


def user_env():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    env["PYTHONPATH"] = REPO
    return env


def noise_in(text):
    return [line for line in text.splitlines() if any(n in line for n in NOISE)]


def test_import_prints_nothing():
    code = ("import hierarchy, envs; from envs import goal_env; "
            "goal_env.ensure_registered('PointMaze_UMaze-v3'); import tensorflow as tf; "
            "print(float(tf.constant(2.0) * 3))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=user_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "6.0"
    assert proc.stderr == "", proc.stderr


def test_train_binary_prints_no_third_party_noise(tmp_path):
    root = str(tmp_path / "run")
    bindings = TINY + ["Agent.warmup_steps = 100", "train.total_steps = 200",
                       "train.eval_interval = 200", "train.eval_episodes_per_context = 1"]
    proc = subprocess.run(binary_command("train", root, POINT, bindings), cwd=REPO, env=user_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Finished 200 steps" in proc.stderr
    assert noise_in(proc.stderr + proc.stdout) == []


def test_a_real_warning_still_shows():
    """The filter drops known lines only: what else TensorFlow prints while it starts passes on."""
    code = ("import os, sys\n"
            "from hierarchy import runtime\n"
            "with runtime.filtered_stderr():\n"
            "    os.write(2, b'W0000 something real went wrong\\n')\n"
            "    os.write(2, b'I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=user_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "W0000 something real went wrong\n"
