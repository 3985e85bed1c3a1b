"""The analyst app's feedback database (SQLite): the latest correction of each text, as stored by
``nlp.apps.feedback``; the analyst's tactic set is the label set."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ...apps.feedback import FeedbackStore
from ._common import Annotation, Item

__all__ = ["read"]


def read(path: Path) -> Iterator[Item]:
    for correction in FeedbackStore(path).latest():
        yield Annotation(f"correction {correction.id}", correction.text, correction.labels,
                         id=str(correction.id), note=correction.note)
