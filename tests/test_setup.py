"""Packaging (setup.py): the wheel ships the top-level gin/ folder as `hierarchy/gin`, and the gin
locator finds the files both in an installed wheel and in this checkout."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from hierarchy.run import config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN = os.path.join(REPO, "gin")


def checkout_gin_files():
    out = []
    for dirpath, _, names in os.walk(GIN):
        out += [os.path.relpath(os.path.join(dirpath, n), GIN) for n in names if n.endswith(".gin")]
    return sorted(out)


def test_the_checkout_locator_finds_the_top_level_gin_folder():
    assert config.gin_dir() == GIN
    assert config.available_gin_files() == checkout_gin_files()
    assert config.resolve_gin_file("paper/ant_maze_hrl_cg.gin") == os.path.join(GIN, "paper",
                                                                                 "ant_maze_hrl_cg.gin")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built offline from a copy of the sources (the checkout is left untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("hierarchy", "envs", "gin"):
        shutil.copytree(os.path.join(REPO, name), src / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(REPO, "setup.py"), src / "setup.py")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("hierarchy-*.whl")
    return str(path)


def test_the_wheel_holds_every_gin_file(wheel):
    with zipfile.ZipFile(wheel) as z:
        shipped = sorted(os.path.relpath(n, "hierarchy/gin") for n in z.namelist()
                         if n.startswith("hierarchy/gin/"))
    assert shipped == checkout_gin_files()


def test_the_installed_wheel_finds_and_parses_its_gin_files(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(target), wheel], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = (
        "import gin, hierarchy\n"
        "from hierarchy.run import config\n"
        "print(hierarchy.__file__)\n"
        "print(config.gin_dir())\n"
        "print(len(config.available_gin_files()))\n"
        "config.parse_gin(['paper/ant_maze_hrl_cg.gin'])\n"
        "print(gin.query_parameter('train.env_id'))\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    module, gin_dir, count, env_id = proc.stdout.split()
    assert module == str(target / "hierarchy" / "__init__.py")
    assert gin_dir == str(target / "hierarchy" / "gin")
    assert int(count) == len(checkout_gin_files())
    assert env_id == "hierarchy/AntMaze-v0"
