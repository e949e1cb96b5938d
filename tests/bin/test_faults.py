"""Runs that survive faults: SIGTERM mid-episode, a damaged newest checkpoint, an unwritable root
directory, a full disk while a checkpoint is written."""

import json
import os
import signal
import subprocess
import types

import gymnasium as gym
import numpy as np
import pytest
import run_helpers
from run_helpers import (
    FAULT_SETTINGS,
    POINT,
    REPO,
    assert_same_metrics,
    binary_command,
    binary_env,
    copy_run,
    flip_bytes,
    run_binary,
    tf_data_file,
)

import envs  # noqa: F401  (registers the environments)
from hierarchy.run import checkpointing, resilience
from hierarchy.run.config import parse_gin
from hierarchy.run.runner import train

SETTINGS = FAULT_SETTINGS
rows = run_helpers.metric_rows


def run_until_log_line(root, text, sig):
    return run_helpers.run_until_log_line(root, POINT, SETTINGS, text, sig)


def test_sigterm_checkpoints_mid_episode_and_resumes_exactly(tmp_path, reference, sigtermed):
    root = str(tmp_path / "run")
    copy_run(sigtermed[0], root)
    err = sigtermed[1]
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    latest = ckpt.latest()
    state = ckpt.read_loop_state(latest)
    # The signal lands a few steps after the line was read; the episode boundaries are 200 and 400.
    step = state.step
    assert 350 <= step < 400 and os.path.basename(latest) == f"ckpt-{step}" and state.open_episode
    assert f"Stopped by SIGTERM at step {step}" in err and "re-run the same command to resume" in err
    # The open episode is arrays and JSON, each file with its checksum; nothing is pickled.
    assert sorted(state.blob_sha256) == sorted([resilience.EPISODE_ARRAYS, resilience.EPISODE_JSON])
    assert not os.path.exists(os.path.join(latest, resilience.LEGACY_EPISODE_FILE))
    with open(os.path.join(latest, resilience.EPISODE_JSON)) as f:
        assert json.load(f)["value"]["record"] == "OpenEpisode"
    saved = resilience.read_open_episode(latest, ckpt.read_blob)
    assert saved.episode.t == len(saved.actions) == step - 200
    assert not os.path.exists(os.path.join(root, "finished.json"))
    done = run_binary("train", root, POINT, SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (f"(step {step}, 1 episodes, mid-episode: {step - 200} steps of the open episode replayed)"
            in done.stderr)
    assert_same_metrics(root, reference)


def test_a_damaged_newest_checkpoint_is_moved_aside_and_the_run_resumes_from_the_previous(
        tmp_path, reference, killed):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    flip_bytes(tf_data_file(os.path.join(directory, "ckpt-400")), count=16)
    done = run_binary("train", root, POINT, SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    damaged = [line for line in done.stderr.splitlines() if "is damaged" in line]
    assert len(damaged) == 1 and "ckpt-400" in damaged[0] and "damaged-ckpt-400" in damaged[0]
    assert "Traceback" not in done.stderr
    assert "Resuming from" in done.stderr and "(step 200, 1 episodes)" in done.stderr
    assert os.path.isdir(os.path.join(directory, "damaged-ckpt-400"))
    assert_same_metrics(root, reference)


def test_no_intact_checkpoint_exits_1_naming_the_files_and_keeps_everything(tmp_path, killed):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    files = [tf_data_file(os.path.join(directory, name)) for name in ("ckpt-200", "ckpt-400")]
    for path in files:
        flip_bytes(path, count=16)
    before = {p: open(p, "rb").read() for p in files}
    listing = sorted(os.listdir(directory))
    train_rows = open(os.path.join(root, "train_metrics.jsonl")).read()
    done = run_binary("train", root, POINT, SETTINGS)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "no intact checkpoint" in done.stderr and "Traceback" not in done.stderr
    for path in files:
        assert path in done.stderr
    assert sorted(os.listdir(directory)) == listing
    assert {p: open(p, "rb").read() for p in files} == before
    assert open(os.path.join(root, "train_metrics.jsonl")).read() == train_rows


def test_an_unwritable_root_dir_is_a_one_paragraph_error_with_status_2():
    # /sys is mounted read-only: nothing can be created there, not even by root.
    root = "/sys/hierarchy-test-run/run"
    done = run_binary("train", root, POINT, SETTINGS)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if "cannot use" in line]
    assert "/sys/hierarchy-test-run" in line and "Nothing was run" in line


def test_prepare_root_dir_through_a_regular_file(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(resilience.RootDirectoryError, match="cannot use .*a_file/run.* Nothing was run"):
        resilience.prepare_root_dir(str(blocker / "run"))
    resilience.prepare_root_dir(str(tmp_path / "fine" / "run"))
    assert os.listdir(tmp_path / "fine" / "run") == []   # the write check leaves nothing behind


# Loaded by the binary's interpreter at start-up (`sitecustomize` on PYTHONPATH): the second write of
# a checkpoint's replay state writes half an archive, then fails as a full disk does.
FULL_DISK = """
import errno
import numpy as np

_savez, _calls = np.savez, []


def savez(f, **arrays):
    _calls.append(1)
    if len(_calls) == 2:
        f.write(b"PK\\x03\\x04" + bytes(64))
        raise OSError(errno.ENOSPC, "No space left on device")
    return _savez(f, **arrays)


np.savez = savez
"""


def test_a_full_disk_while_checkpointing_stops_the_run_and_keeps_the_previous_checkpoint(
        tmp_path, reference):
    """ENOSPC is injected into the binary's second checkpoint (step 400): it exits 1 with a message
    naming the intact checkpoint of step 200; run again without the fault, it resumes from it and
    writes the uninterrupted run's rows."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FULL_DISK)
    root = str(tmp_path / "run")
    env = dict(binary_env())
    env["PYTHONPATH"] = str(inject) + os.pathsep + env["PYTHONPATH"]
    failed = subprocess.run(binary_command("train", root, POINT, SETTINGS), cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1, failed.stderr[-3000:]
    directory = os.path.join(root, "checkpoints")
    assert "Traceback" not in failed.stderr
    (line,) = [line for line in failed.stderr.splitlines() if "could not be written" in line]
    assert "ckpt-400" in line and "No space left on device" in line
    assert f"the previous checkpoint {os.path.join(directory, 'ckpt-200')} is intact" in line
    assert sorted(os.listdir(directory)) == ["ckpt-200", "latest"]   # no partial directory left
    done = run_binary("train", root, POINT, SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(step 200, 1 episodes)" in done.stderr
    assert_same_metrics(root, reference)


def test_replaying_an_ant_maze_episode_restores_the_physics_exactly():
    """The mid-episode resume's premise on a MuJoCo task: the same generator state, reset and
    actions give bit-identical positions and velocities."""
    env = gym.make("hierarchy/AntMaze-v0")
    env.reset(seed=3)
    before = resilience.env_rng_state(env)
    env.reset()
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, env.action_space.shape).astype(np.float32) for _ in range(40)]
    for a in actions:
        obs, *_ = env.step(a)
    data = env.unwrapped.data
    qpos, qvel, after = data.qpos.copy(), data.qvel.copy(), resilience.env_rng_state(env)
    env.close()

    fresh = gym.make("hierarchy/AntMaze-v0")
    fresh.reset(seed=99)
    replayed, _ = resilience.replay(fresh, resilience.OpenEpisode(
        episode=types.SimpleNamespace(observation=obs["observation"]), actions=actions,
        reset_rng_state=before))
    np.testing.assert_array_equal(fresh.unwrapped.data.qpos, qpos)
    np.testing.assert_array_equal(fresh.unwrapped.data.qvel, qvel)
    assert json.dumps(resilience.env_rng_state(fresh)) == json.dumps(after)
    np.testing.assert_array_equal(replayed["observation"], obs["observation"])
    fresh.close()


@pytest.mark.parametrize("method, levels", [("hindsight", 3)])
def test_sigterm_mid_episode_resumes_exactly_with_relabelling(tmp_path, monkeypatch, method, levels):
    """In process, with hindsight relabelling and three levels (episode-tracking replay buffers, more
    open transitions): a real SIGTERM to this process at step 230 stops the run there, mid-episode,
    and the resumed run writes the uninterrupted run's rows."""
    import gin

    from hierarchy.agent.agent import Agent

    config = (["envs/point_reach.gin", f"methods/{method}.gin"],
              SETTINGS + [f"build_hierarchy.num_levels = {levels}", "train.total_steps = 300"])
    parse_gin(*config)
    train(str(tmp_path / "straight"))
    gin.clear_config()
    observe = Agent.observe

    def terminate_at_230(self, episode, *args, **kwargs):
        observe(self, episode, *args, **kwargs)
        if self.env_steps == 230:
            monkeypatch.setattr(Agent, "observe", observe)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Agent, "observe", terminate_at_230)
    root = str(tmp_path / "stopped")
    parse_gin(*config)
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(resilience.Interrupted) as stopped:
        train(root)
    assert stopped.value.step == 230 and stopped.value.path.endswith("ckpt-230")
    assert signal.getsignal(signal.SIGTERM) is handler_before   # the handler was put back
    gin.clear_config()
    parse_gin(*config)
    assert train(root)["step"] == 300
    for name in ("train_metrics.jsonl", "eval_metrics.jsonl"):
        assert rows(root, name) == rows(str(tmp_path / "straight"), name), name


class _Noisy(gym.Env):
    """Draws its reset state from its own generator."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}


class _Outer(gym.Env):
    """A task that draws its target from its own generator and steps an inner environment (as
    gymnasium-robotics' mazes hold their robot's environment), which seeds the inner one only when
    it is itself reset with a seed."""

    observation_space = gym.spaces.Box(-2.0, 2.0, (3,))
    action_space = _Noisy.action_space

    def __init__(self):
        self.robot = _Noisy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        start, _ = self.robot.reset(seed=seed)
        return np.concatenate([start, self.np_random.uniform(-1, 1, 1).astype(np.float32)]), {}


def test_nested_generators_are_saved_and_restored():
    env = _Outer()
    assert list(resilience.env_generators(env)) == [""]    # the inner one exists from the first reset
    env.reset(seed=5)
    assert list(resilience.env_generators(env)) == ["", "robot"]
    before = resilience.env_rng_state(env)
    first, _ = env.reset()
    env.reset()                                       # both generators move on
    resilience.set_env_rng_state(env, before)
    np.testing.assert_array_equal(env.reset()[0], first)

    # Restoring only the task's own generator (all a checkpoint held before nested generators were
    # saved, still accepted) gives the same target but another start.
    resilience.set_env_rng_state(env, before[""])
    partly, _ = env.reset()
    assert partly[2] == first[2] and not np.array_equal(partly[:2], first[:2])

    with pytest.raises(ValueError, match=r"saved environment generators \[''\]"):
        resilience.set_env_rng_state(env, {"": before[""]})


def test_generators_of_our_own_tasks_are_the_environment_generator_only():
    env = gym.make("hierarchy/AntMaze-v0")
    env.reset(seed=0)
    assert list(resilience.env_generators(env)) == [""]
    env.close()
