"""PointReach and PointMaze specifics."""

import math
import time

import numpy as np
import pytest

from envs import PointMaze, PointReach


def test_point_reach_dynamics_and_reward():
    env = PointReach()
    obs, info = env.reset(seed=0, options={"context": [3.0, 4.0]})
    start = obs["observation"].astype(np.float64)
    assert np.all(np.abs(start) <= 0.1)  # reset noise U(-0.1, 0.1)
    np.testing.assert_array_equal(obs["context"], np.float32([3.0, 4.0]))
    obs, reward, terminated, truncated, info = env.step(np.array([0.5, -0.25]))
    expected = start + [0.5, -0.25]
    np.testing.assert_allclose(obs["observation"], expected, atol=1e-6)
    assert reward == pytest.approx(-math.hypot(expected[0] - 3.0, expected[1] - 4.0), abs=1e-6)
    assert info["distance"] == pytest.approx(-reward)
    assert not terminated and not truncated and not info["is_success"]


def test_point_reach_success_threshold_and_arena_clip():
    env = PointReach()
    env.reset(seed=1, options={"context": [4.0, 4.0]})
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([1.0, 1.0]))
    assert not info["is_success"]  # about (3, 3): distance ~1.41 >= 1
    _, _, _, _, info = env.step(np.array([1.0, 1.0]))
    assert info["is_success"]  # about (4, 4): distance ~0.1 < 1
    for _ in range(20):
        obs, _, _, _, _ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(obs["observation"], np.float32([10.0, 10.0]))


def test_point_reach_throughput():
    env = PointReach()
    env.reset(seed=0)
    action = np.zeros(2, np.float32)
    n = 5000
    start = time.perf_counter()
    for _ in range(n):
        env.step(action)
    assert n / (time.perf_counter() - start) > 20_000


def test_point_reach_render_is_pure_numpy():
    env = PointReach(render_mode="rgb_array")
    env.reset(seed=0)
    image = env.render()
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert len(np.unique(image.reshape(-1, 3), axis=0)) == 3  # background, target, point


def test_point_maze_walls_block_the_point():
    env = PointMaze()
    env.reset(seed=0)
    for _ in range(20):  # north of the start cell is the wall cell (row 2, col 1), y in [4, 12]
        obs, *_ = env.step(np.array([0.0, 1.0]))
    assert 3.0 < obs["observation"][1] <= 3.5 + 0.05  # radius 0.5; soft contacts penetrate a little
    env.reset(seed=0)
    for _ in range(40):  # east along the corridor up to the wall cell (row 1, col 4), x >= 20
        obs, *_ = env.step(np.array([1.0, 0.0]))
    assert 19.0 < obs["observation"][0] <= 19.5 + 0.05


def test_point_maze_speed_is_about_one_unit_per_step():
    env = PointMaze()
    obs, _ = env.reset(seed=0)
    x0 = obs["observation"][0]
    for _ in range(10):
        obs, *_ = env.step(np.array([1.0, 0.0]))
    assert 8.0 < obs["observation"][0] - x0 < 10.0
    np.testing.assert_allclose(obs["observation"][2], 10.0, rtol=0.05)  # terminal speed 10/s
