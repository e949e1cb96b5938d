"""The optional hooks an environment may offer the library, as `typing.Protocol`s.

Every hook is optional: the library asks `isinstance(env.unwrapped, Hook)` and does without it
when the environment lacks it. The environments of this package publish their task, walls and goal
markers, the MuJoCo ones render options and map items (their context reward is the task spec's
`context_indices` rule instead); an adapted goal-conditioned task (`GoalTask`) offers `task_spec`,
`wall_rectangles` (mazes) and the context reward. A task of your own offers a hook by defining it
with the signature below (no base class needed); tests/envs/test_hooks.py lists who offers what.

  PublishesTask     `task_spec`: goal indices and bounds, evaluation contexts, success rule
                    (`build_for_env`, evaluation, plots)
  HasContextReward  the task's reward as a function of the context (hindsight at the top level)
  HasWalls          the walls seen from above (trajectory plots)
  HasMapItems       things on the map now, e.g. AntGather's apples and bombs (trajectory plots)
  ShowsGoalMarkers  draws the levels' goals into rendered frames (videos)
  HasRenderOptions  frame size and camera of rendered frames (videos)
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from envs.task import TaskSpec


@runtime_checkable
class PublishesTask(Protocol):
    """An environment that describes its task (`envs.TaskSpec`)."""

    task_spec: TaskSpec


@runtime_checkable
class HasContextReward(Protocol):
    """A task whose reward can be recomputed for any context (hindsight goals at the top level);
    `has_context_reward` may still say False (an adapted task without `compute_reward`)."""

    has_context_reward: bool

    def achieved_context(self, observation) -> np.ndarray:
        """The context an observation achieves, `[..., D] -> [..., C]`."""

    def context_reward(self, next_observation, context) -> np.ndarray:
        """The reward of steps ending in `next_observation` for `context` (which broadcasts)."""


@runtime_checkable
class HasWalls(Protocol):
    """An environment with walls to draw."""

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The walls seen from above, (x0, y0, x1, y1) in world coordinates."""


@runtime_checkable
class HasMapItems(Protocol):
    """An environment with things on its map."""

    def map_items(self) -> list:
        """The map's items now (`envs.markers.MapItem`s)."""


@runtime_checkable
class ShowsGoalMarkers(Protocol):
    """An environment that draws the levels' goals into the frames it renders."""

    def set_goal_markers(self, positions: Sequence | None) -> None:
        """Sets (or, with None, removes) the goal markers of the next rendered frames."""


@runtime_checkable
class HasRenderOptions(Protocol):
    """An environment whose rendered frames have a settable size and camera."""

    def set_render_options(self, *, width: int | None = None, height: int | None = None,
                           camera: str | None = None) -> None:
        """Sets the size and camera of the next rendered frames."""


def published_task_spec(env: Any) -> TaskSpec | None:
    """The `TaskSpec` that `env` (possibly wrapped) publishes, or None."""
    inner = getattr(env, "unwrapped", env)
    if isinstance(inner, PublishesTask) and isinstance(inner.task_spec, TaskSpec):
        return inner.task_spec
    return None
