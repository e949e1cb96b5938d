"""What a training run needs to survive the faults a cluster produces.

- `StopOnSignal`: SIGTERM (a preemption, a cluster manager stopping the job, a sweep cancelling a
  cell) sets a flag instead of killing the process; the training loop checks it before every
  environment step, saves a checkpoint there (even mid-episode) and stops with `Interrupted`.
- `OpenEpisode`: what a mid-episode checkpoint holds besides the agent: the agent's `Episode` (its
  open transitions, origins, segments, return), the environment actions taken so far in the episode,
  and the state of the environment's random generators just before the episode's reset. Resuming
  restores those generators, resets, and steps the environment through the same actions (`replay`):
  the environment reaches exactly the state it had, wrappers (time limits, task contexts) included,
  without any environment-specific state code. Only the environment is stepped, not the agent, so
  the agent's generator and buffers stay as checkpointed. This needs an environment whose reset and
  step are deterministic given its generator and the actions, as gymnasium's MuJoCo environments
  are; `replay` checks the replayed observation against the saved one and raises
  `ReplayMismatchError` if they differ.
- `env_rng_state` / `set_env_rng_state`: the environment's generators, its own and those of the
  environments it holds (gymnasium-robotics' mazes step an inner robot environment that has a
  generator of its own), found by `env_generators`.
- `prepare_root_dir`: a run directory that cannot be created or written is a one-paragraph
  `RootDirectoryError`, not a traceback from deep inside the run.
- `lock_run_dir`: one training process per run directory. The lock is an `fcntl.flock` on a file in
  the run directory, so the kernel releases it whenever the process ends, however it ends; a second
  process gets `RunDirectoryLockedError` naming the holder before it writes anything.

Training a run longer than first planned: what changes in its directory before it resumes.

`hierarchy.run.runner.train(root_dir, extend=True)` calls `prepare_extension` once the configuration check
(`config.check_config_unchanged`) has accepted a larger `train.total_steps`; the run then resumes from
its newest checkpoint as any interrupted run does.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import pickle
import signal
import socket
import threading
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from absl import logging

from hierarchy.run import files, metrics

EPISODE_FILE = "open_episode.pkl"


class Interrupted(Exception):
    """The run stopped on SIGTERM after saving a checkpoint at `step` (`path`); re-run to resume."""

    def __init__(self, step: int, path: str, signal_name: str = "SIGTERM"):
        super().__init__(f"stopped by {signal_name} at step {step}; checkpoint {path} written")
        self.step, self.path, self.signal_name = step, path, signal_name


class RootDirectoryError(OSError):
    """The run's root directory cannot be created or written; nothing was run."""


class RunDirectoryLockedError(RootDirectoryError):
    """Another process trains in the run directory (it holds the run's lock); nothing was written."""


class ReplayMismatchError(RuntimeError):
    """Replaying a saved episode's actions did not reproduce its observation."""


class StopOnSignal:
    """Context manager: while active, SIGTERM sets `requested` instead of ending the process.

    Handlers can only be installed from the main thread; elsewhere this does nothing (and the
    process keeps its default SIGTERM behaviour). The previous handler is restored on exit.
    """

    def __init__(self, signals=(signal.SIGTERM,)):
        self.signals = tuple(signals)
        self.requested: str | None = None   # the name of the signal received, if any
        self._previous: Dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def prepare_root_dir(root_dir: str, subdirs: Sequence[str] = ()) -> None:
    """Creates `root_dir` if needed and checks that files can be written in it and in each of its
    `subdirs` that exists already (an existing run's checkpoints/, say, made read-only).

    Raises:
      RootDirectoryError: with a one-paragraph explanation (what failed, on which path, why).
    """
    try:
        os.makedirs(root_dir, exist_ok=True)
    except OSError as e:
        raise _unusable(root_dir, e) from e
    for directory in [root_dir] + [os.path.join(root_dir, d) for d in subdirs]:
        if directory != root_dir and not os.path.isdir(directory):
            continue
        probe = os.path.join(directory, f".write-check-{os.getpid()}")
        try:
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as e:
            raise _unusable(root_dir, e) from e


def _unusable(root_dir: str, error: OSError) -> RootDirectoryError:
    where = error.filename or root_dir
    return RootDirectoryError(
        f"cannot use {root_dir!r} as the run's root directory: {error.strerror or error} ({where}). "
        "Nothing was run. Choose a directory that can be created and written (on a cluster, one "
        "that every node reaches), or fix its permissions.")


def lock_run_dir(lock_path: str) -> int:
    """Takes the exclusive lock of a run directory (`lock_path`, a file in it), without waiting.

    Returns:
      The file descriptor that holds the lock; closing it (or the end of the process) releases it.
    Raises:
      RunDirectoryLockedError: another process holds the lock (its pid and host are named).
      RootDirectoryError: the lock file cannot be opened.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise RootDirectoryError(f"cannot open the run's lock file {lock_path}: {e.strerror or e}. "
                                 "Nothing was run.") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise RootDirectoryError(f"cannot lock {lock_path}: {e.strerror or e}. Nothing was "
                                     "run.") from e
        raise RunDirectoryLockedError(
            f"another training process ({holder}) is running in {os.path.dirname(lock_path)}: one "
            "run directory holds one run. Nothing was written; wait for it to end, or give this run "
            "its own --root_dir.") from e
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    return fd


@dataclasses.dataclass
class OpenEpisode:
    """A training episode in progress, as a mid-episode checkpoint saves it."""

    episode: Any                      # hierarchy.agent.agent.Episode
    actions: List[np.ndarray]         # environment actions taken so far in the episode
    reset_rng_state: Dict[str, Any]   # the environment generator's state before the episode's reset

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> OpenEpisode:
        return pickle.loads(data)


_NESTED_ENV_DEPTH = 3   # how deep env_generators looks for environments held by environments


def env_generators(env) -> Dict[str, np.random.Generator]:
    """Every random generator the environment draws from: "" -> `env.unwrapped.np_random`, and
    "<attr>[.<attr>...]" -> the generator of each environment held in an attribute of the unwrapped
    environment (and of those, up to _NESTED_ENV_DEPTH deep), each generator once, in a stable
    order. An inner environment whose generator was never created is left out."""
    import gymnasium as gym

    root = env.unwrapped
    found = {"": root.np_random}
    seen_envs, seen_generators = {id(root)}, {id(root.np_random)}

    def walk(owner, prefix: str, depth: int) -> None:
        if depth > _NESTED_ENV_DEPTH:
            return
        for name, value in sorted(vars(owner).items()):
            if not isinstance(value, gym.Env) or id(value.unwrapped) in seen_envs:
                continue
            inner = value.unwrapped
            seen_envs.add(id(inner))
            generator = getattr(inner, "_np_random", None)
            if generator is not None and id(generator) not in seen_generators:
                seen_generators.add(id(generator))
                found[prefix + name] = generator
            walk(inner, f"{prefix}{name}.", depth + 1)

    walk(root, "", 1)
    return found


def env_rng_state(env) -> Dict[str, Any]:
    """Copies of the states of the environment's generators (`env_generators`), by path."""
    return {path: dict(generator.bit_generator.state)
            for path, generator in env_generators(env).items()}


def set_env_rng_state(env, state: Dict[str, Any]) -> None:
    """Restores `env_rng_state`'s states. A state saved before nested generators were recorded (one
    bit generator's state) restores the environment's own generator.

    Raises:
      ValueError: the saved paths are not the environment's (a different environment).
    """
    if "bit_generator" in state:       # the older form: the environment's own generator only
        env.unwrapped.np_random.bit_generator.state = state
        return
    generators = env_generators(env)
    if set(state) != set(generators):
        raise ValueError(f"the saved environment generators {sorted(state)} are not this "
                         f"environment's {sorted(generators)}")
    for path, generator in generators.items():
        generator.bit_generator.state = state[path]


def replay(env, open_episode: OpenEpisode) -> Tuple[dict, dict]:
    """Brings `env` to the state of `open_episode`: restores the generator's pre-reset state, resets,
    and takes the episode's actions again.

    Returns:
      (observation, info) of the last step (of the reset, if no action had been taken).
    Raises:
      ReplayMismatchError: the replayed observation differs from the saved one (the environment is
        not deterministic given its generator and the actions).
    """
    set_env_rng_state(env, open_episode.reset_rng_state)
    obs, info = env.reset()
    for action in open_episode.actions:
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            raise ReplayMismatchError("the replayed episode ended before its saved actions did")
    saved = np.asarray(open_episode.episode.observation)
    if not np.array_equal(np.asarray(obs["observation"], saved.dtype), saved):
        raise ReplayMismatchError(
            f"replaying {len(open_episode.actions)} actions did not reproduce the saved observation "
            "(the environment is not deterministic given its random generator and the actions); "
            "resume from an episode-boundary checkpoint instead")
    return obs, info



def prepare_extension(root_dir: str, previous_total: int, total_steps: int) -> None:
    """Readies the run in `root_dir`, started for `previous_total` steps, to train to `total_steps`.

    A finished run's `finished.json` is kept as `finished_<previous_total>.json`. If that run was cut
    off mid-episode (its last training episode ended before `previous_total`), the extension starts
    a new episode there, which a warning says: the run stays valid, but it is not step for step the
    run a larger total from the start would have given. An unfinished run needs nothing.
    """
    logging.info("Extending the run in %s from %d to %d steps.", root_dir, previous_total,
                 total_steps)
    finished = os.path.join(root_dir, files.FINISHED)
    if not os.path.exists(finished):
        return
    rows = metrics.read_jsonl(os.path.join(root_dir, files.TRAIN_METRICS))
    last_episode_end = rows[-1]["step"] if rows else 0
    os.replace(finished, os.path.join(root_dir, files.previous_finished_file(previous_total)))
    if last_episode_end != previous_total:
        logging.warning(
            "The run was cut off mid-episode at step %d (its last episode ended at step %d): the "
            "extension starts a new episode there, so it is a valid run but not step for step the "
            "one a total of %d from the start would have given.", previous_total, last_episode_end,
            total_steps)
