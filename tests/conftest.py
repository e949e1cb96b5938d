"""Shared test set-up: quiet TensorFlow, deterministic seeds, a clean gin configuration per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MUJOCO_GL", "egl")

import gin  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def clean_gin():
    """Every test starts and ends with an empty gin configuration."""
    gin.clear_config()
    yield
    gin.clear_config()
