"""The repository's structure rules: small library modules, benchmarks on the public API only, and a
repository that stands on its own (no citation of files outside it)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
# Attributes with a leading underscore that belong to Python's public protocols, not to our library.
PUBLIC_UNDERSCORE = {"_replace", "_asdict", "_fields", "_make"}


def test_no_library_module_is_over_400_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for p in (ROOT / "hierarchy").rglob("*.py")}
    assert sizes and {k: v for k, v in sizes.items() if v > MAX_MODULE_LINES} == {}


def _library_methods():
    """Names of the methods of the library's classes (patching one of them patches the library)."""
    import inspect

    import hierarchy
    from hierarchy.agent import compiled_step, replay

    names = set()
    for module in (hierarchy, compiled_step, replay):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__.startswith("hierarchy"):
                names |= {n for n, v in vars(cls).items() if callable(v) and not n.startswith("__")}
    return names


def _private_uses(tree: ast.AST, methods=frozenset(("call", "act", "train"))):
    """(line, what) for each private name of another object read or imported, and each library
    method (`methods`) assigned on another object."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"import {alias.name}") for alias in node.names
                      if alias.name.startswith("_")]
        elif isinstance(node, ast.Attribute):
            owner = node.value
            own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            name = node.attr
            if name.startswith("_") and not name.startswith("__") and not own \
                    and name not in PUBLIC_UNDERSCORE:
                found.append((node.lineno, f".{name}"))
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                # Assigning a library method on something that is not the benchmark's own object
                # (e.g. `hierarchy.call = timed`) patches a library object.
                if isinstance(target, ast.Attribute) and target.attr in methods and not (
                        isinstance(target.value, ast.Name) and target.value.id in ("self", "cls")):
                    found.append((target.lineno, f"assigns .{target.attr}"))
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT / "benchmarks")))
def test_benchmarks_use_only_public_names(path):
    assert _private_uses(ast.parse(path.read_text()), _library_methods()) == []


def test_the_private_name_check_catches_what_it_should():
    methods = _library_methods()
    assert {"call", "act", "due_updates", "train", "sample"} <= methods
    source = ("from hierarchy.agent.agent import _x\nagent._due()\nh.call = timed\nself._ok = 1\n"
              "t._replace(a=1)\nargs.loops = []\nself.call = 2\n")
    assert sorted(_private_uses(ast.parse(source), methods)) == [
        (1, "import _x"), (2, "._due"), (3, "assigns .call")]


def test_the_repository_cites_nothing_outside_it():
    offenders = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if (not path.is_file() or rel.parts[0] in (".git", "runs", "docs") or rel.parts[0].startswith(".venv")
                or path.suffix not in (".py", ".md", ".gin", ".json", ".sh", ".toml", ".txt")):
            continue
        text = path.read_text(errors="replace")
        for marker in ("DESIGN" + ".md", "../" + "shared"):
            if marker in text:
                offenders.append(f"{rel}: {marker}")
    assert offenders == []
