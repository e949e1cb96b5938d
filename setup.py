"""hierarchy: goal-conditioned hierarchical RL with connected gradients, in TensorFlow 2."""

from setuptools import find_packages, setup

setup(
    name="hierarchy",
    version="0.1.0",
    description="Goal-conditioned hierarchical reinforcement learning (HRL-CG) in TensorFlow 2",
    packages=find_packages(include=["hierarchy", "hierarchy.*", "envs", "envs.*"]),
    package_data={"hierarchy": ["gin/**/*.gin"]},
    python_requires=">=3.11,<3.12",
    # Exact pins live in requirements.txt; these are the direct dependencies.
    install_requires=["tensorflow", "tf-agents", "gymnasium", "mujoco", "gin-config", "absl-py",
                      "numpy", "matplotlib"],
    entry_points={"console_scripts": ["hierarchy-train = hierarchy.bin.train:run",
                                      "hierarchy-evaluate = hierarchy.bin.evaluate:run"]},
)
