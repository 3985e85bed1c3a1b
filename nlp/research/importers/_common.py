"""What the importers share: the annotation they read, JSON reading, and the conversion of
annotations into corpus records, which checks every label and finds duplicates and conflicts."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Union

from ...corpus.dataset import GENRES, KINDS, SPLITS, Problem, Record
from ...errors import DataError
from ...io.readers import text_error
from ...taxonomy import Taxonomy
from ...io.writers import atomic_text_output, json_line

__all__ = ["Annotation", "Skip", "Item", "ImportResult", "to_records", "write_records",
           "json_items", "problem", "source_fields", "text_key"]


@dataclass(frozen=True)
class Annotation:
    """One annotator's complete label set for one text, as a source file states it.

    ``where`` finds it in the source ("line 3", "task 17 annotation 4"); ``text`` and the other
    fields are as the source gives them (``to_records`` checks them); ``id`` is the source's
    id for the text (a hash of the text stands in when it is empty); ``split`` "test" sends the
    record to the test split when it is merged by ``tactics retrain``.
    """

    where: str
    text: str
    labels: tuple[str, ...]
    id: str = ""
    genre: str = ""
    kind: str = ""
    split: str = ""
    note: str = ""
    hard_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    """An item left out on purpose (cancelled, not submitted, ignored); counted by reason."""

    reason: str


Item = Union[Annotation, Problem, Skip]


@dataclass
class ImportResult:
    """Records converted from one source file, and what kept others out."""

    path: Path
    format: str
    records: list[Record]
    problems: list[Problem] = field(default_factory=list)    # errors: nothing may be written
    conflicts: list[Problem] = field(default_factory=list)   # texts left out: annotations disagree
    skipped: Counter = field(default_factory=Counter)        # reason -> count

    @property
    def ok(self) -> bool:
        return not self.problems


def problem(path: Path, where: str, message: str, field_name: str | None = None) -> Problem:
    """A problem with one item of a source file, located by ``where``."""
    return Problem(str(path), None, field_name, f"{where}: {message}")


def text_key(text: str) -> str:
    """The form under which two texts count as the same (case and whitespace ignored)."""
    return " ".join(text.lower().split())


def source_fields(obj: dict) -> dict:
    """The optional record fields a source may carry beside text and labels: id, genre, kind,
    split and note (absent ones empty)."""
    return {"id": "" if obj.get("id") is None else str(obj["id"]),
            **{key: obj.get(key) or "" for key in ("genre", "kind", "split", "note")}}


def json_items(path: Path) -> Iterator[tuple[str, dict] | Problem]:
    """The objects of a JSON array ("item N") or of a JSONL file ("line N"); a line or item that is
    not a JSON object comes out as a Problem, a JSON array that does not parse raises DataError."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path=str(path)) from None
    if raw.lstrip().startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON: {exc.msg} at line {exc.lineno}",
                            path=str(path)) from None
        numbered = ((f"item {n}", obj, None) for n, obj in enumerate(items, start=1))
    else:
        numbered = (_parse(n, line) for n, line in enumerate(raw.splitlines(), start=1)
                    if line.strip())
    for where, obj, error in numbered:
        if error or not isinstance(obj, dict):
            yield problem(path, where, error or "not a JSON object")
        else:
            yield where, obj


def _parse(number: int, line: str) -> tuple[str, object, str | None]:
    """A JSONL line as (where, value, None), or (where, None, why it is not JSON)."""
    where = f"line {number}"
    try:
        return where, json.loads(line), None
    except json.JSONDecodeError as exc:
        return where, None, f"not valid JSON: {exc.msg} at column {exc.colno}"


def to_records(path: Path, fmt: str, items: Iterable[Item], taxonomy: Taxonomy) -> ImportResult:
    """Check annotations and turn them into records: one per distinct text, labels in taxonomy
    order. Texts whose annotations disagree are left out and reported as conflicts."""
    result = ImportResult(path, fmt, [])
    seen_ids: dict[str, str] = {}
    for group in _checked_groups(path, items, taxonomy, result).values():
        if len({frozenset(a.labels) for a in group}) > 1:
            result.conflicts.append(_conflict(path, group))
            continue
        if len(group) > 1:
            result.skipped["repeated annotation of the same text"] += len(group) - 1
        record = _record(fmt, group[0], taxonomy)
        first = seen_ids.setdefault(record.id, group[0].where)
        if first != group[0].where:
            result.problems.append(problem(path, group[0].where, f"id {record.id!r} is "
                                           f"also used by {first} for another text", "id"))
        result.records.append(record)
    return result


def _checked_groups(path: Path, items: Iterable[Item], taxonomy: Taxonomy,
                    result: ImportResult) -> dict[str, list[Annotation]]:
    """The valid annotations grouped by text; problems and skips are noted in ``result``."""
    groups: dict[str, list[Annotation]] = {}
    for item in items:
        if isinstance(item, Skip):
            result.skipped[item.reason] += 1
            continue
        found = item if isinstance(item, Problem) else _check(path, item, taxonomy)
        if found:
            result.problems.append(found)
        else:
            groups.setdefault(text_key(item.text), []).append(item)
    return groups


def _check(path: Path, a: Annotation, taxonomy: Taxonomy) -> Problem | None:
    """The first thing wrong with an annotation, if any."""
    error = text_error(a.text)
    if error:
        return problem(path, a.where, error, "text")
    unknown = taxonomy.unknown(list(a.labels) + list(a.hard_for))
    if unknown:
        return problem(path, a.where, taxonomy.unknown_message(unknown), "labels")
    if a.genre and a.genre not in GENRES:
        return problem(path, a.where, f"unknown genre {a.genre!r}; valid genres: "
                                      f"{', '.join(GENRES)}", "genre")
    if a.kind and (a.kind not in KINDS or (a.kind == "positive") != bool(a.labels)):
        return problem(path, a.where, f"kind {a.kind!r} does not fit labels {list(a.labels)}; "
                                      f"valid kinds: {', '.join(KINDS)}", "kind")
    if a.split and a.split not in SPLITS:
        return problem(path, a.where, f"unknown split {a.split!r}; valid splits: "
                                      f"{', '.join(SPLITS)}", "split")
    return None


def _conflict(path: Path, annotations: list[Annotation]) -> Problem:
    sets = "; ".join(f"{a.where} says {', '.join(sorted(set(a.labels))) or 'no tactic'}"
                     for a in annotations)
    excerpt = " ".join(annotations[0].text.split())[:70]
    return problem(path, annotations[0].where, f"conflicting labels for the same text ({sets}); "
                                               f"left out: {excerpt!r}", "labels")


def _record(fmt: str, a: Annotation, taxonomy: Taxonomy) -> Record:
    """The corpus record for an annotation that passed the checks."""
    labels = _ordered(a.labels, taxonomy)
    hard_for = () if labels else _ordered(a.hard_for, taxonomy)
    kind = a.kind or ("positive" if labels else "hard_negative" if hard_for else "")
    native = a.id or hashlib.sha1(a.text.encode("utf-8")).hexdigest()[:12]
    extra = {"source": fmt, **({"split": a.split} if a.split else {})}
    return Record(f"{fmt}-{native}", a.text, labels, a.genre, kind, hard_for, a.note, extra)


def _ordered(labels: Iterable[str], taxonomy: Taxonomy) -> tuple[str, ...]:
    chosen = set(labels)
    return tuple(t for t in taxonomy.ids if t in chosen)


def write_records(path: str | Path, records: Iterable[Record]) -> None:
    """Write records as corpus JSONL, atomically (``-`` for stdout)."""
    with atomic_text_output(path) as out:
        for record in records:
            out.write(json_line(record.to_json()))
