"""Raw environment throughput: the hierarchy/ Ant tasks and gymnasium's Ant-v5.

Steps the unwrapped environments (no TimeLimit / checker wrappers) with the same pre-drawn
uniform random actions (rescaled to each action space), interleaving the environments in every
repeat (A B C A B C ...) so that machine noise hits all of them alike, and prints the median
steps/s of each, the ratio of its median to Ant-v5's, and the paired ratio: the median (and
quartiles) over repeats of its steps/s divided by Ant-v5's in the same repeat. Short repeats
(the default 500 steps, about a quarter of a second) with many rounds keep each pair close in time,
which matters on a machine whose speed drifts.

Usage (from the repository root):
    python -m benchmarks.performance.env_throughput [--steps 500] [--repeats 21] [--clock wall|cpu]
`--clock cpu` times with this process's CPU time (time.process_time) instead of wall time: on a
machine shared with other jobs it leaves out the time the process waits for a core (it still
feels their cache and memory traffic).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time

import gymnasium as gym
import numpy as np

ENV_IDS = (
    "hierarchy/AntMaze-v0",
    "hierarchy/AntGather-v0",
    "hierarchy/AntPush-v0",
    "hierarchy/AntFall-v0",
    "hierarchy/AntFourRooms-v0",
    "Ant-v5",
)
REFERENCE = "Ant-v5"


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def steps_per_second(env: gym.Env, unit_actions: np.ndarray, clock=time.perf_counter) -> float:
    """Steps `env` through `unit_actions` ([n, act_dim] in [-1, 1]); returns steps/s by `clock`."""
    low, high = env.action_space.low, env.action_space.high
    actions = (low + (unit_actions + 1.0) * 0.5 * (high - low)).astype(np.float32)
    env.reset(seed=0)
    start = clock()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (clock() - start)


def paired_ratios(values: list[float], reference: list[float]) -> tuple[float, float, float]:
    """(median, lower quartile, upper quartile) of values[r] / reference[r] over repeats r."""
    if len(values) != len(reference) or not values:
        raise ValueError(f"need equally many repeats, got {len(values)} and {len(reference)}")
    ratios = [v / ref for v, ref in zip(values, reference, strict=True)]
    if len(ratios) == 1:
        return ratios[0], ratios[0], ratios[0]
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
    return statistics.median(ratios), low, high


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="env steps per measurement")
    parser.add_argument("--repeats", type=int, default=21, help="measurements per env")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (see the module docstring)")
    args = parser.parse_args(argv)

    importlib.import_module("envs")   # registers the hierarchy/ ids

    environments = {env_id: gym.make(env_id).unwrapped for env_id in ENV_IDS}
    rng = np.random.default_rng(0)
    unit_actions = rng.uniform(-1.0, 1.0, size=(args.steps, 8))
    for env in environments.values():  # warm-up (first-call allocations, caches)
        steps_per_second(env, unit_actions[:100])

    results: dict[str, list[float]] = {env_id: [] for env_id in ENV_IDS}
    for _ in range(args.repeats):
        for env_id, env in environments.items():
            results[env_id].append(steps_per_second(env, unit_actions, CLOCKS[args.clock]))

    reference = statistics.median(results[REFERENCE])
    print(f"{'env':<30}{'median steps/s':>16}{'min':>10}{'max':>10}{'x ' + REFERENCE:>12}"
          f"{'paired x':>10}{'quartiles':>13}")
    for env_id, values in results.items():
        median = statistics.median(values)
        paired, low, high = paired_ratios(values, results[REFERENCE])
        print(
            f"{env_id:<30}{median:>16.0f}{min(values):>10.0f}{max(values):>10.0f}"
            f"{median / reference:>12.2f}{paired:>10.2f}{low:>8.2f}-{high:.2f}"
        )
    for env in environments.values():
        env.close()


if __name__ == "__main__":
    main()
