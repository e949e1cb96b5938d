"""The geometry of gymnasium-robotics' maze maps: goal and context bounds, walls, success distance.

gymnasium-robotics' PointMaze and AntMaze tasks (every maze size, versions v3 to v5) keep their maze
in `env.unwrapped.maze`: `maze_map`, a list of L rows (row i) of W cells (column j), each 1 (a
wall) or open (0, or "r", "g", "c": a reset cell, a goal cell, or both), and `maze_size_scaling` s,
the side of a cell (1 for PointMaze, 4 for AntMaze). The map is centred at the origin:

  - cell (i, j) has its centre at x = (j + 1/2) s - W s / 2, y = L s / 2 - (i + 1/2) s (x follows
    the columns, y goes down the rows), as `Maze.cell_rowcol_to_xy` computes;
  - the maze, walls included, covers [-W s / 2, W s / 2] x [-L s / 2, L s / 2], its outer extent;
  - a task draws its goal at the centre of one of its goal cells plus noise uniform in
    [-n s, n s] on each axis, n = `env.unwrapped.position_noise_range` (0.25 unless made otherwise);
  - success (`info["success"]`, the sparse reward) is a distance of at most SUCCESS_DISTANCE = 0.45
    between the achieved and the desired goal, on every map and in every version, whatever s.

The rule `envs.GoalTask` applies to such a task where its spaces leave goals unbounded (the
settings `goal_task.goal_low`, ... override it):

  - context bounds: the extent of the open cells' centres, widened by the goal noise n s on each
    side: every goal the task draws, from any open cell;
  - sub-goal bounds: the maze's outer extent, [-W s / 2, W s / 2] x [-L s / 2, L s / 2]: every
    point of the maze as an absolute goal, a displacement of up to half the maze as a relative one;
  - success threshold: SUCCESS_DISTANCE;
  - walls (for the trajectory plots): the wall cells merged into rectangles, in world x, y.

Everything here but `maze_of` is a pure function of the map, the scaling and the noise.
"""

from __future__ import annotations

import dataclasses

from envs import layout as maze_layout

__all__ = ["SUCCESS_DISTANCE", "MazeMap", "context_extent", "derived_settings", "maze_of",
           "open_cells", "outer_extent", "wall_footprints"]

SUCCESS_DISTANCE = 0.45
WALL_CELL = 1
DEFAULT_NOISE = 0.25   # gymnasium-robotics' default position_noise_range


@dataclasses.dataclass(frozen=True)
class MazeMap:
    """A gymnasium-robotics maze as this module reads it.

    Attributes:
      cells: the map, L rows of W cells, 1 for a wall (other values are open cells).
      scaling: the side of a cell, s.
      noise: the goal noise n (a goal lies within n s of its cell's centre on each axis).
    """

    cells: tuple
    scaling: float
    noise: float = DEFAULT_NOISE

    def __post_init__(self):
        rows = tuple(tuple(row) for row in self.cells)
        if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError(f"a maze map must be a non-empty grid of equally long rows, got {rows!r}")
        if not self.scaling > 0:
            raise ValueError(f"a maze's scaling must be positive, got {self.scaling!r}")
        object.__setattr__(self, "cells", rows)
        object.__setattr__(self, "scaling", float(self.scaling))
        object.__setattr__(self, "noise", float(self.noise))

    @property
    def shape(self) -> tuple[int, int]:
        """(L, W): rows and columns."""
        return len(self.cells), len(self.cells[0])

    def cell_center(self, i: int, j: int) -> tuple[float, float]:
        """World (x, y) of the centre of cell (row i, column j)."""
        rows, cols = self.shape
        return ((j + 0.5 - cols / 2) * self.scaling, (rows / 2 - i - 0.5) * self.scaling)


def open_cells(maze: MazeMap) -> list[tuple[int, int]]:
    """(row, column) of every cell that is not a wall, in row-major order."""
    return [(i, j) for i, row in enumerate(maze.cells) for j, cell in enumerate(row)
            if cell != WALL_CELL]


def outer_extent(maze: MazeMap) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x0, y0), (x1, y1)): the corners of the whole maze, walls included."""
    rows, cols = maze.shape
    half = (cols * maze.scaling / 2, rows * maze.scaling / 2)
    return (-half[0], -half[1]), half


def context_extent(maze: MazeMap) -> tuple[tuple[float, float], tuple[float, float]]:
    """((x0, y0), (x1, y1)): the extent of the open cells' centres, widened by the goal noise
    `noise * scaling` on each side. A ValueError for a map without open cells."""
    centers = [maze.cell_center(i, j) for i, j in open_cells(maze)]
    if not centers:
        raise ValueError("the maze map has no open cell, so no goal can be drawn")
    pad = maze.noise * maze.scaling
    xs, ys = [c[0] for c in centers], [c[1] for c in centers]
    return (min(xs) - pad, min(ys) - pad), (max(xs) + pad, max(ys) + pad)


def wall_footprints(maze: MazeMap) -> list[tuple[float, float, float, float]]:
    """The walls seen from above: world rectangles (x0, y0, x1, y1), x0 < x1 and y0 < y1, of the
    wall cells merged into rectangles (`envs.layout.cell_rectangles`); their union is the footprint
    of every wall cell."""
    grid = ["".join(maze_layout.WALL if cell == WALL_CELL else maze_layout.FREE for cell in row)
            for row in maze.cells]
    rows, cols = maze.shape
    s = maze.scaling
    return [((j0 - cols / 2) * s, (rows / 2 - i1 - 1) * s, (j1 + 1 - cols / 2) * s,
             (rows / 2 - i0) * s)
            for i0, j0, i1, j1 in maze_layout.cell_rectangles(grid, maze_layout.WALL)]


def derived_settings(maze: MazeMap) -> dict:
    """The adapter's settings by the rule of the module docstring: goal_low, goal_high, context_low,
    context_high (2 entries each: x, y) and success_threshold."""
    goal_low, goal_high = outer_extent(maze)
    context_low, context_high = context_extent(maze)
    return {"goal_low": goal_low, "goal_high": goal_high, "context_low": context_low,
            "context_high": context_high, "success_threshold": SUCCESS_DISTANCE}


def maze_of(task) -> MazeMap | None:
    """The `MazeMap` of a gymnasium-robotics maze task (its `unwrapped.maze` and
    `unwrapped.position_noise_range`); None for a task without such a maze."""
    inner = getattr(task, "unwrapped", task)
    maze = getattr(inner, "maze", None)
    cells = getattr(maze, "maze_map", None)
    scaling = getattr(maze, "maze_size_scaling", None)
    if cells is None or scaling is None:
        return None
    return MazeMap(cells=cells, scaling=scaling,
                   noise=getattr(inner, "position_noise_range", DEFAULT_NOISE))
