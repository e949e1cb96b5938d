"""Atomic writes (`hierarchy.run.files`): all or nothing, nothing left behind."""

import os

import pytest

from hierarchy.run import files


def test_atomic_write_text_replaces_the_whole_content(tmp_path):
    path = str(tmp_path / "a.txt")
    files.atomic_write_text(path, "old\n")
    files.atomic_write_text(path, "new content\n")
    assert open(path).read() == "new content\n"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(tmp_path):
    path = str(tmp_path / "a.txt")
    files.atomic_write_text(path, "old\n")
    with pytest.raises(RuntimeError, match="killed"):
        with files.atomic_output(path, suffix=".png") as tmp:
            assert tmp.endswith(".png") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed while writing")
    assert open(path).read() == "old\n"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_directory_replaces_a_directory_or_leaves_it(tmp_path):
    target = str(tmp_path / "ckpt-1")
    with files.atomic_directory(target) as tmp:
        assert os.path.basename(tmp).startswith(".tmp-ckpt-1-")
        open(os.path.join(tmp, "x"), "w").write("1")
    with files.atomic_directory(target) as tmp:
        open(os.path.join(tmp, "y"), "w").write("2")
    assert os.listdir(target) == ["y"]
    with pytest.raises(RuntimeError):
        with files.atomic_directory(target) as tmp:
            open(os.path.join(tmp, "z"), "w").write("3")
            raise RuntimeError("killed while writing")
    assert os.listdir(target) == ["y"] and os.listdir(tmp_path) == ["ckpt-1"]
