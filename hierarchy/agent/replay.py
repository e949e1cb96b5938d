"""Replay: typed transitions packed into float32 rows, and a uniform ring buffer per level.

A level's stored step is a `Transition` (a dataclass: the same type on the acting side, as numpy, and
in the compiled graph, as `[B, ...]` tensors). Every field is flattened into one float32 row, so
sampling a batch is a single numpy fancy-index and the compiled training step receives one tensor per
level, which it unpacks by slicing (`RowLayout.unpack`). Integer fields are stored as floats; they
must stay below 2**24 to be exact. The layout of a row is declared once, by `transition_layout`;
modules share the dataclass, never field-name strings.

Replay settings (capacity and batch size) are the buffer's own, so per-level gin bindings read
`low/ReplayBuffer.batch_size = 256` (the agent builds each level's buffer in the level's scope).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Tuple, Type

import gin
import numpy as np
import tensorflow as tf

FieldSpec = Tuple[Tuple[int, ...], np.dtype]


@dataclasses.dataclass
class Transition:
    """One step of a level, from s_t to s_{t+n} (n <= k child steps).

    Shapes are per row; a batch adds a leading `[B]`.

    Attributes:
      observations: `[k + 1, obs_dim]`, the states at the child's step boundaries s_t, ..., s_{t+k}
        (k = the level's period over its child; 1 at the bottom). Rows past `num_steps` are unused.
      num_steps: `[]` int, n: how many child steps the transition holds (k unless the episode ended).
      goal: `[goal_dim]`, the level's conditioning input at s_t (context at the top).
      action: `[action_dim]`, the level's action (a goal for its child, or an environment action).
      reward: `[]`, the environment reward summed over the step (unscaled).
      discount: `[]`, 0 if the episode terminated within the step, else 1.
      child_actions: `[k, child_action_dim]`, the child's actions over the step (rows past
        `num_steps` unused); only stored for parents whose update reads them (the off-policy
        correction, the "reference" connected-gradient estimator), else None.
    """

    observations: Any
    num_steps: Any
    goal: Any
    action: Any
    reward: Any
    discount: Any
    child_actions: Any = None


@dataclasses.dataclass
class Draws:
    """The random draws of one level's update, per row of its batch.

    Attributes:
      noise: `[action_dim]` standard normal, for target policy smoothing.
      child_step: `[]` int, the child step j of the connected-gradient term (parents with a term
        only, else None): uniform over the steps the transition holds, the last one included.
      candidate_noise: `[C - 2, goal_dim]` standard normal, the off-policy correction's Gaussian
        candidates (corrected parents with C > 2 candidates only, else None).
      hindsight: `[]` uniform in [0, 1): the row's stored goal is replaced by the achieved one when
        it is below the level's hindsight probability (parents with hindsight actions only).
    """

    noise: Any
    child_step: Any = None
    candidate_noise: Any = None
    hindsight: Any = None


class RowLayout:
    """Where each field of a dataclass lives in a packed float32 row.

    Args:
      record_type: the dataclass (`Transition`, `Draws`, ...).
      fields: field name -> (shape of one row, dtype) for the fields that are present; the others
        must be optional (default None) and stay None when unpacked. Order is kept.
    """

    def __init__(self, record_type: Type, fields: Mapping[str, FieldSpec]):
        names = [f.name for f in dataclasses.fields(record_type)]
        unknown = set(fields) - set(names)
        if unknown:
            raise ValueError(f"{record_type.__name__} has no field(s) {sorted(unknown)}")
        self.record_type = record_type
        self.fields = {k: (tuple(int(d) for d in shape), np.dtype(dtype))
                       for k, (shape, dtype) in fields.items()}
        self.slices: Dict[str, slice] = {}
        offset = 0
        for k, (shape, _) in self.fields.items():
            size = int(np.prod(shape)) if shape else 1
            self.slices[k] = slice(offset, offset + size)
            offset += size
        self.width = offset

    def views(self, rows: np.ndarray):
        """C-contiguous packed numpy rows `[B, width]` -> a record of views `[B, *shape]` (writing a
        view writes the rows; fields stay float32)."""
        if rows.ndim != 2 or rows.shape[1] != self.width or not rows.flags.c_contiguous:
            raise ValueError(f"views need C-contiguous rows [B, {self.width}], got shape "
                             f"{rows.shape}")
        # Splitting the contiguous columns of a C-contiguous array never copies.
        return self.record_type(**{k: rows[:, self.slices[k]].reshape(rows.shape[0], *shape)
                                   for k, (shape, _) in self.fields.items()})

    def pack(self, record, out: np.ndarray | None = None) -> np.ndarray:
        """One record (numpy fields) -> `[width]` float32 (written into `out` if given)."""
        if not isinstance(record, self.record_type):
            raise TypeError(f"expected a {self.record_type.__name__}, got {type(record).__name__}")
        out = np.empty(self.width, np.float32) if out is None else out
        for k, (shape, _) in self.fields.items():
            value = getattr(record, k)
            if value is None:
                raise ValueError(f"{self.record_type.__name__}.{k} is None but this layout stores it")
            v = np.asarray(value, np.float32)
            if v.shape != shape:
                raise ValueError(f"{self.record_type.__name__}.{k} has shape {v.shape}, expected "
                                 f"{shape}")
            out[self.slices[k]] = v.reshape(-1)
        return out

    def unpack(self, rows):
        """`[B, width]` rows -> a record of `[B, *shape]` tensors, each cast back to its dtype."""
        rows = tf.convert_to_tensor(rows, tf.float32)
        values = {}
        for k, (shape, dtype) in self.fields.items():
            part = tf.reshape(rows[:, self.slices[k]], [-1, *shape])
            if dtype.kind in "iu":
                part = tf.cast(tf.round(part), tf.as_dtype(dtype))
            values[k] = part
        return self.record_type(**values)


def transition_layout(*, obs_dim: int, goal_dim: int, action_dim: int, child_steps: int,
                      child_action_dim: int | None = None) -> RowLayout:
    """The row layout of a level's `Transition` (`child_action_dim` given: child actions stored)."""
    fields = {
        "observations": ((child_steps + 1, obs_dim), np.float32),
        "num_steps": ((), np.int32),
        "goal": ((goal_dim,), np.float32),
        "action": ((action_dim,), np.float32),
        "reward": ((), np.float32),
        "discount": ((), np.float32),
    }
    if child_action_dim is not None:
        fields["child_actions"] = ((child_steps, child_action_dim), np.float32)
    return RowLayout(Transition, fields)


def draws_layout(*, action_dim: int, child_step: bool, candidate_draws: int = 0,
                 hindsight: bool = False) -> RowLayout:
    """The row layout of a level's `Draws` (`child_step`: the level has a connected-gradient term;
    `candidate_draws` > 0: Gaussian candidates of the off-policy correction, each `[action_dim]`;
    `hindsight`: the level relabels with hindsight actions)."""
    fields = {"noise": ((action_dim,), np.float32)}
    if child_step:
        fields["child_step"] = ((), np.int32)
    if candidate_draws:
        fields["candidate_noise"] = ((candidate_draws, action_dim), np.float32)
    if hindsight:
        fields["hindsight"] = ((), np.float32)
    return RowLayout(Draws, fields)


@gin.configurable(allowlist=["capacity", "batch_size"])
class ReplayBuffer:
    """Holds up to `capacity` packed rows; the oldest row is overwritten first.

    Args:
      layout: the `RowLayout` of the rows (see `transition_layout`).
      capacity: maximum number of rows (the paper: 200,000 per level).
      batch_size: rows per sampled batch (the paper: 128).
    """

    def __init__(self, *, layout: RowLayout, capacity: int = 200_000, batch_size: int = 128):
        for key, value in (("capacity", capacity), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ValueError(f"replay {key} must be >= 1, got {value}")
        if int(batch_size) > int(capacity):
            raise ValueError(f"replay batch_size ({batch_size}) must not exceed its capacity "
                             f"({capacity})")
        self.capacity = int(capacity)
        self.batch_size = int(batch_size)
        self.layout = layout
        self._rows = np.zeros((self.capacity, self.layout.width), np.float32)
        self._next = 0
        self._size = 0
        # Per row: rows of its episode stored after it; rows of the current episode stored so far.
        self._later = None
        self._episode_rows = 0

    def track_episodes(self) -> None:
        """From now on, keep per row how many rows of its episode were stored after it (for "future"
        hindsight goals, `future_indices`); rows of one episode must be stored consecutively."""
        if self._size:
            raise ValueError("track_episodes must be called before anything is stored")
        if self._later is None:
            self._later = np.zeros(self.capacity, np.int64)

    @property
    def tracks_episodes(self) -> bool:
        return self._later is not None

    def __len__(self) -> int:
        return self._size

    def add(self, record, *, new_episode: bool = False) -> None:
        """Appends one record (e.g. a `Transition`); every stored field must have its shape.
        `new_episode`: the record is the first of an episode (read when tracking episodes)."""
        self.layout.pack(record, out=self._rows[self._next])
        if self._later is not None:
            self._episode_rows = 0 if new_episode else self._episode_rows
            # The earlier rows of this episode that are still held gain one later row.
            earlier = min(self._episode_rows, self.capacity - 1)
            self._later[(self._next - np.arange(1, earlier + 1)) % self.capacity] += 1
            self._later[self._next] = 0
            self._episode_rows += 1
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample_indices(self, rng: np.random.Generator, batch_size: int | None = None) -> np.ndarray:
        """Uniform indices with replacement: `[batch_size]` (default: the buffer's)."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self._size, size=self.batch_size if batch_size is None else batch_size)

    def gather(self, indices) -> np.ndarray:
        """Packed rows `[len(indices), width]`."""
        return self._rows[np.asarray(indices)]

    def sample(self, rng: np.random.Generator, batch_size: int | None = None) -> np.ndarray:
        """Packed rows of a uniform batch `[batch_size, width]` (default: the buffer's batch size)."""
        return self.gather(self.sample_indices(rng, batch_size))

    def future_indices(self, rng: np.random.Generator, indices) -> np.ndarray:
        """Per row index r, a uniform index among r and the rows of r's episode stored after it:
        `[B] -> [B]` (needs `track_episodes`)."""
        if self._later is None:
            raise ValueError("future_indices needs a buffer that tracks episodes")
        indices = np.asarray(indices, np.int64)
        offsets = np.floor(rng.random(indices.shape) * (self._later[indices] + 1)).astype(np.int64)
        return (indices + np.minimum(offsets, self._later[indices])) % self.capacity

    def sample_into(self, rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
        """`sample` written into `out` `[batch_size, width]` (C-contiguous float32), the same draws;
        returns the indices sampled."""
        if out.shape[1:] != (self.layout.width,):
            raise ValueError(f"sample_into: out has shape {out.shape}, rows have width "
                             f"{self.layout.width}")
        # Indices are in range, so "clip" changes none; it lets numpy write `out` without a buffer.
        indices = self.sample_indices(rng, out.shape[0])
        np.take(self._rows, indices, axis=0, out=out, mode="clip")
        return indices

    # Persistence --------------------------------------------------------------------------------

    def state(self) -> Dict[str, np.ndarray]:
        """Arrays that restore the buffer exactly (only the filled rows are kept)."""
        state = {"rows": self._rows[: self._size], "next": np.asarray(self._next),
                 "width": np.asarray(self.layout.width), "capacity": np.asarray(self.capacity)}
        if self._later is not None:
            state.update(later=self._later[: self._size], episode_rows=np.asarray(self._episode_rows))
        return state

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        if int(state["capacity"]) != self.capacity or int(state["width"]) != self.layout.width:
            raise ValueError(
                f"replay checkpoint holds rows of width {int(state['width'])} in capacity "
                f"{int(state['capacity'])}; this buffer has width {self.layout.width}, capacity "
                f"{self.capacity} (a different configuration)")
        rows = state["rows"]
        self._size = rows.shape[0]
        self._rows[: self._size] = rows
        self._next = int(state["next"])
        if (self._later is not None) != ("later" in state):
            raise ValueError("replay checkpoint and buffer differ in tracking episodes (hindsight "
                             "goals on in one of them only: a different configuration)")
        if self._later is not None:
            self._later[: self._size] = state["later"]
            self._episode_rows = int(state["episode_rows"])
