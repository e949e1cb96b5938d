"""Loads the benchmark scripts (benchmarks/ is a directory of scripts, not a package) as modules."""

import importlib.util
import pathlib
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str):
    """benchmarks/<name>.py as a module (cached in sys.modules under 'benchmarks_<name>')."""
    key = f"benchmarks_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="session")
def aggregate():
    return load_script("aggregate")


@pytest.fixture(scope="session")
def sweep():
    return load_script("sweep")


@pytest.fixture(scope="session")
def throughput():
    return load_script("throughput")


@pytest.fixture(scope="session")
def local_ray(sweep, tmp_path_factory):
    """One local Ray (2 CPUs, 127.0.0.1 only) shared by the sweep tests of this session."""
    ray = sweep.start_ray(None, num_cpus=2, temp_dir=str(tmp_path_factory.mktemp("ray")),
                          log=lambda s: None)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def compare():
    """benchmarks/compare.py; its modules `compare.evidence` and `compare.paired` are the ones it uses."""
    return load_script("compare")


@pytest.fixture(scope="session")
def collect():
    return load_script("collect")
