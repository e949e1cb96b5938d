"""Every packaged gin file parses and builds its hierarchy (without training)."""

import math

import gin
import pytest

from hierarchy import train_loop

GIN_FILES = train_loop.available_gin_files()


def test_the_promised_files_exist():
    for name in ["base.gin", "envs/point_reach.gin", "envs/point_maze.gin", "envs/ant_maze.gin",
                 "envs/ant_gather.gin", "methods/flat.gin", "methods/hrl.gin", "methods/hrl_cg.gin",
                 "methods/three_level_cg.gin", "paper/ant_maze_hrl_cg.gin",
                 "paper/ant_gather_hrl_cg.gin", "paper/ant_maze_hrl.gin", "paper/ant_gather_hrl.gin",
                 "demo/point_reach_hrl_cg.gin"]:
        assert name in GIN_FILES


@pytest.mark.parametrize("name", GIN_FILES)
def test_gin_file_parses_and_builds(name):
    # Method files alone run on the default environment (PointReach).
    train_loop.parse_gin([name])
    settings = train_loop.train_settings()
    env = train_loop.make_env(settings["env_id"], max_episode_steps=settings["max_episode_steps"])
    agent = train_loop.build_agent(env, seed=0)
    h = agent.hierarchy
    assert h.num_levels == gin.query_parameter("build_hierarchy.num_levels")
    if "paper/" in name:
        # Paper hyperparameters (section 6.2).
        top = h.levels[0]
        assert [lvl.batch_size for lvl in h.levels] == [128, 128]
        assert agent.warmup_steps == 10_000
        assert h.periods == [10]
        assert settings["max_episode_steps"] == 500
        if "ant_maze" in name:
            assert math.isclose(top.reward_scale, 0.1)
            assert h.cg_lambda == pytest.approx([0.005 if "hrl_cg" in name else 0.0])
        else:
            assert math.isclose(top.reward_scale, 10.0)
            assert h.cg_lambda == pytest.approx([0.01 if "hrl_cg" in name else 0.0])
        assert h.levels[1].reward_scale == 1.0
    env.close()


def test_include_paths_resolve_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_loop.parse_gin(["paper/ant_gather_hrl_cg.gin"])
    assert gin.query_parameter("train.env_id") == "hierarchy/AntGather-v0"
    assert gin.query_parameter("top/Level.reward_scale") == 10.0


def test_unknown_gin_file_lists_the_packaged_ones():
    with pytest.raises(FileNotFoundError, match="methods/hrl_cg.gin"):
        train_loop.parse_gin(["methods/hrl_cgg.gin"])
