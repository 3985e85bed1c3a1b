"""The ``tactics`` command line: thin wrappers over the package's public functions.

One module per group of commands; each registers its commands on the shared typer ``app``.
Every command turns the project's errors into one line on stderr and a non-zero exit code.
"""

from . import batch, corpus, modelling, predict, research, serve  # noqa: F401  (registers the commands)
from ._util import app

__all__ = ["app"]
