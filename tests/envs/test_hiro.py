"""AntPush, AntFall and AntFourRooms: layouts, block physics, contexts and the success rule."""

import math

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from envs import AntFall, AntFourRooms, AntPush, layout, task_spec
from envs.hiro import ANT_FALL, ANT_PUSH, FOUR_ROOMS


def _id(model, kind, name):
    i = mujoco.mj_name2id(model, kind, name)
    assert i >= 0, name
    return i


def _block(env):
    """World position (x, y, z) of the movable block's centre, float64 [3]."""
    return env.data.xpos[_id(env.model, mujoco.mjtObj.mjOBJ_BODY, "movable_0")].copy()


def _push_torso(env, start_xy, force_xy, steps):
    """Places the ant at start_xy, pushes its torso with a constant horizontal force (N) for
    `steps` env steps with zero torques; returns the torso positions, float64 [steps, 3]."""
    env.data.qpos[:2] = start_xy
    torso = _id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    env.data.xfrc_applied[torso, :2] = force_xy
    mujoco.mj_forward(env.model, env.data)
    path = []
    for _ in range(steps):
        env.step(np.zeros(8))
        path.append(env.data.qpos[:3].copy())
    env.data.xfrc_applied[torso] = 0.0
    return np.array(path)


# ------------------------------------------------------------------------------------------------
# Layouts and geometry, against hand-computed values.


def test_layout_cells():
    push_free = [layout.cell_center(i, j, ANT_PUSH, 8) for i, j in layout.cells_of(ANT_PUSH, ".S")]
    assert push_free == [(-8, 0), (0, 0), (-8, 8), (8, 8), (0, 16)]
    fall_free = [layout.cell_center(i, j, ANT_FALL, 8) for i, j in layout.cells_of(ANT_FALL, ".S")]
    assert fall_free == [(0, 0), (8, 0), (0, 8), (0, 24), (8, 24)]
    chasm = [layout.cell_center(i, j, ANT_FALL, 8) for i, j in layout.cells_of(ANT_FALL, "C")]
    assert chasm == [(0, 16), (8, 16)]
    rooms = [layout.cell_center(i, j, FOUR_ROOMS, 2) for i, j in layout.cells_of(FOUR_ROOMS, ".S")]
    assert len(rooms) == 13 * 13 - 61 and min(rooms) == (0, 0) and max(rooms) == (20, 20)
    # Doorways of the dividing walls (x = 10 column, y = 10 and y = 12 rows).
    x10 = [y for x, y in rooms if x == 10]
    assert x10 == [2, 4, 16, 18]
    assert [x for x, y in rooms if y == 10 and x < 10] == [2, 4]
    assert [x for x, y in rooms if y == 12 and x > 10] == [16, 18]


def test_push_block_geometry():
    (block,) = layout.movable_blocks(ANT_PUSH, 8, 0.5)
    assert block.center == (0, 8, 2) and block.half_size == (4, 4, 2)
    assert block.axes == "xy" and block.mass == 0.0002 and block.ranges == {}
    assert layout.floor_height(ANT_PUSH, 8, 0.5) == 0.0
    assert len(layout.floor_boxes(ANT_PUSH, 8, 0.5)[0]) == 0


def test_fall_geometry():
    assert layout.floor_height(ANT_FALL, 8, 0.5) == 4.0
    (block,) = layout.movable_blocks(ANT_FALL, 8, 0.5)
    assert block.center == (8, 8, 6) and block.half_size == pytest.approx((3.96, 3.96, 2))
    assert block.axes == "yz" and block.mass == 0.001
    assert block.ranges == {"y": (-8, 8), "z": (-4, 0)}
    walls, wall_half = layout.wall_blocks(ANT_FALL, 8, 0.5)
    np.testing.assert_array_equal(wall_half, [4, 4, 4])  # one box from z = 0 to z = 8
    assert np.all(walls[:, 2] == 4)
    # The six floor cells (x 0 and 8; y 0, 8 and 24; the chasm at y = 16) as two boxes, tops at z = 4.
    floors, floor_halves = layout.floor_boxes(ANT_FALL, 8, 0.5)
    assert floors.tolist() == [[4, 4, 2], [4, 24, 2]]
    assert floor_halves.tolist() == [[8, 8, 2], [8, 4, 2]]


def test_models_put_the_ant_first_and_the_block_after_it():
    for cls, joints in ((AntPush, ["movable_0_x", "movable_0_y"]),
                        (AntFall, ["movable_0_y", "movable_0_z"])):
        env = cls()
        assert env.model.nq == 17 and env.model.nv == 16
        names = [env.model.joint(k).name for k in range(env.model.njnt)]
        assert names[-2:] == joints
        assert [env.model.jnt_qposadr[k] for k in (-2, -1)] == [15, 16]
        obs, _ = env.reset(seed=0)
        np.testing.assert_array_equal(env.data.qpos[15:], 0.0)  # the block starts exactly at rest
        np.testing.assert_array_equal(obs["observation"][:15], np.float32(env.data.qpos[:15]))
        assert obs["observation"].shape == (30,)  # the block is not observed
    env = AntFall()
    assert env.model.qpos0[2] == pytest.approx(4.75)
    solimp = env.model.geom_solimp[:, :3]
    np.testing.assert_allclose(solimp, np.tile([0.995, 0.995, 0.01], (env.model.ngeom, 1)))


@pytest.mark.parametrize("bad, match", [
    (("###", "#.#"), "start"),
    (("#S#", "#"), "equally long"),
    (("#S#", "#?#"), "unknown symbols"),
    (("#S#", "#F#"), "needs a chasm"),
])
def test_bad_layouts_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        layout.movable_blocks(bad, 8, 0.5)


# ------------------------------------------------------------------------------------------------
# Task specs, contexts, reward and success.


def test_task_specs():
    push, fall, rooms = (task_spec(cls()) for cls in (AntPush, AntFall, AntFourRooms))
    assert (push.context_low, push.context_high) == ((-16, -4), (16, 20))
    assert push.eval_contexts == ((0, 19),)
    assert (fall.context_low, fall.context_high) == ((-4, -4, 0), (12, 28, 5))
    assert fall.eval_contexts == ((0, 27, 4.5),)
    assert rooms.eval_contexts == ((20, 0), (0, 20), (20, 20))
    for spec in (push, fall, rooms):
        assert spec.max_episode_steps == 500 and spec.success_threshold == 5.0
        assert spec.goal_indices == tuple(range(15))
        assert spec.goal_high[:3] == (10, 10, 0.5)
    for env_id in ("hierarchy/AntPush-v0", "hierarchy/AntFall-v0", "hierarchy/AntFourRooms-v0"):
        assert gym.spec(env_id).max_episode_steps == 500


def test_training_contexts():
    push = np.array([AntPush().reset(seed=s)[0]["context"] for s in range(100)])
    assert push.min(axis=0) == pytest.approx((-16, -4), abs=2) and push.max(axis=0) == \
        pytest.approx((16, 20), abs=2)
    assert np.all(push >= (-16, -4)) and np.all(push <= (16, 20))
    env = AntFall()
    fall = np.array([env.reset(seed=s)[0]["context"] for s in range(100)])
    assert fall.shape == (100, 3) and np.all(fall >= (-4, -4, 0)) and np.all(fall <= (12, 28, 5))
    assert fall[:, 2].max() - fall[:, 2].min() > 4  # the height is drawn too
    env = AntFourRooms()
    rooms = [tuple(env.reset(seed=s)[0]["context"].tolist()) for s in range(30)]
    assert set(rooms) == {(20, 0), (0, 20), (20, 20)}


def test_fall_reward_includes_the_height():
    env = AntFall()
    env.reset(seed=0, options={"context": [0.0, 27.0, 4.5]})
    obs, reward, terminated, truncated, info = env.step(np.zeros(8))
    x, y, z = env.data.qpos[:3]
    assert reward == pytest.approx(-math.sqrt(x**2 + (y - 27) ** 2 + (z - 4.5) ** 2), rel=1e-12)
    assert reward == -info["distance"] and not terminated and not truncated
    np.testing.assert_array_equal(obs["context"], np.float32([0, 27, 4.5]))


def _place_and_step(env, xy):
    """Places the (unwrapped) ant at xy at rest, then takes one zero-torque step through `env`."""
    data = env.unwrapped.data
    data.qpos[:2] = xy
    data.qvel[:] = 0.0
    mujoco.mj_forward(env.unwrapped.model, data)
    return env.step(np.zeros(8))


@pytest.mark.parametrize("cls, context", [(AntPush, (0.0, 19.0)), (AntFourRooms, (20.0, 20.0))])
def test_success_is_the_final_step_within_5(cls, context):
    # info["is_success"] describes the current step only (strictly within 5); an episode's
    # success is its final step's: inside at step 1 and outside at the last step is a failure.
    env = gym.wrappers.TimeLimit(cls(), max_episode_steps=2)
    env.reset(seed=0, options={"context": list(context)})
    *_, truncated, info = _place_and_step(env, (context[0], context[1] - 4.0))
    assert info["is_success"] and info["distance"] == pytest.approx(4.0, abs=0.1)
    assert not truncated
    *_, truncated, info = _place_and_step(env, (context[0], context[1] - 6.0))
    assert truncated and not info["is_success"]
    assert info["distance"] == pytest.approx(6.0, abs=0.1)


def test_fall_success_needs_the_height():
    env = AntFall()
    env.reset(seed=0, options={"context": [0.0, 27.0, 4.5]})
    # On the far platform (floor top z = 4) right at the target's (x, y): distance ~0.
    *_, info = _place_and_step(env, (0.0, 27.0))
    assert info["is_success"] and info["distance"] < 0.5
    # In the chasm, 10 short of the target in y, the torso near z = 0.6: distance > 10.
    env.reset(seed=0, options={"context": [0.0, 27.0, 4.5]})
    env.data.qpos[2] -= 4.0
    *_, info = _place_and_step(env, (0.0, 17.0))
    assert not info["is_success"] and info["distance"] > 10


# ------------------------------------------------------------------------------------------------
# Physics: blocks, the chasm and walls.


def test_push_block_stays_put_unless_pushed():
    env = AntPush()
    env.reset(seed=0)
    for _ in range(30):
        env.step(np.zeros(8))
    # Idle: at most the few centimetres of the contact margins with the neighbouring walls.
    np.testing.assert_allclose(_block(env), (0, 8, 2), atol=0.05)
    # The ant, driven east into the block's west face from (-6, 8), pushes it east.
    path = _push_torso(env, (-6.0, 8.0), (10.0, 0.0), steps=40)
    assert path[-1, 0] > -4.0  # the torso passed the block's start face at x = -4
    moved = _block(env)
    assert moved[0] > 1.0 and abs(moved[1] - 8) < 0.1 and moved[2] == pytest.approx(2)
    for _ in range(10):  # released, it stops again (friction on the floor)
        env.step(np.zeros(8))
    assert np.linalg.norm(_block(env) - moved) < 0.3


def test_fall_block_drops_into_the_chasm_and_bridges_it():
    env = AntFall()
    env.reset(seed=0)
    block = _id(env.model, mujoco.mjtObj.mjOBJ_BODY, "movable_0")
    for _ in range(20):
        env.step(np.zeros(8))
    np.testing.assert_allclose(_block(env), (8, 8, 6), atol=0.05)  # resting on the floor
    env.data.xfrc_applied[block, 1] = 1.0  # 1 N north, about 100 times its weight
    for _ in range(30):
        env.step(np.zeros(8))
    env.data.xfrc_applied[block] = 0.0
    for _ in range(20):
        env.step(np.zeros(8))
    x, y, z = _block(env)
    # Over the chasm cell (8, 16), dropped by 4: its top (z + 2) is flush with the floor at 4.
    assert x == pytest.approx(8) and y == pytest.approx(16, abs=0.05)
    assert z + 2.0 == pytest.approx(4.0, abs=0.05)


def test_ant_falls_into_the_chasm():
    env = AntFall()
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.zeros(8))
    assert env.data.qpos[2] > 4.3  # standing on the raised floor
    path = _push_torso(env, (0.0, 16.0), (0.0, 0.0), steps=15)  # above the chasm
    assert path[-1, 2] < 1.5  # well below the floor top at z = 4


@pytest.mark.parametrize("cls, start, force, face, axis", [
    (AntPush, (-8.0, -1.0), (0.0, -10.0), -4.0, 1),  # wall cell (-8, -8), face y = -4
    (AntFall, (8.0, 1.0), (10.0, 0.0), 12.0, 0),  # wall cell (16, 0), face x = 12
    (AntFourRooms, (7.0, 0.0), (10.0, 0.0), 9.0, 0),  # dividing wall at x = 10, face x = 9
])
def test_walls_stop_the_ant(cls, start, force, face, axis):
    env = cls()
    env.reset(seed=0)
    path = _push_torso(env, start, force, steps=30)
    sign = np.sign(force[axis])
    # The torso (radius 0.25) stays outside the wall, up to soft-contact give of a few mm.
    assert np.all(sign * path[:, axis] < sign * face - 0.25 + 0.02)
    assert sign * path[-1, axis] > sign * face - 0.9  # and it did reach the wall


def test_wall_boxes_cover_exactly_the_wall_cells():
    # Four rooms (cells 2): merged into boxes of at most 6 x 6 units; every wall cell centre lies
    # in exactly one box and no free cell centre in any.
    centers, halves = layout.wall_boxes(FOUR_ROOMS, 2, 0.5)
    assert len(centers) == 26 and len(layout.cells_of(FOUR_ROOMS, "#")) == 61
    assert np.all(halves[:, :2] <= 3) and np.all(halves[:, 2] == 0.5)

    def boxes_holding(x, y):
        inside = np.all(np.abs(centers[:, :2] - (x, y)) < halves[:, :2], axis=1)
        return int(inside.sum())

    for symbol, expected in (("#", 1), (".S", 0)):
        for i, j in layout.cells_of(FOUR_ROOMS, symbol):
            assert boxes_holding(*layout.cell_center(i, j, FOUR_ROOMS, 2)) == expected, (i, j)
    # Cells of 8: one box per wall cell, as `wall_blocks` lists them.
    for grid in (ANT_PUSH, ANT_FALL):
        centers, halves = layout.wall_boxes(grid, 8, 0.5)
        cell_centers, half = layout.wall_blocks(grid, 8, 0.5)
        np.testing.assert_array_equal(centers, cell_centers)
        np.testing.assert_array_equal(halves, np.tile(half, (len(centers), 1)))
