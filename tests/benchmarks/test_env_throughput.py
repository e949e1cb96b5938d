"""benchmarks.performance.env_throughput: the paired ratio against hand-computed values, and a tiny
run."""

import pytest

from benchmarks.performance import env_throughput


def test_paired_ratios_hand_values():
    # Ratios 0.5, 0.75, 1.0, 0.8, 0.6 -> sorted 0.5 0.6 0.75 0.8 1.0: median 0.75, quartiles 0.6, 0.8.
    values = [50.0, 150.0, 300.0, 80.0, 60.0]
    reference = [100.0, 200.0, 300.0, 100.0, 100.0]
    assert env_throughput.paired_ratios(values, reference) == pytest.approx((0.75, 0.6, 0.8))
    assert env_throughput.paired_ratios([2.0], [4.0]) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="equally many repeats"):
        env_throughput.paired_ratios([1.0, 2.0], [1.0])


def test_main_prints_every_environment(capsys):
    env_throughput.main(["--steps", "20", "--repeats", "2", "--clock", "cpu"])
    lines = capsys.readouterr().out.splitlines()
    assert "paired x" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == list(env_throughput.ENV_IDS)
    assert lines[-1].split()[4:6] == ["1.00", "1.00"]      # Ant-v5 against itself
