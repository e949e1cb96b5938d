"""`Losses`: what one update of a hierarchy reports, per level, as a typed record.

`Hierarchy.train` returns one with `[N]` tensors (top level first); the compiled step packs it into
its single output vector (`packed`) and hands callers the numpy record back (`unpack`); the agent
keeps the last losses of every level in one (`Agent.last_losses`), and the metric rows name its
fields (`NAMES`). The field order here is the only place where the packed order is defined.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Losses:
    """Per-level results of one update, `[N]` each, top level first; zeros where no update ran.

    Attributes:
      critic: the critic's loss (TD error, Huber or squared, of both critics).
      actor: the actor's TD3 loss, -mean Q(s, g, pi(s, g)).
      cg: the connected-gradient loss of the level's pair with its child, unweighted (0 at the
        bottom level and without connected gradients).
      cg_lambda: that pair's weight lambda, fixed or learned (0 at the bottom level).
    """

    critic: Any
    actor: Any
    cg: Any
    cg_lambda: Any

    # The names of the fields in the metric rows (`train_metrics.jsonl`), in the packed order.
    NAMES = ("critic", "actor", "cg", "lambda")

    def packed(self) -> tf.Tensor:
        """The record as one `[N * 4]` float32 tensor: level by level, fields in `NAMES` order."""
        return tf.reshape(tf.stack([self.critic, self.actor, self.cg, self.cg_lambda], axis=1), [-1])

    @staticmethod
    def packed_zeros(num_levels: int) -> tf.Tensor:
        """`packed()` of a step that ran no update."""
        return tf.zeros([num_levels * 4])

    @classmethod
    def unpack(cls, vector: np.ndarray, num_levels: int) -> Losses:
        """The numpy record of a `packed()` vector (views into it, no copy)."""
        table = np.asarray(vector).reshape(num_levels, 4)
        return cls(critic=table[:, 0], actor=table[:, 1], cg=table[:, 2], cg_lambda=table[:, 3])

    @classmethod
    def zeros(cls, num_levels: int) -> Losses:
        """A numpy record of zeros, writable in place (the agent's losses before any update)."""
        return cls.from_table(np.zeros((num_levels, 4), np.float32))

    @classmethod
    def from_table(cls, table: np.ndarray) -> Losses:
        """The numpy record of an `[N, 4]` table (columns in `NAMES` order), copied."""
        table = np.array(table, np.float32)
        if table.ndim != 2 or table.shape[1] != 4:
            raise ValueError(f"a losses table has shape [num_levels, 4], got {table.shape}")
        return cls(critic=table[:, 0], actor=table[:, 1], cg=table[:, 2], cg_lambda=table[:, 3])

    def table(self) -> np.ndarray:
        """`[N, 4]` numpy array, columns in `NAMES` order (eager tensors are converted)."""
        return np.stack([np.asarray(f, np.float32) for f in
                         (self.critic, self.actor, self.cg, self.cg_lambda)], axis=1)

    def of_level(self, i: int) -> Dict[str, float]:
        """{name: value} of level i, named as in the metric rows."""
        return dict(zip(self.NAMES, self.table()[i].tolist()))
