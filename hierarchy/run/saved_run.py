"""Evaluating a saved run: a checkpoint of a run directory, under the run's gin configuration."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from absl import logging

from hierarchy.plots import trajectory_plot
from hierarchy.plots.video import VideoSettings
from hierarchy.run import checkpointing, evaluation, files, metrics
from hierarchy.run.assembly import make_envs_and_agent
from hierarchy.run.files import atomic_write_text
from hierarchy.run.runner import EVAL_SEED_OFFSET
from hierarchy.run.settings import RunSettings


def evaluate_run(root_dir: str, *, episodes_per_context: int | None = None,
                 checkpoint: str | None = None, video: VideoSettings | None = None,
                 trajectory_plots: bool = True) -> Dict[str, Any]:
    """Evaluates a run's checkpoint (default: the newest) under the current gin configuration
    (parse the run's `config.gin` first); writes `root_dir/evaluation_<step>.json`, named after the
    checkpoint's step (so evaluating several checkpoints keeps every result), and returns it.
    With `trajectory_plots`, also draws the first episode of every evaluation context from above
    into `root_dir/plots/evaluation_<step>_ctx<k>.png` (`hierarchy.plots.trajectory_plot`); the result's
    "trajectory_plots" lists their paths. With `video` (`hierarchy.plots.video.VideoSettings`), films the
    episodes it chooses into its file; the result's "video" is the file's path. The paths of the
    result ("checkpoint", "trajectory_plots", "video") are relative to `root_dir` (`run_relative`),
    so that a run directory moved or copied elsewhere still names its own files.

    The evaluation episodes are those of the run's own evaluations (same seeds), so the newest
    checkpoint of a finished run evaluates like the run's final evaluation.

    Raises:
      FileNotFoundError: no complete checkpoint at `checkpoint` (or in the run).
      ConfigurationError: the configuration cannot be built.
      VideoSettingsError: the video asks for a context or episode the evaluation does not have, or
        a camera the environment cannot use; raised before anything is evaluated or written.
    """
    settings = RunSettings()
    env, agent, path, state = restore_run(root_dir, checkpoint=checkpoint, weights_only=True,
                                          render_mode="rgb_array" if video else None)
    try:
        n = episodes_per_context or settings.eval_episodes_per_context
        trajectories = [] if trajectory_plots else None
        result = evaluation.evaluate(agent, env, episodes_per_context=n,
                                     seed=settings.seed + EVAL_SEED_OFFSET, video=video,
                                     trajectories=trajectories)
        plots = trajectory_plot.write_plots(
            trajectories or [], directory=os.path.join(root_dir, files.PLOTS),
            step=state.step, env=env, prefix="evaluation")
    finally:
        env.close()
    out = metrics.jsonable({"checkpoint": run_relative(path, root_dir), "step": state.step,
                            "env_id": settings.env_id, "episodes_per_context": n,
                            "video": video and run_relative(video.path, root_dir),
                            "trajectory_plots": [run_relative(p.path, root_dir) for p in plots],
                            **result})
    atomic_write_text(os.path.join(root_dir, files.evaluation_file(state.step)),
                      json.dumps(out, indent=1) + "\n")
    return out


def run_relative(path: str, root_dir: str) -> str:
    """`path` relative to `root_dir` when it lies inside it, else `path` as given."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root_dir))
    return path if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def restore_run(root_dir: str, *, checkpoint: str | None = None, weights_only: bool = False,
                render_mode: str | None = None):
    """The environment and agent of a run under the current gin configuration (parse the run's
    `config.gin` first), restored from a checkpoint (default: the newest complete one).

    Returns:
      (env, agent, checkpoint path, its `checkpointing.LoopState`); the caller closes `env`. With
      `weights_only`, only the variables are restored (enough to act), else the replay buffers and
      counters too.

    Without `checkpoint`, a damaged newest checkpoint (or one that the training process deleted
    while it was read) is skipped with a warning for the newest intact one; nothing is moved.

    Raises:
      FileNotFoundError: no complete checkpoint at `checkpoint` (or in the run).
      checkpointing.NoIntactCheckpointError: every candidate checkpoint is damaged.
      ConfigurationError: the configuration cannot be built.
    """
    settings = RunSettings()
    ckpt = checkpointing.Checkpointer(os.path.join(root_dir, files.CHECKPOINTS))
    if checkpoint is not None:
        candidates = [checkpoint]
    else:   # the newest first; the pointer's choice leads if it names a complete checkpoint
        newest = ckpt.latest()
        candidates = [newest] + [p for _, p in reversed(ckpt.complete()) if p != newest] if newest else []
    for path in candidates:
        if not os.path.isfile(os.path.join(path, checkpointing.LOOP_STATE)):
            raise FileNotFoundError(f"no complete checkpoint found at {path}")
    if not candidates:
        raise FileNotFoundError(f"no complete checkpoint found in {ckpt.directory}")
    # A saved configuration may scope bindings by levels of other depths (older environment files
    # bound both `top/` and `flat/`): they are logged, not refused.
    (env,), agent = make_envs_and_agent(settings.env_id,
                                        max_episode_steps=settings.max_episode_steps,
                                        seed=settings.seed, count=1, render_mode=render_mode,
                                        other_depths="allow")
    damaged = []
    try:
        for path in candidates:
            try:
                state = ckpt.restore(path, agent, weights_only=weights_only)
            except checkpointing.READ_ERRORS as e:
                damaged.append(f"{path} ({checkpointing.reason(e)})")
                continue
            if damaged:
                logging.warning("Checkpoint %s is damaged (or was deleted while read); used %s "
                                "instead.", "; ".join(damaged), path)
            return env, agent, path, state
    except BaseException:
        env.close()
        raise
    env.close()
    raise checkpointing.NoIntactCheckpointError(
        f"no intact checkpoint to evaluate: {'; '.join(damaged)}. Nothing was written.")
