"""CSV with a ``text`` column and a ``labels`` column of tactic ids separated by ``;`` (empty for
no tactic); ``id``, ``genre``, ``kind``, ``split`` and ``note`` columns are kept when present."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ...io.readers import iter_rows
from ._common import Annotation, Item, problem, source_fields

__all__ = ["read", "SEPARATOR"]

SEPARATOR = ";"


def read(path: Path) -> Iterator[Item]:
    # id_field="" keeps the id column among the fields, so a file without one is told apart
    # from ids that happen to equal the row numbers
    for row in iter_rows(path, fmt="csv", id_field=""):
        where = f"row {row.number}"
        if row.error:
            yield problem(path, where, row.error, "text")
        elif "labels" not in row.fields:
            yield problem(path, "header", f"no 'labels' column (tactic ids separated by "
                                          f"{SEPARATOR!r})", "labels")
            return
        else:
            labels = [x.strip() for x in (row.fields["labels"] or "").split(SEPARATOR)]
            yield Annotation(where, row.text, tuple(x for x in labels if x),
                             **source_fields(row.fields))
