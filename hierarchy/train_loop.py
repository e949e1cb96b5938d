"""The training loop: `train(root_dir)`, configured entirely with gin.

    parse_gin(["envs/point_reach.gin", "methods/hrl_cg.gin"], ["train.total_steps = 20000"])
    train("/tmp/run")

What a run writes into `root_dir`:
  config.gin             the full gin configuration at start (`gin.config_str()`); a later run in the
                         same root_dir must have the same text, else it stops (ConfigMismatchError)
  operative_config.gin   the parameters actually used, defaults included
  train_metrics.jsonl    one row per training episode   } formats: `hierarchy.metrics`
  eval_metrics.jsonl     one row per evaluation         }
  tensorboard/           TensorBoard event files: the same metrics, plus steps/s; a restart marker
                         per (re)start makes TensorBoard drop the dead run's events after its checkpoint
  checkpoints/           crash-safe checkpoints (`hierarchy.checkpointing`), the newest `keep_checkpoints`
  learning_curve.png     evaluation return and success rate against steps (at the end)
  finished.json          the final metrics; its presence makes a re-run a no-op
  evaluation_<step>.json written by `evaluate_run` (the evaluate binary): the evaluation of the
                         checkpoint of that step; evaluating another checkpoint writes another file

Nothing is written, and root_dir is not created, before the configuration has been built: a bad value
(`ReplayBuffer.batch_size = 0`), an unknown environment id or a gin binding whose scope names no level raises
`ConfigurationError` first. A checkpoint is only written if every variable of the agent is finite;
otherwise the run stops with `TrainingDivergedError`, as for a non-finite loss, and the previous
checkpoint stays the newest.

Resuming: a run started in a root_dir that holds checkpoints continues from the newest one; metric rows
written after it (by the run that died) are dropped and written again, so every curve has each step
once. Checkpoints are taken at episode boundaries (the first boundary at or after each multiple of
`checkpoint_interval`), so restoring the agent, the environment's random generator and the counters
continues the run exactly where it was saved.
"""

from __future__ import annotations

import collections
import difflib
import inspect
import json
import logging as std_logging
import math
import os
import re
import time
from typing import Any, Dict, List, Sequence

import gin
import gymnasium as gym
import numpy as np
import tensorflow as tf
from absl import logging

import envs  # noqa: F401  (registers the hierarchy/ environments)
from envs.wrappers import NoContext
from hierarchy import checkpointing, evaluation, metrics, tasks
from hierarchy.agent import Agent
from hierarchy.builder import build_for_env, check_gin_scopes, context_reward_for_env

GIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gin")
CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
TRAIN_METRICS = "train_metrics.jsonl"
EVAL_METRICS = "eval_metrics.jsonl"
FINISHED = "finished.json"
LEARNING_CURVE = "learning_curve.png"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
EVAL_SEED_OFFSET = 1_000_000   # evaluation resets use seeds disjoint from training's
_SEARCH_PATH_ADDED = False


class ConfigMismatchError(ValueError):
    """root_dir holds a run whose gin configuration differs from the current one."""


class TrainingDivergedError(FloatingPointError):
    """A loss or a variable became NaN or infinite; nothing was saved after it."""


class ConfigurationError(ValueError):
    """The gin configuration cannot be built (a bad value, an unknown environment id, a binding whose
    scope names no level); nothing was written.

    `message` is the one-paragraph explanation; `str()` may have gin's "In call to configurable"
    lines appended (gin adds them when the error passes through a configurable such as `train`).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Raised by the environment and the agent's constructors for a bad configured value; gin re-raises
# them with the binding's configurable appended. gymnasium's errors cover unknown environment ids.
_CONFIGURATION_ERRORS = (ValueError, TypeError, gym.error.Error)


# --------------------------------------------------------------------------------------------------
# Gin.

def resolve_gin_file(path: str) -> str:
    """`path` as given if it exists, else relative to the packaged gin directory (`hierarchy/gin`)."""
    if os.path.isfile(path):
        return path
    packaged = os.path.join(GIN_DIR, path)
    if os.path.isfile(packaged):
        return packaged
    raise FileNotFoundError(f"gin file {path!r} not found (neither as given nor under {GIN_DIR}); "
                            f"packaged files: {', '.join(available_gin_files())}")


def available_gin_files() -> List[str]:
    """Every packaged gin file, relative to the gin directory."""
    out = []
    for dirpath, _, names in os.walk(GIN_DIR):
        out += [os.path.relpath(os.path.join(dirpath, n), GIN_DIR) for n in names if n.endswith(".gin")]
    return sorted(out)


def parse_gin(gin_files: Sequence[str] = (), gin_bindings: Sequence[str] = ()) -> None:
    """Parses gin files (paths, or names under `hierarchy/gin`) and bindings.

    `include` statements in the files are resolved relative to `hierarchy/gin`. An unknown
    configurable or a misspelled parameter raises ValueError naming it (before anything is built).
    """
    global _SEARCH_PATH_ADDED
    if not _SEARCH_PATH_ADDED:
        gin.add_config_file_search_path(GIN_DIR)
        _SEARCH_PATH_ADDED = True
    files = [resolve_gin_file(f) for f in gin_files]
    # gin looks for an include relative to the working directory first and logs an error (on the
    # root Python logger) for each miss before finding it in GIN_DIR; those errors are noise.
    previous = std_logging.root.manager.disable
    std_logging.disable(std_logging.ERROR)
    try:
        gin.parse_config_files_and_bindings(files, list(gin_bindings), finalize_config=False)
    finally:
        std_logging.disable(previous)


# --------------------------------------------------------------------------------------------------
# Building.

def make_env(env_id: str, *, max_episode_steps: int | None = None, render_mode: str | None = None):
    """`gym.make(env_id)`; an environment without dict observations is wrapped in `NoContext`.

    Raises ValueError for an environment with no horizon (none registered, none given): training
    checkpoints and evaluates only between episodes, so an endless episode would never do either.
    """
    if max_episode_steps is not None and not (isinstance(max_episode_steps, (int, float, np.number))
                                              and max_episode_steps >= 1):
        raise ValueError(f"max_episode_steps must be None or an integer >= 1, got {max_episode_steps!r}")
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": int(max_episode_steps)}
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = tasks.make_task_env(env_id, **kwargs)  # gym.make, GoalEnv-style tasks adapted
    if env.spec is None or env.spec.max_episode_steps is None:
        env.close()
        raise ValueError(f"environment '{env_id}' registers no episode horizon: set "
                         f"train.max_episode_steps (checkpoints and evaluations happen only between "
                         f"episodes)")
    if not isinstance(env.observation_space, gym.spaces.Dict):
        env = NoContext(env)
    return env


def build_agent(env, *, seed: int) -> Agent:
    """A gin-configured `Agent` for `env`; depth and hyperparameters come from gin
    (`build_hierarchy.num_levels`, `Hierarchy.*`, `top/Level.*`, ..., `Agent.warmup_steps`).

    Raises ValueError for a scoped gin binding that no level of the built hierarchy would apply and
    that is not a level's name at another depth either (`check_gin_scopes`, e.g. `tpo/Level.*`).
    """
    agent = Agent(hierarchy=build_for_env(env, seed=seed), seed=seed,
                  context_reward=context_reward_for_env(env))
    names = [lvl.level_name for lvl in agent.hierarchy.levels]
    unused = check_gin_scopes(names)
    if unused:
        logging.info("Gin bindings scoped by the levels of other depths are not used by this %d-level "
                     "hierarchy (scopes %s): %s.", len(names), ", ".join(n + "/" for n in names),
                     "; ".join(unused))
    return agent


_GIN_OBJECT_REPR = re.compile(r" \(<(?:function|class) [^>]*>\)")


def _one_paragraph(error: BaseException) -> str:
    """The message of `error` on one line: its first line, then the context gin appends on lines of
    their own ("In call to configurable 'Level' in scope 'top'") in parentheses."""
    lines = [" ".join(line.split()) for line in _GIN_OBJECT_REPR.sub("", str(error)).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return type(error).__name__
    context = "; ".join(line[:1].lower() + line[1:] for line in lines[1:])
    return f"{lines[0]} ({context})" if context else lines[0]


def _build_for_run(env_id: str, *, max_episode_steps: int | None, seed: int, count: int,
                   render_mode: str | None = None):
    """`count` environments and an agent built on the first; a configuration error (bad value,
    unknown environment id, misspelled scope) becomes `ConfigurationError`, with the environments
    made so far closed."""
    made = []
    try:
        for _ in range(count):
            made.append(make_env(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode))
        agent = build_agent(made[0], seed=seed)
    except BaseException as e:
        for env in made:
            env.close()
        if isinstance(e, _CONFIGURATION_ERRORS):
            raise ConfigurationError(f"the configuration cannot be built: {_one_paragraph(e)}") from e
        raise
    return made, agent


def _check_train_settings(**settings) -> None:
    """Raises `ConfigurationError` unless every setting (a `train` parameter) is a number >= 1."""
    for name, value in settings.items():
        try:
            valid = int(value) >= 1
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise ConfigurationError(f"train.{name} must be an integer >= 1, got {value!r}")


def _check_config(root_dir: str, config_text: str) -> None:
    path = os.path.join(root_dir, CONFIG_FILE)
    if not os.path.exists(path):
        if os.path.isdir(os.path.join(root_dir, CHECKPOINTS)):
            raise ConfigMismatchError(f"{root_dir} holds checkpoints but no {CONFIG_FILE}; refusing to "
                                      "resume a run of unknown configuration (use a new root_dir)")
        return
    with open(path) as f:
        previous = f.read()
    if previous != config_text:
        diff = "\n".join(difflib.unified_diff(previous.splitlines(), config_text.splitlines(),
                                              f"{path} (existing run)", "current configuration",
                                              lineterm="", n=0))
        raise ConfigMismatchError(
            f"{root_dir} holds a run with a different gin configuration, so it cannot be resumed "
            f"with this one. Use a new root_dir, or the same gin files and bindings. Differences:\n"
            f"{diff}")


def _format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


# --------------------------------------------------------------------------------------------------
# The loop.

@gin.configurable(denylist=["root_dir"])
def train(
    root_dir: str,
    *,
    env_id: str = "hierarchy/PointReach-v0",
    max_episode_steps: int | None = None,
    total_steps: int = 1_000_000,
    eval_interval: int = 50_000,
    eval_episodes_per_context: int = 10,
    eval_at_start: bool = True,
    checkpoint_interval: int = 50_000,
    keep_checkpoints: int = 2,
    log_interval: int = 1000,
    recent_episodes: int = 20,
    seed: int = 0,
) -> Dict[str, Any]:
    """Trains a gin-configured hierarchy on `env_id`, with evaluation, metrics and checkpoints.

    Args:
      root_dir: where everything is written (see the module docstring); resumes from it if it holds
        an unfinished run of the same configuration. Created once the configuration has been built.
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

    Returns:
      The final metrics, as written to `finished.json`.

    Raises:
      ConfigurationError: the configuration cannot be built; nothing was written.
      ConfigMismatchError: root_dir holds a run of another configuration.
      TrainingDivergedError: a loss or a variable became NaN or infinite; the last good checkpoint
        is intact.
    """
    _check_train_settings(total_steps=total_steps, eval_interval=eval_interval,
                          checkpoint_interval=checkpoint_interval, log_interval=log_interval,
                          eval_episodes_per_context=eval_episodes_per_context,
                          recent_episodes=recent_episodes, keep_checkpoints=keep_checkpoints)
    config_text = gin.config_str()
    _check_config(root_dir, config_text)
    finished_path = os.path.join(root_dir, FINISHED)
    if os.path.exists(finished_path):
        with open(finished_path) as f:
            final = json.load(f)
        logging.info("%s already holds a finished run (step %s); nothing to do.", root_dir,
                     final.get("step"))
        return final

    # Build everything before writing anything (root_dir included): configuration errors surface here.
    (env, eval_env), agent = _build_for_run(env_id, max_episode_steps=max_episode_steps, seed=seed,
                                            count=2)
    level_names = [lvl.level_name for lvl in agent.hierarchy.levels]
    os.makedirs(root_dir, exist_ok=True)
    checkpointing.atomic_write_text(os.path.join(root_dir, CONFIG_FILE), config_text)
    checkpointing.atomic_write_text(os.path.join(root_dir, OPERATIVE_CONFIG_FILE),
                                    gin.operative_config_str())

    train_path, eval_path = (os.path.join(root_dir, n) for n in (TRAIN_METRICS, EVAL_METRICS))
    ckpt = checkpointing.Checkpointer(os.path.join(root_dir, CHECKPOINTS), keep=keep_checkpoints,
                                       writer=True)
    env.reset(seed=seed)   # seeds the environment's generator; each episode then resets unseeded
    latest = ckpt.latest()
    episodes, elapsed_before = 0, 0.0
    if latest is not None:
        state = ckpt.restore(latest, agent)
        episodes, elapsed_before = state["episodes"], state["elapsed"]
        env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        dropped = [metrics.truncate_jsonl(p, agent.env_steps) for p in (train_path, eval_path)]
        logging.info("Resuming from %s (step %d, %d episodes); dropped %d train and %d eval metric "
                     "rows written after it.", latest, agent.env_steps, episodes, *dropped)
    else:
        for p in (train_path, eval_path):   # rows of a run that died before its first checkpoint
            metrics.truncate_jsonl(p, -1)
        logging.info("Starting a new run in %s: %s for %d steps, %d level(s) %s.", root_dir, env_id,
                     total_steps, len(level_names), level_names)

    train_rows = metrics.read_jsonl(train_path)
    recent = collections.deque(((r["episode_return"], r["success"]) for r in train_rows),
                               maxlen=recent_episodes)
    eval_rows = metrics.read_jsonl(eval_path)
    last_eval_step = eval_rows[-1]["step"] if eval_rows else 0
    last_saved = agent.env_steps if latest is not None else None
    train_writer, eval_writer = metrics.JsonlWriter(train_path), metrics.JsonlWriter(eval_path)
    # Events at the checkpoint's step or before stay; without a checkpoint, none does (step 0 included).
    metrics.mark_start(os.path.join(root_dir, TENSORBOARD),
                       agent.env_steps + 1 if latest is not None else 0)
    summary_writer = tf.summary.create_file_writer(os.path.join(root_dir, TENSORBOARD))
    start = time.time()

    def now() -> float:
        return elapsed_before + time.time() - start

    def run_eval(step: int) -> Dict[str, Any]:
        t = time.time()
        result = evaluation.evaluate(agent, eval_env, episodes_per_context=eval_episodes_per_context,
                                     seed=seed + EVAL_SEED_OFFSET)
        row = metrics.jsonable({"step": step, **result, "time": now()})
        eval_writer.write(row)
        eval_rows.append(row)
        metrics.write_eval_summaries(row, step)
        success = "" if row["success_rate"] is None else f", success rate {row['success_rate']:.2f}"
        logging.info("Evaluation at step %d: mean return %.2f%s over %d episodes (%.1fs).", step,
                     row["mean_return"], success, row["num_episodes"], time.time() - t)
        return row

    def save(step: int) -> None:
        train_writer.sync()
        eval_writer.sync()
        summary_writer.flush()
        path = ckpt.save(step, agent, {
            "step": step, "episodes": episodes, "elapsed": now(),
            "env_rng": env.unwrapped.np_random.bit_generator.state})
        logging.info("Saved checkpoint %s.", path)

    try:
        with summary_writer.as_default():
            if eval_at_start and not eval_rows and agent.env_steps == 0:
                run_eval(0)
            step = agent.env_steps
            log_t, log_step = time.time(), step
            while step < total_steps:
                obs, info = env.reset()
                episode = agent.begin_episode(obs["observation"], obs["context"], training=True)
                done = False
                while not done and step < total_steps:
                    action = agent.act(episode)
                    obs, reward, terminated, truncated, info = env.step(action)
                    agent.observe(episode, reward, obs["observation"], terminated, truncated)
                    done = terminated or truncated
                    step = agent.env_steps
                    if step % log_interval == 0:
                        rate = (step - log_step) / max(time.time() - log_t, 1e-9)
                        # A rate that includes random warm-up steps (no updates) says nothing of
                        # the learning steps to come.
                        eta = (total_steps - step) / max(rate, 1e-9) \
                            if log_step >= agent.warmup_steps else None
                        log_t, log_step = time.time(), step
                        _log_progress(step, total_steps, rate, recent, eta)
                        tf.summary.scalar("train/steps_per_second", rate, step=step)
                if not done:
                    break   # cut off at total_steps
                episodes += 1
                success = info.get("is_success")
                row = metrics.episode_row(
                    step=step, episode=episodes, env_return=episode.env_return, length=episode.t,
                    success=success, intrinsic_returns=agent.intrinsic_returns(episode),
                    losses=agent.last_losses, level_names=level_names, time=now())
                train_writer.write(row)
                metrics.write_train_summaries(row, step)
                recent.append((row["episode_return"], row["success"]))
                if step // eval_interval > last_eval_step // eval_interval:
                    run_eval(step)
                    last_eval_step = step
                if step // checkpoint_interval > (last_saved or 0) // checkpoint_interval:
                    save(step)
                    last_saved = step
            if not eval_rows or eval_rows[-1]["step"] != step:
                run_eval(step)
            if last_saved != step:
                save(step)
    except FloatingPointError as e:
        good = ckpt.latest()
        where = (f"the last good checkpoint, {good} (step {ckpt.read_loop_state(good)['step']}), is "
                 "intact" if good else "no checkpoint had been written yet")
        msg = (f"Training diverged and was stopped: {e}. Nothing was saved after the failure; {where}. "
               "Lower the learning rates or the reward scale, or check the environment's rewards.")
        raise TrainingDivergedError(msg) from e
    finally:
        train_writer.close()
        eval_writer.close()
        summary_writer.close()
        env.close()
        eval_env.close()

    checkpointing.atomic_write_text(os.path.join(root_dir, OPERATIVE_CONFIG_FILE),
                                    gin.operative_config_str())
    metrics.plot_learning_curve(eval_rows, os.path.join(root_dir, LEARNING_CURVE),
                                title=f"{env_id}, {len(level_names)} level(s)")
    final_eval = eval_rows[-1]
    final = metrics.jsonable({
        "step": step, "episodes": episodes, "wall_time": now(),
        "final_eval": {k: final_eval[k] for k in ("step", "mean_return", "success_rate",
                                                  "num_episodes")},
        "best_eval_mean_return": max(r["mean_return"] for r in eval_rows),
        "recent_train_return": _mean([r for r, _ in recent]),
        "recent_train_success": _mean([float(s) for _, s in recent if s is not None]),
    })
    checkpointing.atomic_write_text(finished_path, json.dumps(final, indent=1) + "\n")
    logging.info("Finished %d steps in %s: final evaluation mean return %.2f%s.", step,
                 _format_duration(final["wall_time"]), final_eval["mean_return"],
                 "" if final_eval["success_rate"] is None
                 else f", success rate {final_eval['success_rate']:.2f}")
    return final


def _log_progress(step: int, total_steps: int, rate: float, recent, eta: float | None) -> None:
    """One progress line; `eta` in seconds, None while the rate includes warm-up steps."""
    returns = [r for r, _ in recent]
    successes = [float(s) for _, s in recent if s is not None]
    parts = [f"step {step}/{total_steps} ({100.0 * step / total_steps:.1f}%)", f"{rate:.1f} steps/s"]
    if returns:
        parts.append(f"return {np.mean(returns):.2f}")
    if successes:
        parts.append(f"success {np.mean(successes):.2f}")
    if returns:
        parts[-1] += f" (last {len(returns)} episodes)"
    parts.append("ETA once learning has run one log interval" if eta is None
                 else f"ETA {_format_duration(eta)}")
    logging.info(" | ".join(parts))


# --------------------------------------------------------------------------------------------------
# Evaluating a saved run.

def train_settings() -> Dict[str, Any]:
    """The keyword arguments `train` would run with under the current gin configuration."""
    params = inspect.signature(train).parameters
    settings = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    settings.update(gin.get_bindings(train))
    return settings


def evaluation_file(step: int) -> str:
    """The name of the file `evaluate_run` writes for the checkpoint of `step`."""
    return f"evaluation_{int(step)}.json"


def evaluate_run(root_dir: str, *, episodes_per_context: int | None = None,
                 checkpoint: str | None = None, video_path: str | None = None) -> Dict[str, Any]:
    """Evaluates a run's checkpoint (default: the newest) under the current gin configuration
    (parse the run's `config.gin` first); writes `root_dir/evaluation_<step>.json`, named after the
    checkpoint's step (so evaluating several checkpoints keeps every result), and returns it.

    Raises:
      FileNotFoundError: no complete checkpoint at `checkpoint` (or in the run).
      ConfigurationError: the configuration cannot be built.
    """
    settings = train_settings()
    ckpt = checkpointing.Checkpointer(os.path.join(root_dir, CHECKPOINTS))
    path = checkpoint or ckpt.latest()
    if path is None or not os.path.isfile(os.path.join(path, checkpointing.LOOP_STATE)):
        raise FileNotFoundError(f"no complete checkpoint found at {path or ckpt.directory}")
    (env,), agent = _build_for_run(settings["env_id"], max_episode_steps=settings["max_episode_steps"],
                                   seed=settings["seed"], count=1,
                                   render_mode="rgb_array" if video_path else None)
    try:
        state = ckpt.restore(path, agent, weights_only=True)
        n = episodes_per_context or settings["eval_episodes_per_context"]
        result = evaluation.evaluate(agent, env, episodes_per_context=n,
                                     seed=settings["seed"] + EVAL_SEED_OFFSET, video_path=video_path)
    finally:
        env.close()
    out = metrics.jsonable({"checkpoint": os.path.abspath(path), "step": state["step"],
                            "env_id": settings["env_id"], "episodes_per_context": n,
                            "video": video_path, **result})
    checkpointing.atomic_write_text(os.path.join(root_dir, evaluation_file(state["step"])),
                                    json.dumps(out, indent=1) + "\n")
    return out
