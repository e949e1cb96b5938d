"""The documentation's relative links point at files and sections that exist."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Pages linked from docs/README.md that other changes add; a link to one of them may dangle until
# it lands (remove a name here once its page exists).
PENDING = {"hiro_tasks.md"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: pathlib.Path) -> set:
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", path.read_text(), flags=re.M)}


def test_slug_hand_checked():
    assert slug("4. One level: goal-conditioned TD3 (`Level`)") == "4-one-level-goal-conditioned-td3-level"
    assert slug("4. The alternative estimators (`Hierarchy.cg_estimator`)") == \
        "4-the-alternative-estimators-hierarchycg_estimator"


def test_relative_links_resolve():
    pages = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
    assert DOCS / "README.md" in pages
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue                      # an absolute URL
            name, _, anchor = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            if not path.exists():
                if path.name not in PENDING or path.parent != DOCS:
                    broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
                continue
            if anchor and anchor not in anchors(path):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such section)")
    assert not broken, broken
