"""The exported SavedModel policy (`hierarchy.agent.export`): in a Python process that cannot import this
library, it steps a real gymnasium-robotics task through a whole episode and takes exactly the
actions, and acts on exactly the goals, that the library's own evaluation takes from the same
checkpoint and start state."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from run_helpers import TINY

from hierarchy.agent import export
from hierarchy.run.config import parse_gin
from hierarchy.run.runner import train
from hierarchy.run.saved_run import restore_run

START_SEED = 123   # the evaluation episode's start state (and goal), drawn by the task itself

# Runs with `python -I` (no PYTHONPATH, no current directory on the path) and refuses to import the
# library even where it is installed: the policy must stand on TensorFlow alone.
LIBRARY_FREE = """
import importlib.abc, json, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("hierarchy", "envs"):
            raise ModuleNotFoundError(f"No module named {name!r} (refused)")
sys.meta_path.insert(0, Refuse())
for name in ("hierarchy", "envs"):
    try:
        __import__(name)
        sys.exit(f"{name} was importable")
    except ModuleNotFoundError:
        pass
import numpy as np, tensorflow as tf, gymnasium as gym, gymnasium_robotics
gym.register_envs(gymnasium_robotics)
export_dir, env_id, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
policy = tf.saved_model.load(export_dir)
provenance = json.load(open(export_dir + "/assets/hierarchy_export.json"))
env = gym.make(env_id)
obs, _ = env.reset(seed=seed)
state = policy.initial_state(tf.constant(1))
state = {k: state[k] for k in provenance["state_keys"]}
actions, goals, done = [], {name: [] for name in provenance["level_names"]}, False
while not done:
    observation = np.concatenate([obs["observation"], obs["achieved_goal"]]).astype(np.float32)
    context = np.asarray(obs["desired_goal"], np.float32)
    result = policy.action(observation[None], context[None], **state)
    state = {k: result[k] for k in provenance["state_keys"]}
    action = result["action"].numpy()[0]
    actions.append(action)
    for name in goals:
        goals[name].append(result["goal_" + name].numpy()[0])
    obs, _, terminated, truncated, _ = env.step(action)
    done = terminated or truncated
np.savez(out, actions=np.array(actions), **{"goal_" + k: np.array(v) for k, v in goals.items()})
"""

SETTINGS = TINY + ["Agent.warmup_steps = 100", "train.total_steps = 400", "train.eval_interval = 400",
                   "train.checkpoint_interval = 400", "train.eval_episodes_per_context = 1",
                   "train.trajectory_plots = False", "train.log_interval = 200"]


def library_episode(root):
    """The library's own evaluation acting (deterministic) from the run's newest checkpoint."""
    env, agent, _, _ = restore_run(root, weights_only=True)
    obs, _ = env.reset(seed=START_SEED)
    episode = agent.begin_episode(obs["observation"], obs["context"], training=False)
    names = [lvl.level_name for lvl in agent.hierarchy.levels]
    actions, goals, done = [], {name: [] for name in names}, False
    while not done:
        inputs = agent.prepare_step(episode, update=False)
        outputs = agent.compiled.call(inputs)
        action = agent.finish_step(episode, inputs, outputs)
        actions.append(action.copy())
        for name, goal in zip(names, outputs.goals):
            goals[name].append(np.array(goal))
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(episode, reward, obs["observation"], terminated, truncated)
        done = terminated or truncated
    env.close()
    return np.array(actions), {k: np.array(v) for k, v in goals.items()}


@pytest.mark.parametrize("levels", [pytest.param(1, marks=pytest.mark.slow), 2,
                                    pytest.param(3, marks=pytest.mark.slow)])
def test_the_export_acts_as_the_library_without_the_library(tmp_path, levels):
    method = "flat" if levels == 1 else "hrl_cg"
    bindings = SETTINGS + [f"build_hierarchy.num_levels = {levels}"]
    if levels == 3:
        bindings.append("Hierarchy.periods = 5")
    parse_gin(["envs/point_maze_robotics.gin", f"methods/{method}.gin"], bindings)
    root, out = str(tmp_path / "run"), str(tmp_path / "policy")
    train(root)
    record = export.export_policy(root, out)
    assert record["num_levels"] == levels and record["step"] == 400
    assert os.path.isfile(os.path.join(out, "assets", export.CONFIG_ASSET))
    actions, goals = library_episode(root)
    assert len(actions) == 300   # the task's whole episode: it does not end at the goal

    script = tmp_path / "library_free.py"
    script.write_text(LIBRARY_FREE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = str(tmp_path / "exported.npz")
    done = subprocess.run([sys.executable, "-I", str(script), out, "PointMaze_UMaze-v3",
                           str(START_SEED), result], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    exported = np.load(result)
    np.testing.assert_array_equal(exported["actions"], actions)   # bit for bit
    for name, values in goals.items():
        np.testing.assert_array_equal(exported[f"goal_{name}"], values)


def test_a_batch_acts_as_its_rows_and_bad_shapes_name_the_expected_shape(tmp_path):
    parse_gin(["envs/point_reach.gin", "methods/hrl_cg.gin"],
              SETTINGS + ["Agent.warmup_steps = 10000", "train.total_steps = 100",
                          "train.eval_interval = 100", "train.checkpoint_interval = 100"])
    root, out = str(tmp_path / "run"), str(tmp_path / "policy")
    train(root)
    export.export_policy(root, out)
    policy = tf.saved_model.load(out)
    provenance = json.load(open(os.path.join(out, "assets", export.PROVENANCE_FILE)))
    obs_dim, context_dim = provenance["observation"]["shape"][0], provenance["context"]["shape"][0]
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(64, obs_dim)).astype(np.float32)
    contexts = rng.normal(size=(64, context_dim)).astype(np.float32)
    state = policy.initial_state(tf.constant(64))
    batch = policy.action(observations, contexts, **{k: state[k] for k in export.STATE_KEYS})
    one = policy.initial_state(tf.constant(1))
    for row in (0, 17, 63):
        alone = policy.action(observations[row:row + 1], contexts[row:row + 1],
                              **{k: one[k] for k in export.STATE_KEYS})
        np.testing.assert_allclose(batch["action"].numpy()[row], alone["action"].numpy()[0],
                                   rtol=1e-6, atol=1e-6)
    assert batch["step"].numpy().tolist() == [1] * 64
    with pytest.raises((ValueError, TypeError), match=rf"\(None, {obs_dim}\)"):
        policy.action(np.zeros((1, obs_dim + 1), np.float32), contexts[:1],
                      **{k: one[k] for k in export.STATE_KEYS})
