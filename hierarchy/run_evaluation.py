"""Evaluating a saved run: a checkpoint of a run directory, under the run's gin configuration."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from hierarchy import checkpointing, evaluation, metrics, run_files, trajectory_plot
from hierarchy.experiment import make_envs_and_agent
from hierarchy.files import atomic_write_text
from hierarchy.runner import EVAL_SEED_OFFSET, train_settings


def evaluate_run(root_dir: str, *, episodes_per_context: int | None = None,
                 checkpoint: str | None = None, video_path: str | None = None,
                 trajectory_plots: bool = True) -> Dict[str, Any]:
    """Evaluates a run's checkpoint (default: the newest) under the current gin configuration
    (parse the run's `config.gin` first); writes `root_dir/evaluation_<step>.json`, named after the
    checkpoint's step (so evaluating several checkpoints keeps every result), and returns it.
    With `trajectory_plots`, also draws the first episode of every evaluation context from above
    into `root_dir/plots/evaluation_<step>_ctx<k>.png` (`hierarchy.trajectory_plot`); the result's
    "trajectory_plots" lists their paths.

    The evaluation episodes are those of the run's own evaluations (same seeds), so the newest
    checkpoint of a finished run evaluates like the run's final evaluation.

    Raises:
      FileNotFoundError: no complete checkpoint at `checkpoint` (or in the run).
      ConfigurationError: the configuration cannot be built.
    """
    settings = train_settings()
    env, agent, path, state = restore_run(root_dir, checkpoint=checkpoint, weights_only=True,
                                          render_mode="rgb_array" if video_path else None)
    try:
        n = episodes_per_context or settings["eval_episodes_per_context"]
        trajectories = [] if trajectory_plots else None
        result = evaluation.evaluate(agent, env, episodes_per_context=n,
                                     seed=settings["seed"] + EVAL_SEED_OFFSET, video_path=video_path,
                                     trajectories=trajectories)
        plots = trajectory_plot.write_plots(
            trajectories or [], directory=os.path.join(root_dir, run_files.PLOTS),
            step=state["step"], env=env, prefix="evaluation")
    finally:
        env.close()
    out = metrics.jsonable({"checkpoint": os.path.abspath(path), "step": state["step"],
                            "env_id": settings["env_id"], "episodes_per_context": n,
                            "video": video_path,
                            "trajectory_plots": [os.path.abspath(p.path) for p in plots], **result})
    atomic_write_text(os.path.join(root_dir, run_files.evaluation_file(state["step"])),
                      json.dumps(out, indent=1) + "\n")
    return out


def restore_run(root_dir: str, *, checkpoint: str | None = None, weights_only: bool = False,
                render_mode: str | None = None):
    """The environment and agent of a run under the current gin configuration (parse the run's
    `config.gin` first), restored from a checkpoint (default: the newest complete one).

    Returns:
      (env, agent, checkpoint path, loop state); the caller closes `env`. With `weights_only`, only
      the variables are restored (enough to act), else the replay buffers and counters too.

    Raises:
      FileNotFoundError: no complete checkpoint at `checkpoint` (or in the run).
      ConfigurationError: the configuration cannot be built.
    """
    settings = train_settings()
    ckpt = checkpointing.Checkpointer(os.path.join(root_dir, run_files.CHECKPOINTS))
    path = checkpoint or ckpt.latest()
    if path is None or not os.path.isfile(os.path.join(path, checkpointing.LOOP_STATE)):
        raise FileNotFoundError(f"no complete checkpoint found at {path or ckpt.directory}")
    (env,), agent = make_envs_and_agent(settings["env_id"],
                                        max_episode_steps=settings["max_episode_steps"],
                                        seed=settings["seed"], count=1, render_mode=render_mode)
    try:
        state = ckpt.restore(path, agent, weights_only=weights_only)
    except BaseException:
        env.close()
        raise
    return env, agent, path, state
