"""HIRO's U-maze and AntMaze, and `AntGoalMaze`, the base of every ant-in-a-maze goal task.

U-maze layout (5x5 grid, row i / column j; symbols of envs.layout: "#" wall, "S" start, "." free):

    row 0:  # # # # #
    row 1:  # S . . #
    row 2:  # # # . #
    row 3:  # . . . #
    row 4:  # # # # #

Cell (i, j) has its center at world ((j - start_col) * MAZE_SCALING, (i - start_row) *
MAZE_SCALING), so the start cell (1, 1) is at (0, 0), the corridor runs (0,0) -> (16,0) ->
(16,16) -> (0,16). Every wall cell is one box of MAZE_SCALING x MAZE_SCALING footprint and
MAZE_HEIGHT * MAZE_SCALING height standing on the floor (HIRO's maze_env convention). The world is
built by `envs.layout.add_maze`, shared with AntPush, AntFall and AntFourRooms (envs/hiro.py), and
lit and coloured for renders by `envs.scenery.style_maze`.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import mujoco
import numpy as np

from envs import layout as maze_layout
from envs import markers, scenery
from envs._common import observation_space, parse_context
from envs.ant import ANT_GOAL_HIGH, ANT_GOAL_INDICES, ANT_GOAL_LOW, ANT_OBS_DIM, AntEnv
from envs.task import TaskSpec

# The U-maze grid of HIRO's maze_env.
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

# The AntMaze / PointMaze task (HIRO's published definition).
MAZE_CONTEXT_LOW = (-4.0, -4.0)
MAZE_CONTEXT_HIGH = (20.0, 20.0)
MAZE_EVAL_CONTEXTS = ((16.0, 0.0), (16.0, 16.0), (0.0, 16.0))
MAZE_SUCCESS_THRESHOLD = 5.0
MAZE_MAX_EPISODE_STEPS = 500


def goal_info(position, context, threshold: float = MAZE_SUCCESS_THRESHOLD) -> dict:
    """The goal-reaching info of one step: {"distance": ||position - context||_2, "is_success"}.

    Success is strict: distance < threshold (HIRO: success = distance < 5).

    Args:
      position: robot position, shape [d] ((x, y), or (x, y, z) for AntFall).
      context: target, shape [d].
      threshold: success distance.
    """
    distance = math.dist(position, context)
    return {"distance": distance, "is_success": distance < threshold}


# The U-maze's geometry (envs.layout's functions with this maze's defaults).
def start_cell(layout: tuple[str, ...] = U_MAZE) -> tuple[int, int]:
    """(row, col) of the unique "S" cell of `layout`."""
    return maze_layout.start_cell(layout)


def cell_center(
    i: int, j: int, layout: tuple[str, ...] = U_MAZE, scaling: float = MAZE_SCALING
) -> tuple[float, float]:
    """World (x, y) of the center of cell (row i, col j); the start cell is at (0, 0)."""
    return maze_layout.cell_center(i, j, layout, scaling)


def open_cells(layout: tuple[str, ...] = U_MAZE) -> list[tuple[int, int]]:
    """(row, col) of every non-wall cell (start included), in row-major order."""
    return maze_layout.cells_of(layout, "".join(sorted(maze_layout.SYMBOLS - {maze_layout.WALL})))


def wall_cells(layout: tuple[str, ...] = U_MAZE) -> list[tuple[int, int]]:
    """(row, col) of every wall cell, in row-major order."""
    return maze_layout.cells_of(layout, maze_layout.WALL)


def wall_blocks(
    layout: tuple[str, ...] = U_MAZE, scaling: float = MAZE_SCALING, height: float = MAZE_HEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """World boxes of the walls: centers float64 [n_walls, 3], half sizes float64 [3]."""
    return maze_layout.wall_blocks(layout, scaling, height)


def add_wall_blocks(
    spec: mujoco.MjSpec,
    layout: tuple[str, ...] = U_MAZE,
    scaling: float = MAZE_SCALING,
    height: float = MAZE_HEIGHT,
) -> None:
    """Adds the world of `layout` (default: the U-maze) to `spec` (`envs.layout.add_maze`), lit and
    coloured for renders by `envs.scenery.style_maze`."""
    maze_layout.add_maze(spec, layout, scaling, height)
    scenery.style_maze(spec)


# A top-down camera framing the task's area (the context range, i.e. the maze's corridors) with
# the walls' inner faces around it: about 18 pixels per unit in a 480 x 480 frame (envs.markers).
# The ant covers about 290 pixels of such a frame (about 80 from a camera showing the whole maze).
MAZE_CAMERA = markers.framing_camera(MAZE_CONTEXT_LOW, MAZE_CONTEXT_HIGH, margin=1.0)


def ant_task_spec(context_low, context_high, eval_contexts) -> TaskSpec:
    """The TaskSpec of an ant-in-a-maze task: the Ant sub-goal space (envs.ant), the given contexts
    (targets for the torso's first coordinates), HIRO's horizon (500) and success distance (5)."""
    return TaskSpec(
        goal_indices=ANT_GOAL_INDICES,
        goal_low=ANT_GOAL_LOW,
        goal_high=ANT_GOAL_HIGH,
        context_low=context_low,
        context_high=context_high,
        eval_contexts=eval_contexts,
        max_episode_steps=MAZE_MAX_EPISODE_STEPS,
        success_threshold=MAZE_SUCCESS_THRESHOLD,
        # The reward is -||obs[:d] - c||: a function of the context (hindsight at the top level).
        context_indices=tuple(range(len(context_low))),
    )


class AntGoalMaze(AntEnv):
    """Base of the ant-in-a-maze tasks: reach the context, a target for the torso's first coordinates.

    Subclasses set the class attributes LAYOUT (envs.layout symbols), SCALING, TARGET_DIMS (the
    context is a target for observation dims [0, TARGET_DIMS): 2 for (x, y), 3 for (x, y, z)) and
    `task_spec`, and may override `_draw_context` (default: uniform in the context box).

    - Observation: {"observation": ant obs float32 [30] (see envs.ant; movable blocks are not
      observed), "context": the target, float32 [TARGET_DIMS]}.
    - Action: 8 torques in [-30, 30] (clipped).
    - Reward: -||obs'[:TARGET_DIMS] - c||_2 after the step, raw; the hierarchy's gin files set the
      reward scale.
    - info["distance"] and info["is_success"] (distance < success_threshold at this step) at every
      step; the final step's is the one reported. Horizon from task_spec (TimeLimit); the episode
      never terminates.
    """

    LAYOUT: ClassVar[tuple[str, ...]]
    SCALING: ClassVar[float] = MAZE_SCALING
    HEIGHT: ClassVar[float] = MAZE_HEIGHT
    TARGET_DIMS: ClassVar[int] = 2
    task_spec: ClassVar[TaskSpec]

    def __init__(self, render_mode: str | None = None, width: int = 480, height: int = 480):
        super().__init__(
            add_world=functools.partial(
                add_wall_blocks, layout=self.LAYOUT, scaling=self.SCALING, height=self.HEIGHT
            ),
            render_mode=render_mode,
            width=width,
            height=height,
            camera=markers.framing_camera(self.task_spec.context_low[:2],
                                          self.task_spec.context_high[:2], margin=1.0),
        )
        self.observation_space = observation_space(
            np.full(ANT_OBS_DIM, -np.inf), np.full(ANT_OBS_DIM, np.inf), self.task_spec
        )
        self._context = np.zeros(self.TARGET_DIMS)

    def _draw_context(self) -> np.ndarray:
        """A training context, float64 [TARGET_DIMS]: uniform in the task's context box."""
        spec = self.task_spec
        return self.np_random.uniform(spec.context_low, spec.context_high)

    def _obs(self) -> dict:
        return {"observation": self._ant_obs(), "context": self._context.astype(np.float32)}

    def _info(self) -> dict:
        return goal_info(self.data.qpos[: self.TARGET_DIMS], self._context,
                         self.task_spec.success_threshold)

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The layout's walls seen from above: world rectangles (x0, y0, x1, y1) of merged wall
        cells (`envs.layout.wall_footprints`). Movable blocks and chasms are not walls."""
        return maze_layout.wall_footprints(self.LAYOUT, self.SCALING)

    def map_items(self) -> list[markers.MapItem]:
        """The chasms and the movable blocks seen from above (`envs.markers.MapItem`), the blocks
        where they are now; [] for a layout with neither."""
        items = [markers.MapItem("chasm", *r)
                 for r in maze_layout.cell_footprints(self.LAYOUT, self.SCALING, maze_layout.CHASM)]
        for k, block in enumerate(maze_layout.movable_blocks(self.LAYOUT, self.SCALING, self.HEIGHT)):
            x, y = self.data.geom(f"movable_{k}").xpos[:2]
            hx, hy = block.half_size[:2]
            items.append(markers.MapItem("block", float(x - hx), float(y - hy), float(x + hx),
                                         float(y + hy)))
        return items

    def _decorate_scene(self, scene: mujoco.MjvScene) -> None:
        """Draws the target: the success disc around the context's (x, y) (envs.markers)."""
        markers.add_target(scene, self._context, self.task_spec.success_threshold, 0.3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        context = parse_context(options, self.task_spec, type(self).__name__)
        self._context = np.asarray(
            self._draw_context() if context is None else context, np.float64
        )
        self._reset_ant()
        return self._obs(), self._info()

    def step(self, action):
        self._step_ant(action)
        info = self._info()
        return self._obs(), -info["distance"], False, False, info


class AntMaze(AntGoalMaze):
    """HIRO's AntMaze: the Ant in the U-maze, reaching a target position.

    - Context: target, uniform in [-4, 20]^2 for training (may lie inside walls, as in HIRO);
      evaluation at (16, 0), (16, 16), (0, 16); `options={"context": c}` fixes it.
    - Reward: -||xy - c||_2, raw; the paper's x0.1 is the hierarchy's reward scale.
    - Success: distance < 5 (reported every step; the final step's counts). Horizon 500.
    - Sub-goals address observation dims 0..14 with the bounds of envs.ant.
    """

    LAYOUT = U_MAZE
    task_spec = ant_task_spec(MAZE_CONTEXT_LOW, MAZE_CONTEXT_HIGH, MAZE_EVAL_CONTEXTS)
