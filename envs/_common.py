"""Small helpers shared by the environments: spaces, action checks and context parsing."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.task import TaskSpec


def observation_space(obs_low, obs_high, spec: TaskSpec) -> spaces.Dict:
    """The Dict space {"observation": Box[obs_dim], "context": Box[context_dim]} (float32).

    Args:
      obs_low, obs_high: bounds of the observation, arrays of shape [obs_dim] (may be +-inf).
      spec: the task's TaskSpec; its context bounds give the "context" Box (shape [0] if empty).
    """
    return spaces.Dict(
        {
            "observation": spaces.Box(
                np.asarray(obs_low, np.float32), np.asarray(obs_high, np.float32), dtype=np.float32
            ),
            "context": spaces.Box(
                np.asarray(spec.context_low, np.float32).reshape(-1),
                np.asarray(spec.context_high, np.float32).reshape(-1),
                dtype=np.float32,
            ),
        }
    )


def check_action(action, space: spaces.Box, env_name: str) -> np.ndarray:
    """Validates an action and clips it to the bounds of `space`.

    Args:
      action: array-like of shape space.shape.
      space: the env's float32 Box action space.
      env_name: used in error messages.

    Returns:
      float64 array of shape space.shape, clipped to [space.low, space.high].

    Raises:
      ValueError: wrong shape, non-numeric, NaN or infinite entries.
    """
    try:
        a = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{env_name}: action must be numeric, got {action!r}") from e
    if a.shape != space.shape:
        raise ValueError(
            f"{env_name}: action must have shape {space.shape}, got shape {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{env_name}: action contains NaN or inf: {a}")
    return np.clip(a, space.low, space.high)


def parse_context(options, spec: TaskSpec, env_name: str) -> np.ndarray | None:
    """Returns the context fixed by ``options={"context": [...]}``, or None if not given.

    Args:
      options: the `options` argument of reset (None or a dict).
      spec: the task's TaskSpec (gives context dim and bounds).
      env_name: used in error messages.

    Returns:
      float64 array of shape [context_dim], or None when options carry no context.

    Raises:
      ValueError: wrong shape, non-finite, or outside [context_low, context_high].
    """
    if options is None or options.get("context") is None:
        return None
    try:
        c = np.asarray(options["context"], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{env_name}: options['context'] must be numeric") from e
    if c.shape != (spec.context_dim,):
        raise ValueError(
            f"{env_name}: options['context'] must have shape ({spec.context_dim},), "
            f"got shape {c.shape}"
        )
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{env_name}: options['context'] contains NaN or inf: {c}")
    low, high = np.asarray(spec.context_low), np.asarray(spec.context_high)
    if np.any(c < low) or np.any(c > high):
        raise ValueError(
            f"{env_name}: options['context'] {c} lies outside the context bounds "
            f"[{low}, {high}]"
        )
    return c


def episode_context(options, spec: TaskSpec, env_name: str, rng: np.random.Generator) -> np.ndarray:
    """The context of a new episode: the one fixed by ``options`` (see `parse_context`), else a
    training context drawn uniformly in [context_low, context_high] from ``rng``. float64 [context_dim]."""
    context = parse_context(options, spec, env_name)
    if context is None:
        context = rng.uniform(spec.context_low, spec.context_high)
    return np.asarray(context, np.float64)
