"""What both binaries do before their one call: parse the gin configuration and set TensorFlow up."""

import sys
import tokenize
from typing import Sequence

from absl import logging

# What gin raises for a file or binding it cannot parse or resolve (an unclosed bracket surfaces as
# the tokenizer's TokenError).
GIN_PARSE_ERRORS = (ValueError, FileNotFoundError, SyntaxError, ImportError, tokenize.TokenError)
EXIT_FAILED = 1
EXIT_CONFIGURATION = 2
EXIT_INTERRUPTED = 130   # the shell's status for a process ended by SIGINT


def parse_or_exit(gin_files: Sequence[str], gin_bindings: Sequence[str]) -> None:
    """Parses the gin files and bindings, then applies `hierarchy.runtime.configure_tensorflow`
    (before TensorFlow runs anything); a configuration that does not parse exits with
    EXIT_CONFIGURATION and the parser's message."""
    from hierarchy import runtime
    from hierarchy.run import config
    try:
        config.parse_gin(gin_files, gin_bindings)
        runtime.configure_tensorflow()
    except tokenize.TokenError as e:
        # gin's tokenizer names neither the file nor the line where the statement began.
        logging.error("Invalid gin configuration, nothing was run: %s", unclosed_statement(gin_files, e))
        sys.exit(EXIT_CONFIGURATION)
    except GIN_PARSE_ERRORS as e:
        logging.error("Invalid gin configuration, nothing was run: %s", one_line(e))
        sys.exit(EXIT_CONFIGURATION)


def one_line(error: BaseException) -> str:
    """An error's message on one line: gin's span several (the message, the file and line), and gin
    appends "In call to configurable ..." to errors raised inside a configurable."""
    return "; ".join(line.strip() for line in str(error).splitlines()
                     if line.strip() and not line.strip().startswith("In call to configurable"))


def unclosed_statement(gin_files: Sequence[str], error: tokenize.TokenError) -> str:
    """One line naming the gin file and line where a bracket opens that is never closed."""
    from hierarchy.run import config
    for name in gin_files:
        try:
            path = config.resolve_gin_file(name)
        except FileNotFoundError:
            continue
        with open(path) as f:
            lines = f.read().splitlines()
        depth, opened = 0, None
        for number, line in enumerate(lines, 1):
            for char in line.split("#", 1)[0]:
                if char in "([{":
                    depth, opened = depth + 1, opened if depth else number
                elif char in ")]}":
                    depth = max(0, depth - 1)
        if depth:
            return f"{path}, line {opened}: a bracket opened here is never closed ({error.args[0]})"
    return f"a bracket is never closed ({error.args[0]})"
