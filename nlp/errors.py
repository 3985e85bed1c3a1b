"""The project's exception types: every failure a user can act on is one of these."""

from __future__ import annotations

__all__ = ["TacticsError", "TaxonomyError", "DataError", "ModelError", "EncoderMissing", "InputError"]


class TacticsError(Exception):
    """Base class; the CLI turns any of these into one line and a non-zero exit."""


class TaxonomyError(TacticsError):
    """The taxonomy file is malformed, or a label is not in it."""


class DataError(TacticsError):
    """A corpus or input file has a problem; the message names the file, line and field."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = ":".join(str(p) for p in (path, line) if p is not None)
        prefix = f"{where}: " if where else ""
        suffix = f" (field '{field}')" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")
        self.path, self.line, self.field = path, line, field


class ModelError(TacticsError):
    """A model directory is missing, incomplete, unsafe or incompatible."""


class EncoderMissing(ModelError):
    """A model needs a sentence encoder whose package is not installed (an optional extra)."""


class InputError(TacticsError):
    """A text given for prediction cannot be classified (empty, wrong type, undecodable)."""
