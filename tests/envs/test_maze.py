"""The U-maze layout and the AntMaze task, against hand-computed values."""

import math

import mujoco
import numpy as np
import pytest

from envs import AntMaze, PointMaze, maze, task_spec


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


@pytest.mark.parametrize(
    "xy, distance, success",
    [
        ((11.2, 0.0), 4.8, True),  # 4.8 west of the target
        ((10.8, 0.0), 5.2, False),
        ((13.0, 4.0), 5.0, False),  # 3-4-5 triangle: exactly the threshold is no success
        ((13.6, 3.2), 4.0, True),  # (2.4, 3.2) = 0.8 * (3, 4)
    ],
)
def test_goal_info_success_rule(xy, distance, success):
    info = maze.goal_info(xy, (16.0, 0.0))
    assert info["distance"] == pytest.approx(distance, abs=1e-12)
    assert info["is_success"] is success


@pytest.mark.parametrize("offset, success", [(4.0, True), (6.0, False)])
def test_ant_maze_step_reports_success(offset, success):
    # 1 unit of margin on each side of the threshold 5: with zero torques the hand-placed ant
    # moves by centimetres in one 0.1 s step.
    env = AntMaze()
    env.reset(seed=0, options={"context": [16.0, 0.0]})
    env.data.qpos[:2] = [16.0 - offset, 0.0]  # place the ant by hand, west of the target
    mujoco.mj_forward(env.model, env.data)
    _, _, _, _, info = env.step(np.zeros(8))
    assert info == maze.goal_info(env.data.qpos[:2], (16.0, 0.0))
    assert info["is_success"] is success


# Walls block the robots. The start cell (0, 0) has wall cells west (block centre (-8, 0), face
# x = -4) and north (block centre (0, 8), face y = 4); the corridor is open eastwards to x = 20.


def _block_geom(model, center_xy):
    """Geom id of the maze block centred at (x, y)."""
    centers, _ = maze.wall_blocks()
    (k,) = np.flatnonzero(np.all(centers[:, :2] == center_xy, axis=1))
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"block_{k}")


def _touching(model, data, geom, body_root):
    """Whether any current contact pairs `geom` with a geom of the body tree rooted at body_root."""
    for contact in data.contact[: data.ncon]:
        pair = (int(contact.geom1), int(contact.geom2))
        if geom in pair:
            other = pair[1] if pair[0] == geom else pair[0]
            if model.body_rootid[model.geom_bodyid[other]] == body_root:
                return True
    return False


def _push_ant(env, start_xy, force_xy, steps=30):
    """Places the ant at start_xy and pushes its torso with a constant horizontal force (N).

    Returns the torso's (x, y) after each step, float64 [steps, 2].
    """
    env.data.qpos[:2] = start_xy
    torso = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    env.data.xfrc_applied[torso, :2] = force_xy
    mujoco.mj_forward(env.model, env.data)
    path = []
    for _ in range(steps):
        env.step(np.zeros(8))
        path.append(env.data.qpos[:2].copy())
    return np.array(path)


def test_walls_stop_the_pushed_ant():
    env = AntMaze()
    env.reset(seed=0, options={"context": [16.0, 0.0]})
    torso = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    # Control: 10 N east for 3 s carries the ant (mass 0.91) more than 10 units along the
    # open corridor.
    path = _push_ant(env, [0.0, 0.0], [10.0, 0.0])
    assert path[-1, 0] > 10.0
    # The same push west from x = -2 ends at the block face x = -4: the torso (a sphere of
    # radius 0.25) stays outside the block, up to a few mm of soft-contact penetration.
    env.reset(seed=0, options={"context": [16.0, 0.0]})
    path = _push_ant(env, [-2.0, 0.0], [-10.0, 0.0])
    assert path[:, 0].min() > -4.0 + 0.25 - 0.02
    assert path[-1, 0] < -4.0 + 0.9  # it did reach the wall (legs reach about 0.9 sideways)
    assert _touching(env.model, env.data, _block_geom(env.model, (-8.0, 0.0)), torso)


def test_walls_stop_the_point():
    env = PointMaze()
    env.reset(seed=0)
    point = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "point")
    block = _block_geom(env.model, (0.0, 8.0))
    assert not _touching(env.model, env.data, block, point)
    ys = []
    for _ in range(20):  # full speed north (about 1 unit per step) from y ~ 0
        obs, *_ = env.step(np.array([0.0, 1.0]))
        ys.append(obs["observation"][1])
    # The sphere (radius 0.5) stops at the face y = 4 and stays there while pushed. Soft
    # contacts give way a little: about 0.08 at the 10 units/s impact, 0.03 while pushed.
    assert max(ys) < 4.0 - 0.5 + 0.1
    assert 4.0 - 0.5 - 0.05 < ys[-1] < 4.0 - 0.5 + 0.05
    assert _touching(env.model, env.data, block, point)
