"""HIRO's AntPush and AntFall, and the four-rooms maze of the paper's reference code.

All three are `AntGoalMaze` tasks (envs/maze.py): the paper's Ant (envs/ant.py) in a layout built
by `envs.layout.add_maze`, the 30-dim observation (movable blocks are not observed, as in HIRO),
reward -||obs'[:d] - c||_2 for a context c of dimension d, success = distance < 5 at the final
step, horizon 500, and the 15-dim sub-goal space of AntMaze (x, y, z, quaternion, joint angles).
Where HIRO's own definition (tensorflow/models, research/efficient-hrl) and the reference code
(h-baselines, hbaselines/envs/efficient_hrl) differ, these follow HIRO's; docs/hiro_tasks.md lists
the differences.

Layouts (symbols of envs.layout; x grows with the column, y with the row, "S" at the origin):

    AntPush (cells 8)    AntFall (cells 8)    AntFourRooms (cells 2)
      #####                ####                 #############
      #.S##                #S.#                 #S....#.....#
      #.P.#                #.F#                 #...........#
      ##.##                #CC#                 #...........#
      #####                #..#                 #.....#.....#
                           ####                 #.....#.....#
                                                ##..###.....#
                                                #.....###..##
                                                #.....#.....#
                                                #...........#
                                                #...........#
                                                #.....#.....#
                                                #############
"""

from __future__ import annotations

import numpy as np

from envs.maze import AntGoalMaze, ant_task_spec

ANT_PUSH: tuple[str, ...] = (
    "#####",
    "#.S##",
    "#.P.#",
    "##.##",
    "#####",
)
ANT_FALL: tuple[str, ...] = (
    "####",
    "#S.#",
    "#.F#",
    "#CC#",
    "#..#",
    "####",
)
FOUR_ROOMS: tuple[str, ...] = (
    "#############",
    "#S....#.....#",
    "#...........#",
    "#...........#",
    "#.....#.....#",
    "#.....#.....#",
    "##..###.....#",
    "#.....###..##",
    "#.....#.....#",
    "#...........#",
    "#...........#",
    "#.....#.....#",
    "#############",
)
FOUR_ROOMS_SCALING = 2.0  # the reference code's cell size for its four-rooms maze

# Contexts: HIRO's "multi" configurations train on targets drawn uniformly from a box and
# evaluate on one target; the four rooms train and evaluate on three targets.
PUSH_CONTEXT_LOW, PUSH_CONTEXT_HIGH = (-16.0, -4.0), (16.0, 20.0)
PUSH_EVAL_CONTEXTS = ((0.0, 19.0),)
FALL_CONTEXT_LOW, FALL_CONTEXT_HIGH = (-4.0, -4.0, 0.0), (12.0, 28.0, 5.0)
FALL_EVAL_CONTEXTS = ((0.0, 27.0, 4.5),)
FOUR_ROOMS_TARGETS = ((20.0, 0.0), (0.0, 20.0), (20.0, 20.0))



class AntPush(AntGoalMaze):
    """HIRO's AntPush: push the block aside to reach the target (0, 19) behind it.

    - World: the ANT_PUSH layout, cells 8 x 8, walls 4 tall. The block "P" fills cell (0, 8)
      (8 x 8 x 4, mass 0.0002) and slides freely along x and y (no joint limits); it does not
      rotate or rise. The way to the target is to push it sideways, e.g. from (-8, 8) towards
      (8, 8), and walk up through (0, 8); pushing it north into (0, 16) blocks the target.
    - Context: (x, y) target, uniform in [-16, 16] x [-4, 20] for training; evaluation (0, 19).
    - Reward -||xy - c||_2; success distance < 5 at the final step (of 500).
    """

    LAYOUT = ANT_PUSH
    task_spec = ant_task_spec(PUSH_CONTEXT_LOW, PUSH_CONTEXT_HIGH, PUSH_EVAL_CONTEXTS)


class AntFall(AntGoalMaze):
    """HIRO's AntFall: push the block into the chasm and cross on it to (0, 27) at height 4.5.

    - World: the ANT_FALL layout, cells 8 x 8. The floor is raised: its top is at z = 4 everywhere
      but the chasm cells (0, 16) and (8, 16), whose floor is the ground (z = 0); walls rise to
      z = 8 and the ant starts with its torso at z = 4.75. The block "F" (7.92 x 7.92 x 4, mass
      0.001) rests at (8, 8) with its centre at z = 6; it slides along y within [-8, +8] of its
      start and along z within [-4, 0], not along x. Pushed 8 north it sits over the chasm cell
      (8, 16) and drops 4, its top flush with the floor (z = 4): a bridge to (8, 24).
    - Context: (x, y, z) target, uniform in [-4, 12] x [-4, 28] x [0, 5] for training; evaluation
      (0, 27, 4.5). The target includes the torso height (the floor top is at z = 4).
    - Reward -||xyz - c||_2; success distance < 5 at the final step (of 500).
    """

    LAYOUT = ANT_FALL
    TARGET_DIMS = 3
    task_spec = ant_task_spec(FALL_CONTEXT_LOW, FALL_CONTEXT_HIGH, FALL_EVAL_CONTEXTS)


class AntFourRooms(AntGoalMaze):
    """The four-rooms maze of the paper's reference code (h-baselines), with AntMaze's rules.

    - World: the FOUR_ROOMS layout, cells 2 x 2, walls 1 tall; the free area is [-1, 21]^2 and
      the ant starts at (0, 0), in the first room. Doorways are two cells (4 units) wide.
    - Context: (x, y) target, for training drawn uniformly from (20, 0), (0, 20), (20, 20) (one
      target per other room); evaluation runs each of the three. Any target in [0, 20]^2 can be
      set with options={"context": c}.
    - Reward -||xy - c||_2; success distance < 5 at the final step (of 500).
    Not HAC's task of the same name (a different maze, robot and sparse reward).
    """

    LAYOUT = FOUR_ROOMS
    SCALING = FOUR_ROOMS_SCALING
    task_spec = ant_task_spec((0.0, 0.0), (20.0, 20.0), FOUR_ROOMS_TARGETS)

    def _draw_context(self) -> np.ndarray:
        """One of the three targets, uniformly, float64 [2]."""
        targets = self.task_spec.eval_contexts
        return np.array(targets[self.np_random.integers(len(targets))], np.float64)
