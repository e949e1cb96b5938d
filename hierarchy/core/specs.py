"""The specs a `Level` is built from: TensorFlow's own `TensorSpec` and `BoundedTensorSpec`.

`TensorSpec` is `tf.TensorSpec`. TensorFlow keeps `BoundedTensorSpec` (a `TensorSpec` with
`minimum` and `maximum`) out of its public namespace; it is the class that tf-agents re-exports as
`tf_agents.specs.BoundedTensorSpec`, so specs made here and specs made with tf-agents are the same
objects, and the library itself needs no tf-agents. `bounded_spec` is the constructor the library
uses; `is_bounded` the check a `Level` makes of its action spec.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.tensor_spec import BoundedTensorSpec

TensorSpec = tf.TensorSpec

__all__ = ["BoundedTensorSpec", "TensorSpec", "bounded_spec", "is_bounded", "vector_spec"]


def bounded_spec(shape, minimum, maximum, name: str | None = None) -> BoundedTensorSpec:
    """A float32 `BoundedTensorSpec` of `shape` with the given (broadcastable) bounds."""
    return BoundedTensorSpec(tuple(shape), tf.float32, np.asarray(minimum, np.float32),
                             np.asarray(maximum, np.float32), name=name)


def vector_spec(dim: int, name: str | None = None) -> tf.TensorSpec:
    """A float32 `TensorSpec([dim])`."""
    return tf.TensorSpec((int(dim),), tf.float32, name=name)


def is_bounded(spec) -> bool:
    """Whether `spec` carries bounds (a `BoundedTensorSpec`, ours or tf-agents', which are one
    class)."""
    return isinstance(spec, BoundedTensorSpec)
