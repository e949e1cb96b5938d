"""Trajectory pictures (`hierarchy.plots.trajectory_plot`): what an evaluation records, and what the PNG
shows where (pixels read back from the written file)."""

import glob
import io
import os

import gin
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from run_helpers import NO_TRAINING, POINT, TINY, metric_rows

from envs.markers import LEVEL_COLORS
from hierarchy.plots import trajectory_plot
from hierarchy.plots.trajectory_plot import Trajectory
from hierarchy.run import evaluation, files
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin
from hierarchy.run.runner import train
from hierarchy.run.settings import RunSettings

WIDTH, HEIGHT = (int(v * trajectory_plot.DPI) for v in trajectory_plot.FIGURE_SIZE)
GREY = [round(255 * c) for c in trajectory_plot.WALL_COLOR]


def rgb(level):
    return [round(255 * c) for c in LEVEL_COLORS[level][:3]]


def faded(level, alpha):
    """Level `level`'s colour drawn with opacity `alpha` over white paper."""
    return [alpha * c + (1 - alpha) * 255 for c in rgb(level)]


def read_png(path):
    return np.asarray(Image.open(path).convert("RGB"))


def pixel(plot, image, point):
    row, col = plot.pixels([point])[0]
    return image[int(row), int(col)].astype(int)


def hand_built():
    """A 3-level episode in a room with one wall: the path runs along y = 0 from x = 0 to x = 8."""
    t = Trajectory(xy_indices=(0, 1), level_names=["top", "mid", "low"],
                   context=np.array([8.0, 6.0]), success_radius=1.5)
    t.add_point([0.0, 0.0])
    t.add_goal(0, 0, [8.0, 6.0])
    t.add_goal(1, 0, [4.0, -4.0])
    t.add_goal(2, 0, [1.0, 2.0])
    for x in range(1, 9):
        t.add_point([float(x), 0.0, 123.0])
        if x == 4:
            t.add_goal(2, 4, [6.0, 3.0])
    t.success, t.episode_return = True, -12.5
    return t


def test_the_png_shows_walls_goals_target_and_path(tmp_path):
    walls = [(-3.0, -8.0, -1.0, 8.0), (10.0, 2.0, 12.0, 8.0)]
    traj = hand_built()
    assert traj.path.shape == (9, 2) and traj.goal_steps(2).tolist() == [0, 4]
    np.testing.assert_array_equal(traj.goal_points(2), [[1.0, 2.0], [6.0, 3.0]])
    plot = trajectory_plot.plot_trajectory(traj, walls=walls, title="hand-built")
    path = str(tmp_path / "plots" / "t.png")
    trajectory_plot.save_png(plot, path)
    image = read_png(path)
    assert image.shape == (HEIGHT, WIDTH, 3) == plot.image.shape
    np.testing.assert_array_equal(image, plot.image)
    # Equal scales: one world unit is as many pixels along x as along y.
    (r0, c0), (r1, c1), (r2, c2) = plot.pixels([[0, 0], [1, 0], [0, 1]])
    assert c1 - c0 == pytest.approx(r0 - r2, rel=1e-6) and c1 - c0 > 10 and r1 == r0 and c2 == c0
    # Every wall's centre and points near its corners are wall grey.
    for x0, y0, x1, y1 in walls:
        for fx, fy in [(0.5, 0.5), (0.1, 0.1), (0.9, 0.9), (0.1, 0.9)]:
            p = (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0))
            np.testing.assert_array_equal(pixel(plot, image, p), GREY, err_msg=str(p))
    # Each level's goal marker, in its colour, at its goal; level 0's star at the context. Level 2's
    # first goal (step 0) is faint, GOAL_ALPHA_FIRST of its colour over white; its last is opaque.
    np.testing.assert_allclose(pixel(plot, image, (8.0, 6.0)), rgb(0), atol=8)
    np.testing.assert_allclose(pixel(plot, image, (4.0, -4.0)), rgb(1), atol=8)
    np.testing.assert_allclose(pixel(plot, image, (1.0, 2.0)), faded(2, 0.2), atol=8)
    np.testing.assert_allclose(pixel(plot, image, (6.0, 3.0)), rgb(2), atol=8)
    # The target disc (translucent green over white) around the context, outside the star.
    r, g, b = pixel(plot, image, (8.0, 6.0 - 1.2))
    assert g > 200 and r < 200 and b < 200
    # The path: dark pixels on the line y = 0 between the markers, white paper off it.
    assert pixel(plot, image, (2.5, 0.0)).max() < 120
    np.testing.assert_array_equal(pixel(plot, image, (3.0, -6.5)), [255, 255, 255])
    # Level 2's colour only where its goals are: none below y = -1 (world), left of the legend.
    cyan = np.all(np.abs(image.astype(int) - rgb(2)) <= 8, axis=-1)
    (row, _), (_, legend) = plot.pixels([[0.0, -1.0], [12.0, 0.0]])
    assert cyan[:int(row)].any() and not cyan[int(row):, :int(legend)].any()


def build(gin_files, max_episode_steps, extra=()):
    parse_gin(gin_files, TINY + list(extra))
    env = make_env(RunSettings().env_id, max_episode_steps=max_episode_steps)
    return env, build_agent(env, seed=0)


def test_evaluation_records_every_goal_where_it_was_set():
    env, agent = build(["envs/point_maze.gin", "methods/three_level_cg.gin"], 20,
                       ["Hierarchy.periods = (3, 2)"])
    h = agent.hierarchy
    assert h.env_steps_per_step[:2] == [6, 2]
    rng_state = agent.rng.bit_generator.state
    plain = evaluation.evaluate(agent, env, episodes_per_context=2)
    trajectories = []
    traced = evaluation.evaluate(agent, env, episodes_per_context=2, trajectories=trajectories)
    assert traced == plain                        # recording changes nothing ...
    assert agent.rng.bit_generator.state == rng_state   # ... and draws no random number
    assert len(trajectories) == 3                 # the first episode of each context
    for traj, ctx in zip(trajectories, plain["per_context"]):
        assert traj.context.tolist() == ctx["context"] and traj.success_radius == 5.0
        assert traj.episode_return == pytest.approx(ctx["returns"][0], rel=1e-6)
        assert traj.goal_steps(0).tolist() == [0]
        np.testing.assert_allclose(traj.goal_points(0), [ctx["context"]])
        assert traj.goal_steps(1).tolist() == [0, 6, 12, 18]
        assert traj.goal_steps(2).tolist() == list(range(0, 20, 2))
    # Oracle: the same episode stepped by hand; a level's goal is s[I] + g at the step its parent
    # set it (origin_states / origin_goals change), and the path is the observation's (x, y).
    traj = trajectories[1]
    obs, _ = env.reset(seed=1000, options={"context": np.float32([16.0, 16.0])})
    ep = agent.begin_episode(obs["observation"], obs["context"], training=False)
    path, goals = [obs["observation"][:2]], {1: [], 2: []}
    for t in range(20):
        before = ep.origin_states.copy(), ep.origin_goals.copy()
        agent.act(ep)
        for i in (1, 2):
            if t == 0 or not (np.array_equal(before[0][i], ep.origin_states[i])
                              and np.array_equal(before[1][i], ep.origin_goals[i])):
                goals[i].append(ep.origin_states[i][:2] + ep.origin_goals[i][:2])
        obs, reward, term, trunc, _ = env.step(ep.actions[-1])
        agent.observe(ep, reward, obs["observation"], term, trunc)
        path.append(obs["observation"][:2])
    np.testing.assert_allclose(traj.path, path, rtol=1e-6)
    for i in (1, 2):
        np.testing.assert_allclose(traj.goal_points(i), goals[i], rtol=1e-5, atol=1e-5)
    env.close()


def test_write_plots_of_a_real_evaluation(tmp_path):
    env, agent = build(["envs/point_maze.gin", "methods/hrl_cg.gin"], 12,
                       ["Hierarchy.periods = (3,)"])
    trajectories = []
    evaluation.evaluate(agent, env, episodes_per_context=1, contexts=[(16.0, 16.0), (0.0, 16.0)],
                        trajectories=trajectories)
    plots = trajectory_plot.write_plots(trajectories, directory=str(tmp_path), step=42, env=env)
    names = sorted(os.listdir(tmp_path))
    assert names == [files.trajectory_plot_file(42, k) for k in (0, 1)] == \
        ["trajectory_42_ctx0.png", "trajectory_42_ctx1.png"]
    walls = env.unwrapped.wall_rectangles()
    for plot, traj in zip(plots, trajectories):
        image = read_png(plot.path)
        assert image.shape == (HEIGHT, WIDTH, 3)
        # The low level's last goal (drawn last, on top) shows in its colour where it lies.
        np.testing.assert_allclose(pixel(plot, image, traj.goal_points(1)[-1]), rgb(1), atol=8)
        np.testing.assert_allclose(pixel(plot, image, traj.context), rgb(0), atol=8)
        # Wall centres far from every marker are grey: the U-maze's bottom wall row, e.g.
        np.testing.assert_array_equal(pixel(plot, image, (24.0, -8.0)), GREY)
        x0, y0, x1, y1 = walls[0]
        np.testing.assert_array_equal(pixel(plot, image, (x0 + 1, y0 + 1)), GREY)
    env.close()


def test_no_pictures_without_a_world_position():
    env, agent = build(["base.gin", "methods/flat.gin"], 5, ["train.env_id = 'Pendulum-v1'"])
    assert trajectory_plot.world_xy_indices(env) is None
    trajectories = []
    evaluation.evaluate(agent, env, episodes_per_context=1, trajectories=trajectories)
    assert trajectories == []
    env.close()


def image_summaries(tensorboard_dir):
    """{(tag, step): PNG bytes} of every image summary in the run's event files."""
    found = {}
    for path in sorted(glob.glob(os.path.join(tensorboard_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    width, height, png = tf.make_ndarray(value.tensor)
                    assert (int(width), int(height)) == (WIDTH, HEIGHT)
                    found[(value.tag, event.step)] = png
    return found


def test_training_writes_a_picture_per_context_at_each_evaluation(tmp_path):
    runs = {}
    for plots in (True, False):
        gin.clear_config()
        root = str(tmp_path / f"plots_{plots}")
        parse_gin(POINT, TINY + NO_TRAINING + [
            "train.total_steps = 100", "train.eval_interval = 100", "train.checkpoint_interval = 100",
            f"train.trajectory_plots = {plots}"])
        train(root)
        runs[plots] = root
    root = runs[True]
    expected = [files.trajectory_plot_file(step, k) for step in (0, 100) for k in range(4)]
    assert sorted(os.listdir(os.path.join(root, "plots"))) == sorted(expected)
    images = image_summaries(os.path.join(root, "tensorboard"))
    assert sorted(images) == sorted((f"trajectory/context_{k}", s) for s in (0, 100)
                                    for k in range(4))
    for (tag, step), png in images.items():
        k = int(tag.rsplit("_", 1)[1])
        on_disk = read_png(os.path.join(root, "plots", files.trajectory_plot_file(step, k)))
        assert on_disk.shape == (HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), on_disk)
    # Turned off: no pictures; and drawing them changed nothing of the run.
    off = runs[False]
    assert not os.path.exists(os.path.join(off, "plots"))
    assert image_summaries(os.path.join(off, "tensorboard")) == {}
    for name in (files.EVAL_METRICS, files.TRAIN_METRICS):
        assert metric_rows(root, name) == metric_rows(off, name)


def item_rgb(kind):
    return [round(255 * c) for c in trajectory_plot.ITEM_COLORS[kind]]


def test_map_items_of_the_block_tasks_and_gather():
    import envs

    push = envs.AntPush()
    push.reset(seed=0)
    # AntPush's block "P" rests at (0, 8), 8 x 8; no chasm.
    assert push.map_items() == [("block", -4.0, 4.0, 4.0, 12.0)]
    fall = envs.AntFall()
    fall.reset(seed=0)
    # AntFall: the chasm row y = 16 (cells x 0 and 8 merged), and the block (7.92 wide) at (8, 8).
    chasm, block = fall.map_items()
    assert chasm == ("chasm", -4.0, 12.0, 12.0, 20.0)
    assert block.kind == "block"
    np.testing.assert_allclose(block[1:], [4.04, 4.04, 11.96, 11.96], atol=1e-6)
    assert envs.AntMaze().map_items() == []
    gather = envs.AntGather()
    gather.reset(seed=0, options={"apples": [[2.0, 4.0]], "bombs": [[-6.0, 0.0], [8.0, 8.0]]})
    assert gather.map_items() == [("apple", 2.0, 4.0, 2.0, 4.0), ("bomb", -6.0, 0.0, -6.0, 0.0),
                                  ("bomb", 8.0, 8.0, 8.0, 8.0)]
    for env in (push, fall, gather):
        env.close()


def test_the_png_shows_blocks_chasms_and_objects(tmp_path):
    traj = hand_built()
    traj.items_start = [("block", 2.0, 3.0, 4.0, 5.0), ("chasm", -2.0, -6.0, 2.0, -3.0),
                        ("apple", 9.3, -2.7, 9.3, -2.7), ("bomb", 5.0, -5.0, 5.0, -5.0)]
    # At the end the block has moved right by 3 and the apple was collected.
    traj.items_end = [("block", 5.0, 3.0, 7.0, 5.0), ("chasm", -2.0, -6.0, 2.0, -3.0),
                      ("bomb", 5.0, -5.0, 5.0, -5.0)]
    plot = trajectory_plot.plot_trajectory(traj)
    path = str(tmp_path / "items.png")
    trajectory_plot.save_png(plot, path)
    image = read_png(path)
    # The chasm is filled light blue; the block filled (orange over white) where it ended, only
    # outlined (white inside, orange on the dashed edge) where it started.
    np.testing.assert_allclose(pixel(plot, image, (0.0, -4.5)), item_rgb("chasm"), atol=3)
    r, g, b = pixel(plot, image, (6.5, 4.5))
    assert r > 200 and 120 < g < 190 and b < 110
    np.testing.assert_array_equal(pixel(plot, image, (2.6, 3.4)), [255, 255, 255])   # off grid lines
    assert any(np.allclose(pixel(plot, image, (2.0, y)), item_rgb("block"), atol=40)
               for y in np.linspace(3.1, 4.9, 12))
    # The bomb left at the end: a filled red dot; the collected apple: a hollow green circle.
    np.testing.assert_allclose(pixel(plot, image, (5.0, -5.0)), item_rgb("bomb"), atol=8)
    np.testing.assert_array_equal(pixel(plot, image, (9.3, -2.7)), [255, 255, 255])
    (row, col), = plot.pixels([[9.3, -2.7]])
    ring = image[int(row) - 6:int(row) + 7, int(col) - 6:int(col) + 7].reshape(-1, 3).astype(int)
    assert (np.abs(ring - item_rgb("apple")).max(axis=1) <= 40).any()


def test_an_evaluation_of_ant_push_records_the_block(tmp_path):
    env, agent = build(["envs/ant_push.gin", "methods/hrl_cg.gin"], 3)
    trajectories = []
    evaluation.evaluate(agent, env, episodes_per_context=1, trajectories=trajectories)
    (traj,) = trajectories
    assert traj.items_start == [("block", -4.0, 4.0, 4.0, 12.0)]
    assert len(traj.items_end) == 1 and traj.items_end[0].kind == "block"
    plot, = trajectory_plot.write_plots(trajectories, directory=str(tmp_path), step=0, env=env)
    r, g, b = pixel(plot, read_png(plot.path), (0.0, 10.0))   # inside the block, off the path
    assert r > 200 and 120 < g < 190 and b < 110
    env.close()


def test_goals_fade_with_the_step_they_were_set_at(tmp_path):
    # Linear in the step from GOAL_ALPHA_FIRST = 0.2 (first) to 1 (last): steps 0, 10, 20, 40 ->
    # 0.2 + 0.8 * (0, 1/4, 1/2, 1).
    np.testing.assert_allclose(trajectory_plot.goal_alphas([0, 10, 20, 40]), [0.2, 0.4, 0.6, 1.0])
    np.testing.assert_allclose(trajectory_plot.goal_alphas([5, 5]), [1.0, 1.0])
    assert trajectory_plot.goal_alphas([]).shape == (0,)
    # 0.2 + 0.8 * 1.0 rounds to 1.0000000000000002 for these steps (matplotlib refuses it).
    assert trajectory_plot.goal_alphas([0, 12, 24, 36, 48]).max() == 1.0
    traj = hand_built()
    for t in (5, 6, 7):   # level 2: goals at steps 0, 4, 5, 6, 7 -> 0.2 + 0.8 * t / 7
        traj.add_goal(2, t, [float(t), -2.0])
    plot = trajectory_plot.plot_trajectory(traj)
    image = plot.image
    for t in (5, 6, 7):   # 2 pixels right of each centre, off the (vertical) line to the goal
        (row, col), = plot.pixels([[float(t), -2.0]])
        np.testing.assert_allclose(image[int(row), int(col) + 2], faded(2, 0.2 + 0.8 * t / 7), atol=8)
    # The colour bar of level 2 (the only level with goals at several steps) in the right-hand
    # column: faint at its left end (step 0), opaque at its right end (step 7), inside its frame.
    left, bottom, width, height = trajectory_plot._COLOR_BAR_BOX
    row = int(HEIGHT * (1 - bottom - height / 2))
    np.testing.assert_allclose(image[row, int(WIDTH * left) + 4], faded(2, 0.2), atol=8)
    np.testing.assert_allclose(image[row, int(WIDTH * (left + width)) - 4], rgb(2), atol=8)


@pytest.mark.parametrize("name", ["PointMaze_Medium-v3", "AntMaze_Large_Diverse_GRDense-v5",
                                  "x" * 150])
def test_titles_are_never_clipped(name):
    """The title's rendered extent lies inside the figure, above the axes, and holds its text."""
    title = f"{name} at step 1000000, context 2 (-4.75, -3.25), failure, return -1234.5"
    plot = trajectory_plot.plot_trajectory(hand_built(), title=title)
    x0, y0, x1, y1 = plot.title_box
    axes_top = HEIGHT * (trajectory_plot._AXES_BOX[1] + trajectory_plot._AXES_BOX[3])
    assert 0 <= x0 < x1 <= WIDTH and axes_top <= y0 < y1 <= HEIGHT, plot.title_box
    # Dark text pixels inside the box (rows counted from the top), none outside it above the axes
    # (less 10 rows: the top tick label of the y axis stands half above them).
    dark = plot.image[:int(HEIGHT - axes_top) - 10].max(axis=-1) < 128
    inside = np.zeros_like(dark)
    inside[int(HEIGHT - y1):int(np.ceil(HEIGHT - y0)), int(x0):int(np.ceil(x1))] = True
    assert dark[inside].any() and not dark[~inside].any()


def test_an_adapted_maze_is_drawn_with_its_walls(tmp_path):
    env, agent = build(["base.gin", "methods/hrl_cg.gin"], 10,
                       ["train.env_id = 'PointMaze_UMaze-v3'"])
    walls = env.unwrapped.wall_rectangles()     # U_MAZE's six merged wall rectangles, cells of 1
    assert len(walls) == 6 and walls[0] == (-2.5, 1.5, 2.5, 2.5)
    trajectories = []
    evaluation.evaluate(agent, env, episodes_per_context=1, trajectories=trajectories)
    plot, = trajectory_plot.write_plots(trajectories, directory=str(tmp_path), step=3, env=env)
    image = read_png(plot.path)
    for corner in [(-2.0, 2.0), (2.0, -2.0)]:   # outer wall cells, far from the open cells
        np.testing.assert_array_equal(pixel(plot, image, corner), GREY)
    assert trajectories[0].success_radius == 0.45
    env.close()


def test_wide_tick_labels_are_not_cut_at_the_left_edge():
    """A frame whose y ticks read "-10.0" (which stuck out of the figure's left edge by a few pixels
    before) moves the plot right: the figure's two left-most columns stay white paper."""
    t = Trajectory(xy_indices=(0, 1), level_names=["top", "low"], context=np.array([-3.6, -3.2]),
                   success_radius=0.45)
    t.add_point([0.0, -0.8])
    t.add_goal(0, 0, [-3.6, -3.2])
    t.add_goal(1, 0, [10.1, 1.9])
    t.add_point([4.5, 0.8])
    t.add_goal(1, 1, [-5.2, -5.2])
    walls = [(-6.0, -4.5, 6.0, 4.5)]
    plot = trajectory_plot.plot_trajectory(t, walls=walls)
    assert plot.image[:, :2].min() == 255
    (_, left), = plot.pixels([[-6.0, 0.0]])
    assert plot.image[:, :int(left) - 40].min() < 128        # the y label, left of the tick labels
