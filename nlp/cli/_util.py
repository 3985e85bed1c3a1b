"""Shared pieces of the command line: the typer app, common options, the home's paths, stage
lines on stderr, and error handling (one line on stderr and a documented exit code)."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import typer

from ..errors import TacticsError
from ..io.home import HOME_ENV, in_home

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_ROW_ERRORS = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143

HELP = f"""Tag media snippets with the narrative tactics they advance.

\b
Where models live (one rule for every command and for load_model()):
  1. ${HOME_ENV}/models, when ${HOME_ENV} is set (it may also hold training_data/);
  2. else models/ of the project directory, found from the current directory upwards;
  3. else the default model shipped with the package (read-only).
  --model NAME picks models/NAME there; $TACTICS_MODEL overrides the default model.

\b
Exit codes:
  0  done: every row was classified
  1  fatal error (missing file, bad model, bad corpus, ...): one line on stderr
  2  usage error (unknown option, missing or conflicting arguments)
  3  done, but some rows carried an error (all rows are still written)
  130 / 143  stopped by Ctrl-C / SIGTERM (a batch job keeps its checkpoint)
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help=HELP)

DATA_OPTION = typer.Option(None, "--data", help="Corpus directory (train.jsonl, test.jsonl; default: training_data/ of the home, see `tactics --help`).")
MODEL_OPTION = typer.Option(None, "--model", "-m", help="Model directory, or a name under the home's models/ (default: $TACTICS_MODEL, else models/default of the home; see `tactics --help`).")
MODELS_DIR_OPTION = typer.Option(None, "--models-dir", help="Directory of model directories; its 'default' is the default model (default: models/ of the home, see `tactics --help`).")
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="No progress lines on stderr.")
JOBS_OPTION = typer.Option(-1, "--jobs", "-j", help="Processes for the cross-validation folds (-1: one per core; 1: none in parallel).")


def data_dir(data: Path | None) -> Path:
    """``--data``, else the home's corpus."""
    return in_home(data, "data")


def evaluation_dir(path: Path | None) -> Path:
    """An ``--out`` for reports, else the home's ``evaluation/`` (never the package's)."""
    return in_home(path, "evaluation", write=True)


def fail(message: str, code: int = EXIT_FATAL) -> None:
    """Print one line on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: whatever cleans up after Ctrl-C cleans up after it."""


def errors_to_exit(command):
    """Run a command with stage lines on stderr (unless its ``quiet`` is set) and SIGTERM
    handled like Ctrl-C; turn the project's exceptions into one line on stderr and exit code 1,
    Ctrl-C into 130 and SIGTERM into 143."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with _stage_lines(quiet=bool(kwargs.get("quiet"))), _sigterm_as_interrupt() as stopped:
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt as exc:
                terminated = isinstance(exc, Terminated) or stopped.is_set()
                fail("; ".join(["stopped by SIGTERM" if terminated else "interrupted",
                                *getattr(exc, "__notes__", [])]),
                     EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
            except TacticsError as exc:
                if stopped.is_set():   # e.g. workers that the same SIGTERM stopped first
                    fail(f"stopped by SIGTERM ({exc})", EXIT_TERMINATED)
                fail(str(exc))
    return wrapper


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[threading.Event]:
    """While a command runs, SIGTERM raises ``Terminated`` once (a second one kills at once)."""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return

    def raise_terminated(signum, frame):
        stopped.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGTERM, previous)


class _StageFormatter(logging.Formatter):
    """Stage lines as ``[  12s] message``; warnings as ``warning: message``."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return f"warning: {record.getMessage()}"
        return f"[{time.monotonic() - self.started:4.0f}s] {record.getMessage()}"


@contextlib.contextmanager
def _stage_lines(*, quiet: bool) -> Iterator[None]:
    """The package's log records on stderr while a command runs: stage lines (INFO) unless
    ``quiet``, warnings always."""
    logger = logging.getLogger("nlp")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StageFormatter())
    previous = logger.level
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
