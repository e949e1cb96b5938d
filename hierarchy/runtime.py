"""Process-wide TensorFlow settings for training on a small CPU machine (used by the binaries)."""

from __future__ import annotations

import os

import gin
import tensorflow as tf
from absl import logging

INTRA_OP_ENV = "TF_NUM_INTRAOP_THREADS"


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
    TF_NUM_INTRAOP_THREADS is set (benchmarks/sweep.py sets it per cell), that wins and nothing is
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
