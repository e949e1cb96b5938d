"""One attempt at one sweep cell: the training binary as a child process, under the cell's lock.

`run_attempt` is what a Ray task of `sweep.py` executes on whichever node runs it. It imports only the
standard library, so it runs (and is tested) without Ray, and Ray can ship it to the nodes by value.

Faults it is built for:
- The worker running the attempt dies (SIGKILL, out of memory, its node lost): the child gets SIGTERM
  from the kernel at once (`PR_SET_PDEATHSIG`, set in the child before it execs the binary), so no
  orphan trains on; the training binary saves a checkpoint at its next environment step and exits.
  The child runs in a session of its own: Ray kills a dead worker's whole process group with
  SIGKILL, which would lose the steps since the binary's last scheduled checkpoint.
- Two attempts of one cell (a retry scheduled while the previous attempt's child is still writing
  its last checkpoint): the cell's lock file `<cell dir>/.lock` is held with `fcntl.flock` by the
  attempt AND inherited by its child, so the lock is free only once both are gone; a new attempt
  waits for it before starting its child. flock works between processes of one machine; on a shared
  filesystem across machines it holds only where the filesystem supports flock (NFSv4 and most
  cluster filesystems do).
- A run stopped by a signal, or stopped cleanly but unfinished (SIGTERM: checkpointed, exit 0, no
  `finished_file`): `CellInterrupted` is raised, which the sweep retries; the next attempt resumes the
  run from its checkpoint.
A run that fails by itself (a configuration error, a diverged run: a non-zero exit status) is not
retried: the attempt returns its exit status.

Every attempt appends one JSON line to `<cell dir>/attempts.jsonl` when it starts its child and one
when the child ends (also when the attempt is cancelled, e.g. by an interrupted sweep: the child is
stopped with SIGTERM, checkpoints, and the record says `interrupted`); the child's output goes to
`<cell dir>/train.log`.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from typing import Dict, Sequence

LOCK_FILE = ".lock"
ATTEMPTS_FILE = "attempts.jsonl"
LOG_FILE = "train.log"
PYTHON = "{python}"          # in a command: the Python interpreter of the process running the attempt

# Runs in the child between fork and the binary: asks the kernel for SIGTERM when the parent (the
# attempt) dies, exits if the parent is already gone, then execs the command (argv[2:]).
_PDEATHSIG_SHIM = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"   # 1 = PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(143)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


class CellInterrupted(RuntimeError):
    """The attempt's run stopped before it finished (a signal, or SIGTERM's clean checkpoint-and-exit,
    or the cell's lock could not be taken in time); another attempt resumes it."""


def acquire_lock(cell_dir: str, *, wait_s: float, poll_s: float = 0.2, log=None) -> int:
    """Opens `<cell_dir>/.lock` and takes an exclusive flock on it, waiting up to `wait_s` seconds.

    Returns:
      The file descriptor holding the lock (close it, or let the process end, to release it).
    Raises:
      CellInterrupted: another process still holds the lock after `wait_s` seconds.
    """
    os.makedirs(cell_dir, exist_ok=True)
    fd = os.open(os.path.join(cell_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
        if time.monotonic() >= deadline:
            os.close(fd)
            raise CellInterrupted(f"{cell_dir} is locked by another attempt (its {LOCK_FILE} is held) "
                                  f"after waiting {wait_s:.0f} s")
        if log is not None and not said:
            log(f"waiting for the lock {os.path.join(cell_dir, LOCK_FILE)} (a previous attempt is "
                "still running)")
            said = True
        time.sleep(poll_s)


def _append_json(path: str, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_attempt(args: Sequence[str], cell_dir: str, *, cwd: str, env_overrides: Dict[str, str],
                finished_file: str, lock_wait_s: float = 600.0,
                term_grace_s: float = 120.0) -> Dict[str, object]:
    """Runs the command `args` (the training binary of one cell) to its end under the cell's lock.

    Args:
      args: the command, e.g. [PYTHON, -m, hierarchy.bin.train, --root_dir, <cell_dir>, ...]; the
        placeholder `PYTHON` stands for this process's interpreter (the node's, not the driver's).
      cell_dir: the cell's root directory (holds the lock, the attempt records and train.log).
      cwd: working directory of the child (the repository root).
      env_overrides: variables set for the child on top of this process's environment
        (PYTHONPATH entries are prepended to the existing PYTHONPATH).
      finished_file: the file (in `cell_dir`) the binary writes when its run is complete.
      lock_wait_s: how long to wait for a previous attempt's lock.
      term_grace_s: when this attempt itself is interrupted (an exception such as Ray's cancellation
        while waiting), how long the child gets after SIGTERM to checkpoint before SIGKILL.

    Returns:
      {"returncode", "host", "pid" (this process), "child_pid", "start", "child_start", "child_end",
      "end", "finished"}; times are `time.time()` values.
    Raises:
      CellInterrupted: the run stopped unfinished (retry it), see the module docstring.
    """
    start = time.time()
    args = [sys.executable if a == PYTHON else a for a in args]
    env = dict(os.environ)
    for key, value in env_overrides.items():
        if key == "PYTHONPATH" and env.get(key):
            value = value + os.pathsep + env[key]
        env[key] = value
    log_path = os.path.join(cell_dir, LOG_FILE)
    os.makedirs(cell_dir, exist_ok=True)
    with open(log_path, "a") as log:
        def say(line: str) -> None:
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
            log.flush()

        lock_fd = acquire_lock(cell_dir, wait_s=lock_wait_s, log=say)
        try:
            say(f"attempt on {socket.gethostname()} (pid {os.getpid()}): {' '.join(args)}")
            command = [sys.executable, "-c", _PDEATHSIG_SHIM, str(os.getpid()), *args]
            child_start = time.time()
            # Its own session: Ray SIGKILLs a dead worker's process group, which would kill the
            # binary before it could checkpoint; the kernel's SIGTERM (the shim) stops it instead.
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                    pass_fds=(lock_fd,), start_new_session=True)
            record = {"host": socket.gethostname(), "pid": os.getpid(), "child_pid": proc.pid,
                      "start": start, "child_start": child_start}
            _append_json(os.path.join(cell_dir, ATTEMPTS_FILE), dict(record, event="start"))
            try:
                returncode = _wait(proc)
            except BaseException as e:   # cancelled (the sweep was interrupted): stop the child cleanly
                _stop(proc, term_grace_s)
                now = time.time()
                record.update(returncode=proc.returncode, child_end=now, end=now,
                              finished=os.path.exists(os.path.join(cell_dir, finished_file)),
                              interrupted=type(e).__name__)
                _append_json(os.path.join(cell_dir, ATTEMPTS_FILE), dict(record, event="end"))
                say(f"attempt interrupted ({type(e).__name__}): the run was stopped with SIGTERM, "
                    f"exit status {proc.returncode}")
                raise
            record["child_end"] = time.time()
        finally:
            os.close(lock_fd)
        finished = os.path.exists(os.path.join(cell_dir, finished_file))
        record.update(returncode=returncode, finished=finished, end=time.time())
        _append_json(os.path.join(cell_dir, ATTEMPTS_FILE), dict(record, event="end"))
        say(f"attempt ended: exit status {returncode}, {'finished' if finished else 'unfinished'}")
    if returncode < 0 or (returncode == 0 and not finished):
        how = f"signal {-returncode}" if returncode < 0 else "a clean stop before the end (SIGTERM)"
        raise CellInterrupted(f"{cell_dir}: the run stopped unfinished ({how}); a retry resumes it")
    return record


def _wait(proc: subprocess.Popen, poll_s: float = 0.5) -> int:
    """`proc.wait()` in short slices: an exception that Ray's cancellation raises asynchronously in
    this thread is only delivered between Python instructions, never inside one long wait."""
    while True:
        try:
            return proc.wait(timeout=poll_s)
        except subprocess.TimeoutExpired:
            continue


def _stop(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM (the binary checkpoints and exits), then SIGKILL after `grace_s` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
