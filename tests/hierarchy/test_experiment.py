"""Building a run's environments and agent (`hierarchy.run.assembly`)."""

import gymnasium as gym
import pytest
from run_helpers import POINT, TINY

from envs.wrappers import NoContext
from hierarchy.run.assembly import make_env, make_envs_and_agent, one_paragraph
from hierarchy.run.config import ConfigurationError, parse_gin


def test_environment_without_a_horizon_needs_max_episode_steps():
    env_id = "test/PointReachNoHorizon-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=gym.spec("hierarchy/PointReach-v0").entry_point)
    with pytest.raises(ValueError, match="registers no episode horizon: set train.max_episode_steps"):
        make_env(env_id)
    env = make_env(env_id, max_episode_steps=7)
    assert env.spec.max_episode_steps == 7
    env.close()


@pytest.mark.parametrize("value", [0, -3, 2.5 - 2.0, "10"])
def test_a_bad_horizon_is_named(value):
    with pytest.raises(ValueError, match=f"max_episode_steps must be None or an integer >= 1, got {value!r}"):
        make_env("hierarchy/PointReach-v0", max_episode_steps=value)


def test_a_task_without_dict_observations_is_wrapped():
    env = make_env("Pendulum-v1")
    assert isinstance(env, NoContext) and set(env.observation_space.spaces) == {"observation", "context"}
    env.close()
    env = make_env("hierarchy/PointReach-v0")
    assert not isinstance(env, NoContext)
    env.close()


def test_one_paragraph_folds_gin_context_into_parentheses():
    error = ValueError("batch_size must be >= 1, got 0\n  In call to configurable 'Level' "
                       "(<class 'hierarchy.core.level.Level'>)\n\n  In call to configurable 'train'")
    assert one_paragraph(error) == ("batch_size must be >= 1, got 0 (in call to configurable 'Level'; "
                                    "in call to configurable 'train')")
    assert one_paragraph(ValueError("")) == "ValueError"


def test_envs_and_agent_are_built_on_the_first_env():
    parse_gin(POINT, TINY)
    (env, eval_env), agent = make_envs_and_agent("hierarchy/PointReach-v0", max_episode_steps=20,
                                                 seed=0, count=2)
    assert env is not eval_env and env.spec.max_episode_steps == eval_env.spec.max_episode_steps == 20
    assert [lvl.level_name for lvl in agent.hierarchy.levels] == ["top", "low"]
    env.close()
    eval_env.close()


@pytest.mark.parametrize("binding, problem", [
    ("ReplayBuffer.batch_size = 0",
     "the configuration cannot be built: level 'top': replay batch_size must be >= 1"),
    ("tpo/Level.tau = 0.1", "'tpo/' is not the name of a level"),
])
def test_configuration_errors_become_one_configuration_error(binding, problem):
    parse_gin(POINT, TINY + [binding])
    with pytest.raises(ConfigurationError) as raised:
        make_envs_and_agent("hierarchy/PointReach-v0", max_episode_steps=None, seed=0, count=2)
    assert problem in raised.value.message and "\n" not in raised.value.message
    with pytest.raises(ConfigurationError, match="Environment `Nope` doesn't exist"):
        make_envs_and_agent("hierarchy/Nope-v0", max_episode_steps=None, seed=0, count=1)
