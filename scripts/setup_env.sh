#!/usr/bin/env bash
# Creates a virtual environment and installs the pinned requirements and this project into it.
# Idempotent: a second run with unchanged requirements installs nothing.
#
#   bash scripts/setup_env.sh                          # .venv on the newest supported Python
#   bash scripts/setup_env.sh --python 3.11 --venv .venv-py311 --extra tf-agents
#
# The interpreter: $PYTHON if set, else the newest of Python 3.13, 3.12, 3.11 found on PATH or
# under pyenv (--python X.Y asks for that version only).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
want_version=""
extras=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --python) want_version="$2"; shift 2 ;;
    --extra) extras+=("$2"); shift 2 ;;
    *) echo "setup_env.sh: unknown argument '$1' (known: --venv DIR, --python X.Y, --extra tf-agents)" >&2
       exit 2 ;;
  esac
done
for extra in "${extras[@]+"${extras[@]}"}"; do
  [ -f "requirements-$extra.txt" ] || { echo "setup_env.sh: no extra '$extra' (requirements-$extra.txt)" >&2; exit 2; }
done

supported="3.13 3.12 3.11"
[ -n "$want_version" ] && supported="$want_version"

works() {  # works PYTHON VERSION: the interpreter runs and is that version
  "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$2' else 1)" >/dev/null 2>&1
}

find_python() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"; return 0
  fi
  local version candidate root
  root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for version in $supported; do
    for candidate in "python$version" "$root"/versions/"$version".*/bin/"python$version"; do
      if works "$candidate" "$version"; then
        echo "$candidate"; return 0
      fi
    done
  done
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  if ! python="$(find_python)"; then
    echo "setup_env.sh: no Python ${supported// / or } found; install one (e.g. 'pyenv install 3.13') or set PYTHON=/path/to/python3.13" >&2
    exit 1
  fi
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
files=(requirements.txt setup.py)
for extra in "${extras[@]+"${extras[@]}"}"; do files+=("requirements-$extra.txt"); done
want="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r requirements.txt
  for extra in "${extras[@]+"${extras[@]}"}"; do
    # --no-deps: the extra's own metadata pins would pull the old stack back (see the file).
    "$venv/bin/python" -m pip install --quiet --no-deps -r "requirements-$extra.txt"
  done
  "$venv/bin/python" -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
