"""Mutation check: seeds each single-line bug of `scripts/mutants.py` into a copy of the repository,
runs the tests expected to kill it and prints a Markdown table. Exits non-zero if any mutant survives
(or its tests cannot run: a collection error or a timeout is not a kill), or if a mutant's original
line is not found exactly once (the list then needs updating by hand).

    python scripts/mutation_check.py                  # every mutant (a baseline run first)
    python scripts/mutation_check.py --only lambda    # the mutants whose name contains "lambda"
    python scripts/mutation_check.py --no-baseline    # skip the unmutated run of the tests

The baseline runs every named test on the unmutated copy first: a mutant only counts as killed by
tests that pass without it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from mutants import MUTANTS  # noqa: E402

IGNORE = shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__", ".pytest_cache", ".ruff_cache",
                                "*.egg-info")


class LineNotFound(ValueError):
    pass


def apply_mutant(text: str, original: str, mutated: str, where: str) -> str:
    """`text` with the one line whose stripped text is `original` replaced by `mutated` (indented
    like the original). Raises LineNotFound unless exactly one line matches."""
    lines = text.split("\n")
    hits = [k for k, line in enumerate(lines) if line.strip() == original.strip()]
    if len(hits) != 1:
        raise LineNotFound(f"original line not found exactly once in {where} ({len(hits)} matches): "
                           f"{original!r}")
    k = hits[0]
    indent = lines[k][:len(lines[k]) - len(lines[k].lstrip())]
    lines[k] = indent + mutated.strip()
    return "\n".join(lines)


def run_tests(root: str, tests: Sequence[str], timeout: float) -> tuple:
    """(pytest's exit status, seconds, output tail) of `pytest -x -q -p no:cacheprovider tests` run in
    `root`: 0 all passed, 1 a test failed; anything else (collection or usage error, timeout: -1)
    is not a kill."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MUJOCO_GL=os.environ.get("MUJOCO_GL", "egl"),
               PYTHONPATH=root)
    start = time.time()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
        status, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        status, tail = -1, f"timed out after {timeout} s"
    return status, time.time() - start, tail


def check(mutants: List[dict], *, baseline: bool, timeout: float, verbose: bool) -> int:
    rows, failures = [], 0
    total_start = time.time()
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as tmp:
        root = os.path.join(tmp, "repo")
        shutil.copytree(REPO, root, ignore=IGNORE)
        # Every original line must be found before anything runs.
        texts = {}
        for m in mutants:
            path = os.path.join(root, m["file"])
            texts.setdefault(m["file"], open(path).read())
            apply_mutant(texts[m["file"]], m["original"], m["mutated"], m["file"])
        if baseline:
            tests = sorted({t for m in mutants for t in m["tests"]})
            status, seconds, tail = run_tests(root, tests, timeout)
            print(f"baseline: {len(tests)} test(s) on the unmutated copy "
                  f"{'pass' if status == 0 else 'FAIL'} ({seconds:.0f} s)", flush=True)
            if status != 0:
                print(tail)
                return 2
        for number, m in enumerate(mutants, 1):
            path = os.path.join(root, m["file"])
            with open(path, "w") as f:
                f.write(apply_mutant(texts[m["file"]], m["original"], m["mutated"], m["file"]))
            try:
                code, seconds, tail = run_tests(root, m["tests"], timeout)
            finally:
                with open(path, "w") as f:
                    f.write(texts[m["file"]])
            status = {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")
            failures += status != "killed"
            rows.append((number, m["name"], m["file"], status, seconds))
            print(f"[{number}/{len(mutants)}] {status}: {m['name']} ({seconds:.0f} s)", flush=True)
            if verbose or status != "killed":
                print(tail)
    print()
    print("| # | mutant | file | result | time (s) |")
    print("|---|---|---|---|---|")
    for number, name, file, status, seconds in rows:
        print(f"| {number} | {name} | {file} | {status} | {seconds:.0f} |")
    killed = sum(r[3] == "killed" for r in rows)
    print(f"\n{killed} of {len(rows)} mutants killed in {time.time() - total_start:.0f} s.")
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the mutants whose name contains this text")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per test run")
    parser.add_argument("--verbose", action="store_true", help="print every run's output tail")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if args.only.lower() in m["name"].lower()]
    if not mutants:
        print(f"no mutant's name contains {args.only!r}")
        return 2
    try:
        return check(mutants, baseline=not args.no_baseline, timeout=args.timeout,
                     verbose=args.verbose)
    except LineNotFound as e:
        print(f"ERROR: {e}. Update scripts/mutants.py.")
        return 2


if __name__ == "__main__":
    sys.exit(main())
