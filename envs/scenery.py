"""The render-only look of the maze worlds: lighting, and the colours of walls, raised floors and
movable blocks.

gymnasium's ant model lights the scene with a light straight down of full strength plus MuJoCo's
headlight and a shiny default material; from above, a wall's top then renders near-white with a
bright highlight and its sides black, so that a wall reads as a hole, and the orange block of
AntPush renders pale yellow, like the top level's goal marker. `style_maze(spec)` replaces that
with a light from above and a little to the south-west whose strengths add up to about one on an
upward face, and matte materials: the top of a wall renders in `markers.WALL_COLOR`, its sunlit
sides a little darker and its other sides darker still, and a block in
`markers.ITEM_COLORS["block"]`, the colours of the trajectory plots. Nothing casts shadows: on a
software renderer (llvmpipe, as on a headless machine) MuJoCo's shadow map doubled the cost of a
frame, and the walls' lit and shaded sides show their height without them.

Everything here is visual: lights, materials and colours take no part in the physics
(tests/envs/test_scenery.py checks that a styled and an unstyled model step alike).
"""

from __future__ import annotations

import mujoco

from envs import markers

__all__ = ["style_maze"]

# The sun: from above, a little to the south-west, so that the walls' south and west sides are lit
# and their north and east sides shaded.
_SUN_DIRECTION = (0.35, 0.5, -1.0)
_SUN_DIFFUSE = 0.6
_AMBIENT = 0.3       # the scene's ambient light (the headlight's)
_HEADLIGHT_DIFFUSE = 0.15
# Matte: a faint specular highlight only.
_SPECULAR = 0.05
_SHININESS = 0.1
# Geoms named "<prefix>_<k>" by envs.layout.add_maze, and their colours.
_GEOM_COLORS = {
    "block": (*markers.WALL_COLOR, 1.0),
    "floor": (*markers.RAISED_FLOOR_COLOR, 1.0),
    "movable": (*markers.ITEM_COLORS["block"], 1.0),
}


def _light(spec: mujoco.MjSpec) -> None:
    """The sun (the model's first light, made directional, without shadows) and the headlight."""
    headlight = spec.visual.headlight
    headlight.ambient = [_AMBIENT] * 3
    headlight.diffuse = [_HEADLIGHT_DIFFUSE] * 3
    headlight.specular = [0.0] * 3
    for light in spec.lights[:1]:
        light.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
        light.dir = list(_SUN_DIRECTION)
        light.diffuse = [_SUN_DIFFUSE] * 3
        light.specular = [0.0] * 3
        light.ambient = [0.0] * 3
        light.castshadow = False


def _paint(spec: mujoco.MjSpec) -> None:
    """Matte materials of `_GEOM_COLORS` for the maze's geoms."""
    for prefix, rgba in _GEOM_COLORS.items():
        material = spec.add_material(name=f"scenery_{prefix}", rgba=list(rgba),
                                     specular=_SPECULAR, shininess=_SHININESS, reflectance=0.0)
        for geom in spec.geoms:
            if geom.name.startswith(f"{prefix}_"):
                geom.material = material.name
                geom.rgba = list(rgba)


def style_maze(spec: mujoco.MjSpec) -> None:
    """Restyles a maze world built by `envs.layout.add_maze` (call it after): lighting without
    shadows, and matte materials for walls, raised floors and movable blocks. Render-only."""
    _light(spec)
    _paint(spec)
