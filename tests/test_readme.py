"""The README's code example runs as written (with fewer steps)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python example"
    code = blocks[0]
    assert "range(5000)" in code and "warmup_steps=1000" in code
    code = code.replace("range(5000)", "range(150)").replace("warmup_steps=1000", "warmup_steps=100")
    scope = {}
    exec(compile(code, str(README), "exec"), scope)
    agent = scope["agent"]
    assert agent.env_steps == 150
    assert agent.critic_updates == [5, 10, 50]
