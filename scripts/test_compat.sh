#!/usr/bin/env bash
# The rest of the supported range, run by CI after the README's test command: the core tests
# (tests/hierarchy) on Python 3.11 with the same pins as the main stack, plus the tests of the
# tf-agents extra (marker tf_agents), which this environment installs. Its venv is .venv-py311.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh --python 3.11 --venv .venv-py311 --extra tf-agents
export MUJOCO_GL=egl
if [ "$#" -eq 0 ]; then
  set -- -m "not slow" tests/hierarchy tests/envs/test_tf_agents_adapter.py
fi
.venv-py311/bin/python -m pytest -q -p no:cacheprovider "$@"
