"""The Ant model and observation (DESIGN.md section 4)."""

import mujoco
import numpy as np

from envs import AntMaze
from envs.ant import ANT_XML, build_ant_model


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
