"""Offscreen rendering on headless machines; imported before anything imports mujoco.

MuJoCo reads MUJOCO_GL once, when `mujoco` is first imported. Where there is no DISPLAY and the
variable is unset (and mujoco is not imported yet), we set MUJOCO_GL=egl so that
render_mode="rgb_array" works offscreen (Mesa EGL; the default GLFW backend needs an X server).

Mesa's software rasteriser (llvmpipe, in the DRI driver `swrast_dri.so` or `libgallium-*.so`) calls
LLVM through the dynamic linker's global scope, where TensorFlow 2.16+ (whose
`libtensorflow_framework.so` exports the symbols of its own, newer LLVM) comes first once it is
imported: the first frame rendered in a process that imported TensorFlow then crashes inside
Mesa. `preload_mesa_drivers` loads those drivers first with RTLD_DEEPBIND, so that they bind to the
LLVM they were built with; Mesa's own later load of the same file gets the loaded copy. It runs
here, for the EGL and OSMesa backends on Linux, and costs a few milliseconds.
"""

import ctypes
import glob
import os
import sys

if "mujoco" not in sys.modules and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

# Where Debian/Ubuntu and Fedora-like systems keep Mesa's DRI drivers and gallium library.
_MESA_GLOBS = tuple(f"{lib}/{name}" for lib in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                                                   "/usr/lib64")
                    for name in ("dri/*swrast_dri.so", "libgallium-*.so"))


def preload_mesa_drivers() -> list:
    """Loads Mesa's software DRI drivers with RTLD_DEEPBIND; returns the paths loaded."""
    deepbind = getattr(os, "RTLD_DEEPBIND", 0)
    if not sys.platform.startswith("linux") or not deepbind:
        return []
    loaded = []
    for pattern in _MESA_GLOBS:
        for path in sorted(glob.glob(pattern)):
            try:
                ctypes.CDLL(path, mode=os.RTLD_LAZY | os.RTLD_LOCAL | deepbind)
            except OSError:
                continue
            loaded.append(path)
    return loaded


if os.environ.get("MUJOCO_GL") in ("egl", "osmesa"):
    preload_mesa_drivers()
