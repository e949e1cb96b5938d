"""Fixtures of the benchmark tests: the benchmark modules, and one local Ray for the session."""

import pytest

from benchmarks.analysis import aggregate as aggregate_module
from benchmarks.analysis import compare as compare_module
from benchmarks.performance import throughput as throughput_module
from benchmarks.sweeps import collect as collect_module
from benchmarks.sweeps import sweep as sweep_module


@pytest.fixture(scope="session")
def aggregate():
    return aggregate_module


@pytest.fixture(scope="session")
def sweep():
    return sweep_module


@pytest.fixture(scope="session")
def throughput():
    return throughput_module


@pytest.fixture(scope="session")
def local_ray(sweep, tmp_path_factory):
    """One local Ray (2 CPUs, 127.0.0.1 only) shared by the sweep tests of this session."""
    ray = sweep.start_ray(None, num_cpus=2, temp_dir=str(tmp_path_factory.mktemp("ray")),
                          log=lambda s: None)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def compare():
    """benchmarks.analysis.compare; `compare.evidence`, `compare.stats` and `compare.iqm` are the
    modules it uses."""
    return compare_module


@pytest.fixture(scope="session")
def collect():
    return collect_module
