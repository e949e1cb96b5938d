"""The U-maze layout and the AntMaze task, against hand-computed values."""

import math

import mujoco
import numpy as np
import pytest

from envs import AntMaze, maze, task_spec


def test_layout_open_cells_and_start():
    assert maze.start_cell() == (1, 1)
    assert maze.open_cells() == [(1, 1), (1, 2), (1, 3), (2, 3), (3, 1), (3, 2), (3, 3)]
    centers = [maze.cell_center(i, j) for i, j in maze.open_cells()]
    assert centers == [(0, 0), (8, 0), (16, 0), (16, 8), (0, 16), (8, 16), (16, 16)]
    assert len(maze.wall_cells()) == 25 - 7


def test_wall_blocks_positions_and_size():
    centers, half = maze.wall_blocks()
    np.testing.assert_array_equal(half, [4.0, 4.0, 2.0])  # 8 x 8 footprint, 0.5 * 8 = 4 tall
    as_set = {tuple(c) for c in centers.tolist()}
    assert len(as_set) == 18
    for expected in [(-8, -8, 2), (0, -8, 2), (24, -8, 2), (-8, 0, 2), (24, 0, 2), (0, 8, 2),
                     (8, 8, 2), (-8, 8, 2), (24, 8, 2), (-8, 16, 2), (24, 24, 2), (16, 24, 2)]:
        assert expected in as_set
    for open_center in [(0, 0, 2), (16, 8, 2), (8, 16, 2)]:
        assert open_center not in as_set


def test_ant_maze_model_contains_the_blocks():
    env = AntMaze()
    env.reset(seed=0)
    centers, half = maze.wall_blocks()
    for k, center in enumerate(centers):
        gid = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, f"block_{k}")
        assert gid >= 0
        np.testing.assert_allclose(env.data.geom_xpos[gid], center)
        np.testing.assert_allclose(env.model.geom_size[gid], half)


def test_ant_maze_task_spec():
    spec = task_spec(AntMaze())
    assert spec.eval_contexts == ((16.0, 0.0), (16.0, 16.0), (0.0, 16.0))
    assert spec.success_threshold == 5.0
    assert spec.max_episode_steps == 500
    assert spec.goal_indices == tuple(range(15))
    assert spec.goal_high == (10, 10, 0.5, 1, 1, 1, 1, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3)
    assert spec.goal_low == tuple(-v for v in spec.goal_high)
    assert (spec.context_low, spec.context_high) == ((-4.0, -4.0), (20.0, 20.0))


def test_training_contexts_cover_the_box():
    env = AntMaze()
    contexts = np.array([env.reset(seed=s)[0]["context"] for s in range(200)])
    assert contexts.min() >= -4.0 and contexts.max() <= 20.0
    assert contexts.min(axis=0).max() < 0.0 and contexts.max(axis=0).min() > 16.0


def test_ant_maze_reward_is_raw_negative_distance():
    env = AntMaze()
    obs, info = env.reset(seed=0, options={"context": [16.0, 16.0]})
    # The ant starts within 0.1 of (0, 0): distance about 16 * sqrt(2) = 22.63.
    assert info["distance"] == pytest.approx(22.627, abs=0.15)
    obs, reward, terminated, truncated, info = env.step(np.zeros(8))
    x, y = obs["observation"][:2].astype(np.float64)
    assert reward == pytest.approx(-math.hypot(x - 16.0, y - 16.0), abs=1e-5)
    assert reward == -info["distance"]
    assert not terminated and not truncated and not info["is_success"]


@pytest.mark.parametrize("offset, success", [(4.8, True), (5.2, False)])
def test_ant_maze_success_threshold(offset, success):
    env = AntMaze()
    env.reset(seed=0, options={"context": [16.0, 0.0]})
    env.data.qpos[:2] = [16.0 - offset, 0.0]  # place the ant by hand, west of the target
    mujoco.mj_forward(env.model, env.data)
    _, _, _, _, info = env.step(np.zeros(8))
    assert info["is_success"] is success
