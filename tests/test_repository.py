"""No tracked file names a path of the machine that wrote it.

Results, logs and reports are written on some machine and committed; a path such as a scratch root
under a home or work folder means nothing on any other machine, and says where one was. The rule:
no tracked text file holds an absolute path under the folders where machines keep users' work and
scratch files (work, tmp, root, home, Users, mnt; a Windows drive letter and folder). What stands in for them:
- `{root_dir}`: a sweep's scratch root (`benchmarks.sweeps.collect` writes it in what it copies);
- `{python}`: the interpreter that ran a command (`benchmarks.sweeps.cell_runner.PYTHON`);
- `{worktree}`: the checkout a comparison ran in (the logs of benchmarks/results/architecture_step);
- paths relative to a run directory (`evaluation_<step>.json`'s "checkpoint") or to the repository.
System paths such as `/usr/bin/time` or `/dev/shm` are allowed: they name no one's files. Files
that are not text (pictures, gzipped rows) are skipped.
"""

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A path that starts at one of those folders, not inside a longer word or URL ("x.com/home/" is not
# one), nor a placeholder's tail ("{root_dir}/tmp/" is relative).
ABSOLUTE = re.compile(r"(?<![\w.}/~-])(?:/(?:work|tmp|root|home|Users|mnt)/[\w.-]|[A-Z]:(\\\\?)\w[\w .-]*\1)")


def tracked_text_files():
    names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        path = ROOT / name
        if not path.is_file():
            continue               # deleted in the work tree, not yet committed
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue               # not text
        yield name, data.decode(errors="replace")


def absolute_paths(text: str):
    """The (line number, line) of every line of `text` with such a path."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if ABSOLUTE.search(line)]


def test_the_rule_hand_checked():
    slash = "/"       # built so that this file holds no such path itself
    for bad in ["--root_dir " + slash + "work/runs/x", '"' + slash + "tmp/run", slash + "home/a/b",
                slash + "root/.cache/x", "C:" + "\\" + "Users" + "\\" + "me",
                "D:" + "\\\\" + "runs" + "\\\\" + "x"]:
        assert absolute_paths(bad), bad
    for good in ["--root_dir {root_dir}/ant_maze/hrl_L2/seed0", "'{python}' -m hierarchy.bin.train",
                 "checkpoints/ckpt-1000000", "https://example.com" + slash + "home/page",
                 slash + "usr/bin/time -v", "runs" + slash + "tmp/x", "{root_dir}" + slash + "tmp/x",
                 "see 'work" + slash + "' below", "a ratio 3:" + "\\" + "n",
                 "if x:" + "\\" + "n    y = 1" + "\\" + "n"]:
        assert not absolute_paths(good), good


def test_no_tracked_file_holds_an_absolute_path():
    found = [f"{name}:{n}: {line[:160]}" for name, text in tracked_text_files()
             for n, line in absolute_paths(text)]
    assert not found, "absolute paths of a machine in tracked files (see this module's docstring):\n" \
        + "\n".join(found[:40])
