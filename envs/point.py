"""Point-robot goal-reaching tasks: PointReach (pure numpy) and PointMaze (MuJoCo U-maze).

Both are contextual: the context is a target position c = (cx, cy); reward is the raw negative
distance -||xy - c||_2 (reward scales belong to the hierarchy), and every step's info holds
"distance" and "is_success" (distance < task_spec.success_threshold at this step). The success
at the final step of an episode is the one a hierarchy reports. The environments never
terminate; gymnasium's TimeLimit (registered max_episode_steps) truncates.
"""

from __future__ import annotations

import math
from typing import ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs import layout as maze_layout
from envs import markers, maze
from envs._common import check_action, episode_context, observation_space
from envs._mujoco import MujocoEnv
from envs.task import TaskSpec


def _goal_obs(observation: np.ndarray, context: np.ndarray) -> dict:
    return {
        "observation": observation.astype(np.float32),
        "context": context.astype(np.float32),
    }


class PointReach(markers.GoalMarkers, gym.Env):
    """A kinematic point in the plane that must reach a target; for tests and demos.

    - State: position (x, y), starting at (0, 0) + U(-0.1, 0.1)^2 reset noise.
    - Action: displacement per step, shape [2], bounds [-1, 1]^2; out-of-range actions are
      clipped to the bounds. The new position is clipped to the arena [-10, 10]^2.
    - Observation: {"observation": [x, y] float32 [2], "context": [cx, cy] float32 [2]}.
    - Context: target, uniform in [-5, 5]^2 for training; evaluation targets are the four
      points (+-4, +-4), far enough from the start (5.66) to need several steps.
    - Reward: -||xy - c||_2; info["is_success"] = distance < 1.0. Horizon 50 steps.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 10}

    ARENA = 10.0  # half-width of the square arena [-10, 10]^2
    RESET_NOISE = 0.1  # start position noise U(-0.1, 0.1) per coordinate

    task_spec = TaskSpec(
        goal_indices=(0, 1),
        goal_low=(-5.0, -5.0),
        goal_high=(5.0, 5.0),
        context_low=(-5.0, -5.0),
        context_high=(5.0, 5.0),
        eval_contexts=((4.0, 4.0), (-4.0, 4.0), (4.0, -4.0), (-4.0, -4.0)),
        max_episode_steps=50,
        success_threshold=1.0,
        context_indices=(0, 1),
    )

    def __init__(self, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"PointReach: unsupported render_mode {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = observation_space(
            [-self.ARENA, -self.ARENA], [self.ARENA, self.ARENA], self.task_spec
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._low = self.action_space.low.astype(np.float64)
        self._high = self.action_space.high.astype(np.float64)
        self._threshold = self.task_spec.success_threshold
        self._pos = np.zeros(2)
        self._context = np.zeros(2)

    def _obs(self) -> dict:
        return _goal_obs(self._pos, self._context)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._context = episode_context(options, self.task_spec, "PointReach", self.np_random)
        self._pos = self.np_random.uniform(-self.RESET_NOISE, self.RESET_NOISE, size=2)
        return self._obs(), maze.goal_info(self._pos, self._context, self._threshold)

    def step(self, action):
        # Fast path of check_action (this env must run > 20k steps/s).
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"PointReach: action must be numeric, got {action!r}") from e
        if a.shape != (2,):
            raise ValueError(f"PointReach: action must have shape (2,), got shape {a.shape}")
        ax, ay = float(a[0]), float(a[1])
        if not (math.isfinite(ax) and math.isfinite(ay)):
            raise ValueError(f"PointReach: action contains NaN or inf: {a}")
        ax = min(max(ax, -1.0), 1.0)
        ay = min(max(ay, -1.0), 1.0)
        arena = self.ARENA
        x = min(max(self._pos[0] + ax, -arena), arena)
        y = min(max(self._pos[1] + ay, -arena), arena)
        self._pos = np.array((x, y))
        info = maze.goal_info((x, y), self._context, self._threshold)
        return self._obs(), -info["distance"], False, False, info

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """No walls: the arena's edge only clips the position."""
        return []

    def render(self):
        """A top-down image [256, 256, 3] uint8: arena (grey), target (green disc of the success
        radius), point (red), and the goal markers (`set_goal_markers`) as discs of radius 0.3 in
        envs.markers.LEVEL_COLORS, drawn over the point."""
        if self.render_mode is None:
            gym.logger.warn("PointReach.render() called without render_mode='rgb_array'.")
            return None
        size = 256
        img = np.full((size, size, 3), 230, dtype=np.uint8)
        coords = (np.arange(size) + 0.5) / size * 2 * self.ARENA - self.ARENA
        xs, ys = np.meshgrid(coords, coords[::-1])  # image row 0 is the top (y = +10)

        def disk(center, radius, color):
            mask = (xs - center[0]) ** 2 + (ys - center[1]) ** 2 <= radius**2
            img[mask] = color

        disk(self._context, self.task_spec.success_threshold, (60, 180, 60))
        disk(self._pos, 0.3, (200, 40, 40))
        for k, pos in enumerate(self._goal_markers):
            if pos is not None:
                rgba = markers.LEVEL_COLORS[k % len(markers.LEVEL_COLORS)]
                disk(pos[:2], 0.3, tuple(int(round(255 * c)) for c in rgba[:3]))
        return img


class PointMaze(MujocoEnv):
    """A point mass in HIRO's U-maze (same layout, contexts, reward and success as AntMaze).

    - Robot: a sphere of radius 0.5 and mass 1 on two slide joints (x, y) with joint damping 20
      and a motor of gear 200 per joint, so an action u in [-1, 1]^2 drives the velocity
      towards 10 * u units/s (time constant mass/damping = 0.05 s). With timestep 0.02 and frame
      skip 5 (0.1 s per env step), one step moves at most about 1 unit, like HIRO's point env.
      The sphere collides (frictionlessly) with the maze blocks only. Out-of-range actions are
      clipped to the bounds.
    - Observation: {"observation": [x, y, vx, vy] float32 [4], "context": [cx, cy] float32 [2]}.
    - Context: target uniform in [-4, 20]^2 for training; eval (16,0), (16,16), (0,16).
    - Reward -||xy - c||_2 (raw; AntMaze's x0.1 is the hierarchy's reward scale);
      info["is_success"] = distance < 5. Horizon 500. Sub-goals address (x, y), bounds +-10.
    - Reset: xy = U(-0.1, 0.1)^2, velocity 0.
    """

    RESET_NOISE = 0.1
    MARKER_Z = 1.2  # goal markers given as (x, y) float above the ball (top at z = 1)
    SPEED = 10.0  # units/s at |u| = 1: gear / damping
    DAMPING = 20.0

    task_spec = TaskSpec(
        goal_indices=(0, 1),
        goal_low=(-10.0, -10.0),
        goal_high=(10.0, 10.0),
        context_low=maze.MAZE_CONTEXT_LOW,
        context_high=maze.MAZE_CONTEXT_HIGH,
        eval_contexts=maze.MAZE_EVAL_CONTEXTS,
        max_episode_steps=maze.MAZE_MAX_EPISODE_STEPS,
        success_threshold=maze.MAZE_SUCCESS_THRESHOLD,
        context_indices=(0, 1),
    )

    def __init__(self, render_mode: str | None = None, width: int = 480, height: int = 480):
        super().__init__(
            _point_maze_model(self.SPEED, self.DAMPING),
            frame_skip=5,
            render_mode=render_mode,
            width=width,
            height=height,
            camera=maze.MAZE_CAMERA,
        )
        self.observation_space = observation_space(
            np.full(4, -np.inf), np.full(4, np.inf), self.task_spec
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._context = np.zeros(2)

    def _obs(self) -> dict:
        return _goal_obs(np.concatenate([self.data.qpos, self.data.qvel]), self._context)

    def _info(self) -> dict:
        return maze.goal_info(self.data.qpos[:2], self._context, self.task_spec.success_threshold)

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The U-maze's walls seen from above: world rectangles (x0, y0, x1, y1), as AntMaze's."""
        return maze_layout.wall_footprints(maze.U_MAZE, maze.MAZE_SCALING)

    def _decorate_scene(self, scene: mujoco.MjvScene) -> None:
        """Draws the target: the success disc around the context (envs.markers)."""
        markers.add_target(scene, self._context, self.task_spec.success_threshold, 0.3)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._context = episode_context(options, self.task_spec, "PointMaze", self.np_random)
        qpos = self.np_random.uniform(-self.RESET_NOISE, self.RESET_NOISE, size=self.model.nq)
        self._set_state(qpos, np.zeros(self.model.nv))
        return self._obs(), self._info()

    def step(self, action):
        self._simulate(check_action(action, self.action_space, "PointMaze"))
        info = self._info()
        return self._obs(), -info["distance"], False, False, info


def _point_maze_model(speed: float, damping: float) -> mujoco.MjModel:
    """The point-mass MJCF plus the U-maze blocks, compiled."""
    xml = f"""
<mujoco model="point_maze">
  <compiler angle="radian"/>
  <!-- Euler integrates joint damping implicitly, so damping 20 at dt 0.02 is stable. -->
  <option timestep="0.02" integrator="Euler"/>
  <visual><global offwidth="1024" offheight="1024"/></visual>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1=".2 .3 .4" rgb2=".3 .4 .5"
             width="64" height="64"/>
    <material name="grid" texture="grid" texrepeat="20 20"/>
  </asset>
  <worldbody>
    <light pos="8 8 30" dir="0 0 -1" directional="true"/>
    <geom name="floor" type="plane" size="40 40 0.1" material="grid" contype="0"
          conaffinity="0"/>
    <body name="point" pos="0 0 0.5">
      <joint name="x" type="slide" axis="1 0 0" damping="{damping}"/>
      <joint name="y" type="slide" axis="0 1 0" damping="{damping}"/>
      <!-- priority 1 makes this geom's condim=1 (frictionless) rule its wall contacts. -->
      <geom name="point" type="sphere" size="0.5" mass="1" contype="1" conaffinity="0"
            condim="1" priority="1" rgba=".9 .3 .3 1"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="{speed * damping}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="y" gear="{speed * damping}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""
    spec = mujoco.MjSpec.from_string(xml)
    maze.add_wall_blocks(spec)
    return spec.compile()
