"""The U-shaped maze of HIRO's AntMaze: layout, world geometry and the AntMaze task.

Layout (5x5 block grid, row i / column j; "#" wall, "S" start, "." open):

    row 0:  # # # # #
    row 1:  # S . . #
    row 2:  # # # . #
    row 3:  # . . . #
    row 4:  # # # # #

Cell (i, j) has its center at world ((j - start_col) * MAZE_SCALING, (i - start_row) *
MAZE_SCALING), so the start cell (1, 1) is at (0, 0), the corridor runs (0,0) -> (16,0) ->
(16,16) -> (0,16). Every wall cell is one box of MAZE_SCALING x MAZE_SCALING footprint and
MAZE_HEIGHT * MAZE_SCALING height standing on the floor (HIRO's maze_env convention).
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from envs import markers
from envs._common import episode_context, observation_space
from envs.ant import ANT_GOAL_HIGH, ANT_GOAL_INDICES, ANT_GOAL_LOW, ANT_OBS_DIM, AntEnv
from envs.task import TaskSpec

# The U-maze grid of HIRO's maze_env (docs/environments.md, section 2).
U_MAZE: tuple[str, ...] = (
    "#####",
    "#S..#",
    "###.#",
    "#...#",
    "#####",
)
# Size of one grid cell in world units (HIRO maze_env `size_scaling`).
MAZE_SCALING = 8.0
# Block height in units of MAZE_SCALING (HIRO maze_env `maze_height`): blocks are 4.0 tall.
MAZE_HEIGHT = 0.5

# The AntMaze / PointMaze task (docs/environments.md, section 2; HIRO's published definition).
MAZE_CONTEXT_LOW = (-4.0, -4.0)
MAZE_CONTEXT_HIGH = (20.0, 20.0)
MAZE_EVAL_CONTEXTS = ((16.0, 0.0), (16.0, 16.0), (0.0, 16.0))
MAZE_SUCCESS_THRESHOLD = 5.0
MAZE_MAX_EPISODE_STEPS = 500


def goal_info(xy, context, threshold: float = MAZE_SUCCESS_THRESHOLD) -> dict:
    """The goal-reaching info of one step: {"distance": ||xy - context||_2, "is_success": bool}.

    Success is strict: distance < threshold (docs/environments.md, section 2: success = distance < 5).

    Args:
      xy: robot position (x, y), shape [2].
      context: target (cx, cy), shape [2].
      threshold: success distance.
    """
    distance = math.dist(xy, context)
    return {"distance": distance, "is_success": distance < threshold}


def start_cell(layout: tuple[str, ...] = U_MAZE) -> tuple[int, int]:
    """(row, col) of the unique "S" cell of `layout`."""
    cells = [(i, j) for i, row in enumerate(layout) for j, c in enumerate(row) if c == "S"]
    if len(cells) != 1:
        raise ValueError(f"maze layout needs exactly one start cell 'S', found {len(cells)}")
    return cells[0]


def cell_center(
    i: int, j: int, layout: tuple[str, ...] = U_MAZE, scaling: float = MAZE_SCALING
) -> tuple[float, float]:
    """World (x, y) of the center of cell (row i, col j); the start cell is at (0, 0)."""
    si, sj = start_cell(layout)
    return ((j - sj) * scaling, (i - si) * scaling)


def open_cells(layout: tuple[str, ...] = U_MAZE) -> list[tuple[int, int]]:
    """(row, col) of every non-wall cell (start included), in row-major order."""
    return [(i, j) for i, row in enumerate(layout) for j, c in enumerate(row) if c != "#"]


def wall_cells(layout: tuple[str, ...] = U_MAZE) -> list[tuple[int, int]]:
    """(row, col) of every wall cell, in row-major order."""
    return [(i, j) for i, row in enumerate(layout) for j, c in enumerate(row) if c == "#"]


def wall_blocks(
    layout: tuple[str, ...] = U_MAZE, scaling: float = MAZE_SCALING, height: float = MAZE_HEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """World boxes of the walls.

    Returns:
      centers: float64 array [n_walls, 3], box centers (x, y, z), z = half the block height.
      half_sizes: float64 array [3], the box half sizes (scaling/2, scaling/2, height*scaling/2).
    """
    half = np.array([scaling / 2, scaling / 2, height * scaling / 2])
    centers = np.array(
        [(*cell_center(i, j, layout, scaling), half[2]) for i, j in wall_cells(layout)],
        dtype=np.float64,
    ).reshape(-1, 3)
    return centers, half


def add_wall_blocks(
    spec: mujoco.MjSpec,
    layout: tuple[str, ...] = U_MAZE,
    scaling: float = MAZE_SCALING,
    height: float = MAZE_HEIGHT,
) -> None:
    """Adds one static box per wall cell to `spec`: a body "block_k" holding a geom "block_k".

    Each block gets its own (jointless, hence static) body rather than being a geom of the world
    body: MuJoCo's broadphase prunes body pairs by bounding box, while every geom of the world
    body (which holds the infinite floor plane) would be tested against every robot geom at
    every physics step. Measured on the 2-core dev machine: ant + blocks as world geoms ran at
    about 0.65-0.75x the bare ant's physics steps/s, with one body per block about 0.8x.

    The blocks have contype=0, conaffinity=1: they collide with robot geoms (contype=1) but not
    with each other or the floor.
    """
    centers, half = wall_blocks(layout, scaling, height)
    for k, center in enumerate(centers):
        body = spec.worldbody.add_body(name=f"block_{k}", pos=center.tolist())
        body.add_geom(
            name=f"block_{k}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=half.tolist(),
            contype=0,
            conaffinity=1,
            rgba=[0.4, 0.4, 0.4, 1.0],
        )


# A top-down camera framing the task's area (the context range, i.e. the maze's corridors) with
# the walls' inner faces around it: about 18 pixels per unit in a 480 x 480 frame (envs.markers).
# The ant covers about 290 pixels of such a frame (about 80 from the former camera, distance 60).
MAZE_CAMERA = markers.framing_camera(MAZE_CONTEXT_LOW, MAZE_CONTEXT_HIGH, margin=1.0)


class AntMaze(AntEnv):
    """HIRO's AntMaze: the Ant in the U-maze, reaching a target position.

    - Observation: {"observation": ant obs float32 [30] (see envs.ant), "context": [cx, cy]}.
    - Action: 8 torques in [-30, 30] (clipped).
    - Context: target, uniform in [-4, 20]^2 for training (may lie inside walls, as in HIRO);
      evaluation at (16, 0), (16, 16), (0, 16); `options={"context": c}` fixes it.
    - Reward: -||xy - c||_2, raw; the paper's x0.1 is the hierarchy's reward scale.
    - info["distance"] and info["is_success"] (distance < 5 at this step) at every step; the
      final step's success is the one reported. Horizon 500 (TimeLimit); never terminates.
    - Sub-goals address observation dims 0..14 with the bounds of docs/environments.md, section 1.
    """

    task_spec = TaskSpec(
        goal_indices=ANT_GOAL_INDICES,
        goal_low=ANT_GOAL_LOW,
        goal_high=ANT_GOAL_HIGH,
        context_low=MAZE_CONTEXT_LOW,
        context_high=MAZE_CONTEXT_HIGH,
        eval_contexts=MAZE_EVAL_CONTEXTS,
        max_episode_steps=MAZE_MAX_EPISODE_STEPS,
        success_threshold=MAZE_SUCCESS_THRESHOLD,
        context_indices=(0, 1),
    )

    def __init__(self, render_mode: str | None = None, width: int = 480, height: int = 480):
        super().__init__(
            add_world=add_wall_blocks,
            render_mode=render_mode,
            width=width,
            height=height,
            camera=MAZE_CAMERA,
        )
        self.observation_space = observation_space(
            np.full(ANT_OBS_DIM, -np.inf), np.full(ANT_OBS_DIM, np.inf), self.task_spec
        )
        self._context = np.zeros(2)

    def _obs(self) -> dict:
        return {"observation": self._ant_obs(), "context": self._context.astype(np.float32)}

    def _info(self) -> dict:
        return goal_info(self.data.qpos[:2], self._context)

    def _decorate_scene(self, scene: mujoco.MjvScene) -> None:
        """Draws the target: the success disc around the context (envs.markers)."""
        markers.add_target(scene, self._context, self.task_spec.success_threshold, 0.3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._context = episode_context(options, self.task_spec, "AntMaze", self.np_random)
        self._reset_ant()
        return self._obs(), self._info()

    def step(self, action):
        self._step_ant(action)
        info = self._info()
        return self._obs(), -info["distance"], False, False, info
