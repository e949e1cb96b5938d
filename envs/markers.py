"""Visual-only markers and camera framing for the renders of the MuJoCo environments.

A render shows the task's target (the context) and, when the caller sets them, the current goal of
every level of a hierarchy, one colour per level (LEVEL_COLORS[k] for level k, k = 0 the top level).
The environments know nothing of the hierarchy: the caller converts goals to world positions and
passes them to `env.unwrapped.set_goal_markers(positions)` (see `MujocoEnv.set_goal_markers`).

Markers are added to the `mujoco.MjvScene` of a frame after `update_scene`; they are not part of
the model, so they cost nothing in the physics and never collide. They are emissive, so that their
colour in the image does not depend on the lighting.

`MapItem` is what an environment's `map_items()` returns for top-down pictures (trajectory plots):
the things on the map besides walls, such as movable blocks, chasms and collectable objects, where
they are when asked.

`framing_camera` gives a top-down free camera that frames an (x, y) rectangle, `follow_camera` one
that looks at the robot from the south and above, and `project` maps a world point to its pixel in a
frame, using the camera of the rendered scene.

The colours of the things on the map (`WALL_COLOR`, `ITEM_COLORS`) are shared by the renders
(envs.scenery) and the trajectory plots, so that a video and a picture of the same run agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import mujoco
import numpy as np

__all__ = [
    "CAMERAS",
    "ITEM_COLORS",
    "LEVEL_COLORS",
    "MAX_FRAME_SIZE",
    "MIN_FRAME_SIZE",
    "RAISED_FLOOR_COLOR",
    "TARGET_COLOR",
    "WALL_COLOR",
    "GoalMarkers",
    "MapItem",
    "add_sphere",
    "add_target",
    "check_positions",
    "follow_camera",
    "framing_camera",
    "project",
]

# Level k's marker colour (RGBA); levels beyond the list reuse it cyclically. Channels are 0 or 1:
# the lighting then leaves an emissive marker's colour exactly as given.
LEVEL_COLORS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 1.0, 0.0, 1.0),  # level 0 (top): yellow
    (1.0, 0.0, 1.0, 1.0),  # level 1: magenta
    (0.0, 1.0, 1.0, 1.0),  # level 2: cyan
    (0.0, 0.0, 1.0, 1.0),  # level 3: blue
)
# The target (context) of the task: a translucent disc of the success radius around a solid dot.
TARGET_COLOR = (0.0, 1.0, 0.0, 1.0)
TARGET_DISC_ALPHA = 0.35
# Walls, raised floors and the map items of `MapItem` (RGB; chasms: the ground seen through the
# floor), as renders and trajectory plots draw them.
WALL_COLOR = (0.4, 0.4, 0.4)
RAISED_FLOOR_COLOR = (0.9, 0.9, 0.9)
ITEM_COLORS = {"block": (0.9, 0.5, 0.1), "chasm": (0.55, 0.75, 0.95), "apple": (0.2, 0.8, 0.2),
               "bomb": (0.9, 0.1, 0.1)}
# The cameras of the renders (`MujocoEnv.set_render_options`): the environment's own view of the
# task's area ("overview"), or `follow_camera` at the robot ("follow").
CAMERAS = ("overview", "follow")
# The frame sizes (width, height) renders accept, in pixels.
MIN_FRAME_SIZE, MAX_FRAME_SIZE = 16, 4096
# The follow camera: world units from the point it looks at, and its angles (degrees).
FOLLOW_DISTANCE = 10.0
FOLLOW_ELEVATION = -55.0
FOLLOW_AZIMUTH = 90.0


class MapItem(NamedTuple):
    """A thing on the map seen from above: `kind` ("block": a movable block, "chasm", "apple",
    "bomb") and its world rectangle (x0, y0, x1, y1); a point (an object) has x0 == x1, y0 == y1."""

    kind: str
    x0: float
    y0: float
    x1: float
    y1: float


def check_positions(positions, *, default_z: float, env_name: str) -> list[np.ndarray | None]:
    """Validates goal-marker positions: a list of world points (x, y) or (x, y, z), one per level,
    where None skips a level; a missing z is `default_z`. Returns float64 arrays [3] (or None).

    Raises:
      ValueError: an entry of another length, non-numeric, NaN or infinite.
    """
    if positions is None:
        return []
    out = []
    for k, p in enumerate(positions):
        if p is None:
            out.append(None)
            continue
        try:
            p = np.asarray(p, np.float64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{env_name}: goal marker {k} must be numeric, got {p!r}") from e
        if p.shape not in ((2,), (3,)):
            raise ValueError(
                f"{env_name}: goal marker {k} must be a world point (x, y) or (x, y, z), got "
                f"shape {p.shape}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{env_name}: goal marker {k} contains NaN or inf: {p}")
        out.append(np.append(p, default_z) if p.shape == (2,) else p)
    return out


class GoalMarkers:
    """Mixin of the environments: `set_goal_markers`, the per-level goal positions to draw."""

    # Height of a marker given as (x, y), and the radius of a level's marker sphere.
    MARKER_Z = 1.0
    MARKER_RADIUS = 0.5
    _goal_markers: list = []

    def set_goal_markers(self, positions: Sequence | None) -> None:
        """Draws, in the next renders, positions[k] as level k's goal in LEVEL_COLORS[k].

        Args:
          positions: one world point (x, y) or (x, y, z) per level (None skips a level), level 0
            the top; or None to clear. Converting a level's (relative) goal to a world point is the
            caller's business (e.g. s[I] + g for a relative goal g of the state s at which it was
            set).
        """
        self._goal_markers = check_positions(
            positions, default_z=self.MARKER_Z, env_name=type(self).__name__)

    @property
    def goal_markers(self) -> list:
        """The positions set by `set_goal_markers`, float64 [3] each (or None), level 0 first."""
        return list(self._goal_markers)


def _add_geom(scene: mujoco.MjvScene, kind, size, pos, rgba, emission: float) -> bool:
    """Appends one visual geom to `scene`; False (and nothing added) when the scene is full."""
    if scene.ngeom >= scene.maxgeom:
        return False
    geom = scene.geoms[scene.ngeom]
    mujoco.mjv_initGeom(
        geom,
        type=kind,
        size=np.asarray(size, np.float64),
        pos=np.asarray(pos, np.float64),
        mat=np.eye(3).ravel(),
        rgba=np.asarray(rgba, np.float32),
    )
    geom.emission = emission
    geom.specular = 0.0
    geom.category = mujoco.mjtCatBit.mjCAT_DECOR
    scene.ngeom += 1
    return True


def add_sphere(scene: mujoco.MjvScene, pos, radius: float, rgba) -> bool:
    """Adds an emissive sphere at world `pos` [3]; False if the scene has no room left."""
    return _add_geom(scene, mujoco.mjtGeom.mjGEOM_SPHERE, [radius, 0.0, 0.0], pos, rgba, 1.0)


def add_target(scene: mujoco.MjvScene, xy, success_radius: float, dot_radius: float) -> None:
    """Draws a target at world (x, y): a translucent disc of the success radius on the floor and
    a solid dot of `dot_radius` at its centre, both in TARGET_COLOR."""
    x, y = (float(v) for v in np.asarray(xy).reshape(-1)[:2])
    disc = (*TARGET_COLOR[:3], TARGET_DISC_ALPHA)
    _add_geom(scene, mujoco.mjtGeom.mjGEOM_CYLINDER, [success_radius, 0.0, 0.01],
              [x, y, 0.02], disc, 0.5)
    add_sphere(scene, [x, y, dot_radius], dot_radius, TARGET_COLOR)


def add_level_markers(scene: mujoco.MjvScene, positions, radius: float) -> None:
    """One sphere per level at positions[k] (world [3]) in LEVEL_COLORS[k]; None entries skipped."""
    for k, pos in enumerate(positions):
        if pos is not None:
            add_sphere(scene, pos, radius, LEVEL_COLORS[k % len(LEVEL_COLORS)])


def framing_camera(low, high, *, fovy: float = 45.0, margin: float = 0.0) -> dict:
    """A top-down free camera (image up = world +y) whose square view frames the rectangle
    [low, high] (world x, y) plus `margin` on every side, at ground level.

    Args:
      low, high: (x, y) corners of the rectangle.
      fovy: the model's vertical field of view in degrees (MuJoCo's default is 45).
      margin: extra world units around the rectangle.

    Returns:
      {"lookat", "distance", "azimuth", "elevation"} for `MujocoEnv`'s `camera` argument.
    """
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    half = 0.5 * float(np.max(high - low)) + margin
    return {
        "lookat": np.array([*(0.5 * (low + high)), 0.0]),
        "distance": half / math.tan(math.radians(fovy) / 2),
        "azimuth": 90.0,
        "elevation": -90.0,
    }


def follow_camera(point, *, distance: float = FOLLOW_DISTANCE) -> dict:
    """A free camera looking at world `point` [3] (the robot) from the south, `distance` away and
    FOLLOW_ELEVATION degrees down, image up = world +y as in `framing_camera`'s view."""
    return {
        "lookat": np.asarray(point, np.float64).copy(),
        "distance": float(distance),
        "azimuth": FOLLOW_AZIMUTH,
        "elevation": FOLLOW_ELEVATION,
    }


def project(scene: mujoco.MjvScene, width: int, height: int, point) -> tuple[float, float]:
    """(row, col) of world `point` [3] in a frame of `width` x `height` pixels rendered from
    `scene` (its camera after `update_scene`; perspective projection, row 0 at the top)."""
    cam = scene.camera[0]
    pos, forward, up = (np.asarray(v, np.float64) for v in (cam.pos, cam.forward, cam.up))
    right = np.cross(forward, up)
    v = np.asarray(point, np.float64) - pos
    depth = float(v @ forward)
    if depth <= 0:
        raise ValueError(f"point {point} lies behind the camera")
    near = cam.frustum_near
    x, y = near * float(v @ right) / depth, near * float(v @ up) / depth
    half_h = 0.5 * (cam.frustum_top - cam.frustum_bottom)
    half_w = cam.frustum_width if cam.frustum_width > 0 else half_h * width / height
    col = (x - cam.frustum_center + half_w) / (2 * half_w) * width
    row = (cam.frustum_top - y) / (2 * half_h) * height
    return row, col
