"""The training loop: `train(root_dir)`, configured entirely with gin, run by a `Runner`.

    config.parse_gin(["envs/point_reach.gin", "methods/hrl_cg.gin"], ["train.total_steps = 20000"])
    runner.train("runs/demo")

What a run writes into `root_dir` is listed in `hierarchy.run.files`.

Nothing is written, and root_dir is not created, before the configuration has been built: a bad value
(`Level.batch_size = 0`), an unknown environment id or a gin binding whose scope names no level raises
`ConfigurationError` first. A checkpoint is only written if every variable of the agent is finite;
otherwise the run stops with `TrainingDivergedError`, as for a non-finite loss, and the previous
checkpoint stays the newest.

Resuming: a run started in a root_dir that holds checkpoints continues exactly from the newest intact
one (checkpoints at episode boundaries; SIGTERM or Ctrl-C adds one mid-episode, whose open episode is
replayed: `hierarchy.run.resilience`); the metric rows written after it are dropped and written again.
What each fault does is listed in docs/fault_tolerance.md (`hierarchy.run.failures`).

Extending: `train(root_dir, extend=True)` with a larger `train.total_steps` (and nothing else
changed) continues a run, finished or not, to the new total (`hierarchy.run.resilience`): exactly as a run
started with that total when the old total ends an episode.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import signal
import time
from typing import Any, Dict

import gin
import numpy as np
import tensorflow as tf
from absl import logging

from hierarchy.run import checkpointing, evaluation, failures, files, metrics, progress, resilience
from hierarchy.run.assembly import make_envs_and_agent
from hierarchy.run.checkpointing import LoopState
from hierarchy.run.config import ConfigMismatchError, check_config_unchanged, check_train_settings
from hierarchy.run.files import atomic_write_text
from hierarchy.run.resilience import prepare_extension
from hierarchy.run.settings import DEFAULT_TOTAL_STEPS, RunSettings

EVAL_SEED_OFFSET = 1_000_000   # evaluation resets use seeds disjoint from training's
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)   # checkpoint at the next step, then stop


def train(root_dir: str, *, extend: bool = False, start_over: bool = False,
          **settings: Any) -> Dict[str, Any]:
    """Trains a gin-configured hierarchy, with evaluation, metrics and checkpoints, under the
    run's settings: the gin bindings `train.<name>` (`hierarchy.run.settings.RunSettings`).

    Args:
      root_dir: where everything is written (`hierarchy.run.files`); resumes from it if it holds an
        unfinished run of the same configuration. Created once the configuration has been built.
      extend: continue the run in root_dir to a larger `total_steps` (module docstring); not a
        gin parameter, so the run's configuration text stays that of a run of the new total.
      start_over: when root_dir holds metric rows from after a checkpoint but no checkpoint (they
        were deleted), discard the rows and start from step 0 instead of refusing. Not a gin
        parameter.
      **settings: `RunSettings` fields that override their gin bindings (`total_steps=5000`).

    Returns:
      The final metrics, as written to `finished.json`.

    Raises:
      ConfigurationError: the configuration cannot be built; nothing was written.
      ConfigMismatchError: root_dir holds a run of another configuration (`extend` allows a larger
        total_steps, and nothing else).
      failures.TrainingDivergedError: a loss or a variable became NaN or infinite; the last good
        checkpoint is intact.
      resilience.Interrupted: SIGTERM or SIGINT stopped the run after a checkpoint at the next step.
      resilience.RootDirectoryError: root_dir cannot be created or written, or another process
        trains in it (`resilience.RunDirectoryLockedError`); nothing was run.
      resilience.OpenEpisodeError: the open episode of a mid-episode checkpoint cannot be read.
      failures.RowsWithoutCheckpointError: root_dir holds rows written after a checkpoint, but
        no checkpoint (and not `start_over`); nothing was changed.
      failures.RunWriteError: a file of the run could not be written between checkpoints (a
        full disk, a read-only filesystem); the newest checkpoint is intact.
      checkpointing.CheckpointWriteError: a checkpoint could not be written (the previous is intact).
      checkpointing.NoIntactCheckpointError: every checkpoint in root_dir is damaged.
    """
    return Runner(root_dir, settings=RunSettings(**settings), extend=extend,
                  start_over=start_over).run_experiment()


def train_agent(root_dir: str, *, agent, env, eval_env, settings: RunSettings | None = None,
                **overrides: Any) -> Dict[str, Any]:
    """Trains an agent built in code with the binary's loop: the same metric rows, TensorBoard
    events, evaluations, trajectory plots, checkpoints (a re-run resumes), progress lines and
    `finished.json` in `root_dir`.

        agent = H.Agent(hierarchy=H.build_for_env(env, task_reward_scale=0.1), seed=0)
        H.train_agent("runs/mine", agent=agent, env=env, eval_env=eval_env, total_steps=20_000)

    Args:
      root_dir: as for `train`.
      agent: the `Agent` to train; a re-run must build it the same way to resume its checkpoints.
      env, eval_env: the training and evaluation environments (dict observations; two instances of
        the task), closed at the end as the binary closes its own.
      settings: the run's settings (default `RunSettings()`: the `train.*` gin bindings, if any,
        else the defaults); `env_id` is taken from `env.spec` when it has one, and
        `max_episode_steps` does not apply (the environments are built already).
      **overrides: `RunSettings` fields, e.g. `total_steps=20_000, eval_interval=5_000`.

    Returns and raises as `train` (without the configuration errors of building from gin).
    """
    settings = dataclasses.replace(settings or RunSettings(), **overrides)
    if getattr(env, "spec", None) is not None:
        settings = dataclasses.replace(settings, env_id=env.spec.id)
    return Runner(root_dir, settings=settings, built=(env, eval_env, agent)).run_experiment()


class Runner:
    """One training run in `root_dir` under `settings`: `run_experiment` builds, resumes, trains,
    evaluates and checkpoints (`extend` and `start_over` are `train`'s). `built`: the (environment,
    evaluation environment, agent) of `train_agent`; None builds them from gin."""

    def __init__(self, root_dir: str, *, settings: RunSettings, extend: bool = False,
                 start_over: bool = False, built: tuple | None = None):
        s = settings
        check_train_settings(total_steps=s.total_steps, eval_interval=s.eval_interval,
                             checkpoint_interval=s.checkpoint_interval, log_interval=s.log_interval,
                             eval_episodes_per_context=s.eval_episodes_per_context,
                             recent_episodes=s.recent_episodes, keep_checkpoints=s.keep_checkpoints)
        self.root_dir, self.settings, self.env_id, self.seed = root_dir, s, s.env_id, s.seed
        self.extend, self.start_over, self.built = bool(extend), bool(start_over), built
        self.max_episode_steps, self.eval_at_start = s.max_episode_steps, s.eval_at_start
        self.trajectory_plots = bool(s.trajectory_plots)
        (self.total_steps, self.eval_interval, self.eval_episodes_per_context, self.checkpoint_interval,
         self.keep_checkpoints, self.log_interval, self.recent_episodes) = (int(v) for v in (
            s.total_steps, s.eval_interval, s.eval_episodes_per_context, s.checkpoint_interval,
            s.keep_checkpoints, s.log_interval, s.recent_episodes))   # whole numbers, checked above

    def _path(self, name: str) -> str:
        return os.path.join(self.root_dir, name)

    # ----------------------------------------------------------------------------------------------
    # The run.

    def run_experiment(self) -> Dict[str, Any]:
        """Runs (or resumes) the training to `total_steps`; returns the final metrics (those of
        `finished.json`, which a finished run just reads back)."""
        config_text = gin.config_str()
        extended_from = check_config_unchanged(
            self.root_dir, config_text, extend=self.extend, default_total_steps=DEFAULT_TOTAL_STEPS)
        if extended_from is None and os.path.exists(self._path(files.FINISHED)):
            return self._previous_result()
        # Build everything before writing anything (root_dir included): configuration errors surface here.
        if self.built is None:
            (self.env, self.eval_env), self.agent = make_envs_and_agent(
                self.env_id, max_episode_steps=self.max_episode_steps, seed=self.seed, count=2)
        else:
            self.env, self.eval_env, self.agent = self.built
        self.level_names = [lvl.level_name for lvl in self.agent.hierarchy.levels]
        if self.total_steps <= self.agent.warmup_steps:
            logging.warning("train.total_steps (%d) is not above Agent.warmup_steps (%d): the run "
                            "acts at random throughout and no update will happen.",
                            self.total_steps, self.agent.warmup_steps)
        lock = None
        try:
            resilience.prepare_root_dir(self.root_dir, (files.CHECKPOINTS, files.TENSORBOARD,
                                                         files.PLOTS))
            lock = resilience.lock_run_dir(self._path(files.LOCK))
            if extended_from is not None:
                prepare_extension(self.root_dir, extended_from, self.total_steps)
            atomic_write_text(self._path(files.CONFIG_FILE), config_text)
            atomic_write_text(self._path(files.OPERATIVE_CONFIG_FILE), gin.operative_config_str())
            self._initialize_checkpointer_and_maybe_resume()
            self._open_writers()
        except BaseException:
            self.env.close()
            self.eval_env.close()
            if lock is not None:
                os.close(lock)
            raise
        try:
            try:
                with self.summary_writer.as_default(), resilience.StopOnSignal(STOP_SIGNALS) as self.stop:
                    self._run_training()
            except FloatingPointError as e:
                raise failures.diverged(e, self.checkpointer) from e
            finally:
                failure = self._close()   # raised below only when nothing else is on its way
            if failure is not None:
                raise failure
            return self._finish()
        except checkpointing.CheckpointWriteError:
            raise
        except failures.WRITE_ERRORS as e:   # metrics, events, pictures: a full disk, say
            raise failures.write_failed(e, self.checkpointer, self.root_dir) from e
        finally:
            os.close(lock)   # the run directory is free for the next process

    def _previous_result(self) -> Dict[str, Any]:
        with open(self._path(files.FINISHED)) as f:
            final = json.load(f)
        logging.info("%s already holds a finished run (step %s); nothing to do.", self.root_dir,
                     final.get("step"))
        return final

    def _initialize_checkpointer_and_maybe_resume(self) -> None:
        """Restores the newest intact checkpoint, if any (and the environment to its open episode),
        and drops the metric rows written after it."""
        self.checkpointer = checkpointing.Checkpointer(
            self._path(files.CHECKPOINTS), keep=self.keep_checkpoints, writer=True)
        self.env.reset(seed=self.seed)   # seeds the environment's generator; episodes reset unseeded
        metric_files = [self._path(files.TRAIN_METRICS), self._path(files.EVAL_METRICS)]
        latest, state = self.checkpointer.restore_newest_intact(self.agent, log=logging.warning)
        self.episodes, self.elapsed_before, self.last_saved = 0, 0.0, None
        self.restored, self.resumed = latest is not None, None
        if latest is not None:
            self._check_level_names(metric_files[0])
            self.episodes, self.elapsed_before = state.episodes, state.elapsed
            resilience.set_env_rng_state(self.env, state.env_rng)
            # The step of the last scheduled checkpoint (a SIGTERM checkpoint is not one).
            self.last_saved = state.last_scheduled_save
            if state.open_episode:
                open_episode = resilience.read_open_episode(latest, self.checkpointer.read_blob)
                self.resumed = (open_episode, *resilience.replay(self.env, open_episode))
            dropped = [metrics.truncate_jsonl(p, self.agent.env_steps) for p in metric_files]
            logging.info("Resuming from %s (step %d, %d episodes%s); dropped %d train and %d eval metric "
                         "rows written after it.", latest, self.agent.env_steps, self.episodes,
                         "" if self.resumed is None else ", mid-episode: "
                         f"{self.resumed[0].episode.t} steps of the open episode replayed", *dropped)
        else:
            if not self.start_over:
                failures.check_no_checkpointed_rows(
                    metrics.read_jsonl(metric_files[0]), checkpoint_interval=self.checkpoint_interval,
                    train_metrics=metric_files[0], checkpoints=self.checkpointer.directory)
            for path in metric_files:   # rows of a run that died before its first checkpoint
                metrics.truncate_jsonl(path, -1)
            logging.info("Starting a new run in %s: %s for %d steps, %d level(s) %s.", self.root_dir,
                         self.env_id, self.total_steps, len(self.level_names), self.level_names)
        self.recent = collections.deque(
            ((r["episode_return"], r["success"]) for r in metrics.read_jsonl(metric_files[0])),
            maxlen=self.recent_episodes)
        self.eval_rows = metrics.read_jsonl(metric_files[1])
        self.last_eval_step = self.eval_rows[-1]["step"] if self.eval_rows else 0

    def _check_level_names(self, train_metrics: str) -> None:
        """Refuses to resume a run whose metric rows name its levels otherwise (three-level runs
        named their middle level `mid` before names became the same at every depth)."""
        written = self.level_names
        if os.path.exists(train_metrics):
            with open(train_metrics) as f:
                first = f.readline()
            try:   # the first row only (a torn end is read, and reported, with the rest later)
                written = list(json.loads(first)["losses"])
            except (ValueError, KeyError, TypeError):
                pass
        if written != self.level_names:
            raise ConfigMismatchError(
                f"{self.root_dir} holds a run whose metric rows name its levels {written}, but this "
                f"hierarchy names them {self.level_names} (level names are now the same at every "
                "depth); finish that run with the version that started it, or start a new run")

    def _open_writers(self) -> None:
        self.train_writer = metrics.JsonlWriter(self._path(files.TRAIN_METRICS))
        self.eval_writer = metrics.JsonlWriter(self._path(files.EVAL_METRICS))
        tensorboard = self._path(files.TENSORBOARD)
        # Events at the checkpoint's step or before stay; without a checkpoint, none does (step 0 too).
        metrics.mark_start(tensorboard, self.agent.env_steps + 1 if self.restored else 0)
        self.summary_writer = tf.summary.create_file_writer(tensorboard)
        self.start = time.monotonic()   # durations: immune to clock jumps

    def _close(self) -> BaseException | None:
        """Closes the writers and environments, each even if another fails; returns the first write
        error (a full disk flushing the last events), if any."""
        failure = None
        for close in (self.train_writer.close, self.eval_writer.close, self.summary_writer.close,
                      self.env.close, self.eval_env.close):
            try:
                close()
            except failures.WRITE_ERRORS as e:
                failure = failure or e
        return failure

    def _elapsed(self) -> float:
        """Seconds of training wall time, summed over restarts."""
        return self.elapsed_before + time.monotonic() - self.start

    def _run_training(self) -> None:
        """Episodes until `total_steps`, with the evaluations and checkpoints that fall due; then the
        final evaluation and checkpoint."""
        agent = self.agent
        if self.eval_at_start and not self.eval_rows and agent.env_steps == 0:
            self._evaluate(0)
        self.progress = progress.ProgressLog(total_steps=self.total_steps, start_step=agent.env_steps,
                                             warmup_steps=agent.warmup_steps)
        while agent.env_steps < self.total_steps:
            info, episode = self._run_one_episode()
            if episode is None:
                break   # cut off at total_steps
            self._end_episode(episode, info)
            step = agent.env_steps
            if step // self.eval_interval > self.last_eval_step // self.eval_interval:
                self._evaluate(step)
                self.last_eval_step = step
            if step // self.checkpoint_interval > (self.last_saved or 0) // self.checkpoint_interval:
                self._checkpoint_experiment(step)
        step = agent.env_steps
        if not self.eval_rows or self.eval_rows[-1]["step"] != step:
            self._evaluate(step)
        if self.last_saved != step:
            self._checkpoint_experiment(step)

    def _run_one_episode(self):
        """One training episode; returns (its final info, the episode), or (info, None) for an
        episode cut off at `total_steps`."""
        agent, env = self.agent, self.env
        if self.resumed is not None:   # the open episode of a mid-episode checkpoint, replayed
            open_episode, obs, info = self.resumed
            self.resumed = None
        else:
            open_episode = resilience.OpenEpisode(episode=None, actions=[],
                                                  reset_rng_state=resilience.env_rng_state(env))
            obs, info = env.reset()
            open_episode.episode = agent.begin_episode(obs["observation"], obs["context"], training=True)
        episode, done = open_episode.episode, False
        while not done and agent.env_steps < self.total_steps:
            if self.stop.requested:   # SIGTERM or SIGINT: checkpoint here, mid-episode, and stop
                step = agent.env_steps
                raise resilience.Interrupted(step, self._checkpoint_experiment(step, open_episode),
                                             self.stop.requested)
            action = agent.act(episode)
            open_episode.actions.append(np.array(action, copy=True))
            obs, reward, terminated, truncated, info = env.step(action)
            agent.observe(episode, reward, obs["observation"], terminated, truncated)
            done = terminated or truncated
            if agent.env_steps % self.log_interval == 0:
                self.progress.log(agent.env_steps, self.recent)
        return info, (episode if done else None)

    def _end_episode(self, episode, info) -> None:
        """Writes the finished training episode's metrics row."""
        self.episodes += 1
        step = self.agent.env_steps
        row = metrics.episode_row(
            step=step, episode=self.episodes, env_return=episode.env_return, length=episode.t,
            success=info.get("is_success"), intrinsic_returns=self.agent.intrinsic_returns(episode),
            losses=self.agent.last_losses, level_names=self.level_names, time=self._elapsed())
        self.train_writer.write(row)
        metrics.write_train_summaries(row, step)
        self.recent.append((row["episode_return"], row["success"]))

    def _evaluate(self, step: int) -> None:
        """Evaluates the agent on the evaluation environment; writes the row."""
        row = evaluation.evaluate_in_training(
            self.agent, self.eval_env, step=step, episodes_per_context=self.eval_episodes_per_context,
            seed=self.seed + EVAL_SEED_OFFSET, elapsed=self._elapsed,
            plots_dir=self._path(files.PLOTS) if self.trajectory_plots else None)
        self.eval_writer.write(row)
        self.eval_rows.append(row)

    def _checkpoint_experiment(self, step: int,
                               open_episode: resilience.OpenEpisode | None = None) -> str:
        """Flushes the metrics, then checkpoints the agent and the loop's state (and an episode in
        progress, for a mid-episode checkpoint); returns the checkpoint's path."""
        self.train_writer.sync()
        self.eval_writer.sync()
        self.summary_writer.flush()
        scheduled = open_episode is None
        path = self.checkpointer.save(step, self.agent, LoopState(
            step=step, episodes=self.episodes, elapsed=self._elapsed(),
            env_rng=resilience.env_rng_state(self.env), open_episode=not scheduled,
            last_scheduled_save=step if scheduled else self.last_saved),
            blobs=None if scheduled else open_episode.to_files())
        if scheduled:
            self.last_saved = step
        logging.info("Saved checkpoint %s%s.", path, "" if scheduled else " (mid-episode)")
        return path

    def _finish(self) -> Dict[str, Any]:
        """Writes the operative configuration, the learning curve and `finished.json`."""
        atomic_write_text(self._path(files.OPERATIVE_CONFIG_FILE), gin.operative_config_str())
        metrics.plot_learning_curve(self.eval_rows, self._path(files.LEARNING_CURVE),
                                    title=f"{self.env_id}, {len(self.level_names)} level(s)")
        final = metrics.final_metrics(step=self.agent.env_steps, episodes=self.episodes,
                                      wall_time=self._elapsed(), eval_rows=self.eval_rows,
                                      recent=self.recent)
        final_eval = final["final_eval"]
        atomic_write_text(self._path(files.FINISHED), json.dumps(final, indent=1) + "\n")
        logging.info("Finished %d steps in %s: final evaluation mean return %.2f%s.", final["step"],
                     progress.format_duration(final["wall_time"]), final_eval["mean_return"],
                     "" if final_eval["success_rate"] is None
                     else f", success rate {final_eval['success_rate']:.2f}")
        return final
