"""The evaluate binary, on the runs of the `point_run` and `killed` fixtures (tests/bin/conftest.py)."""

import json
import os
import subprocess

import imageio.v2 as imageio
import pytest
from PIL import Image
from run_helpers import REPO, binary_command, binary_env, copy_run, flip_bytes, run_binary, tf_data_file

from hierarchy.run import metrics


def test_evaluate_binary(point_run):
    root, _ = point_run
    video = os.path.join(root, "eval.mp4")
    proc = run_binary("evaluate", root, extra=["--num_episodes=2", f"--video={video}",
                                               "--video_size=320x240"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.load(open(os.path.join(root, "evaluation_300.json")))
    assert out["step"] == 300 and out["num_episodes"] == 8 and len(out["per_context"]) == 4
    assert out["checkpoint"].endswith("ckpt-300")
    assert json.loads(proc.stdout) == out
    # Same weights, same seeds: the final in-training evaluation's first episodes agree.
    final_eval = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    for a, b in zip(out["per_context"], final_eval["per_context"]):
        assert a["returns"][0] == pytest.approx(b["returns"][0], rel=1e-4)
    # The first episode of each of the 4 contexts, every second step: ceil(n / 2) + 1 frames each.
    assert out["video"] == "eval.mp4"        # paths inside the run are relative to it
    frames = imageio.mimread(video, memtest=False)
    assert len(frames) % 4 == 0 and len(frames) > 4 and frames[0].shape == (240, 320, 3)
    # One picture per context, beside the training's pictures of each evaluation.
    plots = [os.path.join(root, "plots", f"evaluation_300_ctx{k}.png") for k in range(4)]
    assert out["trajectory_plots"] == [os.path.relpath(p, root) for p in plots]
    for step in (0, 150, 300):
        assert os.path.isfile(os.path.join(root, "plots", f"trajectory_{step}_ctx3.png"))
    for path in plots:
        assert Image.open(path).size == (720, 540)


@pytest.mark.parametrize("flags, message", [
    (["--video={}/eval.avi"], "unknown extension '.avi'; write one of .mp4, .gif"),
    (["--video={}/eval.gif", "--video_contexts=0,7"], "video context 7 does not exist: the task has 4"),
])
def test_a_bad_video_flag_is_exit_status_2_and_writes_nothing(tmp_path, point_run, flags, message):
    root = str(tmp_path / "run")
    copy_run(point_run[0], root)
    before = sorted(os.listdir(root))
    flags = [flag.format(tmp_path) for flag in flags]
    proc = run_binary("evaluate", root, extra=["--video_size=64x64", *flags])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr and "nothing was evaluated" in proc.stderr
    assert sorted(os.listdir(root)) == before and not (tmp_path / "eval.gif").exists()


def test_a_damaged_newest_checkpoint_is_skipped_for_the_previous_one(tmp_path, killed):
    root = str(tmp_path / "run")
    directory = copy_run(killed, root)
    flip_bytes(tf_data_file(os.path.join(directory, "ckpt-400")), count=16)
    proc = run_binary("evaluate", root, extra=["--notrajectory_plots"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "is damaged" in line]
    assert "ckpt-400" in line
    assert line.rstrip().endswith(f"used {os.path.join(directory, 'ckpt-200')} instead.")
    assert json.loads(proc.stdout)["step"] == 200
    assert sorted(os.listdir(directory)) == ["ckpt-200", "ckpt-400", "latest"]   # nothing moved
    # Asked for by name, the damaged checkpoint is one line and exit status 1.
    named = run_binary("evaluate", root, extra=[f"--checkpoint={os.path.join(directory, 'ckpt-400')}"])
    assert named.returncode == 1 and "Traceback" not in named.stderr
    assert "no intact checkpoint to evaluate" in named.stderr


@pytest.mark.slow
def test_two_evaluations_of_one_run_at_once_both_succeed(tmp_path, killed):
    root = str(tmp_path / "run")
    copy_run(killed, root)
    command = binary_command("evaluate", root, extra=["--num_episodes=2"])
    procs = [subprocess.Popen(command, cwd=REPO, env=binary_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, stderr) in zip(procs, outs):
        assert proc.returncode == 0, stderr[-3000:]
    results = [json.loads(stdout) for stdout, _ in outs]
    assert results[0] == results[1]    # same checkpoint, same evaluation seeds
    assert json.load(open(os.path.join(root, "evaluation_400.json"))) == results[0]
    assert not [n for n in os.listdir(os.path.join(root, "plots")) if ".tmp" in n]
