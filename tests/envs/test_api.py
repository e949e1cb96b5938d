"""The interface every registered environment promises (parametrized over ENV_IDS)."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import envs
from envs import ENV_IDS, task_spec

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module", params=ENV_IDS)
def env_id(request):
    return request.param


def _make(env_id, **kwargs):
    return gym.make(env_id, **kwargs)


def test_registered_ids():
    assert ENV_IDS == (
        "hierarchy/PointReach-v0",
        "hierarchy/PointMaze-v0",
        "hierarchy/AntMaze-v0",
        "hierarchy/AntGather-v0",
        "hierarchy/AntPush-v0",
        "hierarchy/AntFall-v0",
        "hierarchy/AntFourRooms-v0",
    )
    for env_id in ENV_IDS:
        assert env_id in gym.registry
    assert set(envs.__all__) >= {"TaskSpec", "task_spec", "ENV_IDS", "PointReach", "PointMaze",
                                 "AntMaze", "AntGather", "AntPush", "AntFall", "AntFourRooms"}


def test_check_env_unwrapped_and_made(env_id):
    env = _make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite Box bounds and [-30, 30] actions are intended
        # Rendering is tested in a subprocess (test_render_rgb_array) with MUJOCO_GL=egl.
        check_env(env.unwrapped, skip_render_check=True)
        check_env(env, skip_render_check=True)


def test_spaces_and_task_spec(env_id):
    env = _make(env_id)
    spec = task_spec(env)
    assert env.spec.max_episode_steps == spec.max_episode_steps
    space = env.observation_space
    assert isinstance(space, spaces.Dict) and set(space.spaces) == {"observation", "context"}
    assert space["observation"].dtype == np.float32 and space["context"].dtype == np.float32
    assert space["context"].shape == (spec.context_dim,)
    np.testing.assert_array_equal(space["context"].low, np.float32(spec.context_low))
    assert max(spec.goal_indices) < space["observation"].shape[0]
    assert isinstance(env.action_space, spaces.Box) and env.action_space.dtype == np.float32
    assert env.metadata["render_modes"] == ["rgb_array"]


def _rollout(env, seed, n=15):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)
    low, high = env.action_space.low, env.action_space.high
    trajectory = [obs["observation"]]
    for _ in range(n):
        obs, reward, _, _, _ = env.step(rng.uniform(low, high))
        trajectory.append(np.append(obs["observation"], reward))
    return trajectory


def _layout(env, obs):
    """What a seed draws besides the robot's noise: the context, or the gather objects."""
    if task_spec(env).context_dim:
        return obs["context"]
    return np.concatenate([env.unwrapped.apples, env.unwrapped.bombs])


def test_same_seed_same_trajectory(env_id):
    a, b = _make(env_id), _make(env_id)
    for x, y in zip(_rollout(a, seed=7), _rollout(b, seed=7), strict=True):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ(env_id):
    # Five seeds: AntFourRooms draws from three targets, so two seeds may agree.
    env = _make(env_id)
    drawn = {tuple(np.ravel(_layout(env, env.reset(seed=s)[0]))) for s in range(1, 6)}
    assert len(drawn) > 1


def test_never_terminates_and_truncates_at_horizon(env_id):
    env = _make(env_id, max_episode_steps=5)
    env.reset(seed=0)
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
    assert truncated


@pytest.mark.parametrize("bad", ["shape", "nan", "inf", "text"])
def test_bad_actions_raise(env_id, bad):
    env = _make(env_id).unwrapped
    env.reset(seed=0)
    dim = env.action_space.shape[0]
    action = {
        "shape": np.zeros(dim + 1),
        "nan": np.full(dim, np.nan),
        "inf": np.full(dim, np.inf),
        "text": ["a"] * dim,
    }[bad]
    with pytest.raises(ValueError, match="action"):
        env.step(action)


def test_out_of_range_actions_are_clipped(env_id):
    a, b = _make(env_id).unwrapped, _make(env_id).unwrapped
    a.reset(seed=3)
    b.reset(seed=3)
    high = a.action_space.high.astype(np.float64)
    signs = np.where(np.arange(high.shape[0]) % 2 == 0, 1.0, -1.0)
    for _ in range(3):
        obs_a, reward_a, *_ = a.step(signs * high * 100.0)
        obs_b, reward_b, *_ = b.step(signs * high)
    np.testing.assert_array_equal(obs_a["observation"], obs_b["observation"])
    assert reward_a == reward_b


def test_context_option(env_id):
    env = _make(env_id)
    spec = task_spec(env)
    for context in spec.eval_contexts:
        obs, info = env.reset(seed=0, options={"context": list(context)})
        np.testing.assert_array_equal(obs["context"], np.float32(context))
        if spec.success_threshold is not None:
            assert isinstance(info["is_success"], bool) and "distance" in info
    with pytest.raises(ValueError, match="context"):
        env.reset(options={"context": np.zeros(spec.context_dim + 1)})
    if spec.context_dim:
        with pytest.raises(ValueError, match="context"):
            env.reset(options={"context": [np.nan] * spec.context_dim})
        with pytest.raises(ValueError, match="outside"):
            env.reset(options={"context": np.float64(spec.context_high) + 1.0})


def test_goal_reaching_info_every_step(env_id):
    env = _make(env_id)
    if task_spec(env).success_threshold is None:
        pytest.skip(f"{env_id} has no success notion")
    env.reset(seed=0)
    for _ in range(3):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert isinstance(info["is_success"], bool)
        assert reward == -info["distance"]


_RENDER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import gymnasium as gym
    import numpy as np
    import envs
    result = {}
    for env_id in envs.ENV_IDS:
        env = gym.make(env_id, render_mode="rgb_array")
        env.reset(seed=0)
        env.step(env.action_space.sample())
        try:
            image = env.render()
        except RuntimeError as e:
            result[env_id] = "RuntimeError: " + str(e)
            continue
        result[env_id] = [list(image.shape), str(image.dtype), int(image.std() > 1.0)]
        env.close()
    print(json.dumps(result))
    """
)


def _render_in_subprocess(mujoco_gl):
    env = dict(os.environ, MUJOCO_GL=mujoco_gl)
    env.pop("DISPLAY", None)
    out = subprocess.run(
        [sys.executable, "-c", _RENDER_SCRIPT],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_render_rgb_array():
    # MuJoCo reads MUJOCO_GL when first imported, hence a fresh interpreter.
    result = _render_in_subprocess("egl")
    failed = {k: v for k, v in result.items() if isinstance(v, str)}
    if failed and len(failed) == len(ENV_IDS) - 1:  # all MuJoCo envs: no EGL on this machine
        pytest.skip(f"MuJoCo's EGL renderer cannot start here: {next(iter(failed.values()))}")
    assert not failed, failed
    for env_id, (shape, dtype, varied) in result.items():
        assert shape[2] == 3 and dtype == "uint8" and varied, env_id


def test_render_without_gl_raises_clear_error():
    result = _render_in_subprocess("glfw")  # GLFW without a DISPLAY cannot make a context
    assert result["hierarchy/PointReach-v0"][0] == [256, 256, 3]  # pure numpy, always works
    for env_id in ENV_IDS[1:]:
        assert isinstance(result[env_id], str) and "MUJOCO_GL=egl" in result[env_id], env_id
