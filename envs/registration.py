"""Registers the environments of this package with gymnasium (namespace "hierarchy/")."""

from __future__ import annotations

import gymnasium as gym

# id -> entry point; the class's task_spec gives max_episode_steps.
_ENTRY_POINTS = {
    "hierarchy/PointReach-v0": "envs.point:PointReach",
    "hierarchy/PointMaze-v0": "envs.point:PointMaze",
    "hierarchy/AntMaze-v0": "envs.maze:AntMaze",
    "hierarchy/AntGather-v0": "envs.gather:AntGather",
    "hierarchy/AntPush-v0": "envs.hiro:AntPush",
    "hierarchy/AntFall-v0": "envs.hiro:AntFall",
    "hierarchy/AntFourRooms-v0": "envs.hiro:AntFourRooms",
}

ENV_IDS: tuple[str, ...] = tuple(_ENTRY_POINTS)


def register_envs() -> None:
    """Registers every id of ENV_IDS (idempotent), with TimeLimit at the task's horizon."""
    import importlib

    for env_id, entry_point in _ENTRY_POINTS.items():
        if env_id in gym.registry:
            continue
        module_name, class_name = entry_point.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        gym.register(
            id=env_id,
            entry_point=entry_point,
            max_episode_steps=cls.task_spec.max_episode_steps,
        )
