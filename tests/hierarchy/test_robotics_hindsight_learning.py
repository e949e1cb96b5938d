"""Learning with hindsight on an adapted gymnasium-robotics task: flat TD3 on the sparse
PointMaze_UMaze-v3 (reward 1 within 0.45 of the goal, else 0; horizon 300), the setup of
`gin/demo/point_maze_robotics_hindsight.gin` ((64, 64) networks, Adam 1e-3, 2,000 warm-up steps,
`Agent.hindsight_context = 0.8`: the context relabelled, and its reward recomputed by the task's
own `compute_reward`), against the same setup without hindsight (`Agent.hindsight_context = 0`).

Both arms are evaluated every `EVAL_EVERY` environment steps, up to `BUDGET`, on the same episodes:
the three evaluation contexts of `envs/point_maze_robotics.gin`, (-1, 1), (1, 0) and (-1, -1),
four episodes each, reset with the same seeds (the start cell is drawn from the seed, away from the
goal). Success is the adapted task's rule: info["is_success"] at any step of the episode. An arm
solves the maze when an evaluation has success >= `MIN_SUCCESS` and mean return >= `MIN_RETURN`.

Measured numbers and the threshold's margins: docs/relabelling.md, section 6.

Run: `python -m pytest -q -s -m slow tests/hierarchy/test_robotics_hindsight_learning.py` (prints
every evaluation: step, success rate, mean return).
"""

import pytest
from learning import train

from hierarchy.run import evaluation
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin

EVAL_EVERY = 5_000
BUDGET = 20_000
EPISODES_PER_CONTEXT = 4
EVAL_SEED = 1_000_000
# Solved: success (at any step) in at least half the evaluation episodes and a mean return (steps
# spent within 0.45 of the goal, of 300) of at least 100, at one of the evaluations.
MIN_SUCCESS = 0.5
MIN_RETURN = 100.0


def solved(result: dict) -> bool:
    return result["success_rate"] >= MIN_SUCCESS and result["mean_return"] >= MIN_RETURN


def learning_curve(seed: int, hindsight: float) -> list:
    """(step, success rate, mean return) of flat TD3 with `hindsight` at the top, evaluated every
    EVAL_EVERY steps until solved or BUDGET steps."""
    parse_gin(["demo/point_maze_robotics_hindsight.gin"], [f"Agent.hindsight_context = {hindsight}"])
    env, eval_env = make_env("PointMaze_UMaze-v3"), make_env("PointMaze_UMaze-v3")
    curve = []
    try:
        agent = build_agent(env, seed=seed)
        for chunk in range(BUDGET // EVAL_EVERY):
            train(agent, env, EVAL_EVERY, seed=seed + chunk)
            result = evaluation.evaluate(agent, eval_env, episodes_per_context=EPISODES_PER_CONTEXT,
                                         seed=EVAL_SEED)
            assert result["success_rule"] == "any_step" and result["num_episodes"] == 12
            curve.append(((chunk + 1) * EVAL_EVERY, round(result["success_rate"], 3),
                          round(result["mean_return"], 1)))
            print(f"hindsight {hindsight}, seed {seed}: {curve[-1]}", flush=True)
            if solved(result):
                break
    finally:
        env.close()
        eval_env.close()
    return curve


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hindsight_solves_the_sparse_maze_within_the_budget(seed):
    step, success, mean_return = learning_curve(seed, 0.8)[-1]
    assert success >= MIN_SUCCESS and mean_return >= MIN_RETURN, (step, success, mean_return)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_hindsight_the_budget_is_not_enough(seed):
    curve = learning_curve(seed, 0.0)
    assert len(curve) == BUDGET // EVAL_EVERY and not any(
        success >= MIN_SUCCESS and mean_return >= MIN_RETURN for _, success, mean_return in curve)
