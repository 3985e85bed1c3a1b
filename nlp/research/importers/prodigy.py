"""Prodigy JSONL (``prodigy db-out``): choice tasks and binary tasks.

A choice task (``options`` + ``accept``) answered ``accept`` gives its accepted option ids as the
text's label set (none accepted: no tactic); one answered ``reject`` is skipped. Binary tasks (one
``label`` each) are grouped by ``_input_hash``: a text's labels are the ones accepted for it, and a
text whose labels were all rejected becomes a hard negative for them. A label accepted by one
answer and rejected by another is a conflict. ``ignore`` answers are skipped. ``meta`` may carry
``id``, ``genre``, ``kind`` and ``split``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ._common import Annotation, Item, Skip, json_items, problem, source_fields

__all__ = ["read"]

ANSWERS = ("accept", "reject", "ignore")


def read(path: Path) -> Iterator[Item]:
    binary: dict[object, list[tuple[str, dict]]] = {}
    for item in json_items(path):
        if not isinstance(item, tuple):
            yield item
            continue
        where, task = item
        if task.get("answer") not in ANSWERS:
            yield problem(path, where, f"answer must be one of {', '.join(ANSWERS)}", "answer")
        elif task["answer"] == "ignore":
            yield Skip("ignored in Prodigy")
        elif "options" in task:
            yield _choice(path, where, task)
        elif isinstance(task.get("label"), str):
            binary.setdefault(task.get("_input_hash", task.get("text")), []).append((where, task))
        else:
            yield problem(path, where, "neither a choice task ('options') nor a binary task "
                                       "('label')", "label")
    for answers in binary.values():
        yield from _binary(answers)


def _fields(task: dict) -> dict:
    fields = source_fields(task.get("meta") or {})
    return {**fields, "id": fields["id"] or str(task.get("_input_hash", ""))}


def _choice(path: Path, where: str, task: dict) -> Item:
    if task["answer"] == "reject":
        return Skip("rejected choice task")
    accept = task.get("accept", [])
    if not isinstance(accept, list) or not all(isinstance(x, str) for x in accept):
        return problem(path, where, "'accept' must be a list of tactic ids", "accept")
    return Annotation(where, task.get("text"), tuple(accept), **_fields(task))


def _binary(answers: list[tuple[str, dict]]) -> Iterator[Annotation]:
    """The accepted labels of one text; when some label was also rejected, a second annotation
    without it, so that the disagreement is reported as a conflict."""
    accepted = {task["label"] for _, task in answers if task["answer"] == "accept"}
    rejected = {task["label"] for _, task in answers if task["answer"] == "reject"}
    first = answers[0][1]
    fields = _fields(first)

    def lines(answer: str) -> str:
        return ", ".join(where for where, task in answers if task["answer"] == answer)

    yield Annotation(lines("accept") or lines("reject"), first.get("text"), tuple(accepted),
                     hard_for=() if accepted else tuple(rejected), **fields)
    if accepted & rejected:
        yield Annotation(lines("reject"), first.get("text"), tuple(accepted - rejected), **fields)
