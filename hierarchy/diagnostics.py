"""Diagnostics of a hierarchy's updates: how much of a parent's actor update is connected gradient.

A parent level with connected gradients descends  -mean Q_p(s, g, pi_p(s, g)) + lambda * L_cg
(`Hierarchy.actor_gradients`). `actor_gradient_parts` splits that gradient into its TD3 part and its
weighted connected-gradient part on one batch, and `gradient_statistics` compares the two: their
norms, the ratio of the norms, and the cosine between them. A ratio far below 1 says lambda is too
small for the term to move the parent's policy; a cosine near -1 says the two objectives pull
against each other. `benchmarks/cg_gradients.py` reports both for trained runs.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List

import numpy as np
import tensorflow as tf

from hierarchy import connected
from hierarchy.replay import Draws, Transition


@dataclasses.dataclass
class GradientParts:
    """A parent's actor gradient in two parts, each aligned with the level's actor variables.

    Attributes:
      td3: gradient of -mean Q_p(s, g, pi_p(s, g)), the parent's own TD3 actor loss.
      cg: gradient of lambda * L_cg, the weighted connected-gradient loss its child contributes.
    """

    td3: List[tf.Tensor]
    cg: List[tf.Tensor]


def as_tensors(record):
    """A `Transition` or `Draws` of numpy arrays (e.g. `StepInputs` views) as one of tensors;
    fields that are None stay None."""
    return dataclasses.replace(record, **{
        f.name: None if getattr(record, f.name) is None else tf.convert_to_tensor(getattr(record, f.name))
        for f in dataclasses.fields(record)})


def actor_gradient_parts(hierarchy, level: int, transition: Transition, draws: Draws) -> GradientParts:
    """Level `level`'s actor gradient on one batch, split into its TD3 and connected-gradient parts.

    The batch is relabelled first, as the update relabels it, so `td3 + cg` is exactly the gradient
    `Hierarchy.actor_gradients` returns for the same batch and draws.

    Raises:
      ValueError: the level receives no connected-gradient term (the bottom level, or lambda 0).
    """
    if not 0 <= level < hierarchy.num_levels:
        raise ValueError(f"level must be in [0, {hierarchy.num_levels}), got {level}")
    if not hierarchy.has_cg(level):
        raise ValueError(f"level {level} ('{hierarchy.levels[level].level_name}') receives no "
                         "connected-gradient term (the bottom level, or lambda 0)")
    transition = hierarchy.relabelled(level, transition, draws)
    parent = hierarchy.levels[level]
    state, goal = transition.observations[:, 0], transition.goal
    _, _, td3 = parent.actor_gradients(state, goal)
    variables = parent.actor.trainable_variables
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(variables)
        objective = connected.pair_objective(hierarchy, level, transition, draws,
                                             parent.policy(state, goal))
        weighted = -hierarchy.cg_lambda_value(level) * tf.reduce_mean(objective)
    return GradientParts(td3=list(td3), cg=list(tape.gradient(weighted, variables)))


def _flat(gradients) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(g, np.float64)) for g in gradients])


def gradient_statistics(parts: GradientParts) -> Dict[str, float]:
    """Norms of the two parts, `ratio` = |cg| / |td3|, and `cosine` between them (nan where a part
    is zero)."""
    td3, cg = _flat(parts.td3), _flat(parts.cg)
    n_td3, n_cg = float(np.linalg.norm(td3)), float(np.linalg.norm(cg))
    return {"td3_norm": n_td3, "cg_norm": n_cg,
            "ratio": n_cg / n_td3 if n_td3 > 0 else float("nan"),
            "cosine": float(td3 @ cg) / (n_td3 * n_cg) if n_td3 > 0 and n_cg > 0 else float("nan")}
