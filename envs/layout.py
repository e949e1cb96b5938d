"""Maze layouts: a grid of symbols and the MuJoCo world it describes.

A layout is a tuple of equally long strings, one character per cell (row i, column j):

    "#"  wall                    "."  free floor              "S"  the start cell (exactly one)
    "C"  chasm: no floor (only in layouts that raise the floor, see below)
    movable blocks, by the axes they slide along:
    "X", "Y", "Z"  one axis      "P"  x and y (pushed in the plane)
    "F"  y and z (pushed along y, it can fall into a chasm)

Geometry (HIRO's maze convention, with cell size `scaling` and block height `height`, the latter in
units of `scaling`):
  - Cell (i, j) is centred at ((j - j_S) * scaling, (i - i_S) * scaling, .): x follows the column,
    y the row, and the start cell is at the origin.
  - Walls are height * scaling tall and fill their cells; neighbouring wall cells are built as one
    box of at most MAX_WALL_BOX units a side (see `wall_boxes`), so a layout of small cells costs
    fewer bodies. With AntMaze's cells of 8, every wall cell is its own box.
  - A layout with a chasm raises the floor: every cell but the chasm cells has a floor whose top
    is at `floor_height` = height * scaling, the walls stand on it, the robot's root body starts that
    much higher, and the chasm cells keep the ground plane (z = 0) as their floor. We build each wall
    cell as one box from z = 0 to the top of its wall (the same volume as a floor box plus a wall),
    and the other floor cells as few boxes, neighbouring cells merged into rectangles (`floor_boxes`).
  - A movable block sits on the floor, centred in its cell, with half sizes (k * scaling / 2,
    k * scaling / 2, height * scaling / 2): k = 0.99 if it can move along z (so that it fits into a
    chasm cell), else 1. Its mass is 0.001 if it can move along z, else 0.0002. Its slide joints
    have no damping and no armature; the x and y slides are limited to [-scaling, scaling] only for
    blocks that can also move along z, the z slide always to [-floor_height, 0].
  - With movable blocks present, every geom's contact impedance (solimp) becomes (0.995, 0.995,
    0.01): stiffer contacts, as HIRO's maze sets for its block tasks.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

WALL, FREE, START, CHASM = "#", ".", "S", "C"
# Movable-block symbol -> the axes its slide joints move along.
MOVABLE_AXES: dict[str, str] = {"X": "x", "Y": "y", "Z": "z", "P": "xy", "F": "yz"}
SYMBOLS = frozenset((WALL, FREE, START, CHASM, *MOVABLE_AXES))

BLOCK_SOLIMP = (0.995, 0.995, 0.01)
# Longest side of one wall box when wall cells are merged. Measured on AntFourRooms (cells of 2):
# boxes of at most 6 x 6 ran about 10% faster than 8 x 8 and than 2 x 2 (one box per cell), 4 x 4
# about as fast (benchmarks/results/env_throughput.md). Cells of 6 or more are one box each.
MAX_WALL_BOX = 6.0
_AXIS_VECTORS = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def check_grid(layout) -> tuple[str, ...]:
    """Returns `layout` as a tuple of strings after checking its grid (a start cell is not needed).

    Raises:
      ValueError: empty or ragged grid, or an unknown symbol.
    """
    rows = tuple(layout)
    if not rows or not rows[0] or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"maze layout must be a non-empty grid of equally long rows, got {rows!r}")
    unknown = sorted({c for r in rows for c in r} - SYMBOLS)
    if unknown:
        raise ValueError(f"maze layout has unknown symbols {unknown}; known: {sorted(SYMBOLS)}")
    return rows


def check_layout(layout) -> tuple[str, ...]:
    """Returns `layout` as a tuple of strings after checking it.

    Raises:
      ValueError: empty or ragged grid, an unknown symbol, or not exactly one start cell "S".
    """
    rows = check_grid(layout)
    starts = sum(r.count(START) for r in rows)
    if starts != 1:
        raise ValueError(f"maze layout needs exactly one start cell 'S', found {starts}")
    return rows


def cells_of(layout, symbols: str) -> list[tuple[int, int]]:
    """(row, col) of every cell whose symbol is one of `symbols`, in row-major order."""
    return [(i, j) for i, row in enumerate(layout) for j, c in enumerate(row) if c in symbols]


def start_cell(layout) -> tuple[int, int]:
    """(row, col) of the unique start cell of `layout`."""
    return cells_of(check_layout(layout), START)[0]


def cell_center(i: int, j: int, layout, scaling: float) -> tuple[float, float]:
    """World (x, y) of the centre of cell (row i, col j); the start cell is at (0, 0)."""
    si, sj = start_cell(layout)
    return ((j - sj) * scaling, (i - si) * scaling)


def floor_height(layout, scaling: float, height: float) -> float:
    """Height of the floor's top: height * scaling if the layout has a chasm, else 0."""
    return height * scaling if cells_of(check_layout(layout), CHASM) else 0.0


def wall_blocks(layout, scaling: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """World boxes of the walls, each from z = 0 to floor_height + height * scaling.

    Returns:
      centers: float64 [n_walls, 3], box centres (x, y, z).
      half_sizes: float64 [3], the half sizes shared by every wall box.
    """
    top = floor_height(layout, scaling, height) + height * scaling
    half = np.array([scaling / 2, scaling / 2, top / 2])
    centers = [(*cell_center(i, j, layout, scaling), top / 2) for i, j in cells_of(layout, WALL)]
    return np.array(centers, dtype=np.float64).reshape(-1, 3), half


def cell_rectangles(layout, symbols: str) -> list[tuple[int, int, int, int]]:
    """The cells whose symbol is one of `symbols`, grouped into rectangles (i0, j0, i1, j1), corners
    inclusive, sorted.

    Each row's maximal horizontal runs of such cells, a run merged into the one above it when both
    span the same columns. Every such cell lies in exactly one rectangle. The grid needs no start
    cell.
    """
    layout = check_grid(layout)
    growing: dict[tuple[int, int], int] = {}  # (j0, j1) -> first row of a rectangle still growing
    rectangles = []
    for i, row in enumerate((*layout, "")):  # the empty last row closes every rectangle
        runs, j = [], 0
        while j < len(row):
            if row[j] in symbols:
                j1 = j
                while j1 + 1 < len(row) and row[j1 + 1] in symbols:
                    j1 += 1
                runs.append((j, j1))
                j = j1
            j += 1
        for (j0, j1), i0 in list(growing.items()):
            if (j0, j1) not in runs:
                rectangles.append((i0, j0, i - 1, j1))
                del growing[(j0, j1)]
        for run in runs:
            growing.setdefault(run, i)
    return sorted(rectangles)


def wall_rectangles(layout) -> list[tuple[int, int, int, int]]:
    """The wall cells grouped into rectangles (`cell_rectangles` of WALL)."""
    return cell_rectangles(layout, WALL)


def cell_footprints(layout, scaling: float, symbols: str) -> list[tuple[float, float, float, float]]:
    """The cells whose symbol is one of `symbols` seen from above: one world rectangle (x0, y0, x1,
    y1), x0 < x1 and y0 < y1, per rectangle of `cell_rectangles`, in its order. Their union is the
    footprint of every such cell (a cell of centre (x, y) covers [x - scaling/2, x + scaling/2] and
    likewise in y)."""
    layout = check_layout(layout)
    x0, y0 = cell_center(0, 0, layout, scaling)
    half = scaling / 2
    return [(x0 + j0 * scaling - half, y0 + i0 * scaling - half,
             x0 + j1 * scaling + half, y0 + i1 * scaling + half)
            for i0, j0, i1, j1 in cell_rectangles(layout, symbols)]


def wall_footprints(layout, scaling: float) -> list[tuple[float, float, float, float]]:
    """The walls seen from above (`cell_footprints` of WALL: merged wall cells)."""
    return cell_footprints(layout, scaling, WALL)


def _split(first: int, last: int, most: int) -> list[tuple[int, int]]:
    """[first, last] cut into the fewest nearly equal runs of at most `most` cells."""
    n = last - first + 1
    pieces = -(-n // most)
    bounds = [first + (n * k) // pieces for k in range(pieces + 1)]
    return [(bounds[k], bounds[k + 1] - 1) for k in range(pieces)]


def wall_boxes(layout, scaling: float, height: float, max_size: float = MAX_WALL_BOX
               ) -> tuple[np.ndarray, np.ndarray]:
    """The walls as few boxes, each from z = 0 to floor_height + height * scaling.

    Wall rectangles (`wall_rectangles`) are cut into boxes at most `max_size` long on each side
    (but at least one cell): fewer bodies make each physics step cheaper, while long boxes would
    make MuJoCo test them against every robot geom within their (large) bounding sphere. With
    cells of max_size or more, every wall cell is its own box, in row-major order.

    Returns:
      centers: float64 [n_boxes, 3]; half_sizes: float64 [n_boxes, 3].
    """
    top = floor_height(layout, scaling, height) + height * scaling
    most = max(1, int(max_size // scaling))
    x0, y0 = cell_center(0, 0, layout, scaling)
    centers, halves = [], []
    for i0, j0, i1, j1 in wall_rectangles(layout):
        for a, b in _split(i0, i1, most):
            for c, d in _split(j0, j1, most):
                centers.append((x0 + (c + d) / 2 * scaling, y0 + (a + b) / 2 * scaling, top / 2))
                halves.append(((d - c + 1) * scaling / 2, (b - a + 1) * scaling / 2, top / 2))
    order = sorted(range(len(centers)), key=lambda k: (centers[k][1], centers[k][0]))
    return (np.array([centers[k] for k in order], np.float64).reshape(-1, 3),
            np.array([halves[k] for k in order], np.float64).reshape(-1, 3))


def floor_boxes(layout, scaling: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """World boxes of the raised floor (none without a chasm), from z = 0 to `floor_height`.

    The floor cells (every cell but walls and chasms) grouped into rectangles (`cell_rectangles`),
    one box each: AntFall's six floor cells are two boxes. Unlike walls, floor boxes are not cut to
    a maximum size: the robot always stands on one, so a large box adds no collision tests a small
    one would not, while every seam between boxes adds contacts.

    Returns:
      centers: float64 [n_floors, 3]; half_sizes: float64 [n_floors, 3]; sorted by (y, x).
    """
    top = floor_height(layout, scaling, height)
    if top == 0.0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    x0, y0 = cell_center(0, 0, layout, scaling)
    boxes = [
        ((x0 + (j0 + j1) / 2 * scaling, y0 + (i0 + i1) / 2 * scaling, top / 2),
         ((j1 - j0 + 1) * scaling / 2, (i1 - i0 + 1) * scaling / 2, top / 2))
        for i0, j0, i1, j1 in cell_rectangles(layout, "".join(sorted(SYMBOLS - {WALL, CHASM})))]
    boxes.sort(key=lambda box: (box[0][1], box[0][0]))
    return (np.array([c for c, _ in boxes], np.float64).reshape(-1, 3),
            np.array([h for _, h in boxes], np.float64).reshape(-1, 3))


@dataclasses.dataclass(frozen=True)
class MovableBlock:
    """A movable block of a layout (see the module docstring for the rules).

    Attributes:
      cell: (row, col) in the layout.
      center: world position (x, y, z) of its centre at rest, shape [3].
      half_size: box half sizes, shape [3].
      axes: the axes it slides along, a sub-sequence of "xyz".
      mass: its mass.
      ranges: axis -> (low, high) joint range, only for the limited axes.
    """

    cell: tuple[int, int]
    center: tuple[float, float, float]
    half_size: tuple[float, float, float]
    axes: str
    mass: float
    ranges: dict


def movable_blocks(layout, scaling: float, height: float) -> list[MovableBlock]:
    """The movable blocks of `layout`, in row-major order."""
    offset = floor_height(layout, scaling, height)
    blocks = []
    for i, j in cells_of(layout, "".join(MOVABLE_AXES)):
        axes = MOVABLE_AXES[layout[i][j]]
        falls = "z" in axes
        if falls and offset == 0.0:
            raise ValueError(f"maze layout: the block at cell {(i, j)} moves along z, which needs a "
                             "chasm 'C' (a raised floor) in the layout")
        k = 0.99 if falls else 1.0
        ranges = {a: (-scaling, scaling) for a in axes if falls and a != "z"}
        if falls:
            ranges["z"] = (-offset, 0.0)
        blocks.append(MovableBlock(
            cell=(i, j),
            center=(*cell_center(i, j, layout, scaling), offset + height * scaling / 2),
            half_size=(k * scaling / 2, k * scaling / 2, height * scaling / 2),
            axes=axes,
            mass=0.001 if falls else 0.0002,
            ranges=ranges,
        ))
    return blocks


def add_maze(spec: mujoco.MjSpec, layout, scaling: float, height: float,
             root_body: str = "torso") -> None:
    """Adds the world of `layout` to `spec` (before compiling).

    Adds, in this order: a static body "block_k" (geom "block_k") per wall box (`wall_boxes`: one
    per wall cell for cells of 8 or more), a static body "floor_k"
    per raised-floor box, and a body "movable_k" per movable block with slide joints "movable_k_x",
    "_y", "_z" (those of its axes, in xyz order) and a geom "movable_k". Bodies added after the
    robot keep the robot's qpos/qvel entries first. With a chasm, the body `root_body` is raised by
    the floor height; with movable blocks, every geom gets solimp BLOCK_SOLIMP.

    Walls and floors have contype=0, conaffinity=1: they touch robot geoms (contype=1) and blocks but
    not each other. Blocks have contype=conaffinity=1: they touch the robot, walls, floor and ground.
    Each static box is its own body, not a geom of the world body, so that MuJoCo's broadphase can
    prune it by bounding box (one body per box measured faster than world geoms).

    Raises:
      ValueError: a bad layout, or a chasm but no body named `root_body`.
    """
    layout = check_layout(layout)
    for prefix, (centers, halves), rgba in (
        ("block", wall_boxes(layout, scaling, height), (0.4, 0.4, 0.4, 1.0)),
        ("floor", floor_boxes(layout, scaling, height), (0.9, 0.9, 0.9, 1.0)),
    ):
        for k, (center, half) in enumerate(zip(centers, halves, strict=True)):
            body = spec.worldbody.add_body(name=f"{prefix}_{k}", pos=center.tolist())
            body.add_geom(name=f"{prefix}_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=half.tolist(), contype=0, conaffinity=1, rgba=list(rgba))
    blocks = movable_blocks(layout, scaling, height)
    for k, block in enumerate(blocks):
        body = spec.worldbody.add_body(name=f"movable_{k}", pos=list(block.center))
        for axis in block.axes:
            joint = body.add_joint(name=f"movable_{k}_{axis}", type=mujoco.mjtJoint.mjJNT_SLIDE,
                                   axis=list(_AXIS_VECTORS[axis]), armature=0.0, damping=0.0)
            if axis in block.ranges:
                joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
                joint.range = list(block.ranges[axis])
            else:
                joint.limited = mujoco.mjtLimited.mjLIMITED_FALSE
        body.add_geom(name=f"movable_{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=list(block.half_size), mass=block.mass, contype=1, conaffinity=1,
                      rgba=[0.9, 0.5, 0.1, 1.0])
    offset = floor_height(layout, scaling, height)
    if offset:
        root = spec.body(root_body)
        if root is None:
            raise ValueError(f"a layout with a chasm raises the body {root_body!r}; none in spec")
        root.pos = [root.pos[0], root.pos[1], root.pos[2] + offset]
    if blocks:
        for geom in spec.geoms:
            geom.solimp = [*BLOCK_SOLIMP, *geom.solimp[3:]]

