"""The ``tactics`` command line: thin commands over the package's public functions, one module per group."""

# Each module registers its commands on the shared typer ``app``; every command turns the project's
# errors into one line on stderr and a non-zero exit code.

from . import batch, corpus, modelling, predict, report, research, serve  # noqa: F401  (registers the commands)
from ._util import app

__all__ = ["app"]
