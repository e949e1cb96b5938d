"""The environment's optional hooks as Protocols: which environments offer which, and a task of
one's own that offers one by defining it."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import hooks
from hierarchy.plots import trajectory_plot
from hierarchy.run import evaluation

ALL = (hooks.PublishesTask, hooks.HasContextReward, hooks.HasWalls, hooks.HasMapItems,
       hooks.ShowsGoalMarkers, hooks.HasRenderOptions)


@pytest.mark.parametrize("env_id,missing", [
    ("hierarchy/PointReach-v0", {hooks.HasContextReward, hooks.HasRenderOptions, hooks.HasMapItems}),
    ("hierarchy/AntMaze-v0", {hooks.HasContextReward}),
    ("hierarchy/AntGather-v0", {hooks.HasContextReward}),
])
def test_which_hooks_our_environments_offer(env_id, missing):
    env = gym.make(env_id)
    offered = {hook for hook in ALL if isinstance(env.unwrapped, hook)}
    assert offered == set(ALL) - missing
    assert hooks.published_task_spec(env) is env.unwrapped.task_spec
    env.close()


class Corridor(gym.Env):
    """A task of one's own: a 1-D corridor with one wall hook and nothing else."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def wall_rectangles(self):
        return [(0, 1, 2, 3)]


def test_a_task_of_ones_own_offers_only_what_it_defines():
    env = Corridor()
    assert isinstance(env, hooks.HasWalls)
    assert not any(isinstance(env, hook) for hook in ALL if hook is not hooks.HasWalls)
    assert hooks.published_task_spec(env) is None
    assert trajectory_plot.wall_rectangles(env) == [(0.0, 1.0, 2.0, 3.0)]
    assert trajectory_plot.map_items(env) == [] and trajectory_plot.world_xy_indices(env) is None
    assert evaluation.eval_contexts(env) == [None]
    assert evaluation.configured_success_rule(env) == "final_step"


def test_a_task_spec_of_another_type_is_not_published():
    env = Corridor()
    env.task_spec = {"goal_indices": (0, 1)}          # not an envs.TaskSpec
    assert isinstance(env, hooks.PublishesTask) and hooks.published_task_spec(env) is None
    assert isinstance(gym.make("hierarchy/PointMaze-v0").unwrapped.task_spec, envs.TaskSpec)
