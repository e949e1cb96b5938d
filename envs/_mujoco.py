"""A minimal MuJoCo environment base: model/data, frame skip and rgb_array rendering."""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from envs.markers import (
    CAMERAS,
    MAX_FRAME_SIZE,
    MIN_FRAME_SIZE,
    GoalMarkers,
    add_level_markers,
    follow_camera,
)

_RENDER_HELP = (
    "MuJoCo could not create an OpenGL context for offscreen rendering. On a headless machine "
    "set the environment variable MUJOCO_GL=egl before `mujoco` is first imported (e.g. "
    "`MUJOCO_GL=egl python ...`); OSMesa is not supported here."
)

# The error message of the first failed OpenGL initialisation in this process, if any.
_GL_FAILURE: str | None = None


class MujocoEnv(GoalMarkers, gym.Env):
    """Base class of the MuJoCo-based environments of this package.

    Subclasses build an `mujoco.MjModel`, pass it here, and use `_simulate(ctrl)` to advance the
    physics by `frame_skip` steps. Rendering (render_mode="rgb_array") uses `mujoco.Renderer`
    with a free camera described by `camera` (lookat, distance, azimuth, elevation), the "overview";
    `set_render_options` changes the frame size or picks the "follow" camera. Frames show the goal
    markers set by `set_goal_markers` (envs.markers) on top of `_decorate_scene`'s geoms.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        model: mujoco.MjModel,
        frame_skip: int,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera: dict | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"{type(self).__name__}: render_mode must be one of "
                f"{self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.model = model
        self.data = mujoco.MjData(model)
        self.frame_skip = int(frame_skip)
        self.render_mode = render_mode
        self._width, self._height = int(width), int(height)
        self._camera_config = dict(camera or {})
        self._camera_name = "overview"
        self._renderer = None
        # One env step lasts timestep * frame_skip seconds of simulated time.
        self.metadata = dict(self.metadata)
        self.metadata["render_fps"] = round(1.0 / self.dt)

    @property
    def dt(self) -> float:
        """Simulated seconds per env step."""
        return float(self.model.opt.timestep) * self.frame_skip

    def _simulate(self, ctrl: np.ndarray) -> None:
        """Applies ctrl (shape [nu]) and advances the physics by frame_skip steps."""
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)

    def _set_state(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Sets qpos [nq] and qvel [nv], resets time and recomputes derived quantities."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = qpos
        self.data.qvel[:] = qvel
        mujoco.mj_forward(self.model, self.data)

    def set_render_options(self, *, width: int | None = None, height: int | None = None,
                           camera: str | None = None) -> None:
        """Frame size and camera of the next renders (visual only; None keeps a setting).

        Args:
          width, height: frame size in pixels, MIN_FRAME_SIZE to MAX_FRAME_SIZE; the model's
            offscreen buffer grows to fit.
          camera: "overview", the environment's own camera (the maze tasks: the task's area from
            above; a frame taller than wide backs the camera off so that the same area stays in
            view), or "follow", `envs.markers.follow_camera` at the robot (the model's first body).

        Raises:
          ValueError: a size out of range or an unknown camera.
        """
        name = type(self).__name__
        if camera is not None and camera not in CAMERAS:
            raise ValueError(f"{name}: camera must be one of {CAMERAS}, got {camera!r}")
        for label, value in (("width", width), ("height", height)):
            if value is not None and not MIN_FRAME_SIZE <= value <= MAX_FRAME_SIZE:
                raise ValueError(f"{name}: frame {label} must be {MIN_FRAME_SIZE} to "
                                 f"{MAX_FRAME_SIZE} pixels, got {value}")
        size = (int(width or self._width), int(height or self._height))
        if size != (self._width, self._height) and self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._width, self._height = size
        self._camera_name = camera or self._camera_name
        buffer = self.model.vis.global_
        buffer.offwidth, buffer.offheight = max(buffer.offwidth, size[0]), max(buffer.offheight, size[1])

    def _camera(self) -> mujoco.MjvCamera:
        """The free camera of the next frame (see `set_render_options`)."""
        camera = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(self.model, camera)
        if self._camera_name == "follow":
            config = follow_camera(self.data.xpos[1])
        else:
            config = dict(self._camera_config)
            config["distance"] = config.get("distance", camera.distance) * max(
                1.0, self._height / self._width)
        for key, value in config.items():
            setattr(camera, key, value)
        return camera

    def render(self):
        """Returns an RGB image of shape [height, width, 3] (uint8), or None without render_mode.

        Raises:
          RuntimeError: when no OpenGL context can be created (see MUJOCO_GL=egl).
        """
        if self.render_mode is None:
            gym.logger.warn(
                f"{type(self).__name__}.render() called without render_mode; pass "
                "render_mode='rgb_array' to gymnasium.make."
            )
            return None
        if self._renderer is None:
            global _GL_FAILURE
            if _GL_FAILURE is not None:
                # A second attempt after a failed GL initialisation can abort the process
                # (seen with GLFW without a display), so fail the same way again instead.
                raise RuntimeError(_GL_FAILURE)
            try:
                self._renderer = mujoco.Renderer(self.model, self._height, self._width)
            except Exception as e:  # The failure type depends on the GL backend.
                _GL_FAILURE = f"{_RENDER_HELP} (original error: {e!r})"
                raise RuntimeError(_GL_FAILURE) from e
        self._renderer.update_scene(self.data, camera=self._camera())
        self._decorate_scene(self._renderer.scene)
        add_level_markers(self._renderer.scene, self._goal_markers, self.MARKER_RADIUS)
        return self._renderer.render().copy()

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """The static walls seen from above, as world rectangles (x0, y0, x1, y1) with x0 < x1 and
        y0 < y1 (for top-down pictures; the physics does not use them). None here; environments
        with walls override this."""
        return []

    def _decorate_scene(self, scene: mujoco.MjvScene) -> None:
        """Hook for subclasses to add visual-only geoms (no physics cost) to a frame's scene."""

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()
