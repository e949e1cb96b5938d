"""envs.goal_env: a GoalEnv-style task in our task form (hand-made task and gymnasium-robotics)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import envs
from envs.goal_env import GoalTask, as_task, ensure_registered


class Slider(gym.Env):
    """A GoalEnv-style task with hand-checkable values: state s in R^3, achieved goal s[:2] * 10,
    goal `goal` (settable), success when |achieved - goal|_1 < 1 (reported as info["success"])."""

    def __init__(self, bounded=True):
        lim = 5.0 if bounded else np.inf
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float64),
            "achieved_goal": spaces.Box(-lim, lim, shape=(2,), dtype=np.float64),
            "desired_goal": spaces.Box(-lim, lim, shape=(2,), dtype=np.float64),
        })
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.s = np.zeros(3)

    def _obs(self):
        return {"observation": self.s.copy(), "achieved_goal": self.s[:2] * 10,
                "desired_goal": self.goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = np.array([0.1, 0.2, 0.3])
        self.goal = np.array([3.0, -4.0])
        return self._obs(), {}

    def step(self, action):
        self.s = self.s + np.asarray(action) * 0.1
        achieved = self.s[:2] * 10
        return self._obs(), -1.0, False, False, {
            "success": np.abs(achieved - self.goal).sum() < 1.0}


if "test/Slider-v0" not in gym.registry:
    gym.register("test/Slider-v0", entry_point=Slider, max_episode_steps=7)


def slider(max_episode_steps=7, **kwargs):
    return gym.make("test/Slider-v0", max_episode_steps=max_episode_steps,
                    disable_env_checker=True, **kwargs)


def test_layout_context_and_success_hand_checked():
    task = as_task(slider())
    spec = envs.task_spec(task)
    assert task.unwrapped is task
    assert spec.goal_indices == (3, 4)  # the appended achieved goal
    assert spec.goal_low == (-5.0, -5.0) and spec.context_high == (5.0, 5.0)  # finite spaces
    assert spec.max_episode_steps == 7 and spec.eval_contexts == ()
    obs, info = task.reset(seed=0)
    np.testing.assert_allclose(obs["observation"], [0.1, 0.2, 0.3, 1.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(obs["context"], [3.0, -4.0])
    assert obs["observation"].dtype == obs["context"].dtype == np.float32
    assert task.observation_space["observation"].shape == (5,)
    # One step of +1 on s[0] and -1 on s[1]: s = (0.2, 0.1, 0.3), achieved (2, 1): |(-1, 5)|_1 = 6.
    obs, reward, terminated, truncated, info = task.step(np.array([1.0, -1.0, 0.0]))
    np.testing.assert_allclose(obs["observation"], [0.2, 0.1, 0.3, 2.0, 1.0], rtol=1e-6)
    assert (reward, terminated, truncated, info["is_success"]) == (-1.0, False, False, False)
    task.env.unwrapped.goal = np.array([2.5, 1.0])  # |(-0.5, 0)|_1 = 0.5 < 1 after a zero step
    _, _, _, _, info = task.step(np.zeros(3))
    assert info["is_success"] is True and info["success"]


def test_context_is_imposed_on_a_task_with_a_goal_attribute():
    task = as_task(slider(), eval_contexts=((1.0, 1.0),))
    obs, _ = task.reset(seed=0, options={"context": [1.5, -2.5]})
    np.testing.assert_allclose(obs["context"], [1.5, -2.5])
    np.testing.assert_allclose(task.env.unwrapped.goal, [1.5, -2.5])
    with pytest.raises(ValueError, match="outside the context bounds"):
        task.reset(options={"context": [6.0, 0.0]})


def test_horizon_follows_the_time_limit():
    assert envs.task_spec(as_task(slider(max_episode_steps=3))).max_episode_steps == 3
    task = as_task(slider(max_episode_steps=3))
    task.reset(seed=0)
    truncated = [task.step(np.zeros(3))[3] for _ in range(3)]
    assert truncated == [False, False, True]


def test_unbounded_goals_need_settings_of_the_goal_dimension():
    with pytest.raises(ValueError, match="goal_low and goal_high"):
        as_task(slider(bounded=False))
    with pytest.raises(ValueError, match="goal_low has 3 entries but the goal dimension is 2"):
        as_task(slider(bounded=False), goal_low=(-1, -1, -1), goal_high=(1, 1, 1),
                context_low=(-1, -1), context_high=(1, 1))
    with pytest.raises(ValueError, match="context_low has 1 entries but the goal dimension is 2"):
        as_task(slider(bounded=False), goal_low=(-1, -1), goal_high=(1, 1),
                context_low=(-1,), context_high=(1,))
    with pytest.raises(ValueError, match="give both goal_low and goal_high"):
        as_task(slider(), goal_low=(-1, -1))
    task = as_task(slider(bounded=False), goal_low=(-1, -2), goal_high=(1, 2),
                   context_low=(-3, -4), context_high=(3, 4), eval_contexts=[(0, 0)])
    spec = envs.task_spec(task)
    assert spec.goal_high == (1.0, 2.0) and spec.context_low == (-3.0, -4.0)
    assert spec.eval_contexts == ((0.0, 0.0),)


def test_observation_without_the_keys_is_a_clear_error():
    env = slider()
    env.observation_space = spaces.Dict({"observation": env.observation_space["observation"],
                                         "goal": env.observation_space["desired_goal"]})
    with pytest.raises(ValueError, match=r"missing \['achieved_goal', 'desired_goal'\]"):
        GoalTask(env)
    with pytest.raises(ValueError, match="missing"):
        as_task(env)


def test_our_environments_and_flat_tasks_pass_unchanged():
    ours = gym.make("hierarchy/PointReach-v0")
    assert as_task(ours) is ours
    with pytest.raises(ValueError, match=r"settings \['goal_low'\] apply only"):
        as_task(ours, goal_low=(0, 0))
    flat = gym.make("Pendulum-v1")
    assert as_task(flat) is flat


def robotics_point_maze(**make_kwargs):
    env = gym.make(ensure_registered("PointMaze_UMaze-v3"), **make_kwargs)
    return as_task(env, goal_low=(-2, -2), goal_high=(2, 2), context_low=(-1.5, -1.5),
                   context_high=(1.5, 1.5))


def test_robotics_point_maze_context_and_layout():
    task = robotics_point_maze()
    spec = envs.task_spec(task)
    assert spec.goal_indices == (4, 5) and spec.max_episode_steps == 300  # registered limit
    obs, info = task.reset(seed=3, options={"context": [1.0, -1.0]})
    inner = task.env.unwrapped
    np.testing.assert_allclose(obs["context"], [1.0, -1.0])
    np.testing.assert_allclose(inner.goal, [1.0, -1.0])
    # The target site (drawn in renders) follows the imposed goal.
    np.testing.assert_allclose(inner.model.site_pos[inner.target_site_id][:2], [1.0, -1.0])
    np.testing.assert_allclose(obs["observation"][4:], obs["observation"][:2])  # achieved = xy
    # The start cell is drawn away from the goal cell (the maze got it as goal_cell).
    assert np.linalg.norm(obs["observation"][:2] - [1.0, -1.0]) > 0.5 - 2 * 0.25
    # Put the ball on the goal: success from the task's info["success"] (distance <= 0.45).
    inner.point_env.set_state(np.array([0.9, -1.1]), np.zeros(2))
    _, _, _, _, info = task.step(np.zeros(2, np.float32))
    assert info["is_success"] is True
    with pytest.raises(ValueError, match="in a wall cell"):
        task.reset(options={"context": [0.0, 0.0]})  # the middle of the U is wall
    # Without a context the task draws its own goal.
    obs, _ = task.reset(seed=1)
    np.testing.assert_allclose(obs["context"], inner.goal)
    task.close()


def test_a_task_without_a_goal_attribute_cannot_take_a_context():
    class NoGoal(Slider):
        @property
        def goal(self):
            return None

        @goal.setter
        def goal(self, value):
            self._g = value

        def _obs(self):
            return {"observation": self.s.copy(), "achieved_goal": self.s[:2],
                    "desired_goal": self._g.copy()}

    gym.register("test/NoGoal-v0", entry_point=NoGoal, max_episode_steps=5)
    try:
        task = as_task(gym.make("test/NoGoal-v0", disable_env_checker=True))
    finally:
        del gym.registry["test/NoGoal-v0"]
    with pytest.raises(ValueError, match="cannot impose options\\['context'\\].*unwrapped.goal"):
        task.reset(options={"context": [0.0, 0.0]})
