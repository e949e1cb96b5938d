"""The maze worlds' render-only look (envs.scenery) and render options (frame size, camera)."""

import functools

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from envs import layout, markers
from envs.ant import ANT_FRAME_SKIP, build_ant_model
from envs.hiro import ANT_PUSH
from envs.maze import MAZE_HEIGHT, MAZE_SCALING, add_wall_blocks


def test_the_styled_world_steps_exactly_as_the_unstyled_one():
    plain = build_ant_model(functools.partial(layout.add_maze, layout=ANT_PUSH,
                                              scaling=MAZE_SCALING, height=MAZE_HEIGHT))
    styled = build_ant_model(functools.partial(add_wall_blocks, layout=ANT_PUSH))
    assert styled.nmat == plain.nmat + 3 and not styled.light_castshadow.any()
    datas = [mujoco.MjData(m) for m in (plain, styled)]
    rng = np.random.default_rng(0)
    for _ in range(60):
        ctrl = rng.uniform(-30, 30, plain.nu)
        for model, data in zip((plain, styled), datas):
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=ANT_FRAME_SKIP)
    np.testing.assert_array_equal(datas[0].qpos, datas[1].qpos)
    np.testing.assert_array_equal(datas[0].qvel, datas[1].qvel)


def pixel(env, point):
    """The colour of world `point` in a fresh render of `env` (int [3])."""
    frame = env.render()
    height, width = frame.shape[:2]
    row, col = markers.project(env.unwrapped._renderer.scene, width, height, point)
    return frame[int(row), int(col)].astype(int)


def test_walls_and_the_block_render_in_the_trajectory_plots_colours():
    env = gym.make("hierarchy/AntPush-v0", render_mode="rgb_array", width=160, height=160)
    env.reset(seed=0)
    top = MAZE_HEIGHT * MAZE_SCALING
    block = pixel(env, (0.0, 8.0, top))                 # the block's top face
    wall = pixel(env, (-8.0, 16.0, top))                # a wall's top face
    orange = 255 * np.asarray(markers.ITEM_COLORS["block"])
    assert np.abs(block - orange).max() <= 30, block
    # Far from the top level's yellow goal marker (the old render's block was pale yellow).
    assert np.abs(block - 255 * np.asarray(markers.LEVEL_COLORS[0][:3])).max() >= 100
    assert np.abs(wall - 255 * np.asarray(markers.WALL_COLOR)).max() <= 30, wall
    env.close()


def test_render_options_change_the_frame_and_refuse_bad_values():
    env = gym.make("hierarchy/AntMaze-v0", render_mode="rgb_array")
    env.reset(seed=0)
    u = env.unwrapped
    u.set_render_options(width=1200, height=64)        # beyond the model's 1024 offscreen buffer
    assert env.render().shape == (64, 1200, 3)
    # A frame taller than wide backs the overview off: the framed area stays in view.
    u.set_render_options(width=64, height=128)
    env.render()
    row, col = markers.project(u._renderer.scene, 64, 128, (20.0, 20.0, 0.0))
    assert 0 <= row < 128 and 0 <= col < 64
    with pytest.raises(ValueError, match="camera must be one of"):
        u.set_render_options(camera="top")
    with pytest.raises(ValueError, match="width must be 16 to 4096 pixels, got 5000"):
        u.set_render_options(width=5000)
    env.close()
