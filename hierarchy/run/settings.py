"""A run's settings: the gin bindings `train.<name>`, read once into one frozen `RunSettings`.

    config.parse_gin(["envs/point_reach.gin"], ["train.total_steps = 20000"])
    settings = RunSettings()          # every train.* binding, the defaults for the others
    settings.total_steps              # 20000

`RunSettings` is the gin configurable `train` (its full selector, `hierarchy.run.runner.train`, is
the one the training function had, so every gin file and every saved config.gin binds it unchanged).
Constructing it reads the bindings; keyword arguments override them, as for any configurable.
Every reader of a run's settings (the training loop, evaluating or exporting a saved run, the
benchmarks) holds one such value instead of looking up bindings itself.
"""

from __future__ import annotations

import dataclasses

import gin

DEFAULT_TOTAL_STEPS = 1_000_000   # `total_steps` when no binding gives it (config.gin without one)


@gin.configurable("train", module="hierarchy.run.runner")
@dataclasses.dataclass(frozen=True)
class RunSettings:
    """The settings of a training run (`hierarchy.run.runner.train`), bound in gin as `train.<name>`.

    Attributes:
      env_id: gymnasium id; environments without dict observations get `NoContext` (flat TD3 only).
      max_episode_steps: horizon; None keeps the environment's registered one (its task's).
      total_steps: environment steps of training (warm-up included). An episode still running at
        this step is cut off and not logged.
      eval_interval: evaluate at the first episode boundary at or after every multiple of this.
      eval_episodes_per_context: evaluation episodes per evaluation context of the task (per run,
        for a task without contexts). The paper evaluates every 50,000 steps over 50 episodes.
      eval_at_start: also evaluate the untrained agent at step 0.
      checkpoint_interval: checkpoint at the first episode boundary at or after every multiple of
        this, and at the end.
      keep_checkpoints: how many checkpoints to keep.
      log_interval: environment steps between progress lines.
      recent_episodes: training episodes averaged in the progress line.
      seed: seeds the networks, the agent's generator, and the environment resets.
      trajectory_plots: at each evaluation, draw the first episode of every evaluation context from
        above (`hierarchy.plots.trajectory_plot`) into `plots/` and TensorBoard (about 0.2 s a picture).
    """

    env_id: str = "hierarchy/PointReach-v0"
    max_episode_steps: int | None = None
    total_steps: int = DEFAULT_TOTAL_STEPS
    eval_interval: int = 50_000
    eval_episodes_per_context: int = 10
    eval_at_start: bool = True
    checkpoint_interval: int = 50_000
    keep_checkpoints: int = 2
    log_interval: int = 1000
    recent_episodes: int = 20
    seed: int = 0
    trajectory_plots: bool = True
