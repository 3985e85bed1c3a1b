"""Analysts' corrections: a SQLite store, and its export as training records.

Each correction keeps the text, the tactic ids the analyst says it advances, an optional note and
analyst name, and what the model predicted at the time (its version and labels), so researchers
can both retrain on the corrections and see where the model went wrong.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from ..corpus.dataset import Record
from ..errors import DataError
from ..model.predict import check_text
from ..taxonomy import Taxonomy, load_taxonomy
from ..io.writers import json_line

__all__ = ["Correction", "FeedbackStore", "default_db_path", "DATA_DIR_ENV", "DB_FILE"]

DATA_DIR_ENV = "TACTICS_DATA_DIR"
DB_FILE = "feedback.sqlite3"
SOURCE = "feedback"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT NOT NULL,   -- ISO 8601, UTC
    text          TEXT NOT NULL,
    labels        TEXT NOT NULL,   -- JSON list of tactic ids: the analyst's set
    predicted     TEXT NOT NULL,   -- JSON list of tactic ids: the model's set at the time
    model_version TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    analyst       TEXT NOT NULL DEFAULT ''
)
"""
_COLUMNS = "id, created_at, text, labels, predicted, model_version, note, analyst"


def default_db_path() -> Path:
    """``$TACTICS_DATA_DIR/feedback.sqlite3`` when set, else that file in the user's data dir."""
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        return Path(data_dir) / DB_FILE
    import platformdirs

    return platformdirs.user_data_path("narrative-tactics") / DB_FILE


@dataclass(frozen=True)
class Correction:
    """One stored correction."""

    id: int
    created_at: str
    text: str
    labels: tuple[str, ...]
    predicted: tuple[str, ...]
    model_version: str
    note: str = ""
    analyst: str = ""

    def to_record(self) -> dict:
        """The correction as a training record that ``nlp.corpus.dataset`` reads (``source: feedback``)."""
        extra = {"source": SOURCE, "model": self.model_version, "predicted": list(self.predicted),
                 "created_at": self.created_at}
        if self.analyst:
            extra["analyst"] = self.analyst
        return Record(f"{SOURCE}-{self.id}", self.text, self.labels, note=self.note,
                      extra=extra).to_json()

    def to_dict(self) -> dict:
        return {"id": self.id, "created_at": self.created_at, "labels": list(self.labels),
                "predicted": list(self.predicted), "model": self.model_version,
                "note": self.note, "analyst": self.analyst}


class FeedbackStore:
    """Corrections in one SQLite file; every call opens its own connection, so one store can be
    shared by the threads of a web server."""

    def __init__(self, path: str | Path, taxonomy: Taxonomy | None = None) -> None:
        self.path = Path(path)
        self.taxonomy = taxonomy or load_taxonomy()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the feedback directory: {exc.strerror}",
                            path=str(self.path.parent)) from None
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def add(self, text: str, labels: Sequence[str], *, predicted: Sequence[str],
            model_version: str, note: str = "", analyst: str = "") -> Correction:
        """Store a correction; raise TaxonomyError (listing the valid ids) for an unknown tactic
        and InputError for an empty text. Labels are kept once each, in taxonomy order."""
        check_text(text)
        self.taxonomy.check(labels)
        chosen = set(labels)
        draft = Correction(0, datetime.now(timezone.utc).isoformat(timespec="seconds"), text,
                           tuple(t for t in self.taxonomy.ids if t in chosen), tuple(predicted),
                           model_version, note.strip(), analyst.strip())
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO feedback (created_at, text, labels, predicted, model_version, note,"
                " analyst) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (draft.created_at, draft.text, json.dumps(draft.labels), json.dumps(draft.predicted),
                 draft.model_version, draft.note, draft.analyst))
        return replace(draft, id=cursor.lastrowid)

    def latest(self) -> list[Correction]:
        """The newest correction of each distinct text, oldest first: a later correction of the
        same text supersedes the earlier one, so an export never labels one text twice."""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM feedback WHERE id IN "
                                f"(SELECT MAX(id) FROM feedback GROUP BY text) ORDER BY id")
            return [_correction(row) for row in rows]

    def export_jsonl(self) -> Iterator[str]:
        """The corrections as training-format JSONL lines (see ``Correction.to_record``)."""
        return (json_line(correction.to_record()) for correction in self.latest())

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block commits on success, rolls back on error, and always closes."""
        try:
            conn = sqlite3.connect(self.path, timeout=10)
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise DataError(f"feedback database error: {exc}", path=str(self.path)) from None


def _correction(row: tuple) -> Correction:
    row_id, created_at, text, labels, predicted, model_version, note, analyst = row
    return Correction(row_id, created_at, text, tuple(json.loads(labels)),
                      tuple(json.loads(predicted)), model_version, note, analyst)
