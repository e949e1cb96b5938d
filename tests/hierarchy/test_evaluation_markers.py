"""Evaluation videos show every level's goal: hierarchy.run.evaluation's goal markers, on real renders."""

import numpy as np
from run_helpers import TINY

from envs import markers
from hierarchy.agent.agent import Episode
from hierarchy.run import evaluation
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin
from hierarchy.run.settings import RunSettings


def build(gin_files, max_episode_steps, render_mode=None):
    parse_gin(gin_files, TINY + ["Hierarchy.periods = 3"])
    env = make_env(RunSettings().env_id, max_episode_steps=max_episode_steps,
                   render_mode=render_mode)
    return env, build_agent(env, seed=0)


def test_goal_marker_positions_hand_checked():
    env, agent = build(["envs/ant_maze.gin", "methods/three_level_cg.gin"], 20)
    ep = Episode(training=False, context=np.array([16.0, 0.0], np.float32),
                 observation=np.zeros(30, np.float32), t=0)
    ep.origin_states = np.zeros((3, 30), np.float32)
    ep.origin_goals = np.zeros((3, 15), np.float32)
    before = evaluation.goal_marker_positions(agent, ep)
    assert len(before) == 3 and before[1] is None and before[2] is None  # no goal set yet
    np.testing.assert_allclose(before[0], [16.0, 0.0])
    ep.t = 4
    ep.origin_states[1, :3] = (1.0, 2.0, 0.5)
    ep.origin_goals[1, :3] = (3.0, -1.0, 0.25)
    ep.origin_states[2, :3] = (-2.0, 0.5, 0.75)
    ep.origin_goals[2, :3] = (0.5, 0.5, -0.25)
    after = evaluation.goal_marker_positions(agent, ep)
    # Relative goals: s[I] + g, first three coordinates (x, y, z).
    np.testing.assert_allclose(after[1], [4.0, 1.0, 0.75])
    np.testing.assert_allclose(after[2], [-1.5, 1.0, 0.5])
    env.close()


def test_evaluation_frames_show_the_low_level_goal():
    env, agent = build(["envs/point_maze.gin", "methods/hrl_cg.gin"], 8, render_mode="rgb_array")
    frames = []
    evaluation.run_episode(agent, env, context=(16.0, 0.0), seed=0, frames=frames)
    assert len(frames) == 9 and frames[0].shape == (480, 480, 3)
    u = env.unwrapped
    top, low = u.goal_markers  # as set before the last frame
    np.testing.assert_allclose(top, [16.0, 0.0, u.MARKER_Z])
    scene = u._renderer.scene
    for k, point in enumerate([top, low]):
        row, col = markers.project(scene, 480, 480, point)
        np.testing.assert_allclose(frames[-1][int(row), int(col)],
                                   [255 * c for c in markers.LEVEL_COLORS[k][:3]], atol=30)
    # The first frame (before any decision) shows the top level's marker only.
    magenta = np.all(frames[0] == (255, 0, 255), axis=-1).sum()
    assert magenta == 0 and np.all(frames[-1] == (255, 0, 255), axis=-1).sum() > 50
    env.close()


def test_environments_without_markers_still_render():
    env, agent = build(["envs/point_maze_robotics.gin", "methods/hrl_cg.gin"], 5,
                       render_mode="rgb_array")
    assert not hasattr(env.unwrapped, "set_goal_markers")
    frames = []
    evaluation.run_episode(agent, env, context=(1.0, 0.0), seed=0, frames=frames)
    assert len(frames) == 6 and frames[0].ndim == 3
    env.close()
