"""Process-wide TensorFlow settings: a quiet import, and the thread pool for a small CPU machine.

Importing this module (`import hierarchy` does it first) imports TensorFlow with the lines it
prints to the process's stderr on every start filtered out: the CUDA probes of a machine without a
GPU ("Could not find cuda drivers", "failed call to cuInit", "Unable to register cuDNN factory"),
the CPU-feature and oneDNN notices, TensorRT's absence, and absl's "before InitializeLog" preamble.
TensorFlow 2.19 and later print several of them whatever `TF_CPP_MIN_LOG_LEVEL` says. Every other
line TensorFlow prints while it starts (a real warning or error) is passed on unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator, Sequence

INTRA_OP_ENV = "TF_NUM_INTRAOP_THREADS"

# What TensorFlow prints on every start that tells a user nothing (one pattern a line).
STARTUP_NOISE = tuple(re.compile(p) for p in (
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"cudart_stub\.cc.*Could not find cuda drivers",
    r"failed call to cuInit",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"cpu_feature_guard\.cc",
    r"^To enable the following instructions: .*rebuild TensorFlow",
    r"oneDNN custom operations are on",
    r"TF-TRT Warning: Could not find TensorRT",
))


@contextlib.contextmanager
def filtered_stderr(patterns: Sequence[re.Pattern] = STARTUP_NOISE) -> Iterator[None]:
    """Within the block, the process's stderr (file descriptor 2, so C++ logs too) goes to a
    temporary file; on leaving, every line that matches none of `patterns` is written to stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = [line for line in lines if not any(p.search(line) for p in patterns)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


if "tensorflow" not in sys.modules:
    with filtered_stderr():
        import tensorflow as tf
        tf.config.list_physical_devices()   # the CUDA probe runs here, inside the filter
import gin  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import logging  # noqa: E402

# INFO lines that TensorFlow logs through absl about its own internals, e.g. on every checkpoint.
TENSORFLOW_CHATTER = ("Sharding callback duration",)


def _not_chatter(record) -> bool:
    return not (record.levelno <= logging.converter.STANDARD_INFO
                and str(record.msg).startswith(TENSORFLOW_CHATTER))


logging.get_absl_logger().addFilter(_not_chatter)


@gin.configurable
def configure_tensorflow(*, intra_op_threads: int | None = 1) -> int:
    """Sizes TensorFlow's intra-op thread pool: the threads that one op (e.g. a matmul) is split over.

    A level's networks are small ((256, 256) at batch 128-256): splitting each op over several
    threads costs more in synchronisation than it gains, while independent ops (the two critics, the
    targets) still run side by side on the inter-op pool (TensorFlow's default: one thread per
    core). On this project's 2-core machine, 1 intra-op thread ran our flat TD3 training loop about
    12% faster than TensorFlow's default of one per core, and tf-agents' TD3 loop about 3% faster
    (benchmarks/results/throughput.md, both measured under each setting).

    It must run before TensorFlow executes anything. When the environment variable
    TF_NUM_INTRAOP_THREADS is set (benchmarks/sweeps/sweep.py sets it per cell), that wins and nothing is
    changed; None leaves TensorFlow's default.

    Args:
      intra_op_threads: threads per op, >= 1, or None.

    Returns:
      The intra-op thread count in force afterwards (0: TensorFlow's default).
    """
    if intra_op_threads is not None and int(intra_op_threads) < 1:
        raise ValueError(f"configure_tensorflow.intra_op_threads must be >= 1 or None, got "
                         f"{intra_op_threads}")
    current = tf.config.threading.get_intra_op_parallelism_threads()
    if intra_op_threads is None or os.environ.get(INTRA_OP_ENV) or current == int(intra_op_threads):
        return current
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra_op_threads))
    except RuntimeError:
        logging.info("TensorFlow is already running; its intra-op thread pool stays at %s", current)
        return current
    return int(intra_op_threads)
