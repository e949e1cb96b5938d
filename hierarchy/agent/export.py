"""A trained hierarchy as a TensorFlow SavedModel policy that runs without this library.

Between the top level's decisions every lower level carries a goal: the goal its parent set, the
state where it was set (for relative goals, the goal moves with the state: `goals.goal_transition`),
and the step counter that says when each level decides next. The exported policy carries that state
explicitly, as tensors the caller passes from one call to the next, so that it acts exactly as the
library's own (deterministic) evaluation does:

    policy = tf.saved_model.load(export_dir)
    state = policy.initial_state(batch_size)          # dict: step, origin_states, origin_goals
    out = policy.action(observation, context, **state)  # [B, obs_dim], [B, context_dim]
    action, state = out["action"], {k: out[k] for k in state}

`out` also holds `goal_<level name>` for every level: the goal it acted on at this step (the
context for the top level), for plots and debugging. Any batch size, any number of levels, relative
or absolute goals. `export_policy` writes the SavedModel and its provenance (`PROVENANCE_FILE` and
the run's operative gin configuration) into its `assets/` folder.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict

import tensorflow as tf
from absl import logging as absl_logging

from hierarchy.core import goals

STATE_KEYS = ("step", "origin_states", "origin_goals")
PROVENANCE_FILE = "hierarchy_export.json"
CONFIG_ASSET = "operative_config.gin"


class _Untracked:
    """Holds the levels out of TensorFlow's object tracking, so that saving the policy saves only
    the actors reached through `HierarchyPolicy.actors` (no critics, targets or optimizer slots)."""

    def __init__(self, levels):
        self.levels = tuple(levels)


class HierarchyPolicy(tf.Module):
    """The acting graph of a `Hierarchy`: deterministic (or with its training exploration noise)."""

    def __init__(self, hierarchy, *, exploration: bool = False):
        super().__init__(name="hierarchy_policy")
        levels = hierarchy.levels
        self._acting = _Untracked(levels)   # the levels' acting code, without their variables
        self.actors = [lvl.actor for lvl in levels]   # the only variables the SavedModel keeps
        self._space = hierarchy.goal_space
        self._exploration = bool(exploration)
        self.num_levels = len(levels)
        self.level_names = [lvl.level_name for lvl in levels]
        self.state_keys = list(STATE_KEYS)
        self.env_steps_per_step = tf.constant(hierarchy.env_steps_per_step, tf.int64)
        obs_dim, context_dim = levels[0].obs_dim, levels[0].goal_dim
        goal_dim = max(hierarchy.goal_dim, 1)   # a flat policy carries an unused column
        n = self.num_levels
        self.initial_state = tf.function(self._initial_state, input_signature=[
            tf.TensorSpec([], tf.int32, name="batch_size")])
        self.action = tf.function(self._action, input_signature=[
            tf.TensorSpec([None, obs_dim], tf.float32, name="observation"),
            tf.TensorSpec([None, context_dim], tf.float32, name="context"),
            tf.TensorSpec([None], tf.int64, name="step"),
            tf.TensorSpec([None, n, obs_dim], tf.float32, name="origin_states"),
            tf.TensorSpec([None, n, goal_dim], tf.float32, name="origin_goals")])
        self._goal_dim = goal_dim
        self._obs_dim = obs_dim

    def _initial_state(self, batch_size):
        return {"step": tf.zeros([batch_size], tf.int64),
                "origin_states": tf.zeros([batch_size, self.num_levels, self._obs_dim], tf.float32),
                "origin_goals": tf.zeros([batch_size, self.num_levels, self._goal_dim], tf.float32)}

    def _action(self, observation, context, step, origin_states, origin_goals):
        # Level i starts one of its own steps every K_i environment steps (and so do those below).
        new_step = tf.equal(step[:, None] % self.env_steps_per_step[None, :], 0)   # [B, N]
        actions, out = [], {}
        next_states, next_goals = [origin_states[:, 0]], [origin_goals[:, 0]]
        for i, lvl in enumerate(self._acting.levels):
            if i == 0:
                goal = context
            else:   # a level's goal: its parent's new decision, or the one carried since it was set
                parent_new = new_step[:, i - 1:i]
                o_state = tf.where(parent_new, observation, origin_states[:, i])
                o_goal = tf.where(parent_new, actions[i - 1], origin_goals[:, i, :lvl.goal_dim])
                goal = goals.goal_transition(o_state, o_goal, observation, space=self._space)
                next_states.append(o_state)
                next_goals.append(tf.pad(o_goal, [[0, 0], [0, self._goal_dim - lvl.goal_dim]]))
            action = lvl.policy(observation, goal)
            if self._exploration:
                action = lvl.explore(action, tf.random.normal(tf.shape(action)))
            actions.append(action)
            out[f"goal_{lvl.level_name}"] = goal
        out["action"] = actions[-1]
        out["step"] = step + 1
        out["origin_states"] = tf.stack(next_states, axis=1)
        out["origin_goals"] = tf.stack(next_goals, axis=1)
        return out


class ExportError(RuntimeError):
    """The export cannot be written (no checkpoint, an unwritable destination); nothing was."""


def export_policy(root_dir: str, out: str, *, checkpoint: str | None = None,
                  exploration: bool = False) -> Dict[str, Any]:
    """Exports a run's checkpoint (default: its newest intact one) as a SavedModel in `out`.

    Parse the run's `config.gin` first (`config.parse_gin`); the hierarchy is built from it. The
    SavedModel is written beside `out` and renamed into place, so `out` is either the whole export
    or what was there before. Returns the provenance record (also `assets/` + `PROVENANCE_FILE`).

    Raises:
      FileNotFoundError: no complete checkpoint in the run (or at `checkpoint`).
      checkpointing.NoIntactCheckpointError: every candidate checkpoint is damaged.
      ExportError: `out` cannot be written.
    """
    from hierarchy.run import files
    from hierarchy.run.saved_run import restore_run
    from hierarchy.run.settings import RunSettings

    parent = os.path.dirname(os.path.abspath(out)) or "."
    if not os.access(parent, os.W_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        raise ExportError(f"cannot write the export to {out}: {parent} is not writable")
    env, agent, path, state = restore_run(root_dir, checkpoint=checkpoint, weights_only=True)
    env.close()
    h = agent.hierarchy
    policy = HierarchyPolicy(h, exploration=exploration)
    record = {
        "root_dir": os.path.abspath(root_dir), "checkpoint": os.path.abspath(path),
        "step": int(state.step), "env_id": RunSettings().env_id,
        "num_levels": h.num_levels, "level_names": policy.level_names,
        "env_steps_per_step": [int(k) for k in h.env_steps_per_step],
        "exploration": bool(exploration), "state_keys": list(STATE_KEYS),
        "observation": _spec(h.levels[0].observation_spec),
        "context": _spec(h.levels[0].goal_spec),
        "action": _spec(h.levels[-1].action_spec),
        "goal_space": {"indices": [int(i) for i in h.goal_space.indices],
                       "relative": bool(h.goal_space.relative)},
        "commit": _commit(),
    }
    from hierarchy.run.files import atomic_directory

    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.WARNING)   # TensorFlow's lines about each file it writes
    try:
        with atomic_directory(out) as tmp:
            tf.saved_model.save(policy, tmp, signatures={"initial_state": policy.initial_state,
                                                         "action": policy.action})
            assets = os.path.join(tmp, "assets")
            os.makedirs(assets, exist_ok=True)
            with open(os.path.join(assets, PROVENANCE_FILE), "w") as f:
                json.dump(record, f, indent=1)
            config = os.path.join(root_dir, files.OPERATIVE_CONFIG_FILE)
            if os.path.isfile(config):
                shutil.copyfile(config, os.path.join(assets, CONFIG_ASSET))
    except OSError as e:
        raise ExportError(f"cannot write the export to {out}: {e.strerror or e}") from e
    finally:
        absl_logging.set_verbosity(verbosity)
    return record


def _spec(spec) -> Dict[str, Any]:
    out = {"shape": [int(d) for d in spec.shape], "dtype": spec.dtype.name}
    if hasattr(spec, "minimum"):
        out["low"] = tf.broadcast_to(spec.minimum, spec.shape).numpy().tolist()
        out["high"] = tf.broadcast_to(spec.maximum, spec.shape).numpy().tolist()
    return out


def _commit() -> str | None:
    """The commit of this library's checkout, if it is one (None for an installed copy)."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        done = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
