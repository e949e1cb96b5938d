"""The gin files of gin/: every one parses and builds its hierarchy (without training), and the
paper's files set what the paper says."""

import math

import gin
import pytest
import tensorflow as tf

from hierarchy.core.level import td_loss
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import available_gin_files, parse_gin
from hierarchy.run.settings import RunSettings

GIN_FILES = available_gin_files()


def test_the_promised_files_exist():
    for name in ["base.gin", "envs/point_reach.gin", "envs/point_maze.gin", "envs/ant_maze.gin",
                 "envs/ant_gather.gin", "methods/flat.gin", "methods/hrl.gin", "methods/hrl_cg.gin",
                 "methods/three_level_cg.gin", "paper/ant_maze_hrl_cg.gin",
                 "paper/ant_gather_hrl_cg.gin", "paper/ant_maze_hrl.gin", "paper/ant_gather_hrl.gin",
                 "demo/point_reach_hrl_cg.gin", "envs/ant_push.gin", "envs/ant_fall.gin",
                 "envs/ant_four_rooms.gin", "paper/ant_push_hrl.gin", "paper/ant_push_hrl_cg.gin",
                 "paper/ant_fall_hrl.gin", "paper/ant_fall_hrl_cg.gin",
                 "paper/ant_four_rooms_hrl.gin", "paper/ant_four_rooms_hrl_cg.gin",
                 "paper/ant_push_hiro.gin", "paper/ant_fall_hiro.gin", "paper/ant_four_rooms_hiro.gin",
                 "paper/ant_maze_hiro.gin", "paper/ant_gather_hiro.gin",
                 "envs/point_maze_robotics.gin"]:
        assert name in GIN_FILES


@pytest.mark.parametrize("name", GIN_FILES)
def test_gin_file_parses_and_builds(name):
    # Method files alone run on the default environment (PointReach).
    parse_gin([name])
    settings = RunSettings()
    env = make_env(settings.env_id, max_episode_steps=settings.max_episode_steps)
    agent = build_agent(env, seed=0)
    h = agent.hierarchy
    assert h.num_levels == gin.query_parameter("build_hierarchy.num_levels")
    if "paper/" in name:
        # Paper hyperparameters (section 6.2).
        top = h.levels[0]
        assert [buf.batch_size for buf in agent.buffers] == [128, 128]
        assert agent.warmup_steps == 10_000
        assert h.periods == [10]
        assert settings.max_episode_steps == 500
        if "ant_gather" in name:
            assert math.isclose(top.reward_scale, 10.0)
            assert h.cg_lambda == pytest.approx([0.01 if "hrl_cg" in name else 0.0])
        else:  # AntMaze, and AntPush, AntFall, AntFourRooms with AntMaze's settings
            assert math.isclose(top.reward_scale, 0.1)
            assert h.cg_lambda == pytest.approx([0.005 if "hrl_cg" in name else 0.0])
        assert h.levels[1].reward_scale == 1.0
        check_paper_td3_settings(agent)
    env.close()


def check_paper_td3_settings(agent):
    """The TD3 constants of base.gin (paper section 6.2) reach every built level and its buffer."""
    for level, buffer in zip(agent.hierarchy.levels, agent.buffers):
        where = f"level {level.level_name}"
        assert buffer.capacity == 200_000 and buffer.batch_size == 128, where
        assert level.exploration_noise == pytest.approx(0.1), where
        assert (level.target_noise, level.target_noise_clip) == pytest.approx((0.2, 0.5)), where
        assert level.critic_loss_kind == "huber", where
        assert level.actor_update_period == 2, where
        assert level.actor_optimizer.learning_rate == pytest.approx(3e-4), where
        assert level.critic_optimizer.learning_rate == pytest.approx(3e-4), where
        assert level.tau == pytest.approx(5e-3), where
        assert level.gamma == pytest.approx(0.99), where


def test_paper_ant_maze_hrl_cg_settings_reach_the_levels():
    """paper/ant_maze_hrl_cg.gin, end to end: what the paper sets is what the built levels use, and
    the Huber loss is what the critic loss computes."""
    parse_gin(["paper/ant_maze_hrl_cg.gin"])
    settings = RunSettings()
    env = make_env(settings.env_id, max_episode_steps=settings.max_episode_steps)
    agent = build_agent(env, seed=0)
    env.close()
    check_paper_td3_settings(agent)
    top, low = agent.hierarchy.levels
    assert (top.reward_scale, low.reward_scale) == pytest.approx((0.1, 1.0))
    assert agent.hierarchy.cg_lambda == pytest.approx([0.005])
    # Huber (delta 1): quadratic inside |error| <= 1, linear outside.
    losses = td_loss(top.critic_loss_kind, tf.zeros(2), tf.constant([0.5, 3.0]))
    assert losses.numpy().tolist() == pytest.approx([0.125, 2.5])


@pytest.mark.parametrize("name, env_id, context_dim", [
    ("paper/ant_push_hrl_cg.gin", "hierarchy/AntPush-v0", 2),
    ("paper/ant_fall_hrl_cg.gin", "hierarchy/AntFall-v0", 3),
    ("paper/ant_four_rooms_hrl.gin", "hierarchy/AntFourRooms-v0", 2),
    ("paper/ant_push_hiro.gin", "hierarchy/AntPush-v0", 2),
    ("paper/ant_fall_hiro.gin", "hierarchy/AntFall-v0", 3),
    ("paper/ant_four_rooms_hiro.gin", "hierarchy/AntFourRooms-v0", 2),
])
def test_hiro_task_compositions_build_their_hierarchy(name, env_id, context_dim):
    """The AntPush / AntFall / AntFourRooms compositions: the environment, its goal space (15 dims,
    the torso height included) and context (with the height for AntFall) reach the hierarchy."""
    parse_gin([name])
    settings = RunSettings()
    assert settings.env_id == env_id
    env = make_env(settings.env_id, max_episode_steps=settings.max_episode_steps)
    agent = build_agent(env, seed=0)
    env.close()
    h = agent.hierarchy
    assert h.goal_space.indices == tuple(range(15)) and h.goal_dim == 15
    assert env.observation_space["context"].shape == (context_dim,)
    top, low = h.levels
    assert (top.reward_scale, low.reward_scale) == pytest.approx((0.1, 1.0))
    assert h.cg_lambda == pytest.approx([0.005 if name.endswith("_cg.gin") else 0.0])
    assert [c is not None for c in h.corrections[:-1]] == [name.endswith("_hiro.gin")]

