"""Fixtures of the benchmark scripts' tests: each script as a module (scripts.load_script)."""

import pytest

from scripts import load_script


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
