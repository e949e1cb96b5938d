"""Records as arrays and JSON (`hierarchy.run.records`), and the open episode written that way: a
real training episode of an agent comes back field for field, dtypes, numpy scalars, tuples and
shared arrays included, with no pickle involved."""

import dataclasses
import io
import json
import math

import numpy as np
import pytest
from run_helpers import TINY

import envs  # noqa: F401  (registers the environments)
from hierarchy.agent.agent import Episode
from hierarchy.agent.replay import Transition
from hierarchy.run import records, resilience
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin


def assert_same(a, b):
    """`a` and `b` hold equal values of the same types (arrays: same dtype, shape and bytes)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


@pytest.fixture(scope="module")
def open_episode():
    """An open training episode of a 2-level agent on PointReach, 23 steps in (two of the top
    level's decisions, transitions finished and open), as the training loop saves it."""
    parse_gin(["envs/point_reach.gin", "methods/hrl_cg.gin"], TINY)
    env = make_env("hierarchy/PointReach-v0", max_episode_steps=200)
    agent = build_agent(env, seed=3)
    env.reset(seed=5)
    saved = resilience.OpenEpisode(episode=None, actions=[],
                                   reset_rng_state=resilience.env_rng_state(env))
    obs, _ = env.reset()
    saved.episode = agent.begin_episode(obs["observation"], obs["context"], training=True)
    for _ in range(23):
        action = agent.act(saved.episode)
        saved.actions.append(np.array(action, copy=True))
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(saved.episode, reward, obs["observation"], terminated, truncated)
    env.close()
    return saved


def test_an_open_episode_comes_back_field_for_field(open_episode):
    files = open_episode.to_files()
    assert sorted(files) == sorted([resilience.EPISODE_ARRAYS, resilience.EPISODE_JSON])
    assert b"pickle" not in files[resilience.EPISODE_JSON]
    with np.load(io.BytesIO(files[resilience.EPISODE_ARRAYS]), allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    back = resilience.OpenEpisode.from_files(files[resilience.EPISODE_ARRAYS],
                                             files[resilience.EPISODE_JSON], where="ckpt-23")
    assert type(back.episode) is Episode and all(type(t) is Transition for t in back.episode.open)
    assert back.episode.t == 23 and len(back.episode.segments[1]) > 0
    assert_same(back, open_episode)
    # What was one array object is one again (the transition's action is the level's action).
    assert back.episode.open[0].action is back.episode.actions[0]
    assert open_episode.episode.open[0].action is open_episode.episode.actions[0]
    # The arrays can be written to, as the agent does with an open transition.
    back.episode.open[1].observations[0] += 1.0
    # Written twice, the files are the same JSON (the npz differs only in its zip timestamps).
    assert open_episode.to_files()[resilience.EPISODE_JSON] == files[resilience.EPISODE_JSON]


@dataclasses.dataclass
class Node:
    value: object
    children: list = None


def test_records_keep_types_and_refuse_what_they_do_not_know():
    shared = np.arange(6, dtype=np.int16).reshape(2, 3)
    tree = Node(value={"a": (1, 2.5, float("nan"), None, True, "s"), "b": np.float32(0.1),
                       "c": np.int64(-7), "d": np.bool_(True), "e": 2 ** 100},
                children=[Node(value=shared), Node(value=shared), Node(value=np.float64(1e-300))])
    arrays_data, text = records.to_arrays_and_json(tree, {"Node": Node}, format=3)
    back = records.from_arrays_and_json(arrays_data, text, {"Node": Node}, format=3)
    assert_same(back, tree)
    assert back.children[0].value is back.children[1].value
    assert json.loads(text)["format"] == 3
    with pytest.raises(ValueError, match="format 3, not 4"):
        records.from_arrays_and_json(arrays_data, text, {"Node": Node}, format=4)
    with pytest.raises(ValueError, match="unknown record 'Node'"):
        records.from_arrays_and_json(arrays_data, text, {}, format=3)
    with pytest.raises(TypeError, match="cannot write a Node"):
        records.to_arrays_and_json(tree, {}, format=3)
    for value in ({1: 2}, object(), {1.5}):
        with pytest.raises(TypeError, match="cannot write a"):
            records.to_arrays_and_json(value, {}, format=3)


def test_damaged_open_episode_files_are_one_clear_error(open_episode, tmp_path):
    files = open_episode.to_files()
    for arrays_data, json_data in ((files[resilience.EPISODE_ARRAYS][:100], files[resilience.EPISODE_JSON]),
                                   (files[resilience.EPISODE_ARRAYS], b'{"format": 2}'),
                                   (files[resilience.EPISODE_ARRAYS], b"{")):
        with pytest.raises(resilience.OpenEpisodeError, match="cannot read the open episode in ckpt-9"):
            resilience.OpenEpisode.from_files(arrays_data, json_data, where="ckpt-9")
