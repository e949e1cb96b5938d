"""The Ant robot of HIRO / the paper, built from gymnasium's shipped `ant.xml`.

Edits to gymnasium's model (docs/environments.md, section 1; HIRO's ant definition):
  - every motor: gear 1, ctrlrange [-30, 30] (gymnasium: gear 150, ctrlrange [-1, 1]);
  - integrator RK4, timestep 0.02 (gymnasium: 0.01), frame skip 5, i.e. 0.1 s per env step.
Renders: the floor is recoloured to a matte blue-grey checker (no effect on the physics).
Reset: the ant's qpos = qpos0 + U(-0.1, 0.1), qvel = 0.1 * N(0, 1); joints of the world (movable
blocks, added after the ant) restart exactly at qpos0 and rest. The ant never terminates.
The heading (`ant_yaw`, used by AntGather's sensors) is computed from the torso quaternion in
qpos, so that it belongs to the same moment as the position qpos[:2] (see `quaternion_yaw`).
Observation (float32 [30]): qpos[:15] (x, y, z, torso quaternion, 8 joint angles),
qvel[:14], and a time feature t * 0.001 (t = env steps since reset).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces

from envs._common import check_action
from envs._mujoco import MujocoEnv

ANT_XML = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "ant.xml")

ANT_TIMESTEP = 0.02  # HIRO / paper: 0.02 s physics step
ANT_FRAME_SKIP = 5  # 5 physics steps per env step -> 0.1 s
ANT_CTRL_LIMIT = 30.0  # motor torque bound with unit gear
ANT_RESET_QPOS_NOISE = 0.1  # qpos0 + U(-0.1, 0.1)
ANT_RESET_QVEL_NOISE = 0.1  # 0.1 * N(0, 1)
ANT_TIME_SCALE = 0.001  # time feature t * 0.001
ANT_OBS_DIM = 30  # 15 qpos + 14 qvel + 1 time
ANT_NQ, ANT_NV = 15, 14  # the ant's qpos / qvel entries, first in every model built here

# Sub-goal space of the Ant tasks: observation dims 0..14 (x, y, z, quaternion, 8 joint
# angles) with these half-ranges (HIRO's sub-goal range; docs/environments.md, section 1).
ANT_GOAL_INDICES = tuple(range(15))
ANT_GOAL_HIGH = (10.0, 10.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3)
ANT_GOAL_LOW = tuple(-v for v in ANT_GOAL_HIGH)


def quaternion_yaw(quat) -> float:
    """Heading of a body with orientation quaternion `quat` = (w, x, y, z), in radians.

    The heading is the angle of the body's x axis projected on the ground plane, measured
    counter-clockwise from the world +x axis: atan2(R[1, 0], R[0, 0]) of the rotation matrix R of
    the quaternion, i.e. for a unit quaternion atan2(2(wz + xy), 1 - 2(y^2 + z^2)) (the standard
    quaternion -> rotation matrix formula). Written here as atan2(2(wz + xy), w^2 + x^2 - y^2 - z^2),
    which equals it for a unit quaternion and, unlike it, does not change when the quaternion is
    scaled: right after a reset the noised quaternion is not unit (see `AntEnv._reset_ant`) and
    MuJoCo normalises it before use.

    Args:
      quat: array-like of 4 numbers (w, x, y, z), not all zero; need not be normalised.
    """
    w, x, y, z = (float(v) for v in quat)
    return math.atan2(2.0 * (w * z + x * y), w * w + x * x - y * y - z * z)


def ant_spec(add_world: Callable[[mujoco.MjSpec], None] | None = None) -> mujoco.MjSpec:
    """An MjSpec of the paper's Ant, optionally with extra world content.

    Args:
      add_world: called with the spec to add geoms/bodies (e.g. maze blocks) before compiling.

    Returns:
      The (uncompiled) spec; call `.compile()` for an MjModel.
    """
    spec = mujoco.MjSpec.from_file(ANT_XML)
    spec.option.timestep = ANT_TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    for actuator in spec.actuators:
        actuator.gear[0] = 1.0
        actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        actuator.ctrlrange = [-ANT_CTRL_LIMIT, ANT_CTRL_LIMIT]
    # Renders only: a dim, matte floor (gymnasium's is a reflective black/white checker) against
    # which the ant and the goal markers stand out.
    for texture in spec.textures:
        if texture.name == "texplane":
            texture.rgb1, texture.rgb2 = [0.2, 0.3, 0.4], [0.3, 0.4, 0.5]
    for material in spec.materials:
        if material.name == "MatPlane":
            material.reflectance, material.texrepeat = 0.0, [20.0, 20.0]
    # Offscreen buffer large enough for the default 480x480 renders.
    spec.visual.global_.offwidth = 1024
    spec.visual.global_.offheight = 1024
    if add_world is not None:
        add_world(spec)
    return spec


def build_ant_model(add_world: Callable[[mujoco.MjSpec], None] | None = None) -> mujoco.MjModel:
    """The compiled Ant model (see `ant_spec`)."""
    return ant_spec(add_world).compile()


class AntEnv(MujocoEnv):
    """Base class of the Ant tasks: dynamics, reset noise and the 30-dim observation.

    Subclasses add world geoms through `add_world`, the context, reward and info. The action is
    the 8 motor torques, float32 [8] in [-30, 30]; out-of-range actions are clipped.
    """

    def __init__(
        self,
        add_world: Callable[[mujoco.MjSpec], None] | None = None,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera: dict | None = None,
    ):
        super().__init__(
            build_ant_model(add_world),
            frame_skip=ANT_FRAME_SKIP,
            render_mode=render_mode,
            width=width,
            height=height,
            camera=camera,
        )
        low, high = self.model.actuator_ctrlrange.T
        self.action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32),
                                       dtype=np.float32)
        self._t = 0

    def _reset_ant(self) -> None:
        """Resets the ant with noise from self.np_random and the time feature to 0.

        The noise is added to every ant qpos entry, the torso quaternion qpos[3:7] included, without
        renormalising it: HIRO's ant (tensorflow/models research/efficient-hrl/environments/ant.py,
        `reset_model`) and gymnasium's Ant-v5 (`reset_model`) do the same. MuJoCo normalises the
        quaternion wherever it uses it, and its integrator writes back a unit quaternion at the
        first physics step; until then the observation shows the noised, non-unit quaternion.
        """
        rng = self.np_random
        qpos = self.model.qpos0.copy()
        qvel = np.zeros(self.model.nv)
        # Only the ant's own entries are noised; world joints (movable blocks) start exactly at rest.
        qpos[:ANT_NQ] += rng.uniform(-ANT_RESET_QPOS_NOISE, ANT_RESET_QPOS_NOISE, size=ANT_NQ)
        qvel[:ANT_NV] = ANT_RESET_QVEL_NOISE * rng.standard_normal(ANT_NV)
        self._set_state(qpos, qvel)
        self._t = 0

    def _step_ant(self, action) -> None:
        """Checks/clips `action` ([8]) and advances the simulation by one env step."""
        self._simulate(check_action(action, self.action_space, type(self).__name__))
        self._t += 1

    def _ant_obs(self) -> np.ndarray:
        """The ant observation, float32 [30]."""
        obs = np.empty(ANT_OBS_DIM, dtype=np.float32)
        obs[:15] = self.data.qpos[:15]
        obs[15:29] = self.data.qvel[:14]
        obs[29] = self._t * ANT_TIME_SCALE
        return obs

    @property
    def ant_xy(self) -> np.ndarray:
        """Torso position (x, y), float64 [2] (a copy)."""
        return self.data.qpos[:2].copy()

    @property
    def ant_yaw(self) -> float:
        """Heading of the torso (radians), from its quaternion qpos[3:7] (see `quaternion_yaw`).

        Read from qpos rather than data.xmat: after an RK4 mj_step, xmat still holds the
        orientation computed at the start of the last physics step, while qpos holds its end.
        """
        return quaternion_yaw(self.data.qpos[3:7])
