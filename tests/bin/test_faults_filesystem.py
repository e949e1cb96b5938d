"""Filesystem faults on real filesystems: a disk that fills between checkpoints, an existing run whose
checkpoints/ is read-only, a run directory that a read-only filesystem is mounted over while the run writes.

Each case runs the train binary inside a private user and mount namespace (`unshare -rm`), where an
unprivileged process may mount a small tmpfs or remount a directory read-only; the mounts vanish with
the namespace. Where the kernel does not allow such namespaces the tests skip, saying so."""

import os
import subprocess

import pytest
from run_helpers import FAULT_SETTINGS, POINT, REPO, assert_same_metrics, binary_command, binary_env, copy_run


def _namespaces_available():
    """Whether this kernel lets an unprivileged process mount a tmpfs and a read-only bind mount in a
    user and mount namespace of its own (what the tests below do)."""
    import tempfile

    probe = ('mount -t tmpfs -o size=1m tmpfs "$1" && mount --bind "$1" "$1" && '
             'mount -o remount,bind,ro "$1"')
    with tempfile.TemporaryDirectory() as directory:
        try:
            return subprocess.run(["unshare", "-rm", "sh", "-c", probe, "probe", directory],
                                  capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


pytestmark = pytest.mark.skipif(not _namespaces_available(),
                                reason="mounts in an unprivileged user and mount namespace (unshare -rm) "
                                       "are not allowed here")


def in_namespace(script, *args, timeout=600):
    """Runs the bash `script` with `args` ($1 ...) in a new user and mount namespace."""
    return subprocess.run(["unshare", "-rm", "bash", "-c", "set -u\n" + script, "fs-fault", *args],
                          cwd=REPO, env=binary_env(), capture_output=True, text=True, timeout=timeout)


def train_command(root, extra_settings=()):
    return binary_command("train", root, POINT, FAULT_SETTINGS + list(extra_settings))


# $1 a mount point, $2 a directory for the logs and the copy of the run, $3... the train command
# (its root_dir inside $1). The disk fills once the first checkpoint is written; then space is freed
# and the same command runs again.
FULL_DISK = """
mnt=$1; out=$2; shift 2
mount -t tmpfs -o size=8m tmpfs "$mnt"
"$@" > "$out/first.log" 2>&1 &
pid=$!
until grep -q "Saved checkpoint" "$out/first.log"; do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -STOP $pid
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
kill -CONT $pid
wait $pid; echo $? > "$out/first.status"
rm "$mnt/filler"
"$@" > "$out/second.log" 2>&1; echo $? > "$out/second.status"
cp -r "$mnt/run" "$out/run"
"""


def test_a_disk_that_fills_between_checkpoints_stops_in_one_line_and_resumes(tmp_path, reference):
    """The disk fills after the checkpoint of step 200; the evaluation of step 400 (its pictures,
    its TensorBoard events) comes before the next checkpoint and cannot be written."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    command = train_command(str(mnt / "run"), ["train.trajectory_plots = True"])
    done = in_namespace(FULL_DISK, str(mnt), str(tmp_path), *command)
    assert done.returncode == 0, done.stderr[-3000:]
    first = (tmp_path / "first.log").read_text()
    assert (tmp_path / "first.status").read_text().strip() == "1", first[-3000:]
    assert "Traceback" not in first and "Exception ignored" not in first
    (line,) = [line for line in first.splitlines() if "could not be written" in line]
    assert "No space left on device" in line and "Training stopped" in line
    assert f"{mnt / 'run' / 'checkpoints' / 'ckpt-200'} (step 200), is intact" in line
    second = (tmp_path / "second.log").read_text()
    assert (tmp_path / "second.status").read_text().strip() == "0", second[-3000:]
    assert "(step 200, 1 episodes)" in second
    assert_same_metrics(str(tmp_path / "run"), reference)


READ_ONLY = """
d=$1; shift
mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 99
"$@"
"""


def test_an_existing_run_with_read_only_checkpoints_refuses_in_one_line(tmp_path, killed):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    listing = sorted(os.listdir(root)), sorted(os.listdir(directory))
    done = in_namespace(READ_ONLY, directory, *train_command(root))
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "cannot use" in line]
    assert "Read-only file system" in line and directory in line and "Nothing was run" in line
    assert (sorted(os.listdir(root)), sorted(os.listdir(directory))) == listing


# $1 the run directory, $2 a directory for the logs, $3... the command. Once the first checkpoint is
# written, a read-only view of the run directory is mounted over it: files the run has open stay
# writable (as on a real filesystem, whose files open for writing keep it from being remounted
# read-only), every file it opens from then on is refused with EROFS. Unmounted, the command runs
# again.
READ_ONLY_MID_RUN = """
root=$1; out=$2; shift 2
"$@" > "$out/first.log" 2>&1 &
pid=$!
until grep -q "Saved checkpoint" "$out/first.log"; do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -STOP $pid
mount --bind "$root" "$root" && mount -o remount,bind,ro "$root" || exit 99
kill -CONT $pid
wait $pid; echo $? > "$out/first.status"
umount "$root" || exit 99
"$@" > "$out/second.log" 2>&1; echo $? > "$out/second.status"
"""


@pytest.mark.slow
def test_a_read_only_filesystem_mounted_over_the_run_mid_run_stops_in_one_line_and_resumes(
        tmp_path, reference):
    root = tmp_path / "run"
    done = in_namespace(READ_ONLY_MID_RUN, str(root), str(tmp_path), *train_command(str(root)))
    assert done.returncode == 0, done.stderr[-3000:]
    first = (tmp_path / "first.log").read_text()
    assert (tmp_path / "first.status").read_text().strip() == "1", first[-3000:]
    assert "Traceback" not in first
    (line,) = [line for line in first.splitlines() if "could not be written" in line]
    assert "Read-only file system" in line and "ckpt-200" in line
    second = (tmp_path / "second.log").read_text()
    assert (tmp_path / "second.status").read_text().strip() == "0", second[-3000:]
    assert "(step 200, 1 episodes)" in second
    assert_same_metrics(str(root), reference)
