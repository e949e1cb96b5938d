"""The gin configuration: where the gin files are, parsing them, and checking what gin cannot.

    parse_gin(["envs/point_reach.gin", "methods/hrl_cg.gin"], ["train.total_steps = 20000"])

Gin files are paths, or names under the gin directory (`gin_dir()`: the repository's top-level
`gin/` in a source checkout or an editable install, `hierarchy/gin/` inside an installed wheel).

Gin ignores a binding whose scope is never entered, so a misspelled scope (`tpo/Level.reward_scale`)
would silently do nothing; `check_gin_scopes` (run by `hierarchy.run.assembly.build_agent` once the
levels are known) turns such bindings into errors.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging as std_logging
import math
import numbers
import os
import re
import tokenize
from typing import Any, Dict, List, Sequence, Tuple

import gin
from gin import config_parser

from hierarchy.agent.replay import ReplayBuffer
from hierarchy.core.level import Level
from hierarchy.core.stack import level_names
from hierarchy.run import files

# The modules that define gin configurables (`train`, `Agent`, `Hierarchy`, `Level`,
# `build_hierarchy`, `configure_tensorflow`) or register the environments: gin can only parse a
# binding of a configurable whose module has been imported, so `parse_gin` imports them first.
CONFIGURABLE_MODULES = ("envs", "hierarchy.runtime", "hierarchy.run.runner")


class ConfigurationError(ValueError):
    """The gin configuration cannot be built (a bad value, an unknown environment id, a binding whose
    scope names no level); nothing was written.

    `message` is the one-paragraph explanation; `str()` may have gin's "In call to configurable"
    lines appended (gin adds them when the error passes through a configurable such as `train`).
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigMismatchError(ValueError):
    """root_dir holds a run whose gin configuration differs from the current one."""


# --------------------------------------------------------------------------------------------------
# Locating and parsing gin files.

@functools.cache
def gin_dir() -> str:
    """The directory of the packaged gin files: `hierarchy/gin` inside an installed package (a wheel
    puts them there, see setup.py), else `gin/` beside the `hierarchy` package (a source checkout or
    an editable install)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hierarchy/
    candidates = [os.path.join(package, "gin"), os.path.join(os.path.dirname(package), "gin")]
    for path in candidates:
        if os.path.isfile(os.path.join(path, "base.gin")):
            return path
    raise FileNotFoundError(f"the packaged gin files are missing: no base.gin in {' or '.join(candidates)}")


def available_gin_files() -> List[str]:
    """Every packaged gin file, relative to the gin directory, sorted."""
    root = gin_dir()
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, n), root) for n in names if n.endswith(".gin")]
    return sorted(out)


def resolve_gin_file(path: str) -> str:
    """`path` as given if it exists, else relative to the packaged gin directory (`gin_dir()`)."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        raise FileNotFoundError(f"gin file {path!r} is a directory; give the .gin files in it one "
                                "--gin_file each")
    packaged = os.path.join(gin_dir(), path)
    if os.path.isfile(packaged):
        return packaged
    raise FileNotFoundError(f"gin file {path!r} not found (neither as given nor under {gin_dir()}); "
                            f"packaged files: {', '.join(available_gin_files())}")


def register_configurables() -> None:
    """Imports every module that defines a configurable of the gin files (`CONFIGURABLE_MODULES`)."""
    for name in CONFIGURABLE_MODULES:
        importlib.import_module(name)


_search_path_added = False


def parse_gin(gin_files: Sequence[str] = (), gin_bindings: Sequence[str] = ()) -> None:
    """Parses gin files (paths, or names under `gin_dir()`) and bindings.

    `include` statements in the files are resolved relative to `gin_dir()`. An unknown configurable
    or a misspelled parameter raises ValueError naming it (before anything is built).
    """
    global _search_path_added
    register_configurables()
    if not _search_path_added:
        gin.add_config_file_search_path(gin_dir())
        _search_path_added = True
    paths = [resolve_gin_file(f) for f in gin_files]
    # gin looks for an include relative to the working directory first and logs an error (on the
    # root Python logger) for each miss before finding it in gin_dir(); those errors are noise.
    previous = std_logging.root.manager.disable
    std_logging.disable(std_logging.ERROR)
    try:
        gin.parse_config_files_and_bindings(paths, list(gin_bindings), finalize_config=False)
    finally:
        std_logging.disable(previous)


def check_config_unchanged(root_dir: str, config_text: str, *, extend: bool = False,
                           default_total_steps: int | None = None) -> int | None:
    """Raises `ConfigMismatchError` if `root_dir` holds a run of another configuration: a config.gin
    whose text differs from `config_text` (the difference is shown), or checkpoints without one.

    With `extend`, a config.gin that differs only in a smaller `train.total_steps` is accepted: the
    run is to be continued to the new total. Returns that run's total_steps then (None otherwise);
    `default_total_steps` is `train`'s default, for a text that does not bind it.
    """
    path = os.path.join(root_dir, files.CONFIG_FILE)
    if not os.path.exists(path):
        if os.path.isdir(os.path.join(root_dir, files.CHECKPOINTS)):
            raise ConfigMismatchError(f"{root_dir} holds checkpoints but no {files.CONFIG_FILE}; "
                                      "refusing to resume a run of unknown configuration (use a new "
                                      "root_dir)")
        return None
    with open(path) as f:
        previous = f.read()
    if previous == config_text:
        return None
    steps = total_steps_change(previous, config_text, default_total_steps)
    if steps is not None and steps[1] > steps[0] and extend:
        return steps[0]
    diff = "\n".join(difflib.unified_diff(previous.splitlines(), config_text.splitlines(),
                                          f"{path} (existing run)", "current configuration",
                                          lineterm="", n=0))
    if steps is None:
        hint = "Use a new root_dir, or the same gin files and bindings."
    elif steps[1] > steps[0]:
        hint = (f"Only train.total_steps differs ({steps[0]} -> {steps[1]}): to continue the run to "
                f"{steps[1]} steps, extend it (the train binary's --extend, `train(extend=True)`).")
    else:
        hint = (f"Only train.total_steps differs, and it is smaller ({steps[0]} -> {steps[1]}): a "
                "run can be extended, never shortened. Its checkpoints and evaluation rows of "
                "earlier steps are in root_dir.")
    raise ConfigMismatchError(
        f"{root_dir} holds a run with a different gin configuration, so it cannot be resumed "
        f"with this one. {hint} Differences:\n{diff}")


class _Symbols(config_parser.ParserDelegate):
    """Parses configurable references and macros into tagged tuples: compared as values, they
    differ from strings and from each other."""

    def configurable_reference(self, scoped_configurable_name, evaluate):
        return ("@", scoped_configurable_name, evaluate)

    def macro(self, macro_name):
        return ("%", macro_name)


def _total_steps_and_rest(text: str, default: int | None) -> Tuple[int | None, List[Any] | None]:
    """(the `train.total_steps` that a gin configuration text binds, or `default`; its other
    statements, without their locations), parsed by gin's own parser; (None, None) for a text that
    does not parse or binds a total that is not an integer."""
    total, rest = default, []
    try:
        for statement in config_parser.ConfigParser(text, _Symbols()):
            if (isinstance(statement, config_parser.BindingStatement) and not statement.scope
                    and statement.selector == "train" and statement.arg_name == "total_steps"):
                total = statement.value
                if not isinstance(total, int) or isinstance(total, bool):
                    return None, None
            else:
                rest.append(statement._replace(location=None))
    except (SyntaxError, ValueError, tokenize.TokenError):
        return None, None
    return total, rest


def total_steps_change(previous: str, current: str,
                       default: int | None = None) -> Tuple[int, int] | None:
    """(previous total_steps, current total_steps) when two gin configuration texts (`gin.config_str()`)
    bind the same values but for `train.total_steps`; None when anything else differs, or a total
    is neither bound nor given by `default`. Both texts are parsed by gin's parser (comments and
    layout do not count)."""
    (old, old_rest), (new, new_rest) = (_total_steps_and_rest(previous, default),
                                        _total_steps_and_rest(current, default))
    if old is None or new is None or old_rest != new_rest:
        return None
    return old, new


# --------------------------------------------------------------------------------------------------
# Checking the scopes of gin bindings.

# The middle levels of a hierarchy of 3 or more levels, mid1 ... mid999 (deeper is not checked).
_MIDDLE = re.compile(r"mid([1-9][0-9]{0,2})")


# The configurables built inside a level's gin scope (`Level` by `build_hierarchy`, `ReplayBuffer` by
# the `Agent`): the only ones whose bindings may be scoped. Every other one is called outside scopes.
SCOPED_CONFIGURABLES = (Level, ReplayBuffer)


def is_level_name(name: str) -> bool:
    """Whether `name` is a level's name (so a gin scope) in a hierarchy of some depth (up to 1001)."""
    middle = _MIDDLE.fullmatch(name)
    depths = (1, 2) if middle is None else (int(middle.group(1)) + 2,)
    return any(name in level_names(n) for n in depths)


class _NamesOnly(config_parser.ParserDelegate):
    """Parses configurable references and macros into their names: only the binding keys matter."""

    def configurable_reference(self, scoped_configurable_name, evaluate):
        return scoped_configurable_name

    def macro(self, macro_name):
        return macro_name


def scoped_bindings() -> Dict[Tuple[str, str], Tuple[List[str], Any]]:
    """{(scope, selector): ([parameter names], the configurable)} of every scoped binding of the
    current gin configuration (macros left out).

    Read through gin's public API: `gin.config_str()` prints every binding (it is what a run saves
    as config.gin and the evaluate binary parses back), and `gin.config_parser` parses that text
    into binding statements. (Checked with gin-config 0.5.0.)
    """
    out: Dict[Tuple[str, str], Tuple[List[str], Any]] = {}
    for statement in config_parser.ConfigParser(gin.config_str(), _NamesOnly()):
        if not isinstance(statement, config_parser.BindingStatement):
            continue
        if not statement.scope or not statement.arg_name:   # unscoped, or a macro
            continue
        key = (statement.scope, statement.selector)
        params, configurable = out.get(key, ([], gin.get_configurable(statement.selector)))
        out[key] = (sorted(params + [statement.arg_name]), configurable)
    return out


def _valid_scopes_text(names: Sequence[str]) -> str:
    return (f"the valid scopes of this {len(names)}-level hierarchy are "
            f"{', '.join(n + '/' for n in names)} (other depths: flat/ for one level; top/, mid1/, "
            "..., mid<N-2>/, low/ for N levels)")


def check_gin_scopes(names: Sequence[str], *, other_depths: str = "error") -> List[str]:
    """Checks the scope of every scoped gin binding against a hierarchy whose levels are `names`.

    A binding of a level's configurable (`Level`, `ReplayBuffer`) scoped by one of `names` applies.
    Anything else would be ignored by gin without a word, and is an error: a scope that names no
    level at any depth (a misspelling such as `tpo/`), a nested scope (`top/low/`), a configurable
    never built inside a level's scope (`top/Hierarchy.cg_lambda`), and, unless `other_depths` is
    "allow", the name of a level this hierarchy does not have (`mid2/` in a three-level run,
    `flat/` in a two-level one).

    Args:
      names: the hierarchy's level names, top first.
      other_depths: "error" (training), or "allow" to accept scopes of levels of other depths and
        return them (restoring a saved run whose configuration was written under older rules).

    Returns:
      The bindings scoped by levels of other depths (only with other_depths="allow").

    Raises:
      ValueError: naming every such binding, with the valid scopes.
    """
    if other_depths not in ("error", "allow"):
        raise ValueError(f"other_depths must be 'error' or 'allow', got {other_depths!r}")
    unused, problems = [], []
    for (scope, _), (params, configurable) in sorted(scoped_bindings().items()):
        label = getattr(configurable, "__name__", str(configurable))
        keys = ", ".join(f"{scope}/{label}.{p}" for p in params)
        if configurable not in SCOPED_CONFIGURABLES:
            problems.append(f"{keys}: {label} is never built inside a scope, so a scoped binding of "
                            f"it never applies; bind it without the '{scope}/' scope")
        elif scope in names:
            continue
        elif is_level_name(scope) and other_depths == "allow":
            unused.append(keys)
        elif is_level_name(scope):
            problems.append(f"{keys}: '{scope}/' names no level of this {len(names)}-level "
                            "hierarchy")
        else:
            problems.append(f"{keys}: '{scope}/' is not the name of a level"
                            + _suggestion(scope, names))
    if problems:
        raise ValueError(f"gin binding(s) that would be silently ignored: {'; '.join(problems)}. "
                         f"Per-level bindings are scoped by the level's name: "
                         f"{_valid_scopes_text(names)}.")
    return unused


def _suggestion(scope: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(scope, list(names) + ["flat", "top", "mid1", "low"], n=1)
    return f" (did you mean '{close[0]}/'?)" if close else ""


def check_train_settings(**settings) -> None:
    """Raises `ConfigurationError` unless every setting (a `train` parameter) is a whole number >= 1
    (an int, or a float such as 3e6 that is one; 600.5 is refused, not rounded)."""
    for name, value in settings.items():
        whole = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer())
        if not whole or value < 1:
            raise ConfigurationError(f"train.{name} must be an integer >= 1, got {value!r}")
