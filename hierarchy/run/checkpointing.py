"""Crash-safe checkpoints of an `Agent` and of the training loop's own state.

A checkpoint is a directory `root/checkpoints/ckpt-<step>/` holding
  tf/ckpt*           `agent.tf_checkpoint()`: every variable, optimizer slots included;
  agent_state.npz    `agent.numpy_state()`: replay buffers, counters, the agent's random generator;
  loop_state.json    `LoopState`: what the training loop needs to continue (step, episodes,
                     environment generators, ...), a JSON object;
and, for a checkpoint written mid-episode, the files of its open episode (`hierarchy.run.resilience`).
It is written into a temporary directory first; every file is fsync'ed, then the directory is renamed
into place and the `latest` pointer file is replaced atomically (`hierarchy.run.files`). A process killed
at any moment therefore leaves the previous checkpoint and pointer intact; leftover temporary
directories are removed by the next `Checkpointer`.

A checkpoint is only written if every floating-point variable of the agent is finite: a NaN or inf
weight (or optimizer slot) makes `Checkpointer.save` raise `NonFiniteVariablesError` naming the
variables before anything is written, so the newest checkpoint on disk is always a usable one. A write
that fails (a full disk, an I/O error) removes its temporary directory and raises
`CheckpointWriteError`, naming the previous checkpoint, which is untouched.

Damaged checkpoints (bytes changed on disk after they were written: a failing disk, a bad copy) are
found when they are read: `Checkpointer.restore_newest_intact` tries the checkpoints newest first,
moves each damaged one aside to `damaged-ckpt-<step>` (kept for inspection, no longer a checkpoint)
and restores the newest intact one; if none is intact it raises `NoIntactCheckpointError` naming
every file it tried, and moves nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import zipfile
from typing import Any, Callable, Dict, Iterator, List, Tuple

import numpy as np
import tensorflow as tf

from hierarchy.run.files import atomic_directory, atomic_write_text, fsync_dir

_NAME = re.compile(r"^ckpt-(\d+)$")
LOOP_STATE = "loop_state.json"
AGENT_STATE = "agent_state.npz"
TF_PREFIX = os.path.join("tf", "ckpt")
POINTER = "latest"
MAX_NAMED_VARIABLES = 10   # non-finite variables named in the error message; the rest are counted


@dataclasses.dataclass(frozen=True)
class LoopState:
    """The training loop's state in a checkpoint: loop_state.json, one JSON object of these keys.

    Attributes:
      step: environment steps taken (the checkpoint's step).
      episodes: training episodes finished.
      elapsed: seconds of training wall time, summed over restarts.
      env_rng: the training environment's generator states (`resilience.env_rng_state`).
      open_episode: whether an episode was in progress (a mid-episode checkpoint: its files hold it).
      last_scheduled_save: the step of the last scheduled (not mid-episode) checkpoint; None if the
        run had none yet.
      blob_sha256: file name -> SHA-256 of each extra file of the checkpoint (`Checkpointer.save`'s
        `blobs`); None for a checkpoint without any.
    """

    step: int
    episodes: int
    elapsed: float
    env_rng: Dict[str, Any]
    open_episode: bool = False
    last_scheduled_save: int | None = None
    blob_sha256: Dict[str, str] | None = None

    def to_json(self) -> Dict[str, Any]:
        """The JSON object of loop_state.json (keys in this order; `blob_sha256` only if set)."""
        out = {"step": self.step, "episodes": self.episodes, "elapsed": self.elapsed,
               "env_rng": self.env_rng, "open_episode": self.open_episode,
               "last_scheduled_save": self.last_scheduled_save}
        if self.blob_sha256 is not None:
            out["blob_sha256"] = self.blob_sha256
        return out

    @staticmethod
    def from_json(data: Any, *, path: str = LOOP_STATE) -> LoopState:
        """The `LoopState` of a loop_state.json object. Checkpoints written before `open_episode`
        and `last_scheduled_save` were recorded get False and `step`.

        Raises:
          ValueError: `data` is not an object, or lacks step, episodes, elapsed or env_rng (a
            damaged checkpoint); the message names `path`.
        """
        missing = [key for key in ("step", "episodes", "elapsed", "env_rng")
                   if not isinstance(data, dict) or key not in data]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        return LoopState(step=data["step"], episodes=data["episodes"], elapsed=data["elapsed"],
                         env_rng=data["env_rng"], open_episode=bool(data.get("open_episode", False)),
                         last_scheduled_save=data.get("last_scheduled_save", data["step"]),
                         blob_sha256=data.get("blob_sha256"))


class NonFiniteVariablesError(FloatingPointError):
    """A checkpoint was refused because some of the agent's variables hold NaN or inf values."""


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (e.g. no space left on device); the previous one is intact."""


class NoIntactCheckpointError(RuntimeError):
    """Every checkpoint of a run is damaged; nothing was moved or deleted."""


# What reading a damaged checkpoint raises: TensorFlow's checksum and format errors, a broken
# object graph, a truncated data file (TensorFlow's reader raises IndexError: "Read less bytes than
# requested"), a broken npz archive or JSON file, a missing file.
READ_ERRORS = (tf.errors.OpError, AssertionError, ValueError, KeyError, IndexError, EOFError,
               OSError, zipfile.BadZipFile)
DAMAGED_PREFIX = "damaged-"


def _checkpointed_variables(root) -> Iterator[Tuple[str, tf.Variable]]:
    """(path in the checkpoint's object graph, variable) for every variable reachable from `root`
    (a `tf.train.Checkpoint`), each once; paths look like `hierarchy/levels/1/critic_optimizer/m/0`."""
    view = tf.train.TrackableView(root)
    seen = {id(root)}
    stack = [("", root)]
    while stack:
        path, obj = stack.pop()
        for name, child in view.children(obj).items():
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_path = f"{path}/{name}" if path else name
            if isinstance(child, tf.Variable):
                yield child_path, child
            else:
                stack.append((child_path, child))


def non_finite_variables(root) -> List[str]:
    """Descriptions of the floating-point variables reachable from the checkpoint `root` that hold
    a NaN or inf value, sorted by path, e.g. `hierarchy/levels/1/actor/kernel_0 (low/actor/kernel_0,
    3 of 48 values non-finite)`; [] if every variable is finite."""
    bad = []
    for path, var in _checkpointed_variables(root):
        if not var.dtype.is_floating:
            continue
        values = var.numpy()
        finite = np.isfinite(values)
        if not finite.all():
            name = var.name[:-2] if var.name.endswith(":0") else var.name
            bad.append(f"{path} ({name}, {values.size - int(finite.sum())} of {values.size} values "
                       "non-finite)")
    return sorted(bad)


def check_finite(root, *, what: str) -> None:
    """Raises `NonFiniteVariablesError` naming the non-finite variables of the checkpoint `root`;
    `what` says what was refused (it starts the message)."""
    bad = non_finite_variables(root)
    if not bad:
        return
    named = bad[:MAX_NAMED_VARIABLES]
    more = f" and {len(bad) - len(named)} more" if len(bad) > len(named) else ""
    raise NonFiniteVariablesError(
        f"{what}: {len(bad)} variable(s) of the agent hold NaN or inf values: {'; '.join(named)}{more}")


class Checkpointer:
    """Saves and restores checkpoints under `directory`, keeping the newest `keep`.

    Args:
      directory: where the `ckpt-<step>` directories live (created if missing).
      keep: how many complete checkpoints to keep (>= 1).
      writer: whether this process writes checkpoints (the training loop): creates the directory
        and removes temporary directories left by a killed writer. Readers (evaluation, possibly
        while training runs) leave everything as it is.
    """

    def __init__(self, directory: str, keep: int = 2, *, writer: bool = False):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = directory
        self.keep = int(keep)
        if writer:
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                if name.startswith(".tmp-"):   # left by a process killed while writing
                    shutil.rmtree(os.path.join(directory, name), ignore_errors=True)

    def complete(self) -> List[Tuple[int, str]]:
        """(step, path) of every complete checkpoint, oldest first."""
        out = []
        if not os.path.isdir(self.directory):
            return out
        for name in os.listdir(self.directory):
            m = _NAME.match(name)
            path = os.path.join(self.directory, name)
            if m and os.path.isfile(os.path.join(path, LOOP_STATE)):
                out.append((int(m.group(1)), path))
        return sorted(out)

    def latest(self) -> str | None:
        """The path of the newest complete checkpoint, or None."""
        pointer = os.path.join(self.directory, POINTER)
        if os.path.isfile(pointer):
            with open(pointer) as f:
                path = os.path.join(self.directory, f.read().strip())
            if os.path.isfile(os.path.join(path, LOOP_STATE)):
                return path
        complete = self.complete()
        return complete[-1][1] if complete else None

    def save(self, step: int, agent, loop_state: LoopState,
             blobs: Dict[str, bytes] | None = None) -> str:
        """Writes a checkpoint of `agent` and `loop_state` at `step`, and each of `blobs` (file name
        -> bytes, e.g. a mid-episode checkpoint's open episode) as a file, its SHA-256 recorded in
        the loop state's `blob_sha256`.

        Raises:
          NonFiniteVariablesError: a variable of `agent.tf_checkpoint()` holds a NaN or inf value;
            nothing was written and the previous checkpoints and pointer are unchanged.
        """
        root = agent.tf_checkpoint()
        check_finite(root, what=f"checkpoint ckpt-{int(step)} was not written")
        final = os.path.join(self.directory, f"ckpt-{int(step)}")
        previous = self.latest()
        try:
            with atomic_directory(final) as tmp:
                os.makedirs(os.path.join(tmp, "tf"))
                root.write(os.path.join(tmp, TF_PREFIX))
                with open(os.path.join(tmp, AGENT_STATE), "wb") as f:
                    np.savez(f, **agent.numpy_state())
                for name, data in (blobs or {}).items():
                    with open(os.path.join(tmp, name), "wb") as f:
                        f.write(data)
                if blobs:   # checked by `restore` (the other files carry checksums of their own)
                    loop_state = dataclasses.replace(loop_state, blob_sha256={
                        name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()})
                with open(os.path.join(tmp, LOOP_STATE), "w") as f:   # written last: marks completeness
                    json.dump(loop_state.to_json(), f, indent=1)
        except (OSError, tf.errors.OpError) as e:   # the temporary directory is gone already
            kept = (f"the previous checkpoint {previous} is intact" if previous
                    else "no earlier checkpoint exists")
            raise CheckpointWriteError(
                f"checkpoint ckpt-{int(step)} could not be written to {self.directory} "
                f"({reason(e)}); its partial files were removed and {kept}") from e
        atomic_write_text(os.path.join(self.directory, POINTER), os.path.basename(final) + "\n")
        for _, old in self.complete()[:-self.keep]:
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        return final

    @staticmethod
    def read_blob(path: str, name: str) -> bytes:
        """A file that `save` wrote from `blobs`."""
        with open(os.path.join(path, name), "rb") as f:
            return f.read()

    @staticmethod
    def read_loop_state(path: str) -> LoopState:
        """The loop state of the checkpoint at `path` (a `ValueError` if it is incomplete)."""
        file = os.path.join(path, LOOP_STATE)
        with open(file) as f:
            return LoopState.from_json(json.load(f), path=file)

    @staticmethod
    def restore(path: str, agent, *, weights_only: bool = False) -> LoopState:
        """Restores `agent` from the checkpoint at `path`; returns its loop state.

        With `weights_only`, restores only the variables (enough to act; optimizer slots may be
        missing from the object graph of an evaluation-only agent) and not the replay buffers.
        The loop state is read first, so a damaged one (a `ValueError`) costs no restore.
        """
        state = Checkpointer.read_loop_state(path)
        status = agent.tf_checkpoint().read(os.path.join(path, TF_PREFIX))
        if weights_only:
            status.expect_partial()
        else:
            status.assert_consumed()
            with np.load(os.path.join(path, AGENT_STATE)) as data:
                agent.load_numpy_state({k: data[k] for k in data.files})
        for name, digest in (state.blob_sha256 or {}).items():
            if hashlib.sha256(Checkpointer.read_blob(path, name)).hexdigest() != digest:
                raise ValueError(f"{os.path.join(path, name)} does not match its checksum")
        return state

    def restore_newest_intact(self, agent, *, log: Callable[[str], None] = print
                              ) -> Tuple[str | None, LoopState | None]:
        """Restores `agent` from the newest checkpoint that reads back whole (its loop state
        included).

        Checkpoints are tried newest first; each damaged one newer than the one restored is moved
        aside (renamed `damaged-ckpt-<step>`) with one line to `log`. The caller drops whatever the
        run wrote after the restored step, as after any restart.

        Returns:
          (path, loop state) of the restored checkpoint, or (None, None) if there is none.
        Raises:
          NoIntactCheckpointError: checkpoints exist but none reads back; nothing was moved.
        """
        complete = self.complete()
        damaged: List[Tuple[str, str]] = []
        for _, path in reversed(complete):
            try:
                state = self.restore(path, agent)
            except READ_ERRORS as e:
                damaged.append((path, reason(e)))
                continue
            for bad, why in damaged:
                aside = self._move_aside(bad)
                log(f"Checkpoint {bad} is damaged ({why}); moved it to {aside} and resumed from "
                    f"{path} instead.")
            atomic_write_text(os.path.join(self.directory, POINTER), os.path.basename(path) + "\n")
            return path, state
        if damaged:
            listing = "; ".join(f"{', '.join(_files(p))}: {why}" for p, why in damaged)
            raise NoIntactCheckpointError(
                f"no intact checkpoint in {self.directory}: every checkpoint failed to read back "
                f"({listing}). Nothing was moved or deleted; restore the files from a copy, or move the "
                f"checkpoints directory away and re-run with --start_over to start the run over.")
        return None, None

    def _move_aside(self, path: str) -> str:
        base = os.path.join(self.directory, DAMAGED_PREFIX + os.path.basename(path))
        target, n = base, 1
        while os.path.exists(target):
            target, n = f"{base}.{n}", n + 1
        os.replace(path, target)
        fsync_dir(self.directory)
        return target


def _files(path: str) -> List[str]:
    """Every file of a checkpoint directory."""
    out = []
    for dirpath, _, names in os.walk(path):
        out += sorted(os.path.join(dirpath, n) for n in names)
    return out


def reason(error: BaseException) -> str:
    """The first line of an error's message, with its type."""
    text = str(getattr(error, "message", "") or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()
