"""Crash-safe file writes: a reader (or a process restarted after `kill -9`) sees either the old
content or the whole new content, never part of it. Every atomic write of the library goes through
this module.

The recipe: write into a temporary name beside the target (same directory, so the same file
system), flush and fsync it, `os.replace` it onto the target (atomic on POSIX), then fsync the
directory so the rename itself survives a power cut. Temporary names start with the target's name
(files: `<name>.tmp-<pid>`) or with `.tmp-` (directories: `.tmp-<name>-<pid>`), so a writer can
recognise and remove what a killed predecessor left.

The files of a run directory: their names, in one public place for the library and its users
(benchmarks/sweeps/sweep.py and benchmarks/analysis/aggregate.py read runs through these names).

What a training run (`hierarchy.run.runner.train`) writes into its `root_dir`:
  config.gin             the full gin configuration at start (`gin.config_str()`); a later run in the
                         same root_dir must have the same text, else it stops (ConfigMismatchError)
  operative_config.gin   the parameters actually used, defaults included
  train_metrics.jsonl    one row per training episode   } formats: `hierarchy.run.metrics`
  eval_metrics.jsonl     one row per evaluation         }
  tensorboard/           TensorBoard event files: the same metrics, plus steps/s; a restart marker
                         per (re)start makes TensorBoard drop the dead run's events after its checkpoint
  checkpoints/           crash-safe checkpoints (`hierarchy.run.checkpointing`), the newest `keep_checkpoints`
                         (ckpt-<step>/: tf/, agent_state.npz, loop_state.json and, written
                         mid-episode, open_episode.npz + open_episode.json: `hierarchy.run.resilience`)
  learning_curve.png     evaluation return and success rate against steps (at the end)
  plots/                 trajectory_<step>_ctx<k>.png: the first evaluation episode of context k at
                         each evaluation, seen from above (`hierarchy.plots.trajectory_plot`; setting
                         `train.trajectory_plots`), also in TensorBoard as images
  finished.json          the final metrics; its presence makes a re-run a no-op (unless the re-run
                         extends it to a larger total_steps: `hierarchy.run.resilience`)
  finished_<step>.json   the final metrics of the run before it was extended from <step> steps
  .train.lock            held (`fcntl.flock`) by the training process while it runs: a second one
                         in the same root_dir stops before writing anything
  evaluation_<step>.json written by `hierarchy.run.saved_run.evaluate_run` (the evaluate binary):
                         the evaluation of the checkpoint of that step, and its pictures
                         plots/evaluation_<step>_ctx<k>.png (unless --notrajectory_plots)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator


def fsync_dir(path: str) -> None:
    """fsyncs the directory `path` (makes renames and new entries in it durable); best effort: file
    systems that cannot fsync a directory are skipped silently."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str) -> None:
    """fsyncs every file and directory under `path`."""
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(dirpath)


@contextlib.contextmanager
def atomic_output(path: str, *, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path for the caller to write `path`'s new content to (by any means, e.g.
    `savefig`), then moves it onto `path` atomically. `suffix` ends the temporary name (e.g. ".png"
    for writers that pick the format from the extension). If the body raises, `path` is left as it
    was and the temporary file is removed."""
    tmp = f"{path}.tmp-{os.getpid()}{suffix}"
    try:
        yield tmp
        if os.path.exists(tmp):
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_write_text(path: str, text: str) -> None:
    """Writes `text` to `path` so that readers see either the old or the whole new content."""
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(text)


@contextlib.contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """Yields an empty temporary directory (`.tmp-<name>-<pid>` beside `path`) for the caller to
    fill, then fsyncs everything in it and renames it to `path`, replacing a directory already
    there. If the body raises, the temporary directory is removed and `path` is left as it was."""
    parent, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(parent, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
        fsync_tree(tmp)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)


CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
TRAIN_METRICS = "train_metrics.jsonl"
EVAL_METRICS = "eval_metrics.jsonl"
FINISHED = "finished.json"
LEARNING_CURVE = "learning_curve.png"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
PLOTS = "plots"
LOCK = ".train.lock"


def previous_finished_file(step: int) -> str:
    """Where an extended run keeps the `finished.json` it had at `step` (`finished_<step>.json`)."""
    return f"finished_{int(step)}.json"


def evaluation_file(step: int) -> str:
    """The name of the file that evaluating the checkpoint of `step` writes (`evaluation_<step>.json`)."""
    return f"evaluation_{int(step)}.json"


def trajectory_plot_file(step: int, context_index: int, prefix: str = "trajectory") -> str:
    """The name of the picture of evaluation context `context_index` at `step`
    (`<prefix>_<step>_ctx<k>.png`; the training loop's prefix is "trajectory", the evaluate
    binary's "evaluation"), inside the run's PLOTS folder."""
    return f"{prefix}_{int(step)}_ctx{int(context_index)}.png"
