"""What both binaries do before their one call: parse the gin configuration and set TensorFlow up."""

import sys
from typing import Sequence

from absl import logging

# What gin raises for a file or binding it cannot parse or resolve.
GIN_PARSE_ERRORS = (ValueError, FileNotFoundError, SyntaxError, ImportError)
EXIT_FAILED = 1
EXIT_CONFIGURATION = 2


def parse_or_exit(gin_files: Sequence[str], gin_bindings: Sequence[str]) -> None:
    """Parses the gin files and bindings, then applies `hierarchy.runtime.configure_tensorflow`
    (before TensorFlow runs anything); a configuration that does not parse exits with
    EXIT_CONFIGURATION and the parser's message."""
    from hierarchy import config, runtime

    try:
        config.parse_gin(gin_files, gin_bindings)
        runtime.configure_tensorflow()
    except GIN_PARSE_ERRORS as e:
        logging.error("Invalid gin configuration, nothing was run:\n%s", e)
        sys.exit(EXIT_CONFIGURATION)
