"""Renders that show the task's target and every level's goal (envs.markers), checked on pixels."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs import markers

CONTEXT = (16.0, 16.0)


def color255(rgba):
    return np.array([round(255 * c) for c in rgba[:3]])


def pixel_at(img, scene, point):
    row, col = markers.project(scene, img.shape[1], img.shape[0], point)
    assert 0 <= row < img.shape[0] and 0 <= col < img.shape[1], (point, row, col)
    return img[int(row), int(col)].astype(int)


@pytest.fixture(scope="module", params=["hierarchy/AntMaze-v0", "hierarchy/PointMaze-v0"])
def maze_env(request):
    env = gym.make(request.param, render_mode="rgb_array")
    env.reset(seed=0, options={"context": CONTEXT})
    yield env
    env.close()


def test_markers_are_drawn_where_the_goals_project(maze_env):
    u = maze_env.unwrapped
    goals = [CONTEXT, (4.0, 2.0, 0.6), (8.0, 0.0), (0.0, 8.0, 1.0)]  # (0, 8): inside the wall
    u.set_goal_markers(goals)
    img = maze_env.render()
    assert img.shape == (480, 480, 3) and img.dtype == np.uint8
    scene = u._renderer.scene
    z = u.MARKER_Z
    for k, point in enumerate([(16, 16, z), (4, 2, 0.6), (8, 0, z)]):
        np.testing.assert_allclose(pixel_at(img, scene, point), color255(markers.LEVEL_COLORS[k]),
                                   atol=30, err_msg=f"level {k}")
    # Level 3's goal lies inside a wall block (4 high): hidden, the wall's grey shows.
    assert np.ptp(pixel_at(img, scene, (0, 8, 1.0))) < 20
    # Cleared: the floor shows where level 1's marker was.
    u.set_goal_markers(None)
    img = maze_env.render()
    assert np.abs(pixel_at(img, scene, (4, 2, 0.6)) - color255(markers.LEVEL_COLORS[1])).max() > 100


def test_the_target_disc_and_dot_are_drawn(maze_env):
    u = maze_env.unwrapped
    u.set_goal_markers(None)
    img = maze_env.render()
    scene = u._renderer.scene
    np.testing.assert_allclose(pixel_at(img, scene, (16, 16, 0.6)), color255(markers.TARGET_COLOR),
                               atol=30)
    # Inside the success radius (5), away from the dot: the translucent green disc over the floor.
    for dx, dy in [(3.5, 0.0), (0.0, -3.5), (-2.5, -2.5)]:
        r, g, b = pixel_at(img, scene, (16 + dx, 16 + dy, 0.02))
        assert g > r + 60 and g > b + 40, (dx, dy, (r, g, b))
    # Outside it, no green cast: the floor (blue-grey).
    r, g, b = pixel_at(img, scene, (16.0, 9.0, 0.0))
    assert b >= g, (r, g, b)


def test_camera_frames_the_task_and_the_ant_is_large_enough():
    env = gym.make("hierarchy/AntMaze-v0", render_mode="rgb_array")
    env.reset(seed=0, options={"context": CONTEXT})
    u = env.unwrapped
    assert env.render().shape == (480, 480, 3)
    scene = u._renderer.scene
    # Every corner of the context range [-4, 20]^2 is in the frame.
    for corner in [(-4, -4, 0), (20, -4, 0), (-4, 20, 0), (20, 20, 0)]:
        row, col = markers.project(scene, 480, 480, corner)
        assert 0 <= row < 480 and 0 <= col < 480, corner
    # The ant's pixels: render the same scene with segmentation (one geom id per pixel).
    renderer = mujoco.Renderer(u.model, 480, 480)
    renderer.enable_segmentation_rendering()
    camera = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(u.model, camera)
    for key, value in u._camera_config.items():
        setattr(camera, key, value)
    renderer.update_scene(u.data, camera=camera)
    seg = renderer.render()
    renderer.close()
    geom_ids = seg[..., 0][seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM]
    torso = mujoco.mj_name2id(u.model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    ant_geoms = [g for g in range(u.model.ngeom) if u.model.body_rootid[u.model.geom_bodyid[g]] == torso]
    ant_pixels = int(np.isin(geom_ids, ant_geoms).sum())
    assert ant_pixels >= 250, ant_pixels  # measured 289; the former camera (distance 60): 78
    # And the torso is where its centre projects.
    row, col = markers.project(scene, 480, 480, u.data.xpos[torso])
    assert seg[int(row), int(col), 0] == mujoco.mj_name2id(
        u.model, mujoco.mjtObj.mjOBJ_GEOM, "torso_geom")
    env.close()


def test_bad_marker_positions_are_clear_errors():
    env = gym.make("hierarchy/PointMaze-v0")
    with pytest.raises(ValueError, match=r"goal marker 1 must be a world point .* shape \(4,\)"):
        env.unwrapped.set_goal_markers([(1, 2), (1, 2, 3, 4)])
    with pytest.raises(ValueError, match="goal marker 0 contains NaN"):
        env.unwrapped.set_goal_markers([(np.nan, 0)])
    env.unwrapped.set_goal_markers([None, (1, 2)])
    assert env.unwrapped.goal_markers[0] is None
    np.testing.assert_allclose(env.unwrapped.goal_markers[1], [1, 2, env.unwrapped.MARKER_Z])
    env.close()


def test_point_reach_draws_the_markers():
    env = gym.make("hierarchy/PointReach-v0", render_mode="rgb_array")
    env.reset(seed=0, options={"context": [4.0, 4.0]})
    env.unwrapped.set_goal_markers([(4.0, 4.0), (-5.0, 2.5)])
    img = env.render()
    # Pixel (row, col) of world (x, y): col = (x + 10) / 20 * 256, row = (10 - y) / 20 * 256.
    np.testing.assert_array_equal(img[96, 64], color255(markers.LEVEL_COLORS[1]))  # (-5, 2.5)
    np.testing.assert_array_equal(img[76, 179], color255(markers.LEVEL_COLORS[0]))  # (4, 4)
    env.close()


def test_framing_camera_hand_checked():
    cam = markers.framing_camera((0.0, -2.0), (10.0, 2.0), margin=1.0)
    np.testing.assert_allclose(cam["lookat"], [5.0, 0.0, 0.0])
    # Half-extent 5 + 1 = 6 seen under half the 45 degree field of view: 6 / tan(22.5 deg).
    assert cam["distance"] == pytest.approx(6.0 / np.tan(np.radians(22.5)))
    assert (cam["azimuth"], cam["elevation"]) == (90.0, -90.0)
