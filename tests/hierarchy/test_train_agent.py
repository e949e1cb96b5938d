"""The code-only path: `H.train_agent` runs the binary's loop on an agent and environments built in
code, with the same rows, checkpoints, resumption and progress lines."""

import logging as std_logging
import os

import gin
import gymnasium as gym
import pytest
from run_helpers import POINT, TINY, TRAINING, metric_rows

import envs  # noqa: F401  (registers the hierarchy/ environments)
import hierarchy as H
from hierarchy.run import files
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import ConfigMismatchError, parse_gin

SETTINGS = dict(total_steps=400, eval_interval=200, checkpoint_interval=200, log_interval=100,
                eval_episodes_per_context=1, trajectory_plots=False)


def test_same_rows_and_checkpoints_as_the_gin_run(tmp_path):
    """Built by gin or in code, the same agent trained by the same loop writes the same rows."""
    parse_gin(POINT, TINY + TRAINING + ["train.total_steps = 400", "train.eval_interval = 200",
                                        "train.checkpoint_interval = 200"])
    by_gin = str(tmp_path / "gin")
    H.train(by_gin)
    env, eval_env = make_env("hierarchy/PointReach-v0"), make_env("hierarchy/PointReach-v0")
    agent = build_agent(env, seed=0)
    in_code = str(tmp_path / "code")
    final = H.train_agent(in_code, agent=agent, env=env, eval_env=eval_env)
    for name in (files.TRAIN_METRICS, files.EVAL_METRICS):
        assert metric_rows(in_code, name) == metric_rows(by_gin, name), name
    assert final["step"] == 400
    assert sorted(os.listdir(os.path.join(in_code, files.CHECKPOINTS))) == \
        sorted(os.listdir(os.path.join(by_gin, files.CHECKPOINTS)))


@pytest.fixture
def info_logs(caplog):
    """The library's INFO lines (absl's verbosity may have been lowered by an earlier test)."""
    from absl import logging
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.INFO)
    caplog.set_level(std_logging.INFO)
    yield caplog
    logging.set_verbosity(verbosity)


def test_a_hierarchy_built_without_gin_trains_resumes_and_logs_progress(tmp_path, info_logs):
    caplog = info_logs

    def run(total_steps):
        env, eval_env = gym.make("hierarchy/PointReach-v0"), gym.make("hierarchy/PointReach-v0")
        h = H.build_for_env(env, num_levels=2, periods=5, cg_lambda=0.01, task_reward_scale=0.1)
        agent = H.Agent(hierarchy=h, warmup_steps=100, seed=0)
        return agent, H.train_agent(str(tmp_path / "run"), agent=agent, env=env, eval_env=eval_env,
                                    **dict(SETTINGS, total_steps=total_steps))

    agent, final = run(200)
    assert agent.hierarchy.levels[0].reward_scale == 0.1 and final["step"] == 200
    assert any("steps/s" in line for line in caplog.messages)        # the progress line
    for name in (files.TRAIN_METRICS, files.EVAL_METRICS, files.FINISHED, files.LEARNING_CURVE,
                 files.CONFIG_FILE):
        assert os.path.exists(tmp_path / "run" / name), name
    assert [r["step"] for r in metric_rows(tmp_path / "run", files.EVAL_METRICS)] == [0, 200]
    # A finished run is not trained again; removing finished.json makes the re-run resume from the
    # checkpoint at step 200, not from zero.
    os.remove(tmp_path / "run" / files.FINISHED)
    caplog.clear()
    agent, final = run(200)
    assert agent.env_steps == 200 and any("Resuming from" in line for line in caplog.messages)


def test_a_run_whose_rows_name_its_levels_otherwise_is_not_resumed(tmp_path):
    parse_gin(["envs/point_reach.gin", "methods/three_level_cg.gin"],
              TINY + TRAINING + ["train.total_steps = 200", "train.checkpoint_interval = 100",
                                 "train.eval_interval = 200"])
    root = str(tmp_path / "run")
    H.train(root)
    os.remove(os.path.join(root, files.FINISHED))
    path = os.path.join(root, files.TRAIN_METRICS)
    with open(path) as f:                      # as an older version wrote them: `mid`, not `mid1`
        text = f.read().replace('"mid1"', '"mid"')
    with open(path, "w") as f:
        f.write(text)
    gin_text = open(os.path.join(root, files.CONFIG_FILE)).read()
    gin.clear_config()
    gin.parse_config(gin_text)
    with pytest.raises(ConfigMismatchError, match=r"name its levels \['top', 'mid', 'low'\], but "
                                                  r"this hierarchy names them \['top', 'mid1', 'low'\]"):
        H.train(root)
