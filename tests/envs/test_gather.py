"""AntGather: sensors on hand-placed objects, object layout and the +1 / -1 rewards."""

import math

import mujoco
import numpy as np
import pytest

from envs import AntGather, sensor_readings, task_spec
from envs.gather import GATHER_GRID

NONE = np.zeros((0, 2))


def _bins(readings):
    """(apple bins, bomb bins) of a [20] reading."""
    return readings[:10], readings[10:]


def test_single_objects_land_in_hand_computed_bins():
    # Heading +x. Bin k covers relative angles [-pi + k*pi/5, -pi + (k+1)*pi/5).
    apples, bombs = _bins(sensor_readings([0, 0], 0.0, [[3, 0]], [[0, 3]]))
    expected_apples = np.zeros(10)
    expected_apples[5] = 0.5  # angle 0 -> bin 5; 1 - 3/6
    expected_bombs = np.zeros(10)
    expected_bombs[7] = 0.5  # angle pi/2 -> (pi/2 + pi) / (pi/5) = 7.5 -> bin 7
    np.testing.assert_allclose(apples, expected_apples)
    np.testing.assert_allclose(bombs, expected_bombs)


def test_behind_wraps_to_first_bin_and_translation():
    apples, _ = _bins(sensor_readings([5, 5], 0.0, [[2, 5]], NONE))  # angle pi -> -pi: bin 0
    assert apples[0] == pytest.approx(0.5) and apples[1:].sum() == 0
    apples, _ = _bins(sensor_readings([5, 5], 0.0, [[5, 1]], NONE))  # angle -pi/2: bin 2
    assert apples[2] == pytest.approx(1 - 4 / 6)


def test_bins_are_relative_to_heading():
    apples, _ = _bins(sensor_readings([0, 0], math.pi / 2, [[0, 3], [3, 0]], NONE))
    assert apples[5] == pytest.approx(0.5)  # straight ahead
    assert apples[2] == pytest.approx(0.5)  # 90 degrees to the right
    assert np.count_nonzero(apples) == 2


def test_nearer_object_occludes_farther_of_the_same_type():
    # rllab semantics: each type has its own sensor; an apple does not hide a bomb behind it.
    apples, bombs = _bins(sensor_readings([0, 0], 0.0, [[2, 0]], [[4, 0]]))
    assert apples[5] == pytest.approx(1 - 2 / 6) and bombs[5] == pytest.approx(1 - 4 / 6)
    apples, bombs = _bins(sensor_readings([0, 0], 0.0, [[4, 0]], [[2, 0]]))
    assert apples[5] == pytest.approx(1 - 4 / 6) and bombs[5] == pytest.approx(1 - 2 / 6)
    # Within a type the nearer object wins, whatever the order given.
    apples, _ = _bins(sensor_readings([0, 0], 0.0, [[4, 0.1], [2, 0]], NONE))
    assert apples[5] == pytest.approx(1 - 2 / 6)
    _, bombs = _bins(sensor_readings([0, 0], 0.0, NONE, [[1.5, 0.2], [5, 0.1], [3, 0]]))
    assert bombs[5] == pytest.approx(1 - np.hypot(1.5, 0.2) / 6)
    # Different bins do not occlude each other.
    apples, bombs = _bins(sensor_readings([0, 0], 0.0, [[2, 0]], [[-4, 0]]))
    assert apples[5] > 0 and bombs[0] == pytest.approx(1 - 4 / 6)


def test_out_of_range_and_narrow_span():
    assert not sensor_readings([0, 0], 0.0, [[6.5, 0]], [[0, -7]]).any()
    assert not sensor_readings([0, 0], 0.0, NONE, NONE).any()
    # Span pi: objects behind are not seen; bin width pi/10.
    readings = sensor_readings([0, 0], 0.0, [[-3, 0], [3, 0]], NONE, sensor_span=math.pi)
    assert readings.shape == (20,) and readings.dtype == np.float32
    assert np.count_nonzero(readings) == 1 and readings[5] == pytest.approx(0.5)


def test_task_spec_has_empty_context():
    spec = task_spec(AntGather())
    assert spec.context_dim == 0 and spec.eval_contexts == ((),)
    assert spec.success_threshold is None and spec.max_episode_steps == 500
    assert spec.goal_indices == tuple(range(15))


def test_random_layout():
    env = AntGather()
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert obs["observation"].shape == (50,)
        assert obs["context"].shape == (0,)
        points = np.concatenate([env.apples, env.bombs])
        assert env.apples.shape == (8, 2) and env.bombs.shape == (8, 2)
        assert len({tuple(p) for p in points.tolist()}) == 16
        assert np.all(points % 2 == 0) and points.min() >= -10 and points.max() <= 8
        assert np.all(np.hypot(points[:, 0], points[:, 1]) >= 2)
        assert info["apples_left"] == 8 and info["bombs_left"] == 8


def test_observation_holds_the_sensor_readings():
    env = AntGather()
    obs, _ = env.reset(seed=0, options={"apples": [[2, 0], [0, 4]], "bombs": [[-3, 0]]})
    expected = sensor_readings(env.ant_xy, env.ant_yaw, env.apples, env.bombs)
    np.testing.assert_array_equal(obs["observation"][30:], expected)
    assert np.count_nonzero(expected) == 3


@pytest.mark.parametrize(
    "apples, bombs, reward",
    [([[0.5, 0.0]], [], 1.0), ([], [[0.0, -0.5]], -1.0), ([[0.5, 0]], [[-0.5, 0]], 0.0),
     ([[1.5, 0.0]], [[0.0, 1.5]], 0.0)],
)
def test_collecting_rewards(apples, bombs, reward):
    env = AntGather()
    env.reset(seed=0, options={"apples": apples, "bombs": bombs})
    env.data.qpos[:2] = 0.0  # remove the reset noise: the ant stands at (0, 0)
    mujoco.mj_forward(env.model, env.data)
    _, r, terminated, _, info = env.step(np.zeros(8))
    assert r == reward and not terminated
    assert info["apples"] == sum(math.hypot(*a) < 1 for a in apples)
    assert info["bombs"] == sum(math.hypot(*b) < 1 for b in bombs)
    assert info["apples_left"] == len(apples) - info["apples"]
    # A collected object is gone: no second reward.
    _, r, _, _, _ = env.step(np.zeros(8))
    assert r == 0.0


def test_object_options_are_validated():
    env = AntGather()
    with pytest.raises(ValueError, match="both"):
        env.reset(options={"apples": [[2, 0]]})
    with pytest.raises(ValueError, match="shape"):
        env.reset(options={"apples": [2, 0, 1], "bombs": []})
    env.reset(options={"context": [], "apples": [], "bombs": []})


def test_sensors_after_a_step_use_the_heading_from_qpos():
    env = AntGather()
    env.reset(seed=0, options={"apples": [[2, 0], [0, 4], [-2, -2]], "bombs": [[-3, 0], [2, 2]]})
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, *_ = env.step(rng.uniform(-30.0, 30.0, 8))
    w, x, y, z = env.data.qpos[3:7]
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    expected = sensor_readings(env.data.qpos[:2], yaw, env.apples, env.bombs)
    np.testing.assert_allclose(obs["observation"][30:], expected, atol=1e-6)


def test_walls_follow_rllab():
    # rllab gather env with activity range 10: boxes centred at +-11, half sizes (11.5, 0.5, 1).
    env = AntGather()
    for name, center, half in [
        ("wall_east", (11, 0), (0.5, 11.5)),
        ("wall_west", (-11, 0), (0.5, 11.5)),
        ("wall_north", (0, 11), (11.5, 0.5)),
        ("wall_south", (0, -11), (11.5, 0.5)),
    ]:
        gid = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        np.testing.assert_allclose(env.model.geom_pos[gid], (*center, 1.0))
        np.testing.assert_allclose(env.model.geom_size[gid], (*half, 1.0))
    # Objects lie inside the inner faces +-10.5, and the torso (radius 0.25) can come within
    # the catch radius 1 of the outermost ones (x or y = -10: the torso reaches -10.25).
    east = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, "wall_east")
    inner_face = env.model.geom_pos[east][0] - env.model.geom_size[east][0]
    assert inner_face == 10.5
    assert -inner_face + 0.25 < GATHER_GRID.min() + 1.0 and GATHER_GRID.max() < inner_face


@pytest.mark.parametrize("axis, sign, name", [(0, 1, "wall_east"), (1, -1, "wall_south")])
def test_walls_stop_the_pushed_ant(axis, sign, name):
    env = AntGather()
    env.reset(seed=0, options={"apples": [], "bombs": []})
    start = np.zeros(2)
    start[axis] = sign * 9.0
    env.data.qpos[:2] = start
    torso = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    env.data.xfrc_applied[torso, axis] = sign * 10.0  # 10 N outwards, as in test_maze
    mujoco.mj_forward(env.model, env.data)
    reach = []
    for _ in range(30):
        env.step(np.zeros(8))
        reach.append(sign * env.data.qpos[axis])
    # The torso (radius 0.25) stops at the inner face 10.5, up to a little soft penetration.
    assert max(reach) < 10.5 - 0.25 + 0.02
    assert reach[-1] > 10.5 - 0.9  # it did reach the wall (legs reach about 0.9 sideways)
    wall = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, name)
    ant_geoms = set(np.flatnonzero(env.model.body_rootid[env.model.geom_bodyid] == torso).tolist())
    pairs = {(int(c.geom1), int(c.geom2)) for c in env.data.contact[: env.data.ncon]}
    assert any(wall in pair and set(pair) & ant_geoms for pair in pairs)
