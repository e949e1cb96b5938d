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
  `ReplayMismatchError` if they differ. On disk (`OpenEpisode.to_files`, `read_open_episode`) it is
  arrays and JSON, no pickled classes (`hierarchy.run.records`): open_episode.npz holds every array,
  open_episode.json the rest (the records `OpenEpisode`, `Episode`, `Transition`, naming the
  arrays). A checkpoint of earlier versions holds open_episode.pkl instead, read by an unpickler
  that knows only those classes (under their old module paths too) and numpy's arrays.
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
import io
import os
import pickle
import signal
import socket
import threading
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
from absl import logging

from hierarchy.run import files, metrics, records

EPISODE_ARRAYS = "open_episode.npz"      # a mid-episode checkpoint's open episode: its arrays,
EPISODE_JSON = "open_episode.json"       # and everything else, naming them
LEGACY_EPISODE_FILE = "open_episode.pkl"   # the pickle that checkpoints held before
EPISODE_FORMAT = 1


class Interrupted(Exception):
    """The run stopped on SIGTERM after saving a checkpoint at `step` (`path`); re-run to resume."""

    def __init__(self, step: int, path: str, signal_name: str = "SIGTERM"):
        super().__init__(f"stopped by {signal_name} at step {step}; checkpoint {path} written")
        self.step, self.path, self.signal_name = step, path, signal_name


class RootDirectoryError(OSError):
    """The run's root directory cannot be created or written; nothing was run."""


class RunDirectoryLockedError(RootDirectoryError):
    """Another process trains in the run directory (it holds the run's lock); nothing was written."""


class OpenEpisodeError(ValueError):
    """A mid-episode checkpoint's open episode cannot be read (an unknown format or class)."""


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

    def to_files(self) -> Dict[str, bytes]:
        """{EPISODE_ARRAYS: the npz of its arrays, EPISODE_JSON: the rest}, for `Checkpointer.save`.

        Raises:
          TypeError: the episode holds a value that `records.to_arrays_and_json` cannot write.
        """
        arrays_data, text = records.to_arrays_and_json(self, _records(), format=EPISODE_FORMAT)
        return {EPISODE_ARRAYS: arrays_data, EPISODE_JSON: text.encode()}

    @staticmethod
    def from_files(arrays_data: bytes, json_data: bytes, *, where: str) -> OpenEpisode:
        """The `OpenEpisode` of `to_files`' two files; `where` (the checkpoint) names them in errors.

        Raises:
          OpenEpisodeError: the files are of another format, or name an unknown record or array.
        """
        try:
            open_episode = records.from_arrays_and_json(arrays_data, json_data.decode(), _records(),
                                                        format=EPISODE_FORMAT)
        except records.READ_ERRORS as e:
            raise OpenEpisodeError(f"cannot read the open episode in {where} ({EPISODE_ARRAYS}, "
                                   f"{EPISODE_JSON}): {e}") from e
        if not isinstance(open_episode, OpenEpisode):
            raise OpenEpisodeError(f"{os.path.join(where, EPISODE_JSON)} holds no open episode")
        return open_episode


def _records() -> Dict[str, type]:
    """The record classes an open episode's files may hold, by name."""
    from hierarchy.agent.agent import Episode
    from hierarchy.agent.replay import Transition
    return {"OpenEpisode": OpenEpisode, "Episode": Episode, "Transition": Transition}


def _legacy_records() -> Dict[Tuple[str, str], str]:
    """(module, name) -> record name, for every record an open_episode.pkl of earlier versions
    names: under their module paths before and after the split into subpackages."""
    known = {(module, "OpenEpisode"): "OpenEpisode"
             for module in ("hierarchy.resilience", "hierarchy.run.resilience")}
    known.update({(module, "Episode"): "Episode" for module in ("hierarchy.agent", "hierarchy.agent.agent")})
    known.update({(module, "Transition"): "Transition"
                  for module in ("hierarchy.replay", "hierarchy.agent.replay")})
    return known


# The numpy globals a pickled array, dtype or numpy scalar names (numpy 1 and numpy 2 paths).
_LEGACY_NUMPY = frozenset(
    [("numpy", "ndarray"), ("numpy", "dtype")]
    + [(f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")]
    + [(f"{core}.multiarray", name) for core in ("numpy.core", "numpy._core")
       for name in ("_reconstruct", "scalar")])


class _LegacyUnpickler(pickle.Unpickler):
    """Reads an open_episode.pkl of earlier versions: it may name the episode records
    (`_legacy_records`, mapped to the current classes) and numpy's arrays, nothing else."""

    def __init__(self, data: bytes, path: str):
        super().__init__(io.BytesIO(data))
        self.path, self.records = path, _legacy_records()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.records:
            return _records()[self.records[(module, name)]]
        if (module, name) in _LEGACY_NUMPY:
            return super().find_class(module, name)
        raise OpenEpisodeError(
            f"{self.path} refers to {module}.{name}, which is not part of an open episode of this "
            "library (only its episode records and numpy arrays are read), so it was not loaded; "
            "resume from an episode-boundary checkpoint instead (move this checkpoint aside)")


def read_open_episode(path: str, read: Callable[[str, str], bytes]) -> OpenEpisode:
    """The open episode of the mid-episode checkpoint at `path`, whose files `read(path, name)`
    returns (`Checkpointer.read_blob`): open_episode.npz and .json, or an earlier version's
    open_episode.pkl.

    Raises:
      OpenEpisodeError: in one line naming the file: unreadable, or (a pickle) naming a class or
        function other than the known ones.
    """
    if os.path.exists(os.path.join(path, EPISODE_JSON)):
        return OpenEpisode.from_files(read(path, EPISODE_ARRAYS), read(path, EPISODE_JSON),
                                      where=path)
    file = os.path.join(path, LEGACY_EPISODE_FILE)
    try:
        open_episode = _LegacyUnpickler(read(path, LEGACY_EPISODE_FILE), file).load()
    except OpenEpisodeError:
        raise
    except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, EOFError, OSError) as e:
        raise OpenEpisodeError(f"cannot read the open episode {file}: {type(e).__name__}: {e}") from e
    if not isinstance(open_episode, OpenEpisode):
        raise OpenEpisodeError(f"{file} holds a {type(open_episode).__name__}, not an open episode")
    return open_episode


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
