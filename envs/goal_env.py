"""Adapter from goal-conditioned ("GoalEnv"-style) gymnasium tasks to this package's task form.

A GoalEnv-style task (gymnasium-robotics' PointMaze, AntMaze, Fetch, ...) observes a dict
{"observation": [D], "achieved_goal": [G], "desired_goal": [G]}. `GoalTask` turns it into
{"observation": [D + G], "context": [G]}:

  - observation = concat(observation, achieved_goal), float32 [D + G]; the sub-goals address the
    appended achieved goal, i.e. goal_indices = (D, ..., D + G - 1);
  - context = desired_goal, float32 [G];
  - goal bounds (sub-goal range) = the settings `goal_low` / `goal_high`, else the achieved_goal
    Box when it is finite, else for a gymnasium-robotics maze the rule of `envs.robotics_maze`
    (the maze's outer extent); context bounds likewise from `context_low` / `context_high`, the
    desired_goal Box, or the maze (its open cells' centres widened by the goal noise);
  - success threshold = the setting, else for a maze its success distance 0.45 (informative);
  - info["is_success"] = info["is_success"] or info["success"] of the wrapped task, as a bool;
  - an evaluation episode succeeds if info["is_success"] was true at any step (TaskSpec.success_rule
    "any_step": the mazes go on after the goal is reached, docs/custom_tasks.md);
  - the reward of a step for any context = the wrapped task's own `compute_reward` on the appended
    achieved goal (`context_reward`), which hindsight goals at the top level recompute rewards with;
  - horizon = the registered time limit (env.spec.max_episode_steps);
  - evaluation contexts = the setting `eval_contexts`, by default none: evaluation then resets
    without a context and the task draws its own goals (reproducibly, from the reset seeds).

`reset(options={"context": c})` imposes the desired goal c on tasks that keep their goal in
`unwrapped.goal` (the gymnasium-robotics convention). Mazes (with `unwrapped.maze`) are first reset
with the cell holding c as "goal_cell", so that the start cell is drawn away from c, then their goal
is moved to exactly c and the target site follows (`update_target_site_pos`). Any other task raises
a ValueError that says why the context cannot be imposed. Other options (e.g. "reset_cell") are
passed through to the wrapped task.

`GoalTask` is an environment of its own (not a gymnasium Wrapper) so that `env.unwrapped` is the
adapter and publishes the TaskSpec; `np_random` is the wrapped task's generator.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import robotics_maze
from envs._common import parse_context
from envs.task import TaskSpec

__all__ = ["GOAL_ENV_KEYS", "GoalTask", "as_task", "ensure_registered", "is_goal_env"]

GOAL_ENV_KEYS = ("observation", "achieved_goal", "desired_goal")
_OUR_KEYS = ("observation", "context")
# Packages imported on demand when an id is not registered yet (their import registers ids).
_PROVIDERS = ("gymnasium_robotics",)


# Notices a provider prints on import that concern none of the tasks we adapt (gymnasium-robotics
# 1.2.1-1.4.2 print one about the reward of its Adroit hand tasks on every import).
_IMPORT_NOTICES = ("AdroitHandRelocateDense-v1, AdroitHandHammerDense-v1, AdroitHandDoorDense-v1",)


def _import_quietly(module: str) -> None:
    """Imports `module`; what it prints to stderr is passed on, less the known `_IMPORT_NOTICES`."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed):
            importlib.import_module(module)
    finally:
        kept = [line for line in printed.getvalue().splitlines(keepends=True)
                if not line.startswith(_IMPORT_NOTICES)]
        if kept:
            sys.stderr.write("".join(kept))


# gymnasium-robotics 1.4.2's Fetch tasks (FetchReach, FetchPush, FetchSlide, FetchPickAndPlace) fail
# inside their own reset on mujoco 3.12.0 and later (an assertion on joint types); 3.11.0 is the
# newest release they run on. The pinned stack keeps mujoco 4.0.0, on which every task of ours and
# every committed result ran, so Fetch ids are refused there with one line (`check_supported`).
FETCH_NEWEST_MUJOCO = (3, 11, 0)


def version_tuple(text: str) -> tuple:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def check_supported(env_id: str) -> None:
    """Raises ValueError (one line) for a task that is known not to run on the installed packages."""
    if env_id.split("/")[-1].startswith("Fetch"):
        import mujoco

        if version_tuple(mujoco.__version__) > FETCH_NEWEST_MUJOCO:
            newest = ".".join(map(str, FETCH_NEWEST_MUJOCO))
            raise ValueError(
                f"{env_id}: gymnasium-robotics' Fetch tasks do not run on mujoco {mujoco.__version__} "
                f"(the newest release they run on is {newest}); install mujoco=={newest} in an "
                "environment of its own to use them (docs/custom_tasks.md)")


def ensure_registered(env_id: str) -> str:
    """Returns `env_id`, first importing gymnasium-robotics if the id is not registered yet.

    gymnasium-robotics registers its ~280 ids when imported (about 0.15 s and a deprecation
    notice), so it is imported only when an id is not found among the registered ones. An id that
    no provider registers is left for gymnasium.make to reject with its own error.
    """
    check_supported(env_id)
    if env_id not in gym.registry:
        for module in _PROVIDERS:
            try:
                _import_quietly(module)
            except ImportError:
                continue
            if env_id in gym.registry:
                break
    return env_id


def is_goal_env(space) -> bool:
    """True for a Dict observation space with the keys observation, achieved_goal, desired_goal."""
    return isinstance(space, spaces.Dict) and all(k in space.spaces for k in GOAL_ENV_KEYS)


def _bounds(name_low, name_high, low, high, box: spaces.Box, dim: int, env_name: str,
            derived: dict):
    """(low, high) tuples of length dim: the settings if given, else the finite bounds of box, else
    the `derived` settings (those of a maze, `envs.robotics_maze.derived_settings`; {} for none)."""
    if (low is None) != (high is None):
        raise ValueError(f"{env_name}: give both {name_low} and {name_high}, or neither")
    finite = np.all(np.isfinite(box.low)) and np.all(np.isfinite(box.high))
    if low is None and not finite and name_low in derived:
        low, high = derived[name_low], derived[name_high]
    if low is None:
        if not finite:
            raise ValueError(
                f"{env_name}: its observation space leaves the range of {name_low}/{name_high} "
                f"unbounded ({box}); give the settings {name_low} and {name_high} (length {dim})"
            )
        low, high = box.low, box.high
    low = np.asarray(low, np.float64).reshape(-1)
    high = np.asarray(high, np.float64).reshape(-1)
    for name, values in ((name_low, low), (name_high, high)):
        if values.shape != (dim,):
            raise ValueError(
                f"{env_name}: {name} has {values.shape[0]} entries but the goal dimension is {dim}"
            )
    return tuple(low.tolist()), tuple(high.tolist())


class GoalTask(gym.Env):
    """A GoalEnv-style task seen as one of ours (see the module docstring).

    Args:
      env: the GoalEnv-style task, as made by gymnasium.make (with its TimeLimit).
      goal_low, goal_high: sub-goal bounds, [G] each; required when achieved_goal is unbounded,
        unless the task is a gymnasium-robotics maze (then derived from its map).
      context_low, context_high: context bounds, [G] each; likewise for desired_goal.
      eval_contexts: evaluation contexts, each [G], inside the context bounds; default none.
      success_threshold: documented distance of success, if the task has one (informative only:
        success is always the wrapped task's info); a maze's 0.45 by default.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        goal_low: Sequence[float] | None = None,
        goal_high: Sequence[float] | None = None,
        context_low: Sequence[float] | None = None,
        context_high: Sequence[float] | None = None,
        eval_contexts: Sequence[Sequence[float]] = (),
        success_threshold: float | None = None,
    ):
        name = getattr(env.spec, "id", None) or type(env.unwrapped).__name__
        self._name = name
        space = env.observation_space
        if not is_goal_env(space):
            keys = list(space.spaces) if isinstance(space, spaces.Dict) else None
            missing = [k for k in GOAL_ENV_KEYS if keys is None or k not in keys]
            raise ValueError(
                f"{name}: a goal-conditioned task needs a Dict observation with the keys "
                f"{list(GOAL_ENV_KEYS)}; missing {missing} (observation space: {space})"
            )
        obs_box, achieved, desired = (space[k] for k in GOAL_ENV_KEYS)
        for key, box in zip(GOAL_ENV_KEYS, (obs_box, achieved, desired), strict=True):
            if not isinstance(box, spaces.Box) or len(box.shape) != 1:
                raise ValueError(f"{name}: observation key {key!r} must be a flat Box, got {box}")
        if achieved.shape != desired.shape:
            raise ValueError(
                f"{name}: achieved_goal {achieved.shape} and desired_goal {desired.shape} differ"
            )
        horizon = getattr(env.spec, "max_episode_steps", None)
        if horizon is None:
            raise ValueError(f"{name}: registers no time limit (max_episode_steps); give one")
        d, g = obs_box.shape[0], achieved.shape[0]
        maze = robotics_maze.maze_of(env) if g == 2 else None
        derived = robotics_maze.derived_settings(maze) if maze is not None else {}
        goal_low, goal_high = _bounds("goal_low", "goal_high", goal_low, goal_high, achieved, g,
                                      name, derived)
        context_low, context_high = _bounds("context_low", "context_high", context_low,
                                            context_high, desired, g, name, derived)
        if success_threshold is None:
            success_threshold = derived.get("success_threshold")
        self._maze = maze
        self.env = env
        self.task_spec = TaskSpec(
            goal_indices=tuple(range(d, d + g)),
            goal_low=goal_low,
            goal_high=goal_high,
            context_low=context_low,
            context_high=context_high,
            eval_contexts=tuple(tuple(c) for c in eval_contexts),
            max_episode_steps=horizon,
            success_threshold=success_threshold,
            success_rule="any_step",
        )
        self.spec = env.spec
        self.render_mode = env.render_mode
        self.metadata = dict(getattr(env, "metadata", {}))
        self.action_space = env.action_space
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(
                np.concatenate([obs_box.low, achieved.low]).astype(np.float32),
                np.concatenate([obs_box.high, achieved.high]).astype(np.float32),
                dtype=np.float32),
            "context": spaces.Box(np.asarray(context_low, np.float32),
                                  np.asarray(context_high, np.float32), dtype=np.float32),
        })

    @property
    def np_random(self) -> np.random.Generator:
        """The wrapped task's generator (its resets draw from it)."""
        return self.env.unwrapped.np_random

    @np_random.setter
    def np_random(self, value: np.random.Generator) -> None:
        self.env.unwrapped.np_random = value

    def observation(self, obs: dict) -> dict:
        """{"observation": concat(observation, achieved_goal), "context": desired_goal}, float32."""
        missing = [k for k in GOAL_ENV_KEYS if k not in obs]
        if missing:
            raise ValueError(f"{self._name}: observation lacks the keys {missing}")
        return {
            "observation": np.concatenate(
                [np.ravel(obs["observation"]), np.ravel(obs["achieved_goal"])]).astype(np.float32),
            "context": np.asarray(obs["desired_goal"], np.float32).reshape(-1),
        }

    @staticmethod
    def _info(info: dict) -> dict:
        info = dict(info)
        success = info.get("is_success", info.get("success"))
        if success is not None:
            info["is_success"] = bool(np.asarray(success))
        return info

    @property
    def has_context_reward(self) -> bool:
        """Whether the wrapped task computes its reward for any goal (`compute_reward`)."""
        return callable(getattr(self.env.unwrapped, "compute_reward", None))

    def achieved_context(self, observation) -> np.ndarray:
        """The context an observation achieves, its achieved goal: ``[..., D + G] -> [..., G]``."""
        return np.asarray(observation)[..., list(self.task_spec.goal_indices)]

    def context_reward(self, next_observation, context) -> np.ndarray:
        """The wrapped task's reward of steps ending in `next_observation` for `context` (which
        broadcasts): its `compute_reward(achieved_goal, desired_goal, info)` called once on the
        batch, ``[..., D + G], [..., G] -> [...]``. `info` is an empty dict per step (the replay
        keeps no infos). Raises ValueError if the result does not have the batch's shape."""
        achieved = self.achieved_context(next_observation)
        desired = np.broadcast_to(np.asarray(context, achieved.dtype), achieved.shape)
        shape = achieved.shape[:-1]
        infos = np.array([{} for _ in range(int(np.prod(shape)))], object).reshape(shape)
        reward = np.asarray(self.env.unwrapped.compute_reward(achieved, desired, infos), np.float64)
        if reward.shape != shape:
            raise ValueError(f"{self._name}: compute_reward returned shape {reward.shape} for a "
                             f"batch of {shape}; recomputing rewards needs it vectorised")
        return reward

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        context = parse_context(options, self.task_spec, self._name)
        inner_options = None if options is None else {
            k: v for k, v in options.items() if k != "context"}
        if context is not None:
            inner_options = self._goal_options(context, inner_options or {})
        obs, info = self.env.reset(seed=seed, options=inner_options or None)
        if context is not None:
            obs = self._impose(context, dict(obs))
        return self.observation(obs), self._info(info)

    def _goal_options(self, context: np.ndarray, options: dict) -> dict:
        """The reset options of the wrapped task: for a maze, the goal cell that holds `context`."""
        maze = getattr(self.env.unwrapped, "maze", None)
        if maze is None or not hasattr(maze, "cell_xy_to_rowcol"):
            return options
        i, j = (int(v) for v in maze.cell_xy_to_rowcol(context))
        inside = 0 <= i < maze.map_length and 0 <= j < maze.map_width
        if not inside or maze.maze_map[i][j] == 1:
            raise ValueError(
                f"{self._name}: options['context'] {context.tolist()} lies "
                f"{'in a wall cell' if inside else 'outside the maze'} (cell ({i}, {j}))"
            )
        return dict(options, goal_cell=np.array([i, j]))

    def _impose(self, context: np.ndarray, obs: dict) -> dict:
        """Sets the wrapped task's goal to `context` after its reset; returns the observation."""
        inner = self.env.unwrapped
        goal = getattr(inner, "goal", None)
        if goal is None or np.shape(goal) != context.shape:
            raise ValueError(
                f"{self._name}: cannot impose options['context']: the task keeps no goal of shape "
                f"{context.shape} in `unwrapped.goal` (found {type(goal).__name__}); evaluate it "
                "without eval_contexts so that it draws its own goals"
            )
        inner.goal = np.array(context, dtype=np.asarray(goal).dtype)
        if hasattr(inner, "update_target_site_pos"):
            inner.update_target_site_pos()
        obs["desired_goal"] = inner.goal.copy()
        return obs

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.observation(obs), float(reward), bool(terminated), bool(truncated), \
            self._info(info)

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The walls of a gymnasium-robotics maze seen from above, world rectangles (x0, y0, x1, y1)
        of its merged wall cells (`envs.robotics_maze.wall_footprints`); [] for other tasks."""
        return robotics_maze.wall_footprints(self._maze) if self._maze is not None else []

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()


def as_task(env: gym.Env, **settings) -> gym.Env:
    """`env` in this package's task form.

    An environment that publishes a TaskSpec, or whose observation is not a Dict, is returned
    unchanged (settings must then be empty); a GoalEnv-style task is wrapped in `GoalTask(env,
    **settings)`. A Dict observation of neither form is a ValueError naming the missing keys.
    """
    space = env.observation_space
    ours = isinstance(getattr(env.unwrapped, "task_spec", None), TaskSpec)
    if ours or not isinstance(space, spaces.Dict):
        given = sorted(k for k, v in settings.items() if v is not None and v != ())
        if given:
            raise ValueError(
                f"goal-task settings {given} apply only to GoalEnv-style tasks (Dict observation "
                f"with {list(GOAL_ENV_KEYS)}); this environment is "
                f"{'one of ours' if ours else 'not a Dict-observation task'}"
            )
        return env
    if all(k in space.spaces for k in _OUR_KEYS) and not is_goal_env(space):
        raise ValueError(
            "environment has a {'observation', 'context'} observation but publishes no TaskSpec "
            "(attribute `task_spec` on env.unwrapped)"
        )
    return GoalTask(env, **settings)
