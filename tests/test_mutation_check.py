"""The mutation check (`scripts/mutation_check.py`): its list matches the code, a line that is not
found stops it, and (slow) every mutant is killed by its tests."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))

import mutation_check  # noqa: E402
from mutants import MUTANTS  # noqa: E402


def test_every_original_line_occurs_exactly_once():
    """Fails when the library changed under the list: update scripts/mutants.py by hand."""
    assert len(MUTANTS) >= 15
    for m in MUTANTS:
        text = open(os.path.join(REPO, m["file"])).read()
        mutated = mutation_check.apply_mutant(text, m["original"], m["mutated"], m["file"])
        changed = [(a, b) for a, b in zip(text.split("\n"), mutated.split("\n")) if a != b]
        assert len(changed) == 1, m["name"]
        assert changed[0][0].strip() == m["original"].strip(), m["name"]
        assert changed[0][1].strip() == m["mutated"].strip() != m["original"].strip(), m["name"]
        for test in m["tests"]:
            assert os.path.exists(os.path.join(REPO, test.split("::")[0])), test


def test_a_missing_or_repeated_line_is_reported():
    text = "a = 1\n    b = 2\nb = 2\n"
    assert mutation_check.apply_mutant(text, "a = 1", "a = 2", "f.py") == "a = 2\n    b = 2\nb = 2\n"
    with pytest.raises(mutation_check.LineNotFound, match="original line not found"):
        mutation_check.apply_mutant(text, "c = 3", "c = 4", "f.py")
    with pytest.raises(mutation_check.LineNotFound, match=r"\(2 matches\)"):
        mutation_check.apply_mutant(text, "b = 2", "b = 3", "f.py")
    # The original's indentation is kept.
    assert mutation_check.apply_mutant("if x:\n    y = 1\n", "y = 1", "y = 2", "f.py") == \
        "if x:\n    y = 2\n"


@pytest.mark.slow
def test_every_mutant_is_killed():
    """About 10-15 minutes on a 2-core machine (one pytest run per mutant)."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "mutation_check.py")],
                          cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert f"{len(MUTANTS)} of {len(MUTANTS)} mutants killed" in proc.stdout
