"""AntGather: the Ant collects apples (+1) and avoids bombs (-1), after rllab's gather env.

World: 8 apples and 8 bombs on distinct even grid points of [-10, 8]^2 (coordinates in
{-10, -8, ..., 8}), each at least 2 from the start (0, 0), drawn from the env RNG at reset; a
20x20 area bounded by four walls laid out as in rllab's gather env (centred at +-11, 0.5 thick
on each side, so their inner faces are at +-10.5; see `_add_walls`). An object is collected
when the torso's (x, y) comes strictly within the catch radius 1 of it after an env step
(apple: reward +1, bomb: -1), and it is then removed.

Observation {"observation": float32 [50], "context": float32 [0]}: the ant observation (30,
see envs.ant) followed by 10 apple sensor bins and 10 bomb sensor bins (see `sensor_readings`).
The task has no context: context_dim 0 and eval_contexts == ((),), i.e. one evaluation
condition with the empty context (evaluation just runs episodes). Reward: apples minus bombs
collected this step, raw (the paper's reward scale 10 is the hierarchy's). No success notion
(success_threshold None); info has "apples" and "bombs" (collected this step) and
"apples_left", "bombs_left". Horizon 500 (TimeLimit); never terminates.

Reset options: {"apples": [[x, y], ...], "bombs": [[x, y], ...]} place objects by hand (each
an array of shape [n, 2], any n >= 0; both must be given together); {"context": []} is accepted.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from envs import markers
from envs._common import observation_space, parse_context
from envs.ant import ANT_GOAL_HIGH, ANT_GOAL_INDICES, ANT_GOAL_LOW, ANT_OBS_DIM, AntEnv
from envs.task import TaskSpec

GATHER_N_APPLES = 8
GATHER_N_BOMBS = 8
# Objects lie on even grid points {-10, -8, ..., 8}^2 (rllab samples randint(-w/2, w/2) * 2).
GATHER_GRID = np.arange(-10, 9, 2, dtype=np.float64)
GATHER_MIN_START_DISTANCE = 2.0  # rllab `robot_object_spacing`
GATHER_CATCH_RADIUS = 1.0  # rllab `catch_range`
GATHER_N_BINS = 10
GATHER_SENSOR_RANGE = 6.0
GATHER_SENSOR_SPAN = 2 * math.pi
# Walls: rllab's gather env (rllab/envs/mujoco/gather/gather_env.py, GatherEnv.__init__) puts
# box geoms centred at walldist = activity_range + 1 from the origin, with half sizes
# (walldist + 0.5, 0.5, 1). Activity range 10 is the one that puts objects on the grid
# {-10, ..., 8} of docs/environments.md, section 3 (rllab: randint(-range/2, range/2) * 2).
GATHER_ACTIVITY_RANGE = 10.0
GATHER_WALL_DISTANCE = GATHER_ACTIVITY_RANGE + 1  # wall centres at +-11
GATHER_WALL_HALF_THICKNESS = 0.5  # inner faces at +-10.5, outer faces at +-11.5
GATHER_WALL_HALF_HEIGHT = 1.0
GATHER_MAX_EPISODE_STEPS = 500


def sensor_readings(
    ant_xy,
    ant_yaw: float,
    apples,
    bombs,
    n_bins: int = GATHER_N_BINS,
    sensor_range: float = GATHER_SENSOR_RANGE,
    sensor_span: float = GATHER_SENSOR_SPAN,
) -> np.ndarray:
    """Range-sensor readings of apples and bombs around the ant (pure numpy).

    The sensor span is centered on the ant's heading and split into `n_bins` equal bins: bin k
    covers relative angles [-span/2 + k * span/n_bins, -span/2 + (k+1) * span/n_bins), angles
    measured counter-clockwise from the heading and wrapped to [-pi, pi). Objects farther than
    `sensor_range` or outside the span are not seen. Occlusion follows rllab's gather
    environment (the one the paper's AntGather used): within each object type, the nearest
    object in a bin occludes the farther ones of that type; apples and bombs have separate
    sensors, so an apple does not hide a bomb behind it. A filled bin reads intensity
    1 - d / sensor_range.

    Args:
      ant_xy: ant position, shape [2].
      ant_yaw: ant heading in radians (counter-clockwise from +x).
      apples: apple positions, shape [n_apples, 2] (n_apples may be 0).
      bombs: bomb positions, shape [n_bombs, 2] (n_bombs may be 0).
      n_bins: number of bins per object type.
      sensor_range: maximum distance seen.
      sensor_span: angular width of the sensed sector, in radians (2*pi: all around).

    Returns:
      float32 array [2 * n_bins]: apple bins then bomb bins, values in [0, 1].
    """
    # Plain python over at most 16 objects is faster here than vectorised numpy (per-call
    # overheads dominate); this runs at every env step.
    readings = np.zeros((2, n_bins), dtype=np.float32)
    ax, ay = (float(v) for v in np.asarray(ant_xy, np.float64).reshape(2))
    in_range = []  # (distance, kind, dx, dy), kind 0: apple, 1: bomb
    for kind, points in ((0, apples), (1, bombs)):
        for x, y in np.asarray(points, np.float64).reshape(-1, 2).tolist():
            distance = math.hypot(x - ax, y - ay)
            if distance <= sensor_range:
                in_range.append((distance, kind, x - ax, y - ay))
    in_range.sort(key=lambda item: item[0])  # nearest first; stable, so ties keep input order
    half_span = sensor_span / 2
    bin_width = sensor_span / n_bins
    filled = [[False] * n_bins, [False] * n_bins]  # per object type
    for distance, kind, dx, dy in in_range:
        angle = (math.atan2(dy, dx) - ant_yaw + math.pi) % (2 * math.pi) - math.pi  # [-pi, pi)
        if abs(angle) > half_span:
            continue
        # min(): an angle of exactly +span/2 (possible for spans < 2*pi) goes to the last bin.
        b = min(int((angle + half_span) // bin_width), n_bins - 1)
        if not filled[kind][b]:
            filled[kind][b] = True
            readings[kind, b] = 1.0 - distance / sensor_range
    return readings.reshape(-1)


def _candidate_points() -> np.ndarray:
    """All even grid points allowed for objects, float64 [n, 2] (row-major order)."""
    xs, ys = np.meshgrid(GATHER_GRID, GATHER_GRID, indexing="ij")
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    keep = np.hypot(points[:, 0], points[:, 1]) >= GATHER_MIN_START_DISTANCE
    return points[keep]


def _walls() -> list[tuple[str, list[float], list[float]]]:
    """(name, centre [3], half sizes [3]) of the four walls (see `_add_walls`)."""
    d, t, h = GATHER_WALL_DISTANCE, GATHER_WALL_HALF_THICKNESS, GATHER_WALL_HALF_HEIGHT
    return [
        ("wall_east", [d, 0, h], [t, d + t, h]),
        ("wall_west", [-d, 0, h], [t, d + t, h]),
        ("wall_north", [0, d, h], [d + t, t, h]),
        ("wall_south", [0, -d, h], [d + t, t, h]),
    ]


def _add_walls(spec: mujoco.MjSpec) -> None:
    """Four walls around the activity area, after rllab's gather env (see GATHER_WALL_DISTANCE).

    Box centres at +-11 on each axis, half-thickness 0.5 (inner faces at +-10.5, so objects at
    -10 and 8 lie inside) and half-length 11.5, so that the walls meet at the corners. rllab
    centres them at z = 0, so half of each wall is below the floor and 1 above it; here they
    stand on the floor, z in [0, 2] (same footprint, taller above the floor).
    """
    for name, pos, size in _walls():
        spec.worldbody.add_geom(
            name=name,
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=pos,
            size=size,
            contype=0,
            conaffinity=1,
            rgba=[0.4, 0.4, 0.4, 1.0],
        )


class AntGather(AntEnv):
    """The Ant gathering apples and avoiding bombs (see the module docstring)."""

    task_spec = TaskSpec(
        goal_indices=ANT_GOAL_INDICES,
        goal_low=ANT_GOAL_LOW,
        goal_high=ANT_GOAL_HIGH,
        context_low=(),
        context_high=(),
        eval_contexts=((),),
        max_episode_steps=GATHER_MAX_EPISODE_STEPS,
        success_threshold=None,
    )

    def __init__(self, render_mode: str | None = None, width: int = 480, height: int = 480):
        super().__init__(
            add_world=_add_walls,
            render_mode=render_mode,
            width=width,
            height=height,
            camera={"lookat": np.zeros(3), "distance": 32.0, "azimuth": 90.0, "elevation": -90.0},
        )
        n_sensors = 2 * GATHER_N_BINS
        self.observation_space = observation_space(
            np.concatenate([np.full(ANT_OBS_DIM, -np.inf), np.zeros(n_sensors)]),
            np.concatenate([np.full(ANT_OBS_DIM, np.inf), np.ones(n_sensors)]),
            self.task_spec,
        )
        self._candidates = _candidate_points()
        self.apples = np.zeros((0, 2))
        self.bombs = np.zeros((0, 2))

    def _obs(self) -> dict:
        sensors = sensor_readings(self.ant_xy, self.ant_yaw, self.apples, self.bombs)
        return {
            "observation": np.concatenate([self._ant_obs(), sensors]),
            "context": np.zeros(0, np.float32),
        }

    def _place_objects(self, options: dict | None) -> None:
        if options is not None and ("apples" in options or "bombs" in options):
            if "apples" not in options or "bombs" not in options:
                raise ValueError("AntGather: options must give both 'apples' and 'bombs'")
            placed = []
            for key in ("apples", "bombs"):
                points = np.asarray(options[key], np.float64)
                if points.size == 0:
                    points = points.reshape(0, 2)
                if points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
                    raise ValueError(
                        f"AntGather: options[{key!r}] must be finite positions of shape [n, 2], "
                        f"got shape {points.shape}"
                    )
                placed.append(points.copy())
            self.apples, self.bombs = placed
            return
        n = GATHER_N_APPLES + GATHER_N_BOMBS
        chosen = self._candidates[self.np_random.choice(len(self._candidates), n, replace=False)]
        self.apples, self.bombs = chosen[:GATHER_N_APPLES], chosen[GATHER_N_APPLES:]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        parse_context(options, self.task_spec, "AntGather")  # validates an empty context
        self._place_objects(options)
        self._reset_ant()
        return self._obs(), self._info(0, 0)

    def _info(self, apples: int, bombs: int) -> dict:
        return {
            "apples": apples,
            "bombs": bombs,
            "apples_left": len(self.apples),
            "bombs_left": len(self.bombs),
        }

    def _collect(self, objects: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, int]:
        """Removes objects within the catch radius of xy; returns (remaining, number caught)."""
        if len(objects) == 0:
            return objects, 0
        delta = objects - xy
        caught = np.einsum("ij,ij->i", delta, delta) < GATHER_CATCH_RADIUS**2
        return objects[~caught], int(caught.sum())

    def step(self, action):
        self._step_ant(action)
        xy = self.data.qpos[:2]
        self.apples, n_apples = self._collect(self.apples, xy)
        self.bombs, n_bombs = self._collect(self.bombs, xy)
        reward = float(n_apples - n_bombs)
        return self._obs(), reward, False, False, self._info(n_apples, n_bombs)

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The four walls seen from above: world rectangles (x0, y0, x1, y1)."""
        return [(c[0] - s[0], c[1] - s[1], c[0] + s[0], c[1] + s[1]) for _, c, s in _walls()]

    def map_items(self) -> list[markers.MapItem]:
        """The apples and bombs still on the map (`envs.markers.MapItem` points)."""
        return [markers.MapItem(kind, float(x), float(y), float(x), float(y))
                for kind, objects in (("apple", self.apples), ("bomb", self.bombs))
                for x, y in objects]

    def _decorate_scene(self, scene: mujoco.MjvScene) -> None:
        """Draws apples (green) and bombs (red) as spheres; they take no part in the physics."""
        for objects, rgba in ((self.apples, (0.2, 0.8, 0.2, 1)), (self.bombs, (0.9, 0.1, 0.1, 1))):
            for x, y in objects:
                if scene.ngeom >= scene.maxgeom:
                    return
                mujoco.mjv_initGeom(
                    scene.geoms[scene.ngeom],
                    type=mujoco.mjtGeom.mjGEOM_SPHERE,
                    size=np.array([0.5, 0.0, 0.0]),
                    pos=np.array([x, y, 0.5]),
                    mat=np.eye(3).ravel(),
                    rgba=np.asarray(rgba, np.float32),
                )
                scene.ngeom += 1
