"""envs.robotics_maze: bounds, walls and success of gymnasium-robotics' mazes, by hand and on the
real tasks adapted by envs.GoalTask from their id alone."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import robotics_maze
from envs.robotics_maze import MazeMap

envs.ensure_registered("PointMaze_UMaze-v3")
from gymnasium_robotics.envs.maze import maps  # noqa: E402  (registered above, quietly)

# Hand-computed (module docstring): a map of L rows and W columns with cells of s has its outer
# extent at +-(W s / 2, L s / 2) and cell (i, j) centred at ((j + 1/2) s - W s / 2, L s / 2 -
# (i + 1/2) s); every map's open cells span rows 1..L-2 and columns 1..W-2, so the open centres
# span x in [-(W - 3) s / 2, (W - 3) s / 2] and y likewise with L, and the goal noise adds 0.25 s.
#   UMaze 5 x 5:   centres +-1 s;           outer +-2.5 s
#   Medium 8 x 8:  centres +-2.5 s;         outer +-4 s
#   Large 9 x 12:  centres x +-4.5 s, y +-3 s; outer x +-6 s, y +-4.5 s
HAND = {  # map -> (context high at s = 1, goal high at s = 1); the lows are their negatives
    "U_MAZE": ((1.25, 1.25), (2.5, 2.5)),
    "MEDIUM_MAZE": ((2.75, 2.75), (4.0, 4.0)),
    "LARGE_MAZE": ((4.75, 3.25), (6.0, 4.5)),
}


@pytest.mark.parametrize("name", sorted(HAND))
@pytest.mark.parametrize("scaling", [1.0, 4.0])
def test_derived_settings_hand_checked(name, scaling):
    context_high, goal_high = (tuple(scaling * v for v in pair) for pair in HAND[name])
    settings = robotics_maze.derived_settings(MazeMap(cells=getattr(maps, name), scaling=scaling))
    assert settings == {"goal_low": tuple(-v for v in goal_high), "goal_high": goal_high,
                        "context_low": tuple(-v for v in context_high),
                        "context_high": context_high, "success_threshold": 0.45}


def test_noise_and_an_off_centre_map():
    # One open cell at (1, 2) of a 3 x 4 map, s = 2: centre ((2.5 - 2) * 2, (1.5 - 1.5) * 2) = (1, 0);
    # noise 0.5 -> +-1 around it; the outer extent is +-(4, 3).
    cells = [[1, 1, 1, 1], [1, 1, "g", 1], [1, 1, 1, 1]]
    maze = MazeMap(cells=cells, scaling=2.0, noise=0.5)
    assert robotics_maze.open_cells(maze) == [(1, 2)]
    assert robotics_maze.context_extent(maze) == ((0.0, -1.0), (2.0, 1.0))
    assert robotics_maze.outer_extent(maze) == ((-4.0, -3.0), (4.0, 3.0))
    with pytest.raises(ValueError, match="no open cell"):
        robotics_maze.context_extent(MazeMap(cells=[[1]], scaling=1.0))
    with pytest.raises(ValueError, match="equally long rows"):
        MazeMap(cells=[[1, 0], [1]], scaling=1.0)


def test_u_maze_walls_hand_checked():
    # U_MAZE's wall cells merged: row 0, cell (1, 0), column 4 over rows 1-3, row 2's columns 0-2,
    # cell (3, 0), row 4. With s = 1 and L = W = 5: x from j - 2.5, y from 2.5 - i.
    walls = robotics_maze.wall_footprints(MazeMap(cells=maps.U_MAZE, scaling=1.0))
    assert walls == [(-2.5, 1.5, 2.5, 2.5), (-2.5, 0.5, -1.5, 1.5), (1.5, -1.5, 2.5, 1.5),
                     (-2.5, -0.5, 0.5, 0.5), (-2.5, -1.5, -1.5, -0.5), (-2.5, -2.5, 2.5, -1.5)]


IDS = ["PointMaze_UMaze-v3", "PointMaze_Medium-v3", "PointMaze_Large-v3", "AntMaze_UMaze-v5",
       "AntMaze_Medium-v4", "AntMaze_Large-v3"]


@pytest.mark.parametrize("env_id", IDS)
def test_every_maze_id_is_adapted_by_its_id_alone(env_id):
    env = gym.make(env_id)
    inner = env.unwrapped
    task = envs.as_task(env)
    spec = envs.task_spec(task)
    size = {"UMaze": "U_MAZE", "Medium": "MEDIUM_MAZE", "Large": "LARGE_MAZE"}[
        env_id.split("_")[1].split("-")[0]]
    scaling = 4.0 if env_id.startswith("Ant") else 1.0
    context_high, goal_high = (tuple(scaling * v for v in pair) for pair in HAND[size])
    assert (spec.context_high, spec.goal_high) == (context_high, goal_high)
    assert spec.context_low == tuple(-v for v in context_high) and spec.success_threshold == 0.45
    # The rule's centres are the task's own (Maze.cell_rowcol_to_xy) ...
    maze = robotics_maze.maze_of(env)
    for i, j in robotics_maze.open_cells(maze):
        np.testing.assert_allclose(maze.cell_center(i, j), inner.maze.cell_rowcol_to_xy((i, j)))
    # ... and every goal the task draws lies inside the context bounds.
    for seed in range(10):
        context = task.reset(seed=seed)[0]["context"]
        assert task.observation_space["context"].contains(context), (seed, context)
    assert task.wall_rectangles() == robotics_maze.wall_footprints(maze)
    task.close()


def test_settings_override_the_derived_bounds():
    task = envs.as_task(gym.make("PointMaze_UMaze-v3"), goal_low=(-2, -2), goal_high=(2, 2),
                        context_low=(-1.5, -1.5), context_high=(1.5, 1.5), success_threshold=0.5)
    spec = envs.task_spec(task)
    assert (spec.goal_low, spec.context_high, spec.success_threshold) == \
        ((-2.0, -2.0), (1.5, 1.5), 0.5)
    task.close()
