"""The README's code example runs as written (with fewer steps, into a temporary directory)."""

import json
import os
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SHORTER = {"total_steps=1_000_000": "total_steps=300", "eval_interval=50_000": "eval_interval=300",
           "eval_episodes_per_context=10": "eval_episodes_per_context=1",
           "warmup_steps=10_000": "warmup_steps=100"}


def test_readme_example_runs(tmp_path):
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python example"
    code = blocks[0]
    for long, short in {**SHORTER, '"runs/ant_maze_3_levels"': repr(str(tmp_path / "run"))}.items():
        assert long in code, long
        code = code.replace(long, short)
    scope = {}
    exec(compile(code, str(README), "exec"), scope)
    agent, final = scope["agent"], scope["final"]
    assert agent.env_steps == 300 and final["step"] == 300
    assert agent.critic_updates == [20, 40, 200]
    assert [lvl.reward_scale for lvl in agent.hierarchy.levels] == [0.1, 1.0, 1.0]
    with open(tmp_path / "run" / "finished.json") as f:
        assert json.load(f)["step"] == 300
    assert os.path.exists(tmp_path / "run" / "checkpoints" / "ckpt-300")
