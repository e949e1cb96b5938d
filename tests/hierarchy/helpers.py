"""Small hierarchies, agents and batches shared by the hierarchy tests."""

import dataclasses

import numpy as np
import tensorflow as tf

from hierarchy import Agent, Hierarchy, Level
from hierarchy.agent.replay import Draws, ReplayBuffer, Transition
from hierarchy.core import specs
from hierarchy.core.diagnostics import as_tensors

OBS = 4
GOAL_INDICES = (0, 2)
GOAL_BOUND = 3.0
CTX = 2
ACT = 2


def make_levels(num_levels, hidden=(8, 8), **level_kwargs):
    obs = specs.TensorSpec([OBS], tf.float32)
    goal = specs.BoundedTensorSpec([len(GOAL_INDICES)], tf.float32, -GOAL_BOUND, GOAL_BOUND)
    ctx = specs.BoundedTensorSpec([CTX], tf.float32, -5.0, 5.0)
    act = specs.BoundedTensorSpec([ACT], tf.float32, -1.0, 1.0)
    names = ["flat"] if num_levels == 1 else (
        ["top"] + [f"mid{i}" for i in range(1, num_levels - 1)] + ["low"])
    levels = []
    for i, name in enumerate(names):
        levels.append(Level(
            observation_spec=obs, goal_spec=ctx if i == 0 else goal,
            action_spec=act if i == num_levels - 1 else goal, actor_hidden_sizes=hidden,
            critic_hidden_sizes=hidden, seed=10 * i + 1, name=name, **level_kwargs))
    return levels


def make_hierarchy(num_levels=2, periods=3, hidden=(8, 8), level_kwargs=None, **kwargs):
    levels = make_levels(num_levels, hidden, **(level_kwargs or {}))
    return Hierarchy(levels=levels, periods=periods, goal_indices=GOAL_INDICES, **kwargs)


def make_agent(hierarchy, batch_size=16, capacity=1000, **kwargs):
    """An `Agent` whose replays hold `capacity` rows and sample `batch_size` of them."""
    return Agent(hierarchy=hierarchy, make_replay=lambda i, layout: ReplayBuffer(
        layout=layout, capacity=capacity, batch_size=batch_size), **kwargs)


def randomize_last_layers(level, rng, scale=0.5):
    """Larger output layers than the +/-3e-3 initialisation, so every gradient path is visible."""
    mlps = [level.actor, level.target_actor, *level.critics.members, *level.target_critics.members]
    for mlp in mlps:
        for var in (mlp.kernels[-1], mlp.biases[-1]):
            var.assign(rng.normal(scale=scale, size=var.shape).astype(np.float32))


def random_batch(hierarchy, level, rng, batch_size=16, partial=True):
    """(Transition, Draws) of level `level` as `[B, ...]` tensors, as the compiled step sees them."""
    lvl = hierarchy.levels[level]
    k = hierarchy.child_steps[level]
    n = rng.integers(1, k + 1, size=batch_size) if partial else np.full(batch_size, k)
    child_actions = None
    if hierarchy.uses_child_actions(level):
        child = hierarchy.levels[level + 1]
        child_actions = rng.uniform(-1, 1, size=(batch_size, k, child.action_dim)).astype(np.float32)
    transition = Transition(
        observations=rng.normal(size=(batch_size, k + 1, OBS)).astype(np.float32),
        num_steps=n.astype(np.int32),
        goal=rng.uniform(-2, 2, size=(batch_size, lvl.goal_dim)).astype(np.float32),
        action=rng.uniform(-1, 1, size=(batch_size, lvl.action_dim)).astype(np.float32),
        reward=rng.normal(size=batch_size).astype(np.float32),
        discount=np.ones(batch_size, np.float32),
        child_actions=child_actions)
    draws = Draws(noise=rng.normal(size=(batch_size, lvl.action_dim)).astype(np.float32))
    if hierarchy.has_cg(level):
        draws.child_step = np.minimum((rng.random(batch_size) * n).astype(np.int32), n - 1)
    return as_tensors(transition), as_tensors(draws)




def as_numpy(batch):
    """A (Transition, Draws) batch as one dict of numpy arrays (None fields left out)."""
    out = {}
    for record in batch:
        out.update({f.name: np.asarray(getattr(record, f.name)) for f in dataclasses.fields(record)
                    if getattr(record, f.name) is not None})
    return out


def variables_snapshot(module_vars):
    return [v.numpy().copy() for v in module_vars]


def pack_rows(layout, record):
    """The packed `[B, width]` rows of a batched record (`Transition` or `Draws` of `[B, ...]`)."""
    arrays = {k: np.asarray(getattr(record, k)) for k in layout.fields}
    size = len(next(iter(arrays.values())))
    return np.stack([layout.pack(layout.record_type(**{k: v[b] for k, v in arrays.items()}))
                     for b in range(size)])
