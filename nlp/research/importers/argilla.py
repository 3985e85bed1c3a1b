"""Argilla flat export (``dataset.records.to_list(flatten=True)`` saved as JSON or JSONL).

The labels are the responses to the multi-label question (``tactics``, or the record's only
question): ``QUESTION.responses`` holds one value per annotator and ``QUESTION.responses.status``
their status; only ``submitted`` responses count, drafts and discarded ones are skipped, and
suggestions (model pre-annotations) are never read. The text is the ``text`` field; ``id`` and
the metadata ``genre``, ``kind`` and ``split`` are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ._common import Annotation, Item, Skip, json_items, problem, source_fields

__all__ = ["read"]

QUESTION = "tactics"
SUFFIX = ".responses"


def read(path: Path) -> Iterator[Item]:
    for item in json_items(path):
        if not isinstance(item, tuple):
            yield item
            continue
        where, record = item
        questions = sorted(key[:-len(SUFFIX)] for key in record if key.endswith(SUFFIX))
        if not questions:
            yield Skip("record without responses")
            continue
        if QUESTION not in questions and len(questions) > 1:
            yield problem(path, where, f"several questions ({', '.join(questions)}); name the "
                                       f"tactics question {QUESTION!r}", SUFFIX)
            continue
        question = QUESTION if QUESTION in questions else questions[0]
        yield from _responses(path, where, record, question)


def _responses(path: Path, where: str, record: dict, question: str) -> Iterator[Item]:
    values = record.get(question + SUFFIX) or []
    statuses = record.get(question + SUFFIX + ".status") or []
    submitted = [value for value, status in zip(values, statuses) if status == "submitted"]
    for _ in range(len(values) - len(submitted)):
        yield Skip("response not submitted")
    if not submitted:
        yield Skip("record without a submitted response")
    for n, value in enumerate(submitted, start=1):
        labels = [value] if isinstance(value, str) else value
        at = f"{where} (submitted response {n})"
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            yield problem(path, at, "a response must be a list of tactic ids", question)
            continue
        yield Annotation(at, record.get("text"), tuple(labels), **source_fields(record))
