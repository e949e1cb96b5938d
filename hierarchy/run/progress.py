"""Progress lines of a training run: steps, steps/s, recent returns and success, time left."""

from __future__ import annotations

import math
import time
from typing import Iterable, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging


def format_duration(seconds: float) -> str:
    """`1h02m03s`, `4m05s`, or `?` for a non-finite duration."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def mean(values: Iterable[float | None]) -> float:
    """The mean of the values that are not None; NaN if there are none."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def progress_line(step: int, total_steps: int, rate: float,
                  recent: Sequence[Tuple[float, bool | None]], eta: float | None) -> str:
    """One progress line; `recent` holds (return, success or None) of the latest training episodes,
    `eta` is in seconds, None while the rate includes warm-up steps."""
    returns = [r for r, _ in recent]
    successes = [float(s) for _, s in recent if s is not None]
    parts = [f"step {step}/{total_steps} ({100.0 * step / total_steps:.1f}%)", f"{rate:.1f} steps/s"]
    if returns:
        parts.append(f"return {np.mean(returns):.2f}")
    if successes:
        parts.append(f"success {np.mean(successes):.2f}")
    if returns:
        parts[-1] += f" (last {len(returns)} episodes)"
    parts.append("ETA once learning has run one log interval" if eta is None
                 else f"ETA {format_duration(eta)}")
    return " | ".join(parts)


class ProgressLog:
    """Logs progress lines, and steps/s to TensorBoard (under the default summary writer).

    The rate of a line is measured since the previous line (or since `start_step`); the time left is
    only estimated from a rate measured after the warm-up (random warm-up steps, without updates,
    say nothing of the learning steps to come).
    """

    def __init__(self, *, total_steps: int, start_step: int, warmup_steps: int):
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self._time, self._step = time.monotonic(), start_step

    def log(self, step: int, recent: Sequence[Tuple[float, bool | None]]) -> None:
        """Logs the line of `step`."""
        rate = (step - self._step) / max(time.monotonic() - self._time, 1e-9)
        eta = (self.total_steps - step) / max(rate, 1e-9) if self._step >= self.warmup_steps else None
        self._time, self._step = time.monotonic(), step
        logging.info(progress_line(step, self.total_steps, rate, recent, eta))
        tf.summary.scalar("train/steps_per_second", rate, step=step)
