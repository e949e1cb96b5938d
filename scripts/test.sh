#!/usr/bin/env bash
# The test command: set up .venv from scratch if needed, lint, then run the default test suite
# (everything not marked slow). Extra arguments go to pytest, e.g. `scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2 MUJOCO_GL=egl
.venv/bin/ruff check --no-cache .
if [ "$#" -eq 0 ]; then
  set -- -m "not slow"
fi
.venv/bin/python -m pytest -q "$@"
