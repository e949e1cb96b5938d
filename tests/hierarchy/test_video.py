"""Evaluation videos (hierarchy.plots.video), on real MuJoCo renders: which episodes are filmed, stride and
frame size, MP4 and GIF read back, the caption's legend, the follow camera, bad settings."""

import math
import os

import imageio.v2 as imageio
import numpy as np
import pytest
from run_helpers import TINY

from envs import markers
from hierarchy.plots.video import VideoSettings, VideoSettingsError, parse_size
from hierarchy.run import evaluation
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin
from hierarchy.run.settings import RunSettings

STEPS = 7   # the episodes' horizon here


@pytest.fixture(scope="module")
def point_maze():
    """A 2-level hierarchy on PointMaze (3 evaluation contexts), episodes of STEPS steps."""
    parse_gin(["envs/point_maze.gin", "methods/hrl_cg.gin"], TINY + ["Hierarchy.periods = 3"])
    env = make_env(RunSettings().env_id, max_episode_steps=STEPS, render_mode="rgb_array")
    yield env, build_agent(env, seed=0)
    env.close()


def read_frames(path):
    return [np.asarray(f)[..., :3] for f in imageio.mimread(path, memtest=False)]


@pytest.mark.parametrize("extension", [".mp4", ".gif"])
def test_stride_size_and_chosen_episodes_are_honoured(point_maze, tmp_path, extension):
    env, agent = point_maze
    path = str(tmp_path / f"v{extension}")
    video = VideoSettings(path=path, contexts=(0, 2), episodes=2, stride=3, size=(96, 80))
    result = evaluation.evaluate(agent, env, episodes_per_context=2, video=video)
    assert result["num_episodes"] == 6
    frames = read_frames(path)
    # 2 contexts x 2 episodes, each ceil(7 / 3) + 1 frames (reset, steps 3 and 6, the final step).
    assert len(frames) == 2 * 2 * (math.ceil(STEPS / 3) + 1) == 16
    assert all(f.shape == (80, 96, 3) for f in frames)
    assert sorted(os.listdir(tmp_path)) == [f"v{extension}"]   # no temporary file left


def test_every_step_is_a_frame_with_stride_one(point_maze):
    env, agent = point_maze
    frames = []
    evaluation.run_episode(agent, env, context=(16.0, 0.0), seed=0, frames=frames, frame_stride=1)
    assert len(frames) == STEPS + 1


def near(image, rgb, tolerance=40):
    """Pixels of `image` within `tolerance` of `rgb` on every channel."""
    return np.all(np.abs(image.astype(int) - np.asarray(rgb)) <= tolerance, axis=-1)


def test_the_caption_shows_every_level_colour_and_the_target(point_maze, tmp_path):
    env, agent = point_maze
    path = str(tmp_path / "v.gif")
    video = VideoSettings(path=path, contexts=(1,), stride=7, size=(320, 240))
    evaluation.evaluate(agent, env, episodes_per_context=1, video=video)
    frame = read_frames(path)[-1]
    picture_height = env.unwrapped._height
    assert 240 - picture_height >= 30           # the caption below the picture
    caption = frame[picture_height:]
    for rgb in [markers.TARGET_COLOR[:3], *(c[:3] for c in markers.LEVEL_COLORS[:2])]:
        assert near(caption, [255 * c for c in rgb]).sum() >= 10, rgb
    assert near(caption, [255, 255, 255], 60).sum() >= 50     # the text
    # A third level's colour is not in the legend of a 2-level hierarchy.
    assert near(caption, [255 * c for c in markers.LEVEL_COLORS[2][:3]]).sum() == 0


def test_the_follow_camera_keeps_the_robot_at_the_frame_centre():
    env = make_env("hierarchy/AntMaze-v0", render_mode="rgb_array")
    u = env.unwrapped
    u.set_render_options(width=160, height=120, camera="follow")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for position in ((0.0, 0.0), (16.0, 0.0), (16.0, 16.0), (3.0, 16.0)):
        qpos = u.data.qpos.copy()
        qpos[:2] = position
        u._set_state(qpos, u.data.qvel)
        for _ in range(3):
            env.step(rng.uniform(-30, 30, 8).astype(np.float32))
        frame = env.render()
        assert frame.shape == (120, 160, 3)
        row, col = markers.project(u._renderer.scene, 160, 120, u.data.xpos[1])
        assert abs(row - 60) < 2 and abs(col - 80) < 2
        r, g, b = frame[60, 80].astype(int)
        assert r > b + 30    # the ant's tan torso, not the blue-grey floor
    u.set_render_options(camera="overview")
    env.render()
    row, col = markers.project(u._renderer.scene, 160, 120, u.data.xpos[1])
    assert abs(row - 60) > 20 or abs(col - 80) > 20     # the overview does not follow
    env.close()


@pytest.mark.parametrize("settings, message", [
    (dict(path="v.avi"), "unknown extension '.avi'"),
    (dict(path="video"), "unknown extension '(none)'"),
    (dict(path="v.gif", stride=0), "stride must be >= 1"),
    (dict(path="v.gif", episodes=0), "episodes must be >= 1"),
    (dict(path="v.gif", size=(8, 100)), "16 to 4096 pixels"),
    (dict(path="v.mp4", size=(101, 100)), "even width and height"),
    (dict(path="v.gif", camera="top"), "camera must be one of"),
    (dict(path="v.gif", contexts=(0, 0)), "distinct indices"),
])
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(VideoSettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        VideoSettings(**settings)


def test_a_video_the_evaluation_cannot_film_fails_before_anything_runs(point_maze, tmp_path):
    env, agent = point_maze
    path = str(tmp_path / "v.gif")
    with pytest.raises(VideoSettingsError, match="video context 3 does not exist.*3 evaluation"):
        evaluation.evaluate(agent, env, episodes_per_context=1,
                            video=VideoSettings(path=path, contexts=(3,)))
    with pytest.raises(VideoSettingsError, match=r"episodes \(2\) exceed .* \(1\)"):
        evaluation.evaluate(agent, env, episodes_per_context=1,
                            video=VideoSettings(path=path, episodes=2))
    assert os.listdir(tmp_path) == []
    assert parse_size("640x360") == (640, 360)
    with pytest.raises(VideoSettingsError, match="WIDTHxHEIGHT"):
        parse_size("640-360")
