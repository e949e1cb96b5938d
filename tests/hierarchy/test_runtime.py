"""hierarchy.runtime: TensorFlow's thread settings, in fresh processes (they are process-wide)."""

import os
import subprocess
import sys

import pytest

from hierarchy import runtime

SCRIPT = """
import tensorflow as tf
from hierarchy import runtime
print(runtime.configure_tensorflow({arg}), tf.config.threading.get_intra_op_parallelism_threads())
tf.constant(1.0) + 1.0                       # TensorFlow now runs: too late to change the pool
print(runtime.configure_tensorflow(intra_op_threads=3))
"""


def run(arg, **env):
    environ = {k: v for k, v in os.environ.items() if k != runtime.INTRA_OP_ENV}
    environ.update(env, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(arg=arg)], capture_output=True,
                         text=True, env=environ, check=True)
    return out.stdout.split()


def test_sets_the_intra_op_pool_before_tensorflow_runs_and_not_after():
    assert run("") == ["1", "1", "1"]                     # default: 1 thread per op; later: kept
    assert run("intra_op_threads=None") == ["0", "0", "0"]


def test_the_environment_variable_wins():
    assert run("", **{runtime.INTRA_OP_ENV: "2"}) == ["0", "0", "0"]


def test_bad_value():
    with pytest.raises(ValueError, match="intra_op_threads must be >= 1"):
        runtime.configure_tensorflow(intra_op_threads=0)
