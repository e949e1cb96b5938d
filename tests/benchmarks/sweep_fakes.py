"""A sweep grid and a stand-in training binary shared by the sweep and collect tests."""

import textwrap

CONFIG = {
    "envs": {"maze": "envs/point_maze.gin", "reach": "envs/point_reach.gin"},
    "methods": ["flat", "hrl", "hrl_cg"],
    "num_levels": [2, 3],
    "cg_lambda": [0.01, 0.005],
    "seeds": 2,
    "gin_bindings": ["train.total_steps = 100"],
    "env_gin_bindings": {"reach": ["train.eval_interval = 10"]},
}

# A stand-in for `python -m hierarchy.bin.train`: records its arguments, sleeps a little, and writes
# finished.json unless the env of the cell is "fail".
FAKE_TRAIN = textwrap.dedent("""
    import json, os, sys, time
    args = sys.argv[1:]
    root = args[args.index("--root_dir") + 1]
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "calls.jsonl"), "a") as f:
        f.write(json.dumps({"args": args, "start": time.time()}) + "\\n")
    time.sleep(0.2)
    with open(os.path.join(root, "calls.jsonl"), "a") as f:
        f.write(json.dumps({"end": time.time()}) + "\\n")
    if "/fail/" in root:
        sys.exit(3)
    with open(os.path.join(root, "eval_metrics.jsonl"), "a") as f:
        f.write(json.dumps({"step": 0, "mean_return": 0.0, "success_rate": None}) + "\\n")
    with open(os.path.join(root, "finished.json"), "w") as f:
        f.write(json.dumps({"end": time.time()}))
""")
