"""Mid-episode checkpoints of earlier versions, whose open episode is a pickle (open_episode.pkl):
they resume exactly, and a pickle naming anything but the episode records and numpy arrays is
refused in one line naming the file."""

import hashlib
import json
import os
import pickle
import sys
import types

import numpy as np
import pytest
from run_helpers import FAULT_SETTINGS, POINT, assert_same_metrics, copy_run, run_binary

import hierarchy.agent
from hierarchy.agent.agent import Episode
from hierarchy.agent.replay import Transition
from hierarchy.run import checkpointing, resilience

HERE = os.path.dirname(os.path.abspath(__file__))
# open_episode.pkl and loop_state.json of a checkpoint that the train binary of commit e967bb1
# (before the split into subpackages) wrote at step 350 of the fault-test run (FAULT_SETTINGS),
# SIGTERMed mid-episode.
E967BB1_CHECKPOINT = os.path.join(HERE, "data", "e967bb1_ckpt-350")

# Where the records were when open episodes were pickled (commit e967bb1).
OLD_NAMES = {resilience.OpenEpisode: ("hierarchy.resilience", "OpenEpisode"),
             Episode: ("hierarchy.agent", "Episode"), Transition: ("hierarchy.replay", "Transition")}


def mirror(value, stand_ins):
    """`value` with each record replaced by an instance of its stand-in class (same attributes);
    arrays and other values are kept as they are (the same objects)."""
    if type(value) in stand_ins:
        copy = object.__new__(stand_ins[type(value)])
        copy.__dict__.update({k: mirror(v, stand_ins) for k, v in vars(value).items()})
        return copy
    if isinstance(value, (list, tuple)):
        return type(value)(mirror(v, stand_ins) for v in value)
    if isinstance(value, dict):
        return {k: mirror(v, stand_ins) for k, v in value.items()}
    return value


def old_format_pickle(open_episode) -> bytes:
    """`open_episode` pickled as commit e967bb1 did (`pickle.HIGHEST_PROTOCOL`), each record under
    its module path of then: stand-in classes of those names are installed while it is pickled."""
    with pytest.MonkeyPatch.context() as patch:
        stand_ins = {}
        for cls, (module, name) in OLD_NAMES.items():
            stand_in = type(name, (), {"__module__": module, "__qualname__": name})
            if module not in sys.modules:
                patch.setitem(sys.modules, module, types.ModuleType(module))
            patch.setattr(sys.modules[module], name, stand_in, raising=False)
            stand_ins[cls] = stand_in
        return pickle.dumps(mirror(open_episode, stand_ins), protocol=pickle.HIGHEST_PROTOCOL)


def replace_open_episode_files(checkpoint, data: bytes) -> None:
    """Makes `checkpoint` hold `data` as open_episode.pkl instead of the arrays and JSON, with its
    checksum in the loop state, as earlier versions wrote it."""
    for name in (resilience.EPISODE_ARRAYS, resilience.EPISODE_JSON):
        os.remove(os.path.join(checkpoint, name))
    with open(os.path.join(checkpoint, resilience.LEGACY_EPISODE_FILE), "wb") as f:
        f.write(data)
    path = os.path.join(checkpoint, checkpointing.LOOP_STATE)
    with open(path) as f:
        state = json.load(f)
    state["blob_sha256"] = {resilience.LEGACY_EPISODE_FILE: hashlib.sha256(data).hexdigest()}
    with open(path, "w") as f:
        json.dump(state, f, indent=1)


def test_the_pickle_of_commit_e967bb1_reads_into_the_current_classes():
    saved = resilience.read_open_episode(E967BB1_CHECKPOINT, checkpointing.Checkpointer.read_blob)
    assert type(saved) is resilience.OpenEpisode and type(saved.episode) is Episode
    episode = saved.episode
    assert episode.training and episode.t == len(saved.actions) == 150
    assert all(type(tr) is Transition for tr in episode.open)
    assert episode.origin_states.dtype == np.float32 and episode.origin_states.shape[0] == 2
    assert set(saved.reset_rng_state) == {""}


def test_the_loop_state_of_commit_e967bb1_reads_and_writes_back_byte_for_byte(tmp_path):
    state = checkpointing.Checkpointer.read_loop_state(E967BB1_CHECKPOINT)
    assert (state.step, state.episodes, state.open_episode, state.last_scheduled_save) == (350, 1, True, 200)
    assert list(state.blob_sha256) == [resilience.LEGACY_EPISODE_FILE]
    with open(os.path.join(E967BB1_CHECKPOINT, checkpointing.LOOP_STATE)) as f:
        assert json.dumps(state.to_json(), indent=1) == f.read()


def test_an_old_pickled_open_episode_resumes_exactly(tmp_path, reference, sigtermed):
    root = str(tmp_path / "run")
    ckpt = checkpointing.Checkpointer(copy_run(sigtermed[0], root))
    latest = ckpt.latest()
    saved = resilience.read_open_episode(latest, ckpt.read_blob)
    data = old_format_pickle(saved)
    for module, name in OLD_NAMES.values():   # the pickle names the old paths, not the new ones
        assert module.encode() in data and name.encode() in data
    assert b"hierarchy.run.resilience" not in data and b"hierarchy.agent.agent" not in data
    replace_open_episode_files(latest, data)
    step = ckpt.read_loop_state(latest).step
    assert not hasattr(hierarchy.agent, "resilience") and "hierarchy.resilience" not in sys.modules
    done = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (f"(step {step}, 1 episodes, mid-episode: {step - 200} steps of the open episode replayed)"
            in done.stderr)
    assert_same_metrics(root, reference)


class Payload:
    """Unpickling it would call `os.system` to write `path`: what a pickle may do, and an open
    episode must not."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"echo unpickled > {self.path}",)


def test_a_pickle_naming_anything_else_is_refused_in_one_line(tmp_path, sigtermed):
    root = str(tmp_path / "run")
    ckpt = checkpointing.Checkpointer(copy_run(sigtermed[0], root))
    latest = ckpt.latest()
    witness = str(tmp_path / "unpickled.txt")
    replace_open_episode_files(latest, pickle.dumps(Payload(witness)))
    done = run_binary("train", root, POINT, FAULT_SETTINGS)
    assert done.returncode == 1, done.stderr[-3000:]
    file = os.path.join(latest, resilience.LEGACY_EPISODE_FILE)
    errors = [line for line in done.stderr.splitlines() if file in line]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert f"{file} refers to {os.system.__module__}.system" in errors[0]
    assert "episode-boundary checkpoint" in errors[0]
    assert not os.path.exists(witness)
    assert ckpt.latest() == latest   # nothing moved: the checkpoint is not damaged
