"""Shared set-up of the binary / training-loop tests: clean gin state; helpers in bin_helpers.py."""

import os
import sys

import gin
import pytest

# Lets the test modules `import bin_helpers` (pytest runs with --import-mode=importlib).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()
