"""Crash-safe file writes: a reader (or a process restarted after `kill -9`) sees either the old
content or the whole new content, never part of it. Every atomic write of the library goes through
this module.

The recipe: write into a temporary name beside the target (same directory, so the same file
system), flush and fsync it, `os.replace` it onto the target (atomic on POSIX), then fsync the
directory so the rename itself survives a power cut. Temporary names start with the target's name
(files: `<name>.tmp-<pid>`) or with `.tmp-` (directories: `.tmp-<name>-<pid>`), so a writer can
recognise and remove what a killed predecessor left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator


def fsync_dir(path: str) -> None:
    """fsyncs the directory `path` (makes renames and new entries in it durable); best effort: file
    systems that cannot fsync a directory are skipped silently."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: str) -> None:
    """fsyncs every file and directory under `path`."""
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(dirpath)


@contextlib.contextmanager
def atomic_output(path: str, *, suffix: str = "") -> Iterator[str]:
    """Yields a temporary path for the caller to write `path`'s new content to (by any means, e.g.
    `savefig`), then moves it onto `path` atomically. `suffix` ends the temporary name (e.g. ".png"
    for writers that pick the format from the extension). If the body raises, `path` is left as it
    was and the temporary file is removed."""
    tmp = f"{path}.tmp-{os.getpid()}{suffix}"
    try:
        yield tmp
        if os.path.exists(tmp):
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def atomic_write_text(path: str, text: str) -> None:
    """Writes `text` to `path` so that readers see either the old or the whole new content."""
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        f.write(text)


@contextlib.contextmanager
def atomic_directory(path: str) -> Iterator[str]:
    """Yields an empty temporary directory (`.tmp-<name>-<pid>` beside `path`) for the caller to
    fill, then fsyncs everything in it and renames it to `path`, replacing a directory already
    there. If the body raises, the temporary directory is removed and `path` is left as it was."""
    parent, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(parent, f".tmp-{name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
        fsync_tree(tmp)
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
