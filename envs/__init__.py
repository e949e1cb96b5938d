"""Goal-conditioned environments for the hierarchy library.

Importing this package registers the gymnasium ids of ENV_IDS:
hierarchy/PointReach-v0, hierarchy/PointMaze-v0, hierarchy/AntMaze-v0, hierarchy/AntGather-v0,
hierarchy/AntPush-v0, hierarchy/AntFall-v0, hierarchy/AntFourRooms-v0.
Every environment publishes a TaskSpec (see `task_spec(env)`); `as_task(env)` adapts a
goal-conditioned ("GoalEnv"-style) gymnasium task, e.g. gymnasium-robotics' PointMaze (envs/goal_env.py).

Rendering: on a headless machine (no DISPLAY) where MUJOCO_GL is unset and `mujoco` has not been
imported yet, importing this package sets MUJOCO_GL=egl (see envs/_headless.py).
"""

import envs._headless  # noqa: F401  (must run before mujoco is imported)
from envs.ant import AntEnv
from envs.gather import AntGather, sensor_readings
from envs.goal_env import GoalTask, as_task, ensure_registered
from envs.hiro import AntFall, AntFourRooms, AntPush
from envs.maze import AntMaze
from envs.point import PointMaze, PointReach
from envs.registration import ENV_IDS, register_envs
from envs.task import TaskSpec, task_spec

register_envs()

__all__ = [
    "ENV_IDS",
    "AntEnv",
    "AntFall",
    "AntFourRooms",
    "AntGather",
    "AntMaze",
    "GoalTask",
    "AntPush",
    "PointMaze",
    "PointReach",
    "TaskSpec",
    "as_task",
    "ensure_registered",
    "sensor_readings",
    "task_spec",
]
