"""The train and evaluate binaries on gymnasium-robotics' mazes, adapted by envs.GoalTask."""

import json
import os

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from run_helpers import TINY, run_binary

from hierarchy.run import metrics
from hierarchy.run.config import ConfigurationError, parse_gin
from hierarchy.run.runner import train

GIN = ["envs/point_maze_robotics.gin", "methods/hrl_cg.gin"]
SHORT = TINY + ["Agent.warmup_steps = 80", "train.total_steps = 200", "train.max_episode_steps = 40",
                "train.eval_interval = 200", "train.checkpoint_interval = 200",
                "train.log_interval = 100", "train.eval_episodes_per_context = 1",
                "train.eval_at_start = False"]


def test_two_levels_train_then_evaluate_on_robotics_point_maze(tmp_path):
    root = str(tmp_path / "run")
    proc = run_binary("train", root, GIN, SHORT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))
    assert [r["step"] for r in rows] == [40, 80, 120, 160, 200]
    assert rows[-1]["losses"]["low"]["critic"] > 0
    ev = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))
    assert [c["context"] for c in ev[-1]["per_context"]] == [[-1.0, 1.0], [1.0, 0.0], [-1.0, -1.0]]
    assert all(c["success_rate"] is not None for c in ev[-1]["per_context"])  # from info["success"]
    operative = open(os.path.join(root, "operative_config.gin")).read()
    assert "goal_task.goal_high = (2.0, 2.0)" in operative
    proc = run_binary("evaluate", root, extra=["--num_episodes=1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.load(open(os.path.join(root, "evaluation_200.json")))
    assert out["num_episodes"] == 3 and out["success_rate"] is not None


def test_goal_bounds_of_the_wrong_dimension_name_the_setting(tmp_path):
    parse_gin(GIN, ["goal_task.goal_low = (-1.0, -1.0, -1.0)",
                    "goal_task.goal_high = (1.0, 1.0, 1.0)"])
    with pytest.raises(ConfigurationError,
                       match="goal_low has 3 entries but the goal dimension is 2"):
        train(str(tmp_path / "bad"))
    assert not os.path.exists(tmp_path / "bad")


class Unbounded(gym.Env):
    """A goal-conditioned task whose spaces leave goals unbounded, with no maze to bound them."""

    observation_space = spaces.Dict({key: spaces.Box(-np.inf, np.inf, (2,)) for key in
                                     ("observation", "achieved_goal", "desired_goal")})
    action_space = spaces.Box(-1.0, 1.0, (2,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {key: np.zeros(2) for key in self.observation_space.spaces}, {}

    def step(self, action):
        return self.reset()[0], 0.0, False, False, {}


def test_unbounded_goals_without_settings_name_the_settings(tmp_path):
    gym.register("test/Unbounded-v0", entry_point=Unbounded, max_episode_steps=5)
    try:
        parse_gin(["base.gin", "methods/hrl_cg.gin"], ["train.env_id = 'test/Unbounded-v0'"])
        with pytest.raises(ConfigurationError, match="give the settings goal_low and goal_high"):
            train(str(tmp_path / "bad"))
    finally:
        del gym.registry["test/Unbounded-v0"]
    assert not os.path.exists(tmp_path / "bad")


@pytest.mark.parametrize("env_id", ["PointMaze_Large-v3",
                                    pytest.param("AntMaze_Medium-v4", marks=pytest.mark.slow)])
def test_a_maze_trains_by_its_id_alone(tmp_path, env_id):
    """Bounds, success distance and walls come from the maze's map (envs.robotics_maze)."""
    root = str(tmp_path / "run")
    proc = run_binary("train", root, ["base.gin", "methods/hrl_cg.gin"],
                      SHORT + [f"train.env_id = '{env_id}'", "train.total_steps = 80",
                               "Agent.warmup_steps = 40", "train.eval_interval = 80",
                               "train.checkpoint_interval = 80"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["step"] for r in metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))] == \
        [40, 80]
    (row,) = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))
    assert row["step"] == 80 and row["success_rate"] is not None      # the task's info["success"]
    assert os.listdir(os.path.join(root, "plots")) == ["trajectory_80_ctx0.png"]


def test_a_run_stopped_mid_episode_resumes_exactly(tmp_path):
    """SIGTERM mid-episode on the adapted robotics task, then a resume: every row as in the
    uninterrupted run (the task's generators, its inner point environment's included, are saved)."""
    import signal

    from run_helpers import metric_rows, run_until_log_line

    settings = SHORT + ["train.log_interval = 20"]
    reference = str(tmp_path / "reference")
    assert run_binary("train", reference, GIN, settings).returncode == 0
    root = str(tmp_path / "run")
    code, err = run_until_log_line(root, GIN, settings, "step 100/200", signal.SIGTERM)
    assert code == 0 and "Stopped by SIGTERM" in err, err[-3000:]
    done = run_binary("train", root, GIN, settings)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mid-episode" in done.stderr
    for name in ("train_metrics.jsonl", "eval_metrics.jsonl"):
        assert metric_rows(root, name) == metric_rows(reference, name), name


def test_fetch_ids_are_refused_with_one_line_on_a_mujoco_they_cannot_run_on(tmp_path):
    import mujoco

    from envs import goal_env

    if goal_env.version_tuple(mujoco.__version__) <= goal_env.FETCH_NEWEST_MUJOCO:
        pytest.skip(f"mujoco {mujoco.__version__} runs the Fetch tasks")
    root = str(tmp_path / "run")
    proc = run_binary("train", root, ["base.gin", "methods/flat.gin"],
                      ["train.env_id = 'FetchReach-v4'"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"FetchReach-v4: gymnasium-robotics' Fetch tasks do not run on mujoco {mujoco.__version__}" \
        in proc.stderr
    assert not os.path.exists(root)
