"""Selects MuJoCo's EGL backend on headless machines; imported before anything imports mujoco.

MuJoCo reads MUJOCO_GL once, when `mujoco` is first imported. Where there is no DISPLAY and the
variable is unset (and mujoco is not imported yet), we set MUJOCO_GL=egl so that
render_mode="rgb_array" works offscreen (Mesa EGL; the default GLFW backend needs an X server).
"""

import os
import sys

if "mujoco" not in sys.modules and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"
