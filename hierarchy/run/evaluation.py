"""Evaluation of an `Agent`: N deterministic episodes per evaluation context.

Evaluation episodes use `agent.begin_episode(..., training=False)`: no exploration noise, no updates,
nothing stored, and the agent's random generator is not touched, so evaluating never changes
training. Episode j of context i resets the environment with seed `seed + 1000 * i + j`, so an
evaluation is reproducible and independent of what the environment did before.

An episode's success is read from the task's `info["is_success"]` by a success rule
(`envs.task.SUCCESS_RULES`): "final_step", its value at the final step (the paper's metric for
AntMaze: within distance 5 of the target at the final step; the default of this package's tasks), or
"any_step", true if it was true after any step (the default of adapted goal-conditioned tasks, whose
episodes go on after the goal is reached). The rule is the task's `TaskSpec.success_rule` unless gin
overrides it (`success_rule.override = 'any_step'`), and every evaluation names the rule it used.
Tasks whose info has no "is_success" report None.

Asked for them, an evaluation also records the first episode of every context as a `Trajectory`
(the robot's path and every level's goals, in world x, y) for `hierarchy.plots.trajectory_plot`; only
then does it record anything, so training's episodes and unasked evaluations pay nothing.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, List, Sequence

import gin
import numpy as np
from absl import logging

from envs import hooks
from envs.task import check_success_rule
from hierarchy.plots import trajectory_plot
from hierarchy.plots.trajectory_plot import Trajectory, map_items, world_xy_indices
from hierarchy.plots.video import VideoSettings, VideoWriter
from hierarchy.run import metrics


def eval_contexts(env) -> List[Any]:
    """The contexts to evaluate on: the task's `eval_contexts`, or [None] (reset without a context)
    for an environment without a task spec or with no evaluation contexts."""
    task = hooks.published_task_spec(env)
    if task is None or not task.eval_contexts:
        return [None]
    return [tuple(c) for c in task.eval_contexts]


@gin.configurable("success_rule", denylist=["env"])
def configured_success_rule(env, *, override: str | None = None) -> str:
    """The success rule of evaluations on `env`: `override` if given (gin:
    `success_rule.override = 'any_step'`), else the task's `TaskSpec.success_rule` ("final_step"
    for an environment without a TaskSpec).

    Raises:
      ValueError: `override` is not one of SUCCESS_RULES.
    """
    if override is None:
        spec = hooks.published_task_spec(env)
        return spec.success_rule if spec is not None else "final_step"
    return check_success_rule(override, "success_rule.override")


def episode_success(step_successes: Sequence, rule: str) -> bool | None:
    """An episode's success from its steps' `info["is_success"]` (None where a step's info has
    none), in order: the final step's under "final_step", true if any step's is under "any_step";
    None without success info (at the final step, or at every step).

    Raises:
      ValueError: `rule` is not one of SUCCESS_RULES.
    """
    if check_success_rule(rule) == "final_step":
        last = step_successes[-1] if len(step_successes) else None
        return None if last is None else bool(last)
    known = [bool(s) for s in step_successes if s is not None]
    return any(known) if known else None


def goal_world_points(agent, episode) -> List[np.ndarray | None]:
    """World points of every level's latest goal, top level first.

    Level 0's goal is the context; level i > 0's is the goal its parent set last, s[I] + g for a
    relative goal g set at state s (absolute: g). A goal's first three (or two) coordinates are
    taken as the world x, y(, z): true of every goal space of the `envs` package (the position comes
    first). Goals with fewer than 2 coordinates are None.
    """
    h = agent.hierarchy
    goals = [np.asarray(episode.context, np.float64)]
    for i in range(1, h.num_levels):
        g = np.asarray(episode.origin_goals[i], np.float64)
        if h.goal_space.relative:
            g = np.asarray(episode.origin_states[i], np.float64)[list(h.goal_space.indices)] + g
        goals.append(g)
    return [None if g.shape[0] < 2 else g[:3] for g in goals]


def goal_marker_positions(agent, episode) -> List[np.ndarray | None]:
    """`goal_world_points` for `set_goal_markers`, with None for the levels below the top before the
    episode's first step (their goals have not been set yet)."""
    points = goal_world_points(agent, episode)
    return [p if k == 0 or episode.t > 0 else None for k, p in enumerate(points)]


def _record_goals(agent, episode, trajectory) -> None:
    """Adds to `trajectory` the goals set by the decision just taken at step episode.t: the context
    (level 0) at t = 0, and level i's goal wherever level i - 1 started a step of its own."""
    h, t = agent.hierarchy, episode.t
    points = goal_world_points(agent, episode)
    for i in range(h.num_levels):
        new_goal = t == 0 if i == 0 else t % h.env_steps_per_step[i - 1] == 0
        if new_goal:
            trajectory.add_goal(i, t, points[i])


def _render(agent, env, episode):
    """env.render(), with the levels' goals drawn where the environment offers goal markers."""
    inner = env.unwrapped
    if isinstance(inner, hooks.ShowsGoalMarkers):
        inner.set_goal_markers(goal_marker_positions(agent, episode))
    return env.render()


def run_episode(agent, env, *, context=None, seed: int | None = None, frames: list | None = None,
                frame_stride: int = 1, trajectory: Trajectory | None = None, success_rule: str | None = None):
    """One evaluation episode; returns (return, success or None, length), the success by
    `success_rule` (`episode_success`; default `configured_success_rule(env)`; the reset's info does
    not count). Appends rendered frames to `frames` if given (a list, or a
    `hierarchy.plots.video.VideoWriter`; the environment must have render_mode="rgb_array"): the reset's,
    every `frame_stride`-th step's and the final step's, so ceil(length / frame_stride) + 1 frames;
    frames show every level's goal where the environment has `set_goal_markers` (see
    `goal_marker_positions`).
    Records the robot's path and every goal set into `trajectory` if given (see
    `hierarchy.plots.trajectory_plot`), its context and outcome too."""
    options = None if context is None else {"context": np.asarray(context, np.float32)}
    obs, info = env.reset(seed=seed, options=options)
    episode = agent.begin_episode(obs["observation"], obs["context"], training=False)
    if frames is not None:
        frames.append(_render(agent, env, episode))
    if trajectory is not None:
        trajectory.context = np.asarray(obs["context"], np.float64)
        trajectory.add_point(obs["observation"])
        trajectory.items_start = map_items(env)
    length, step_successes = 0, []
    while True:
        action = agent.act(episode)
        if trajectory is not None:
            _record_goals(agent, episode, trajectory)
        obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(episode, reward, obs["observation"], terminated, truncated)
        length += 1
        step_successes.append(info.get("is_success"))
        if frames is not None and (length % frame_stride == 0 or terminated or truncated):
            frames.append(_render(agent, env, episode))
        if trajectory is not None:
            trajectory.add_point(obs["observation"])
        if terminated or truncated:
            break
    success = episode_success(step_successes, success_rule or configured_success_rule(env))
    if trajectory is not None:
        trajectory.success, trajectory.episode_return = success, episode.env_return
        trajectory.items_end = map_items(env)
    return episode.env_return, success, length


def evaluate(agent, env, *, episodes_per_context: int, contexts: Sequence | None = None,
             seed: int = 0, video: VideoSettings | None = None,
             trajectories: list | None = None, success_rule: str | None = None) -> Dict[str, Any]:
    """Evaluates `agent` on `env` for `episodes_per_context` episodes per context.

    Args:
      agent: a `hierarchy.Agent`.
      env: the evaluation environment (dict observations, as for training).
      episodes_per_context: N >= 1.
      contexts: the contexts (None entries: no context); default `eval_contexts(env)`.
      seed: base seed of the episodes' resets.
      video: if given, the episodes it chooses are filmed into its file (`hierarchy.plots.video`; needs
        render_mode="rgb_array"), written once the evaluation is complete.
      trajectories: if given, a `Trajectory` of the first episode of every context is appended to
        it (to draw with `hierarchy.plots.trajectory_plot`); nothing for an environment whose robot has no
        world (x, y) (`trajectory_plot.world_xy_indices` is None).
      success_rule: one of SUCCESS_RULES; default `configured_success_rule(env)`.

    Returns:
      {"mean_return", "success_rate" (None without success info), "success_rule", "num_episodes",
       "per_context": [{"context", "mean_return", "success_rate", "returns"}]}.
    """
    if episodes_per_context < 1:
        raise ValueError(f"episodes_per_context must be >= 1, got {episodes_per_context}")
    rule = configured_success_rule(env) if success_rule is None else check_success_rule(success_rule)
    contexts = eval_contexts(env) if contexts is None else list(contexts)
    if video is not None:
        video.check_evaluation(len(contexts), episodes_per_context)
    xy = None if trajectories is None else world_xy_indices(env)
    names = [lvl.level_name for lvl in agent.hierarchy.levels]
    per_context, all_returns, all_success = [], [], []
    with VideoWriter(video) if video is not None else contextlib.nullcontext() as writer:
        if writer is not None:
            writer.prepare(agent, env)
        for i, context in enumerate(contexts):
            returns, successes = [], []
            for j in range(episodes_per_context):
                record = _filmed(writer, env, i, j, context)
                trace = None
                if xy is not None and j == 0:
                    spec = hooks.published_task_spec(env)
                    trace = Trajectory(xy_indices=xy, level_names=names,
                                       success_radius=spec.success_threshold if spec else None)
                ret, success, _ = run_episode(agent, env, context=context, seed=seed + 1000 * i + j,
                                              frames=record, frame_stride=video.stride if record else 1,
                                              trajectory=trace, success_rule=rule)
                if trace is not None:
                    trajectories.append(trace)
                returns.append(ret)
                if success is not None:
                    successes.append(success)
            per_context.append({
                "context": None if context is None else [float(c) for c in context],
                "mean_return": float(np.mean(returns)),
                "success_rate": float(np.mean(successes)) if successes else None,
                "returns": [float(r) for r in returns]})
            all_returns += returns
            all_success += successes
    return {"mean_return": float(np.mean(all_returns)),
            "success_rate": float(np.mean(all_success)) if all_success else None,
            "success_rule": rule,
            "num_episodes": len(all_returns),
            "per_context": per_context}


def _filmed(writer, env, i: int, j: int, context) -> VideoWriter | None:
    """`writer` with its caption's title set if episode j of context i is filmed, else None."""
    if writer is None or not writer.settings.films(i, j):
        return None
    task = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    where = "" if context is None else " " + ", ".join(f"{c:g}" for c in context)
    writer.start_episode(f"{task}, context {i} ({where.strip()}), episode {j + 1}")
    return writer


def evaluate_in_training(agent, env, *, step: int, episodes_per_context: int, seed: int,
                         elapsed: Callable[[], float], plots_dir: str | None) -> Dict[str, Any]:
    """One evaluation of a training run at `step`: `evaluate`, then (with a `plots_dir`) the first
    episode of every context drawn from above, the TensorBoard summaries and one log line. Returns
    the `eval_metrics.jsonl` row (`elapsed()`: the run's training wall time, for its "time")."""
    start = time.monotonic()
    trajectories = [] if plots_dir else None
    result = evaluate(agent, env, episodes_per_context=episodes_per_context, seed=seed,
                      trajectories=trajectories)
    if trajectories:
        trajectory_plot.write_plots(trajectories, directory=plots_dir, step=step, env=env, summaries=True)
    row = metrics.jsonable({"step": step, **result, "time": elapsed()})
    metrics.write_eval_summaries(row, step)
    success = "" if row["success_rate"] is None else f", success rate {row['success_rate']:.2f}"
    logging.info("Evaluation at step %d: mean return %.2f%s over %d episodes (%.1fs).", step,
                 row["mean_return"], success, row["num_episodes"], time.monotonic() - start)
    return row
