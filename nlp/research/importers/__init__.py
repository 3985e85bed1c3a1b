"""Importers: labels from annotation tools and analysts' corrections, as corpus records.

Each source is one module with a ``read(path)`` function that yields what the file states
(``Annotation``), what it leaves out on purpose (``Skip``) and what is wrong (``Problem``);
``import_file`` checks the annotations against the taxonomy and turns them into records. A new
source is one new module and one line in ``IMPORTERS``.

    >>> result = import_file("export.json", "labelstudio")    # doctest: +SKIP
    >>> result.ok, len(result.records), result.conflicts       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from ...errors import DataError
from ...taxonomy import Taxonomy, load_taxonomy
from . import argilla, csvfile, doccano, feedback, labelstudio, prodigy
from ._common import (
    Annotation,
    ImportResult,
    Item,
    Skip,
    text_key,
    to_records,
    write_records,
)

__all__ = ["IMPORTERS", "import_file", "write_records", "text_key", "ImportResult",
           "Annotation", "Skip"]

IMPORTERS: dict[str, Callable[[Path], Iterable[Item]]] = {
    "prodigy": prodigy.read,
    "labelstudio": labelstudio.read,
    "doccano": doccano.read,
    "argilla": argilla.read,
    "csv": csvfile.read,
    "feedback": feedback.read,
}


def import_file(path: str | Path, fmt: str, taxonomy: Taxonomy | None = None) -> ImportResult:
    """Read one export of the named format; the result's ``problems`` list everything that must
    be fixed before its records may be written."""
    if fmt not in IMPORTERS:
        raise DataError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORTERS)}")
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=str(path))
    return to_records(path, fmt, IMPORTERS[fmt](path), taxonomy or load_taxonomy())
