"""TaskSpec validation and the task_spec() accessor."""

import gymnasium as gym
import pytest

import envs
from envs import TaskSpec, task_spec


def _spec(**overrides):
    kwargs = {
        "goal_indices": (0, 1),
        "goal_low": (-1.0, -1.0),
        "goal_high": (1.0, 1.0),
        "context_low": (0.0,),
        "context_high": (2.0,),
        "eval_contexts": ((1.0,),),
        "max_episode_steps": 10,
        "success_threshold": 0.5,
    }
    kwargs.update(overrides)
    return TaskSpec(**kwargs)


def test_valid_spec_normalises_to_tuples():
    spec = _spec(goal_indices=[0, 1], goal_low=[-1, -1], eval_contexts=[[1]])
    assert spec.goal_indices == (0, 1)
    assert spec.goal_low == (-1.0, -1.0)
    assert spec.eval_contexts == ((1.0,),)
    assert spec.goal_dim == 2 and spec.context_dim == 1
    hash(spec)  # frozen and hashable


def test_empty_context_is_allowed():
    spec = _spec(context_low=(), context_high=(), eval_contexts=((),), success_threshold=None)
    assert spec.context_dim == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"goal_low": (-1.0,)}, "same length"),
        ({"goal_high": (1.0, -2.0)}, "goal_low > goal_high"),
        ({"context_high": (2.0, 3.0)}, "same length"),
        ({"context_low": (3.0,)}, "context_low > context_high"),
        ({"eval_contexts": ((1.0, 2.0),)}, "eval context"),
        ({"eval_contexts": ((5.0,),)}, "outside the context bounds"),
        ({"max_episode_steps": 0}, "max_episode_steps"),
        ({"success_threshold": 0.0}, "success_threshold"),
        ({"goal_indices": (0, 0), "goal_low": (-1, -1)}, "repeat"),
        ({"goal_indices": (-1, 0)}, "non-negative"),
        ({"goal_low": (float("nan"), -1.0)}, "NaN"),
    ],
)
def test_invalid_spec_raises(overrides, message):
    with pytest.raises(ValueError, match=message):
        _spec(**overrides)


def test_task_spec_of_wrapped_env():
    env = gym.make("hierarchy/PointReach-v0")
    assert task_spec(env) is envs.PointReach.task_spec
    assert env.spec.max_episode_steps == task_spec(env).max_episode_steps


def test_task_spec_of_foreign_env_names_it():
    env = gym.make("Pendulum-v1")
    with pytest.raises(TypeError, match="Pendulum-v1"):
        task_spec(env)
