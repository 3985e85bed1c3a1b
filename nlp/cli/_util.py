"""Shared pieces of the command line: the typer app, common options, and error handling."""

from __future__ import annotations

import functools
from pathlib import Path

import typer

from ..errors import TacticsError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Tag media snippets with the narrative tactics they advance.")

DATA_OPTION = typer.Option(Path("training_data"), "--data", help="Corpus directory (train.jsonl, test.jsonl).")
MODEL_OPTION = typer.Option(None, "--model", "-m", help="Model directory or name under models/ (default: $TACTICS_MODEL or models/default).")


def fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def errors_to_exit(command):
    """Turn the project's exceptions into one line on stderr and exit code 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TacticsError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
    return wrapper
