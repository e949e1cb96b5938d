"""A uniform ring-buffer replay whose rows are packed float32 vectors.

Every field of a row (an array of fixed shape) is flattened into one float32 row, so sampling a
batch is a single numpy fancy-index and the compiled training step receives one tensor per level,
which it unpacks by slicing (`RowLayout.unpack` works on numpy arrays and tensors alike). Integer
fields are stored as floats; they must stay below 2**24 to be exact.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf

FieldSpec = Tuple[Tuple[int, ...], np.dtype]


class RowLayout:
    """Where each named field lives in a packed float32 row.

    Args:
      fields: name -> (shape of one row, dtype); order is kept.
    """

    def __init__(self, fields: Mapping[str, FieldSpec]):
        self.fields = {k: (tuple(int(d) for d in shape), np.dtype(dtype))
                       for k, (shape, dtype) in fields.items()}
        self.slices = {}
        offset = 0
        for k, (shape, _) in self.fields.items():
            size = int(np.prod(shape)) if shape else 1
            self.slices[k] = slice(offset, offset + size)
            offset += size
        self.width = offset

    def pack(self, row: Mapping[str, np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
        """One row dict -> `[width]` float32 (written into `out` if given)."""
        missing = set(self.fields) - set(row)
        extra = set(row) - set(self.fields)
        if missing or extra:
            raise ValueError(f"row fields mismatch: missing {sorted(missing)}, unexpected "
                             f"{sorted(extra)}")
        out = np.empty(self.width, np.float32) if out is None else out
        for k, (shape, _) in self.fields.items():
            v = np.asarray(row[k], np.float32)
            if v.shape != shape:
                raise ValueError(f"field '{k}' has shape {v.shape}, expected {shape}")
            out[self.slices[k]] = v.reshape(-1)
        return out

    def unpack(self, rows) -> Dict[str, tf.Tensor]:
        """`[B, width]` -> name -> `[B, *shape]` tensors, cast back to each field's dtype."""
        rows = tf.convert_to_tensor(rows, tf.float32)
        out = {}
        for k, (shape, dtype) in self.fields.items():
            part = rows[:, self.slices[k]]
            part = tf.reshape(part, [-1, *shape])
            if dtype.kind in "iu":
                part = tf.cast(tf.round(part), tf.as_dtype(dtype))
            out[k] = part
        return out


class ReplayBuffer:
    """Holds up to `capacity` packed rows; the oldest row is overwritten first.

    Args:
      capacity: maximum number of rows.
      fields: name -> (shape of one row, dtype).
    """

    def __init__(self, *, capacity: int, fields: Mapping[str, FieldSpec]):
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.layout = RowLayout(fields)
        self._rows = np.zeros((self.capacity, self.layout.width), np.float32)
        self._next = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, row: Mapping[str, np.ndarray]) -> None:
        """Appends one row; every field must be present with its shape."""
        self.layout.pack(row, out=self._rows[self._next])
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample_indices(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """Uniform indices with replacement: `[batch_size]`."""
        if self._size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self._size, size=batch_size)

    def gather(self, indices: Sequence[int]) -> np.ndarray:
        """Packed rows `[len(indices), width]`."""
        return self._rows[np.asarray(indices)]

    def sample(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        return self.gather(self.sample_indices(rng, batch_size))

    def sample_into(self, rng: np.random.Generator, out: np.ndarray) -> None:
        """`sample` written into `out` `[batch_size, width]` (C-contiguous float32), the same draws."""
        if out.shape[1:] != (self.layout.width,):
            raise ValueError(f"sample_into: out has shape {out.shape}, rows have width "
                             f"{self.layout.width}")
        # Indices are in range, so "clip" changes none; it lets numpy write `out` without a buffer.
        np.take(self._rows, self.sample_indices(rng, out.shape[0]), axis=0, out=out, mode="clip")

    # Persistence --------------------------------------------------------------------------------

    def state(self) -> Dict[str, np.ndarray]:
        """Arrays that restore the buffer exactly (only the filled rows are kept)."""
        return {"rows": self._rows[: self._size], "next": np.asarray(self._next),
                "width": np.asarray(self.layout.width), "capacity": np.asarray(self.capacity)}

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
