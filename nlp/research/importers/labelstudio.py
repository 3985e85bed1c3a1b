"""Label Studio exports: JSON (tasks with annotations) and JSON-MIN (one row per annotation).

JSON (items with a ``data`` object): each annotation of a task that was not cancelled gives the
choices of its ``choices`` results as the text's label set; ``predictions`` (model
pre-annotations) are never read, so they never become gold labels. JSON-MIN: the choices are
under the Choices control's name, which must be ``tactics`` (as in the labelling config that
``tactics suggest --label-config`` writes). The choice ``none`` and an annotation without
choices both mean the text advances no tactic. A task's ``data`` may carry ``id``, ``genre``,
``kind`` and ``split`` beside ``text``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ._common import Annotation, Item, Skip, json_items, problem, source_fields

__all__ = ["read", "CHOICES_NAME", "NONE_CHOICE"]

CHOICES_NAME = "tactics"
NONE_CHOICE = "none"


def read(path: Path) -> Iterator[Item]:
    min_rows = with_choices = 0
    for item in json_items(path):
        if not isinstance(item, tuple):
            yield item
            continue
        where, task = item
        if isinstance(task.get("data"), dict):
            yield from _task(path, where, task)
        else:
            min_rows += 1
            with_choices += CHOICES_NAME in task
            yield _min_row(path, where, task)
    if min_rows and not with_choices:
        yield problem(path, "file", f"no JSON-MIN row has a {CHOICES_NAME!r} field: name the "
                                    f"Choices control {CHOICES_NAME!r}", CHOICES_NAME)


def _task(path: Path, where: str, task: dict) -> Iterator[Item]:
    data, annotations = task["data"], task.get("annotations") or []
    fields = source_fields(data)
    fields["id"] = fields["id"] or str(task.get("id", ""))
    done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    for annotation in annotations:
        if isinstance(annotation, dict) and annotation.get("was_cancelled"):
            yield Skip("cancelled annotation")
    if not done:
        yield Skip("task without a submitted annotation")
    for annotation in done:
        at = f"{where} (task {task.get('id')}, annotation {annotation.get('id')})"
        choices = [choice for result in annotation.get("result") or []
                   if isinstance(result, dict) and result.get("type") == "choices"
                   for choice in (result.get("value") or {}).get("choices") or []]
        yield _annotation(path, at, data.get("text"), choices, fields)


def _min_row(path: Path, where: str, row: dict) -> Item:
    value = row.get(CHOICES_NAME, [])
    if isinstance(value, dict):
        value = value.get("choices", [])
    choices = [value] if isinstance(value, str) else value
    return _annotation(path, f"{where} (task {row.get('id')})", row.get("text"), choices,
                       source_fields(row))


def _annotation(path: Path, where: str, text: object, choices: object, fields: dict) -> Item:
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        return problem(path, where, "choices must be tactic ids", CHOICES_NAME)
    return Annotation(where, text, tuple(c for c in choices if c != NONE_CHOICE), **fields)
