"""Metrics of a training run: JSON-lines files, TensorBoard summaries, the learning-curve plot.

Two JSON-lines files live in the run's root directory, one JSON object per line:

`train_metrics.jsonl`, one row per finished training episode:
  step               environment steps taken when the episode ended (training steps only)
  episode            1-based index of the training episode
  episode_return     sum of the environment rewards
  episode_length     environment steps of the episode
  success            info["is_success"] at the final step (bool), or null if the task has none
  intrinsic_returns  {level name: sum of its intrinsic rewards (reward_scale included)} for every
                     level below the top
  losses             {level name: {"critic", "actor", "cg", "lambda"}}: the level's last losses
                     (`Agent.last_losses`; zeros before its first update)
  time               seconds of training wall time (summed over restarts) when the episode ended

`eval_metrics.jsonl`, one row per evaluation (see `hierarchy.run.evaluation.evaluate`):
  step, mean_return, success_rate (null if the task has no success), success_rule (how an episode's
  success was read: "final_step" or "any_step", `hierarchy.run.evaluation`), num_episodes, time, and
  per_context: a list of {"context", "mean_return", "success_rate", "returns"}.

Non-finite floats are written as null (JSON has no NaN). On resume the training loop drops every row
with a step beyond the restored checkpoint (`truncate_jsonl`), so a curve has each row exactly once.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import socket
import time
from typing import Any, Dict, Iterable, List, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from hierarchy.core.losses import Losses
from hierarchy.run.files import atomic_output, atomic_write_text

_EVENT_FILE_SECOND = re.compile(r"^events\.out\.tfevents\.(\d+)\.")


def jsonable(value: Any) -> Any:
    """`value` with numpy scalars/arrays as Python values and NaN/inf floats as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def read_jsonl(path: str) -> List[Dict[str, Any]]:
    """The rows of a JSON-lines file ([] if missing); a path ending in ".gz" is read through gzip
    (the committed results store their training rows so: `benchmarks.sweeps.collect`).

    What a crash leaves at the end of the file is dropped: an unfinished last line (a process killed
    while writing), and trailing lines that do not parse, such as the NUL bytes a power loss leaves
    where the last rows were (with a warning naming the file and line). A line that does not parse
    with rows after it is damage no crash explains: `ValueError` naming the file and line.
    """
    if not os.path.exists(path):
        return []
    rows: List[Dict[str, Any]] = []
    torn: int | None = None   # the first line (1-based) of the unparseable lines at the end
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break          # cut off by a crash while writing
            text = line.replace("\0", "").strip()
            if not text:
                torn = torn or (number if "\0" in line else None)
                continue
            try:
                row = json.loads(text)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                torn = torn or number
                continue
            if torn is not None:
                raise ValueError(f"{path}, line {torn}: not a JSON row, and rows follow it (the "
                                 "file was damaged, not cut short by a crash); repair or remove "
                                 "that line")
            rows.append(row)
    if torn is not None:
        logging.warning("%s: dropped the unreadable end of the file from line %d (what a crash or "
                        "power loss leaves); %d rows kept.", path, torn, len(rows))
    return rows


def truncate_jsonl(path: str, max_step: int) -> int:
    """Keeps the rows with `step <= max_step` (atomically), and drops an unreadable end of the file
    (`read_jsonl`); returns how many rows were dropped."""
    if not os.path.exists(path):
        return 0
    rows = read_jsonl(path)
    kept = [r for r in rows if r["step"] <= max_step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return len(rows) - len(kept)


class JsonlWriter:
    """Appends rows to a JSON-lines file, flushing after each row."""

    def __init__(self, path: str):
        self.path = path
        self._file = open(path, "a")

    def write(self, row: Dict[str, Any]) -> None:
        self._file.write(json.dumps(jsonable(row)) + "\n")
        self._file.flush()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def final_metrics(*, step: int, episodes: int, wall_time: float, eval_rows: Sequence[Dict[str, Any]],
                  recent: Iterable[tuple]) -> Dict[str, Any]:
    """`finished.json`: the final step and episode count, wall time, the last evaluation, the best
    evaluation return, and the mean return and success of the `recent` (return, success) episodes."""
    recent = list(recent)
    returns = [r for r, _ in recent if r is not None]
    successes = [float(s) for _, s in recent if s is not None]
    return jsonable({
        "step": step, "episodes": episodes, "wall_time": wall_time,
        "final_eval": {k: eval_rows[-1][k] for k in ("step", "mean_return", "success_rate", "num_episodes")},
        "best_eval_mean_return": max(r["mean_return"] for r in eval_rows),
        "recent_train_return": float(np.mean(returns)) if returns else float("nan"),
        "recent_train_success": float(np.mean(successes)) if successes else float("nan"),
    })


def episode_row(*, step: int, episode: int, env_return: float, length: int, success,
                intrinsic_returns: Sequence[float], losses: Losses, level_names: Sequence[str],
                time: float) -> Dict[str, Any]:
    """A `train_metrics.jsonl` row (see the module docstring)."""
    return jsonable({
        "step": step, "episode": episode, "episode_return": env_return, "episode_length": length,
        "success": None if success is None else bool(success),
        "intrinsic_returns": {name: r for name, r in zip(level_names[1:], intrinsic_returns[1:])},
        "losses": {name: losses.of_level(i) for i, name in enumerate(level_names)},
        "time": time,
    })


def write_train_summaries(row: Dict[str, Any], step: int) -> None:
    """TensorBoard scalars of a `train_metrics.jsonl` row (under the default summary writer)."""
    tf.summary.scalar("train/episode_return", row["episode_return"], step=step)
    if row["success"] is not None:
        tf.summary.scalar("train/success", float(row["success"]), step=step)
    for name, value in row["intrinsic_returns"].items():
        tf.summary.scalar(f"intrinsic_return/{name}", _nan(value), step=step)
    for name, losses in row["losses"].items():
        for key, value in losses.items():
            tag = f"cg_lambda/{name}" if key == "lambda" else f"loss/{name}/{key}"
            tf.summary.scalar(tag, _nan(value), step=step)


def write_eval_summaries(row: Dict[str, Any], step: int) -> None:
    """TensorBoard scalars of an `eval_metrics.jsonl` row."""
    tf.summary.scalar("eval/mean_return", row["mean_return"], step=step)
    if row["success_rate"] is not None:
        tf.summary.scalar("eval/success_rate", row["success_rate"], step=step)
    for i, ctx in enumerate(row["per_context"]):
        tf.summary.scalar(f"eval/context_{i}/mean_return", ctx["mean_return"], step=step)
        if ctx["success_rate"] is not None:
            tf.summary.scalar(f"eval/context_{i}/success_rate", ctx["success_rate"], step=step)


def mark_start(log_dir: str, first_step: int) -> str:
    """Marks in TensorBoard that a run (re)starts writing at `first_step`: writes an event file
    holding a SessionLog START at that step. TensorBoard's event accumulator treats every START
    after the first as a restart and drops the earlier events at `first_step` and later: those a
    run that died wrote after its checkpoint, which the resumed run writes again.

    Pass the checkpoint's step + 1 when resuming from a checkpoint, and 0 when (re)starting without
    one (a run that died before its first checkpoint: its step-0 evaluation is written again, so it
    must be dropped too). Call at every start, before creating the run's summary writer (the file
    sorts before the writer's file).
    """
    from tensorflow.core.util import event_pb2

    os.makedirs(log_dir, exist_ok=True)
    _wait_for_a_new_second(log_dir)
    now = time.time()
    # Same name pattern as TensorFlow's writers; "0start" sorts before their "<pid>..." suffix.
    path = os.path.join(log_dir, f"events.out.tfevents.{int(now)}.{socket.gethostname()}.0start")
    start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString())
        writer.write(event_pb2.Event(wall_time=now, step=int(first_step),
                                     session_log=start).SerializeToString())
    return path


def _wait_for_a_new_second(log_dir: str) -> None:
    """Event files are read in name order and named after the second they were created in; a marker
    created in the same second as the previous run's files would sort before them (and not drop
    their events), so this waits for that second to pass (at most a second; only for a quick restart)."""
    seconds = [int(m.group(1)) for m in map(_EVENT_FILE_SECOND.match, os.listdir(log_dir)) if m]
    if seconds and max(seconds) == int(time.time()):
        time.sleep(max(0.0, max(seconds) + 1 - time.time()) + 0.01)


def _nan(value) -> float:
    return float("nan") if value is None else float(value)


def plot_learning_curve(eval_rows: Iterable[Dict[str, Any]], path: str, title: str = "") -> None:
    """Saves a PNG of the evaluation return (and success rate, where defined) against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(eval_rows, key=lambda r: r["step"])
    steps = [r["step"] for r in rows]
    has_success = any(r["success_rate"] is not None for r in rows)
    fig, axes = plt.subplots(1, 2 if has_success else 1, figsize=(10 if has_success else 5, 3.6),
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(steps, [_nan(r["mean_return"]) for r in rows], marker="o")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean evaluation return")
    ax.grid(alpha=0.3)
    if has_success:
        ax = axes[0, 1]
        ax.plot(steps, [_nan(r["success_rate"]) for r in rows], marker="o", color="tab:green")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation success rate")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        with atomic_output(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
