"""`wall_rectangles()`: the walls seen from above, against hand values and the MuJoCo models."""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs
from envs import layout


def test_u_maze_footprints_hand_checked():
    # Cells of 8 centred at ((j - 1) * 8, (i - 1) * 8): row 0 of walls spans x in [-12, 28], y in
    # [-12, -4]; the wall cell (2, 1)-(2, 2) run spans x in [-12, 12], y in [4, 12].
    rects = envs.AntMaze().wall_rectangles()
    assert rects == [(-12.0, -12.0, 28.0, -4.0), (-12.0, -4.0, -4.0, 4.0), (20.0, -4.0, 28.0, 20.0),
                     (-12.0, 4.0, 12.0, 12.0), (-12.0, 12.0, -4.0, 20.0), (-12.0, 20.0, 28.0, 28.0)]
    assert envs.PointMaze().wall_rectangles() == rects
    assert layout.wall_footprints(("S#",), 2.0) == [(1.0, -1.0, 3.0, 1.0)]


def test_gather_walls_and_point_reach():
    # Wall centres at +-11, half-thickness 0.5, half-length 11.5 (rllab's gather env).
    assert sorted(envs.AntGather().wall_rectangles()) == sorted([
        (10.5, -11.5, 11.5, 11.5), (-11.5, -11.5, -10.5, 11.5),
        (-11.5, 10.5, 11.5, 11.5), (-11.5, -11.5, 11.5, -10.5)])
    assert envs.PointReach().wall_rectangles() == []


def _static_wall_geoms(model):
    """(centre xy, half size xy) of every static box named block_* or wall_*: the walls."""
    out = []
    for g in range(model.ngeom):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
        if name.startswith(("block_", "wall_")):
            out.append((g, model.geom_size[g, :2].copy()))
    return out


@pytest.mark.parametrize("env_id", ["hierarchy/PointMaze-v0", "hierarchy/AntMaze-v0",
                                    "hierarchy/AntGather-v0", "hierarchy/AntPush-v0",
                                    "hierarchy/AntFall-v0", "hierarchy/AntFourRooms-v0",
                                    "PointMaze_Large-v3", "AntMaze_Medium-v4"])
def test_rectangles_cover_exactly_the_models_walls(env_id):
    env = envs.as_task(gym.make(envs.ensure_registered(env_id)))   # gymnasium-robotics: adapted
    env.reset(seed=0)
    u = env.unwrapped
    rects = np.asarray(u.wall_rectangles(), np.float64)
    assert len(rects) and np.all(rects[:, 0] < rects[:, 2]) and np.all(rects[:, 1] < rects[:, 3])
    inner = getattr(u, "env", env).unwrapped        # the adapted task's own, with its simulation
    sim = getattr(inner, "point_env", None) or getattr(inner, "ant_env", None) or inner
    geoms = [(sim.data.geom_xpos[g, :2], half) for g, half in _static_wall_geoms(sim.model)]
    # Brute force on a grid of points offset from every cell edge: inside a rectangle <=> inside
    # a wall geom's footprint.
    low = rects[:, :2].min(axis=0) - 1.0
    high = rects[:, 2:].max(axis=0) + 1.0
    xs, ys = np.meshgrid(np.arange(low[0], high[0], 0.37) + 0.011,
                         np.arange(low[1], high[1], 0.37) + 0.013)
    pts = np.stack([xs.ravel(), ys.ravel()], axis=1)
    in_rect = np.zeros(len(pts), bool)
    for x0, y0, x1, y1 in rects:
        in_rect |= (pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)
    in_geom = np.zeros(len(pts), bool)
    for center, half in geoms:
        in_geom |= np.all(np.abs(pts - center) < half, axis=1)
    assert in_rect.any()
    np.testing.assert_array_equal(in_rect, in_geom)
    env.close()
