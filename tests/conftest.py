"""Shared test set-up: quiet TensorFlow, deterministic seeds, a clean gin configuration per test."""

import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MUJOCO_GL", "egl")
# The tf-agents extra (requirements-tf-agents.txt) needs Keras 2 as tf.keras; TensorFlow 2.16+ gives
# it only when this is set before TensorFlow is imported. Our own code uses no Keras.
if importlib.util.find_spec("tf_keras") is not None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import gin  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def clean_gin():
    """Every test starts and ends with an empty gin configuration."""
    gin.clear_config()
    yield
    gin.clear_config()
