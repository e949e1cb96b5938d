"""Statistics of the evidence report (benchmarks/compare.py): confidence intervals across seeds, the
normalised area under a curve, and the percentile bootstrap of paired differences. Pure functions.

- `ci95`: mean and half-width t(0.975, n-1) * s / sqrt(n) of a 95% interval for the mean (s the
  sample std, ddof=1); no interval for one value.
- `normalized_auc`: the trapezoid area under (steps, values) divided by the step range, i.e. the
  curve's average height over that range (a success-rate curve gives a number in [0, 1]).
- `bootstrap_mean_ci`: percentile bootstrap of the mean of paired differences: resample the n
  differences with replacement (`resamples` times, a fixed-seed NumPy generator), take each
  resample's mean, and report the 2.5% and 97.5% percentiles of those means.
"""

from __future__ import annotations

import math
import pathlib
import sys
from typing import Sequence, Tuple

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # benchmarks/ is a folder of scripts: make `aggregate` importable
    sys.path.insert(0, str(HERE))

from aggregate import t95  # noqa: E402

MIN_PAIRS = 2
NOT_ENOUGH = f"n/a, needs >= {MIN_PAIRS} seeds"


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
    return float(v.mean()), t95(v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size), int(v.size)


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
    area = float(np.sum((v[1:] + v[:-1]) * np.diff(s)) / 2.0)
    return area / float(s[-1] - s[0])


def bootstrap_mean_ci(differences: Sequence[float], *, resamples: int = 10000, seed: int = 0,
                      level: float = 0.95) -> Tuple[float, float, float] | None:
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
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if d.size < MIN_PAIRS:
        return None
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(d.mean()), float(low), float(high)
