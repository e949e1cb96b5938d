"""How a training run fails without losing what it has: the errors that stop it, each naming what is
intact on disk and what to do, and the check that keeps a restart from discarding rows.

- `TrainingDivergedError`: a loss or a variable became NaN or infinite; nothing was saved after it.
- `RunWriteError`: a file of the run (metric rows, TensorBoard events, pictures) could not be written
  between checkpoints (a full disk, a read-only filesystem). Errors of the checkpoint itself are
  `checkpointing.CheckpointWriteError`.
- `RowsWithoutCheckpointError`: `check_no_checkpointed_rows` found training rows from after a
  checkpoint but no checkpoint; starting over would discard them.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

import tensorflow as tf

from hierarchy.run import checkpointing

# What writing a run's files raises when the filesystem refuses: Python's OSError (ENOSPC, EROFS,
# EACCES ...) and TensorFlow's for its event files.
WRITE_ERRORS = (OSError, tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.FailedPreconditionError)


class TrainingDivergedError(FloatingPointError):
    """A loss or a variable became NaN or infinite; nothing was saved after it."""


class RunWriteError(OSError):
    """A file of the run could not be written between checkpoints; the newest checkpoint is intact."""


class RowsWithoutCheckpointError(RuntimeError):
    """The run directory holds metric rows from after a checkpoint, but no checkpoint: starting
    over would discard them (`train(start_over=True)` allows it)."""


def intact_checkpoint(checkpointer: checkpointing.Checkpointer, label: str) -> str:
    """'the <label> checkpoint, <path> (step N), is intact', or that none had been written."""
    good = checkpointer.latest()
    if good is None:
        return "no checkpoint had been written yet"
    step = checkpointer.read_loop_state(good).step
    return f"the {label} checkpoint, {good} (step {step}), is intact"


def diverged(error: FloatingPointError, checkpointer: checkpointing.Checkpointer) -> TrainingDivergedError:
    return TrainingDivergedError(
        f"Training diverged and was stopped: {error}. Nothing was saved after the failure; "
        f"{intact_checkpoint(checkpointer, 'last good')}. Lower the learning rates or the reward "
        "scale, or check the environment's rewards.")


def write_failed(error: BaseException, checkpointer: checkpointing.Checkpointer,
                 root_dir: str) -> RunWriteError:
    filename = getattr(error, "filename", None)
    return RunWriteError(
        f"Training stopped: a file of the run could not be written ({checkpointing.reason(error)}"
        f"{', ' + str(filename) if filename else ''}); {intact_checkpoint(checkpointer, 'newest')}. "
        f"Free space (or make {root_dir} writable) and re-run the same command to resume.")


def check_no_checkpointed_rows(rows: Sequence[Dict[str, Any]], *, checkpoint_interval: int,
                               train_metrics: str, checkpoints: str) -> None:
    """Raises `RowsWithoutCheckpointError` when the training `rows` of a run that has no checkpoint
    show that it had one: the first checkpoint falls at the first episode boundary at or after
    `checkpoint_interval` (or at a stop signal, later), right after that episode's row, so a row
    after that one was written after a checkpoint that has since been deleted. A run killed before
    its first checkpoint passes (its rows are dropped and it starts over)."""
    due = next((k for k, r in enumerate(rows) if r["step"] >= checkpoint_interval), None)
    if due is not None and due + 1 < len(rows):
        raise RowsWithoutCheckpointError(
            f"{len(rows)} training rows up to step {rows[-1]['step']} ({train_metrics}) were written "
            f"after a checkpoint, but no checkpoint is left in {checkpoints}: starting over would "
            "discard them. Nothing was changed. Restore the checkpoints, or pass --start_over "
            "(train(start_over=True)) to discard the rows and start again from step 0.")
