"""doccano JSONL export of a text-classification project: ``text`` and a ``label`` list (older
releases: ``labels``); an empty list means no tactic. ``id``, ``genre``, ``kind`` and ``split``
are kept when present."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ._common import Annotation, Item, json_items, problem, source_fields

__all__ = ["read"]


def read(path: Path) -> Iterator[Item]:
    for item in json_items(path):
        if not isinstance(item, tuple):
            yield item
            continue
        where, obj = item
        labels = obj.get("label", obj.get("labels"))
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            yield problem(path, where, "'label' must be a list of tactic ids (a text "
                                       "classification export; [] for no tactic)", "label")
            continue
        yield Annotation(where, obj.get("text"), tuple(labels), **source_fields(obj))
