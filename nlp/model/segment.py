"""Splitting texts into sentences and sentence windows, with character offsets.

spaCy's rule-based sentencizer on a blank English pipeline: no downloaded model, no network.
Long texts are scored window by window so that one loaded sentence in a 600-word article is
not drowned out by the neutral sentences around it.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["sentence_spans", "windows"]


@lru_cache(maxsize=1)
def _sentencizer():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each sentence; newlines also end a sentence."""
    spans = []
    for block in re.finditer(r"[^\n]+", text):
        doc = _sentencizer()(block.group())
        for sent in doc.sents:
            stripped = sent.text.strip()
            if stripped:
                start = block.start() + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
                spans.append((start, start + len(stripped)))
    return spans


def windows(spans: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Overlapping runs of ``size`` consecutive sentences (stride 1), as character spans."""
    if len(spans) <= size:
        return [(spans[0][0], spans[-1][1])] if spans else []
    return [(spans[i][0], spans[i + size - 1][1]) for i in range(len(spans) - size + 1)]
