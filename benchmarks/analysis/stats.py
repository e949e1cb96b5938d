"""Statistics of the benchmark reports, from scipy and rliable (Agarwal et al., 2021, "Deep
Reinforcement Learning at the Edge of the Statistical Precipice"). Pure functions.

- `t95`, `ci95`: the 95% Student's t interval for a mean across seeds: mean +/- t(0.975, n-1) * s /
  sqrt(n), s the sample std (ddof=1), t from `scipy.stats.t`; no interval for one value.
- `normalized_auc`: the trapezoid area under (steps, values) divided by the step range, i.e. the
  curve's average height over that range (a success-rate curve gives a number in [0, 1]).
- `bootstrap_mean_ci`: the percentile bootstrap interval of the mean of paired differences
  (`scipy.stats.bootstrap`: the n differences resampled with replacement, `resamples` times).
- `iqm_interval`: the interquartile mean of a (runs x tasks) score matrix
  (`rliable.metrics.aggregate_iqm`: the mean of the scores left after cutting int(n / 4) of the n
  scores from each end) with a stratified bootstrap interval (`rliable.library.get_interval_estimates`:
  the runs resampled with replacement within each task, percentile interval).
- `improvement_probability`: P(X > Y), the probability that a run of X scores above a run of Y
  (`rliable.metrics.probability_of_improvement`: the Mann-Whitney U statistic / (n_x n_y) per task,
  ties counting one half, averaged over tasks), with a stratified bootstrap interval that resamples
  the runs of X and of Y independently.

Every bootstrap is reproducible: it takes the number of resamples and a seed. rliable's resampling
draws from NumPy's global generator, so the functions seed that generator for the call and restore
its previous state afterwards.
"""

from __future__ import annotations

import contextlib
import math
from typing import Sequence, Tuple

import numpy as np
import scipy.stats
from rliable import library as rly
from rliable import metrics as rly_metrics

MIN_PAIRS = 2
NOT_ENOUGH = f"n/a, needs >= {MIN_PAIRS} seeds"
LEVEL = 0.95


def t95(df: int) -> float:
    """t(0.975, df), the factor of a two-sided 95% interval."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    return float(scipy.stats.t.ppf(0.5 + LEVEL / 2.0, df))


def finite(values: Sequence[float]) -> np.ndarray:
    """The finite entries of `values` (None counts as missing) as a float array."""
    return np.asarray([float(v) for v in values if v is not None and math.isfinite(float(v))],
                      np.float64)


def ci95(values: Sequence[float]) -> Tuple[float, float, int]:
    """(mean, half-width of the 95% interval for the mean, n) over the finite values.

    The half-width is NaN for one value; mean and half-width are NaN for none.
    """
    v = finite(values)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    if v.size == 1:
        return float(v[0]), float("nan"), 1
    return float(v.mean()), t95(v.size - 1) * float(scipy.stats.sem(v)), int(v.size)


def normalized_auc(steps: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoid area under values[steps] divided by (steps[-1] - steps[0]).

    Args:
      steps: [T] increasing evaluation steps, T >= 2.
      values: [T] finite values at those steps.
    """
    s = np.asarray(steps, np.float64)
    v = np.asarray(values, np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"steps and values must be 1-D of the same length, got {s.shape} and {v.shape}")
    if s.size < 2:
        raise ValueError(f"an area needs at least 2 evaluation steps, got {s.size}")
    if np.any(np.diff(s) <= 0):
        raise ValueError("steps must be strictly increasing")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    return float(np.trapezoid(v, s)) / float(s[-1] - s[0])


def _check_bootstrap(resamples: int, level: float) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def bootstrap_mean_ci(differences: Sequence[float], *, resamples: int = 10000, seed: int = 0,
                      level: float = LEVEL) -> Tuple[float, float, float] | None:
    """Percentile bootstrap interval of the mean of paired differences.

    Args:
      differences: [n] per-seed differences (e.g. HRL-CG minus HRL on the same seed).
      resamples: number of resamples of the n seeds (with replacement).
      seed: seed of the generator (the interval is deterministic given it).
      level: coverage of the interval.

    Returns:
      (mean of the differences, low, high), or None for fewer than MIN_PAIRS differences.
    """
    d = np.asarray(differences, np.float64)
    if d.ndim != 1 or not np.all(np.isfinite(d)):
        raise ValueError(f"differences must be a 1-D array of finite values, got {differences!r}")
    _check_bootstrap(resamples, level)
    if d.size < MIN_PAIRS:
        return None
    result = scipy.stats.bootstrap((d,), np.mean, n_resamples=resamples, confidence_level=level,
                                   method="percentile", vectorized=True,
                                   rng=np.random.default_rng(seed))
    return float(d.mean()), float(result.confidence_interval.low), float(result.confidence_interval.high)


@contextlib.contextmanager
def _global_seed(seed: int):
    """NumPy's global generator seeded with `seed` inside the block, as it was afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _matrix(scores) -> np.ndarray:
    """Scores as a finite (runs x tasks) matrix: a 1-D array is one task."""
    x = np.asarray(scores, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"scores must be a finite (runs x tasks) matrix, got shape {x.shape}")
    return x


def iqm_interval(scores, *, resamples: int = 10000, seed: int = 0,
                 level: float = LEVEL) -> Tuple[float, float, float] | None:
    """The interquartile mean of `scores` ([runs] or [runs, tasks]) and its stratified bootstrap
    interval: (iqm, low, high); the interval is (iqm, iqm) for one run; None for no runs."""
    x = _matrix(scores) if len(scores) else None
    _check_bootstrap(resamples, level)
    if x is None:
        return None
    iqm = float(rly_metrics.aggregate_iqm(x))
    if x.shape[0] < MIN_PAIRS:
        return iqm, iqm, iqm
    with _global_seed(seed):
        _, intervals = rly.get_interval_estimates(
            {"x": x}, lambda s: np.array([rly_metrics.aggregate_iqm(s)]), reps=resamples,
            confidence_interval_size=level)
    low, high = intervals["x"][:, 0]
    return iqm, float(low), float(high)


def improvement_probability(scores_x, scores_y, *, resamples: int = 10000, seed: int = 0,
                            level: float = LEVEL) -> Tuple[float, float, float] | None:
    """P(X > Y) of two score sets ([runs] or [runs, tasks], the same tasks, any numbers of runs) and
    its stratified bootstrap interval: (probability, low, high); None if either has fewer than
    MIN_PAIRS runs."""
    x, y = _matrix(scores_x), _matrix(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must have the same tasks, got {x.shape[1]} and {y.shape[1]}")
    _check_bootstrap(resamples, level)
    if min(x.shape[0], y.shape[0]) < MIN_PAIRS:
        return None
    probability = float(rly_metrics.probability_of_improvement(x, y))
    with _global_seed(seed):
        _, intervals = rly.get_interval_estimates(
            {"xy": [x, y]}, lambda a, b: np.array([rly_metrics.probability_of_improvement(a, b)]),
            reps=resamples, confidence_interval_size=level)
    low, high = intervals["xy"][:, 0]
    return probability, float(low), float(high)
