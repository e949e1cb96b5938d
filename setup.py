"""hierarchy: goal-conditioned hierarchical RL with connected gradients, in TensorFlow 2."""

import os

from setuptools import find_packages, setup

# The gin files live in the repository's top-level `gin/` folder (beside `hierarchy/` and `envs/`).
# `package_dir` maps that folder onto the package `hierarchy.gin`, so a wheel (and a regular install)
# carries them as `hierarchy/gin/**.gin` inside the installed package, next to the code that reads
# them. A source checkout and an editable install keep them at `<repository>/gin/`, which is
# `hierarchy/../gin`; `hierarchy.run.config.gin_dir()` looks in both places, installed copy first.
# Every folder under gin/ is listed as a package of its own (setuptools ships package data per
# package), so a new folder of gin files is shipped without touching this file.
HERE = os.path.dirname(os.path.abspath(__file__))
GIN_PACKAGES = sorted("hierarchy." + os.path.relpath(path, HERE).replace(os.sep, ".")
                      for path, _, _ in os.walk(os.path.join(HERE, "gin")))

setup(
    name="hierarchy",
    version="0.1.0",
    description="Goal-conditioned hierarchical reinforcement learning (HRL-CG) in TensorFlow 2",
    packages=find_packages(include=["hierarchy", "hierarchy.*", "envs", "envs.*"]) + GIN_PACKAGES,
    package_dir={"hierarchy.gin": "gin"},
    package_data={name: ["*.gin"] for name in GIN_PACKAGES},
    # CI runs the default suite on Python 3.13 and the core tests on 3.11 (.ci/run).
    python_requires=">=3.11,<3.14",
    classifiers=["Programming Language :: Python :: 3",
                 "Programming Language :: Python :: 3.11",
                 "Programming Language :: Python :: 3.12",
                 "Programming Language :: Python :: 3.13",
                 "Topic :: Scientific/Engineering :: Artificial Intelligence"],
    # Exact pins live in requirements.txt; these are the direct dependencies. tf-agents is an
    # optional extra installed from requirements-tf-agents.txt with --no-deps: its own metadata pins
    # an old gym, pygame and typing-extensions that would hold TensorFlow at 2.15.
    install_requires=["tensorflow>=2.16", "tensorboard", "gymnasium>=1.0", "mujoco", "gin-config",
                      "absl-py", "numpy>=2", "matplotlib", "imageio"],
    entry_points={"console_scripts": ["hierarchy-train = hierarchy.bin.train:run",
                                      "hierarchy-evaluate = hierarchy.bin.evaluate:run",
                                      "hierarchy-export = hierarchy.bin.export:run"]},
)
