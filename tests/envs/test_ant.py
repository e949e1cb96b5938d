"""The Ant model and observation (docs/environments.md, section 1)."""

import math

import mujoco
import numpy as np
import pytest

from envs import AntMaze
from envs.ant import ANT_XML, build_ant_model, quaternion_yaw


def test_model_facts():
    model = build_ant_model()
    assert model.opt.timestep == 0.02
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert model.nu == 8
    np.testing.assert_array_equal(model.actuator_gear[:, 0], np.ones(8))
    np.testing.assert_array_equal(model.actuator_ctrlrange, np.tile([-30.0, 30.0], (8, 1)))
    assert model.nq == 15 and model.nv == 14
    assert ANT_XML.endswith("ant.xml")


def test_env_facts_and_observation():
    env = AntMaze()
    assert env.frame_skip == 5 and env.dt == 0.1
    np.testing.assert_array_equal(env.action_space.low, np.full(8, -30.0, np.float32))
    np.testing.assert_array_equal(env.action_space.high, np.full(8, 30.0, np.float32))
    obs, _ = env.reset(seed=0)
    observation = obs["observation"]
    assert observation.shape == (30,) and observation.dtype == np.float32
    # Reset noise: qpos0 + U(-0.1, 0.1); qvel = 0.1 N(0, 1).
    assert np.all(np.abs(observation[:15] - env.model.qpos0) <= 0.1 + 1e-6)
    assert 0.0 < np.abs(observation[15:29]).max() < 0.6
    assert observation[29] == 0.0
    for _ in range(3):
        obs, *_ = env.step(np.zeros(8))
    np.testing.assert_allclose(obs["observation"][29], 0.003)  # time feature t * 0.001
    np.testing.assert_allclose(obs["observation"][:15], env.data.qpos[:15], rtol=1e-6)
    np.testing.assert_allclose(obs["observation"][15:29], env.data.qvel[:14], rtol=1e-6)


def test_yaw_follows_the_torso_heading():
    env = AntMaze()
    env.reset(seed=0)
    half = np.pi / 6  # rotate the torso by 60 degrees about z
    env.data.qpos[3:7] = [np.cos(half), 0.0, 0.0, np.sin(half)]
    mujoco.mj_forward(env.model, env.data)
    np.testing.assert_allclose(env.ant_yaw, np.pi / 3, atol=1e-9)


@pytest.mark.parametrize(
    "quat, yaw",
    [
        ((1.0, 0.0, 0.0, 0.0), 0.0),  # identity
        ((math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)), math.pi / 2),  # 90 deg about z
        ((2.0, 0.0, 0.0, 2.0), math.pi / 2),  # the same rotation, quaternion scaled by 2*sqrt(2)
        ((0.0, 0.0, 0.0, 1.0), math.pi),  # 180 deg about z: atan2(0, -1)
        ((math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0), 0.0),  # 90 deg roll: x stays
    ],
)
def test_quaternion_yaw_hand_computed(quat, yaw):
    assert quaternion_yaw(quat) == pytest.approx(yaw, abs=1e-12)


def _yaw_of_unit_quaternion(q):
    w, x, y, z = q
    return math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def test_yaw_after_steps_comes_from_qpos():
    env = AntMaze()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.step(rng.uniform(-30.0, 30.0, 8))
        quat = env.data.qpos[3:7].copy()
        assert np.linalg.norm(quat) == pytest.approx(1.0, abs=1e-9)  # MuJoCo normalised it
        assert env.ant_yaw == pytest.approx(_yaw_of_unit_quaternion(quat), abs=1e-12)
    # data.xmat lags qpos by one RK4 physics step; once recomputed from qpos it agrees.
    mujoco.mj_kinematics(env.model, env.data)
    xmat = env.data.xmat[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")]
    assert env.ant_yaw == pytest.approx(math.atan2(xmat[3], xmat[0]), abs=1e-9)


def test_reset_noise_leaves_the_quaternion_unnormalised():
    # As in HIRO's ant and gymnasium's Ant-v5: U(-0.1, 0.1) is added to every qpos entry.
    env = AntMaze()
    obs, _ = env.reset(seed=0)
    quat = obs["observation"][3:7].astype(np.float64)
    np.testing.assert_allclose(quat, env.data.qpos[3:7], rtol=1e-6)
    assert abs(np.linalg.norm(quat) - 1.0) > 1e-3
    # The heading of the noised quaternion is the one MuJoCo uses (it normalises it).
    xmat = env.data.xmat[mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_BODY, "torso")]
    assert env.ant_yaw == pytest.approx(math.atan2(xmat[3], xmat[0]), abs=1e-12)
