"""Top-down pictures of evaluation episodes: the walls, the robot's path, the target, and the goal
every level set, where it set it.

A `Trajectory` is what `hierarchy.run.evaluation.run_episode` records when given one: the world (x, y)
of the robot at every step (the observation's coordinates `xy_indices`, the first two goal
indices of the task: the position comes first in every goal space of the `envs` package) and, per
level, the world point of each goal at the step the level above set it (level 0's goal is the
context; level i's is s[I] + g for a relative goal g set at state s, see
`hierarchy.run.evaluation.goal_world_points`).

It also holds the environment's map items (`envs.markers.MapItem`: movable blocks, chasms, apples
and bombs, from `env.unwrapped.map_items()` where the environment has it) at the episode's start
and at its end.

`plot_trajectory` draws one (matplotlib, Agg, no pyplot state): walls as grey rectangles, chasms as
light blue ones, each movable block as a dashed orange outline where it started and a filled one
where it ended, apples (green) and bombs (red) as hollow circles at the start and filled dots for
those left at the end, the path as a dark line from a hollow circle (start) to a cross (end), the
target as a translucent green disc of the success radius, level 0's goal (the context) as a star,
and level k's goals as discs, both in `envs.markers.LEVEL_COLORS[k]` (the colours of the evaluation
videos' markers), each joined by a thin line to the point where it was set. A level's goals fade
with time: the opacity of each grows linearly with the step it was set at, from GOAL_ALPHA_FIRST for
the level's first goal of the episode to opaque for its last (`goal_alphas`), and a colour bar per
level whose goals were set at more than one step reads the steps off the shades. The title sits at
the top of the figure, broken into lines and shrunk until it fits (`TrajectoryPlot.title_box`).
`write_plots` writes one PNG per evaluation context and logs it to TensorBoard.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from typing import List, Sequence

import numpy as np

# Walls and map items in the colours the MuJoCo renders give them (one table, envs.markers).
from envs import hooks
from envs.markers import ITEM_COLORS, LEVEL_COLORS, TARGET_COLOR, TARGET_DISC_ALPHA, WALL_COLOR

PATH_COLOR = (0.1, 0.1, 0.1)
FIGURE_SIZE = (7.2, 5.4)          # inches, at DPI: 720 x 540 pixels
DPI = 100
_AXES_BOX = (0.09, 0.09, 0.56, 0.83)   # left, bottom, width, height (figure fractions); legend right
GOAL_ALPHA_FIRST = 0.2            # opacity of a level's first goal of an episode; its last is opaque
_COLOR_BAR_BOX = (0.69, 0.09, 0.27, 0.022)   # the first colour bar (left, bottom, width, height)
_COLOR_BAR_STEP = 0.085           # vertical distance between colour bars (figure fraction)
TITLE_FONT_SIZES = (9, 8, 7, 6)   # tried in order until the title fits


def level_color(level: int) -> tuple:
    """RGBA of level `level`'s markers (`envs.markers.LEVEL_COLORS`, reused cyclically)."""
    return LEVEL_COLORS[level % len(LEVEL_COLORS)]


def world_xy_indices(env) -> tuple[int, int] | None:
    """The observation indices of the robot's world (x, y): the task's first two goal indices; None
    for an environment without a `TaskSpec` or with fewer than two goal indices (nothing to draw)."""
    spec = hooks.published_task_spec(env)
    indices = spec.goal_indices if spec is not None else ()
    return (int(indices[0]), int(indices[1])) if len(indices) >= 2 else None


def wall_rectangles(env) -> list[tuple[float, float, float, float]]:
    """The environment's walls seen from above, (x0, y0, x1, y1) each (`env.unwrapped.wall_rectangles`
    of the `envs` package); [] for an environment that does not publish them."""
    inner = env.unwrapped
    if not isinstance(inner, hooks.HasWalls):
        return []
    return [tuple(float(v) for v in r) for r in inner.wall_rectangles()]


def map_items(env) -> list:
    """The environment's map items now (`env.unwrapped.map_items()`, `envs.markers.MapItem`s); []
    for an environment that does not publish them."""
    inner = env.unwrapped
    return list(inner.map_items()) if isinstance(inner, hooks.HasMapItems) else []


@dataclasses.dataclass
class Trajectory:
    """One episode seen from above, as recorded by `hierarchy.run.evaluation.run_episode`.

    Attributes:
      xy_indices: observation indices of the robot's world (x, y).
      level_names: the hierarchy's levels, top first.
      context: the episode's context [C] (None: no context).
      success_radius: the task's success distance (None: no notion of success).
      points: the robot's (x, y) at every step, reset included.
      goals: per level, (t, x, y, origin x, origin y) of every goal it received: at step t, the
        goal's world point and the robot's position when it was set.
      success, episode_return: the episode's outcome.
      items_start, items_end: the map items at the reset and after the last step.
    """

    xy_indices: tuple[int, int]
    level_names: Sequence[str]
    context: np.ndarray | None = None
    success_radius: float | None = None
    points: list = dataclasses.field(default_factory=list)
    goals: list = None
    success: bool | None = None
    episode_return: float = 0.0
    items_start: list = dataclasses.field(default_factory=list)
    items_end: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.goals is None:
            self.goals = [[] for _ in self.level_names]

    def add_point(self, observation) -> None:
        """Appends the robot's (x, y) in `observation` [D] to the path."""
        self.points.append([float(observation[i]) for i in self.xy_indices])

    def add_goal(self, level: int, t: int, world_point) -> None:
        """Records that `level` received a goal at world point `world_point` ([2] or more; None is
        skipped) at step t, where the robot was at the path's last point."""
        if world_point is not None:
            self.goals[level].append((t, float(world_point[0]), float(world_point[1]),
                                      *self.points[-1]))

    @property
    def path(self) -> np.ndarray:
        """float64 [T + 1, 2]: the robot's (x, y) from the reset to the last step."""
        return np.asarray(self.points, np.float64).reshape(-1, 2)

    def goal_points(self, level: int) -> np.ndarray:
        """float64 [n, 2]: the world (x, y) of every goal `level` received, in order."""
        return np.asarray([g[1:3] for g in self.goals[level]], np.float64).reshape(-1, 2)

    def goal_steps(self, level: int) -> np.ndarray:
        """int64 [n]: the steps at which `level` received its goals."""
        return np.asarray([g[0] for g in self.goals[level]], np.int64)


@dataclasses.dataclass
class TrajectoryPlot:
    """A drawn trajectory: `image` uint8 [H, W, 3] (the PNG's pixels) and the world -> pixel map."""

    image: np.ndarray
    world_to_display: np.ndarray      # [3, 3] affine: world (x, y, 1) -> display (x, y from bottom)
    path: str | None = None
    title_box: tuple | None = None    # the title's rendered extent (x0, y0, x1, y1), display pixels

    def pixels(self, points) -> np.ndarray:
        """float64 [n, 2]: (row, col) in `image` of world points [n, 2] (row 0 at the top)."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        xy = pts @ self.world_to_display[:2, :2].T + self.world_to_display[:2, 2]
        return np.stack([self.image.shape[0] - xy[:, 1], xy[:, 0]], axis=1)


def _frame(trajectory: Trajectory, walls) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) world corners framing the walls, path, goals and target, with a margin."""
    pts = [trajectory.path] + [trajectory.goal_points(k) for k in range(len(trajectory.goals))]
    pts += [np.asarray(walls, np.float64).reshape(-1, 2, 2).reshape(-1, 2)]
    items = [item[1:] for item in (*trajectory.items_start, *trajectory.items_end)]
    pts += [np.asarray(items, np.float64).reshape(-1, 2)]
    if trajectory.context is not None and len(trajectory.context) >= 2:
        c, r = np.asarray(trajectory.context[:2], np.float64), trajectory.success_radius or 0.0
        pts += [np.stack([c - r, c + r])]
    pts = np.concatenate([p for p in pts if len(p)]) if any(len(p) for p in pts) else np.zeros((1, 2))
    low, high = pts.min(axis=0), pts.max(axis=0)
    margin = max(0.5, 0.04 * float(np.max(high - low)))
    return low - margin, high + margin


def _draw_items(ax, start, end) -> None:
    """Map items: chasms (as at the end), blocks at the start (dashed outline) and end (filled),
    objects at the start (hollow circles) and those left at the end (filled dots)."""
    from matplotlib.patches import Rectangle

    labelled = set()

    def label(text):
        if text in labelled:
            return None
        labelled.add(text)
        return text

    for when, items in (("start", start), ("end", end)):
        for kind, x0, y0, x1, y1 in items:
            color = ITEM_COLORS.get(kind, (0.5, 0.5, 0.5))
            if kind == "chasm":
                if when == "end":
                    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=color,
                                           edgecolor="none", zorder=1, label=label("chasm")))
            elif x0 != x1 or y0 != y1:       # a block: where it started, where it ended
                filled = when == "end"
                ax.add_patch(Rectangle(
                    (x0, y0), x1 - x0, y1 - y0, zorder=2, lw=1.5, ls="-" if filled else "--",
                    facecolor=(*color, 0.75) if filled else "none", edgecolor=color,
                    label=label(f"{kind} at the {when}")))
            else:                              # an object: at the start, left at the end
                ax.plot(x0, y0, ls="none", marker="o", zorder=2, ms=7 if when == "start" else 5,
                        mfc="none" if when == "start" else color, mec=color, mew=1.2,
                        label=label(f"{kind}s at the start" if when == "start"
                                    else f"{kind}s left at the end"))


def goal_alphas(steps) -> np.ndarray:
    """float64 [n]: the opacity of each of a level's goals, from the steps [n] they were set at:
    linear in the step, GOAL_ALPHA_FIRST at the first step, 1 at the last; all 1 when every goal was
    set at one step."""
    steps = np.asarray(steps, np.float64).reshape(-1)
    if not len(steps) or steps.max() == steps.min():
        return np.ones_like(steps)
    alphas = GOAL_ALPHA_FIRST + (1.0 - GOAL_ALPHA_FIRST) * (steps - steps.min()) / np.ptp(steps)
    return np.clip(alphas, 0.0, 1.0)      # rounding can leave the last a hair above 1


def _fading(color, alphas) -> np.ndarray:
    """float64 [n, 4]: `color`'s RGB with each of `alphas` as opacity."""
    rgba = np.tile(np.asarray(color, np.float64)[:3], (len(alphas), 1))
    return np.column_stack([rgba, alphas])


def _color_bar(fig, slot: int, color, steps, label: str) -> None:
    """A horizontal colour bar in the right-hand column (the `slot`-th from the bottom): `color`
    fading as the goals do (`goal_alphas`) from the first to the last of `steps`."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.ticker import MaxNLocator

    left, bottom, width, height = _COLOR_BAR_BOX
    cax = fig.add_axes((left, bottom + slot * _COLOR_BAR_STEP, width, height))
    shades = ListedColormap(_fading(color, goal_alphas(np.linspace(0.0, 1.0, 256))))
    bar = fig.colorbar(ScalarMappable(Normalize(float(np.min(steps)), float(np.max(steps))),
                                      shades), cax=cax, orientation="horizontal")
    bar.ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    bar.set_label(label, fontsize=7, labelpad=1)
    bar.ax.tick_params(labelsize=7)


def _draw_goals(fig, ax, trajectory: Trajectory) -> None:
    """Every level's goals, fading with the step they were set at (`goal_alphas`), level k > 0's
    joined by thin lines to where they were set; a colour bar for each level whose goals were set
    at more than one step."""
    from matplotlib.collections import LineCollection

    names = list(trajectory.level_names)
    timed = [k for k, goals in enumerate(trajectory.goals) if len({g[0] for g in goals}) > 1]
    for k in range(len(names)):
        goals = np.asarray(trajectory.goals[k], np.float64).reshape(-1, 5)
        if not len(goals):
            continue
        color, alphas = level_color(k), goal_alphas(goals[:, 0])
        if k > 0:   # a thin line from where each goal was set to the goal
            segments = np.stack([goals[:, 3:5], goals[:, 1:3]], axis=1)   # [n, 2 ends, (x, y)]
            ax.add_collection(LineCollection(segments, colors=_fading(color, 0.6 * alphas),
                                             linewidths=0.7, zorder=4), autolim=False)
        marker, size = ("*", 18) if k == 0 else ("o", max(5, 9 - k))
        ax.scatter(goals[:, 1], goals[:, 2], s=size ** 2, marker=marker, zorder=5 + k,
                   c=_fading(color, alphas), edgecolors=_fading((0, 0, 0), alphas), linewidths=0.6)
        what = "goal (the context)" if k == 0 else f"goals ({len(goals)})"
        ax.plot([], [], ls="none", marker=marker, ms=size, mfc=color, mec="black", mew=0.6,
                label=f"level {k} ({names[k]}) {what}")       # the legend's entry
        if k in timed:   # the colour bars stacked top down, the top level's first
            _color_bar(fig, len(timed) - 1 - timed.index(k), color, goals[:, 0],
                       f"level {k} goals: step set")


def _title_texts(title: str):
    """The title's candidate layouts, best first: one line; two lines broken at the ", " that makes
    them most even; then hard-wrapped to ever shorter lines."""
    yield title
    parts = title.split(", ")
    if len(parts) > 1:
        lines = [(", ".join(parts[:k]) + ",", ", ".join(parts[k:])) for k in range(1, len(parts))]
        yield "\n".join(min(lines, key=lambda two: max(len(two[0]), len(two[1]))))
    for width in (90, 70, 50, 35):
        yield "\n".join(textwrap.wrap(title, width, break_long_words=True))


def _add_title(fig, title: str) -> tuple:
    """Writes `title` centred at the top of the figure, in the first layout (`_title_texts`) and
    size (TITLE_FONT_SIZES) whose rendered extent lies inside the figure, above the axes; returns
    that extent (x0, y0, x1, y1) in display pixels (the last tried if none fits)."""
    renderer = fig.canvas.get_renderer()
    room_bottom = (_AXES_BOX[1] + _AXES_BOX[3]) * fig.bbox.height
    for size in TITLE_FONT_SIZES:
        for text in _title_texts(title):
            artist = fig.text(0.5, 0.99, text, ha="center", va="top", fontsize=size)
            box = artist.get_window_extent(renderer)
            if box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y0 >= room_bottom \
                    and box.y1 <= fig.bbox.height:
                return tuple(box.extents)
            artist.remove()
    fig.add_artist(artist)
    return tuple(box.extents)


def _keep_y_axis_inside(fig, ax) -> None:
    """Moves the axes right by as much as the y axis's tick labels and label stick out of the
    figure's left edge (wide labels such as "-10.0"), plus 2 pixels."""
    overhang = 2.0 - ax.yaxis.get_tightbbox(fig.canvas.get_renderer()).x0
    if overhang > 0:
        box = ax.get_position()
        ax.set_position((box.x0 + overhang / fig.bbox.width, box.y0, box.width, box.height))


def plot_trajectory(trajectory: Trajectory, *, walls=(), title: str = "") -> TrajectoryPlot:
    """Draws `trajectory` over `walls` ((x0, y0, x1, y1) world rectangles); see the module docstring.

    Returns a `TrajectoryPlot` of FIGURE_SIZE * DPI pixels, with equal scales on x and y.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Rectangle

    fig = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(_AXES_BOX)
    for x0, y0, x1, y1 in walls:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=WALL_COLOR, edgecolor="none",
                               zorder=1))
    if walls:
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=WALL_COLOR, label="wall"))   # legend entry
    _draw_items(ax, trajectory.items_start, trajectory.items_end)
    context = trajectory.context
    if context is not None and len(context) >= 2 and trajectory.success_radius:
        ax.add_patch(Circle(tuple(context[:2]), trajectory.success_radius, zorder=2,
                            facecolor=(*TARGET_COLOR[:3], TARGET_DISC_ALPHA), edgecolor="none",
                            label=f"target (success radius {trajectory.success_radius:g})"))
    path = trajectory.path
    if len(path):
        ax.plot(path[:, 0], path[:, 1], color=PATH_COLOR, lw=1.3, zorder=3, label="path")
        ax.plot(*path[0], marker="o", ms=9, mfc="none", mec=PATH_COLOR, mew=1.5, ls="none",
                zorder=3, label="start")
        ax.plot(*path[-1], marker="x", ms=8, color=PATH_COLOR, mew=1.5, ls="none", zorder=3,
                label="end")
    _draw_goals(fig, ax, trajectory)
    low, high = _frame(trajectory, walls)
    # Widen the frame along one axis to the axes box's shape: equal scales on x and y.
    box = _AXES_BOX[2] * FIGURE_SIZE[0] / (_AXES_BOX[3] * FIGURE_SIZE[1])   # width / height
    span = high - low
    span = np.maximum(span, [span[1] * box, span[0] / box])
    center = (low + high) / 2
    ax.set_xlim(center[0] - span[0] / 2, center[0] + span[0] / 2)
    ax.set_ylim(center[1] - span[1] / 2, center[1] + span[1] / 2)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_axisbelow(True)
    ax.grid(alpha=0.25)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    _keep_y_axis_inside(fig, ax)
    title_box = _add_title(fig, title) if title else None
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    return TrajectoryPlot(image=image, world_to_display=ax.transData.get_affine().get_matrix().copy(),
                          title_box=title_box)


def save_png(plot: TrajectoryPlot, path: str) -> None:
    """Writes `plot.image` to `path` as a PNG, atomically; sets `plot.path`."""
    from matplotlib import image as mpimg

    from hierarchy.run.files import atomic_output

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_output(path, suffix=".png") as tmp:
        mpimg.imsave(tmp, plot.image, format="png")
    plot.path = path


def context_label(context) -> str:
    """'(16, 0)' for a context, '' for none or an empty one."""
    if context is None or len(context) == 0:
        return ""
    return "(" + ", ".join(f"{float(c):.4g}" for c in context) + ")"


def write_plots(trajectories: Sequence[Trajectory], *, directory: str, step: int, env,
                prefix: str = "trajectory", summaries: bool = False) -> List[TrajectoryPlot]:
    """Draws and writes `directory/<prefix>_<step>_ctx<k>.png` for the k-th trajectory (one per
    evaluation context); with `summaries`, also logs each as the TensorBoard image
    `trajectory/context_<k>` at `step` (under the default summary writer). Returns the plots."""
    from hierarchy.run import files
    walls = wall_rectangles(env)
    name = getattr(env.spec, "id", None) or type(env.unwrapped).__name__
    plots = []
    for k, trajectory in enumerate(trajectories):
        outcome = {True: "success", False: "failure", None: ""}[trajectory.success]
        title = ", ".join(s for s in (f"{name} at step {step}", f"context {k} "
                                      f"{context_label(trajectory.context)}".strip(), outcome,
                                      f"return {trajectory.episode_return:.1f}") if s)
        plot = plot_trajectory(trajectory, walls=walls, title=title)
        save_png(plot, os.path.join(directory, files.trajectory_plot_file(step, k, prefix)))
        if summaries:
            import tensorflow as tf

            tf.summary.image(f"trajectory/context_{k}", plot.image[None], step=step)
        plots.append(plot)
    return plots
