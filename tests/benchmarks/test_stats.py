"""benchmarks.analysis.stats and the report's IQM section against hand-computed and brute-force
values, and the statistics the old hand-written code computed against scipy's."""

import itertools
import math

import numpy as np
import pytest

from benchmarks.analysis import stats

# The two-sided 95% t quantiles the reports used to take from a hand-written table (3 decimals).
OLD_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
           2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
           2.052, 2.048, 2.045, 2.042)


def test_t_quantile_agrees_with_the_old_table():
    for df, old in enumerate(OLD_T95, start=1):
        assert stats.t95(df) == pytest.approx(old, abs=5e-4), df
    assert stats.t95(1000) == pytest.approx(1.962, abs=5e-4)
    with pytest.raises(ValueError):
        stats.t95(0)


def test_t_interval_by_hand():
    # [1, 2, 3, 4]: mean 2.5, sample std sqrt(5/3); t(0.975, 3) = 3.18244630528.
    mean, half, n = stats.ci95([1.0, 2.0, 3.0, 4.0, None, float("nan")])
    assert (mean, n) == (2.5, 4)
    assert half == pytest.approx(3.18244630528 * math.sqrt(5 / 3) / 2)


def old_bootstrap(d, resamples, seed):
    """The percentile bootstrap the reports used to compute by hand."""
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    return tuple(np.percentile(means, [2.5, 97.5]))


def test_paired_bootstrap_agrees_with_the_old_hand_written_one():
    d = np.array([0.3, -0.1, 0.5, 0.2, 0.05, 0.7])
    for seed in range(3):
        mean, low, high = stats.bootstrap_mean_ci(d, resamples=5000, seed=seed)
        assert mean == pytest.approx(d.mean())
        assert (low, high) == pytest.approx(old_bootstrap(d, 5000, seed), abs=1e-12)


def test_iqm_by_hand():
    assert iqm_of([1, 2, 3, 4, 100]) == 3.0            # int(5/4) = 1 cut from each end: 2, 3, 4
    assert iqm_of([4, 1, 3, 2]) == 2.5                 # 2, 3
    assert iqm_of([1, 2, 6]) == 3.0                    # fewer than 4: nothing cut, the mean
    # A (runs x tasks) matrix pools every score: 8 scores, 2 cut from each end -> 3, 4, 5, 6.
    assert iqm_of(np.arange(1.0, 9.0).reshape(4, 2)) == 4.5
    assert stats.iqm_interval([7.0], resamples=10) == (7.0, 7.0, 7.0)
    assert stats.iqm_interval([], resamples=10) is None


def iqm_of(scores):
    return stats.iqm_interval(scores, resamples=10)[0]


def test_iqm_interval_matches_brute_force_enumeration():
    x = np.array([0.0, 1.0, 2.0, 7.0])
    # Every one of the 4^4 = 256 equally likely resamples of the four runs, IQM of each.
    values = np.sort([iqm_of_sorted(x[list(idx)]) for idx in itertools.product(range(4), repeat=4)])
    atoms, counts = np.unique(values, return_counts=True)
    cdf = np.cumsum(counts) / values.size
    low, high = atoms[np.argmax(cdf >= 0.025)], atoms[np.argmax(cdf >= 0.975)]
    # The exact quantiles are away from the CDF's jumps (5 standard deviations of the empirical CDF
    # of 1,000 resamples), so 1,000 Monte Carlo resamples find them.
    assert np.min(np.abs(cdf - 0.025)) > 0.02 and np.min(np.abs(cdf - 0.975)) > 0.02
    value, lo, hi = stats.iqm_interval(x, resamples=1000, seed=0)
    assert value == 1.5 and (lo, hi) == (pytest.approx(low), pytest.approx(high))
    assert stats.iqm_interval(x, resamples=1000, seed=0) == (value, lo, hi)     # deterministic


def iqm_of_sorted(v):
    v = np.sort(v)
    return v[1:3].mean()


def test_the_global_generator_is_left_as_it_was():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    stats.iqm_interval([1.0, 2.0, 4.0], resamples=50, seed=9)
    stats.improvement_probability([1.0, 2.0], [0.0, 3.0], resamples=50, seed=9)
    assert np.random.random() == expected


def test_probability_of_improvement_by_hand():
    assert stats.improvement_probability([5, 6, 7], [1, 2, 3], resamples=50) == (1.0, 1.0, 1.0)
    assert stats.improvement_probability([1, 2, 3], [5, 6, 7], resamples=50) == (0.0, 0.0, 0.0)
    p, low, high = stats.improvement_probability([1, 2, 3], [1, 2, 3], resamples=200)
    assert p == 0.5 and low < 0.5 < high
    # (2 vs 2: a tie, 1/2), (2 > 1), (3 > 2), (3 > 1): 3.5 of 4 pairs.
    assert stats.improvement_probability([2, 3], [2, 1], resamples=50)[0] == 0.875
    # Two tasks: 1 on the first, 0.5 (a tie) on the second: the mean over tasks.
    x, y = np.array([[3.0, 1.0], [4.0, 1.0]]), np.array([[1.0, 1.0], [2.0, 1.0]])
    assert stats.improvement_probability(x, y, resamples=50)[0] == 0.75
    assert stats.improvement_probability([1.0], [0.0, 2.0], resamples=50) is None
