"""Why a tactic was predicted: the words that weighed most.

Word evidence reads the linear model directly: feature value x coefficient on the word-n-gram
block, mapped back to character offsets in the text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, strip_accents_unicode

from .features import WORD_FEATURES

__all__ = ["top_phrases", "phrases_from_row", "feature_names", "locate"]


def locate(text: str, phrase: str) -> tuple[int, int] | None:
    """Where a (lower-cased, tokenised, accent-stripped) n-gram first occurs in the text, ignoring
    case, accents ("войны" is the n-gram "воины", in composed or decomposed form) and the
    punctuation or spacing between its words."""
    if text.isascii():
        found = _phrase_pattern(phrase).search(text)
        return (found.start(), found.end()) if found else None
    folded, where = _fold(text)
    found = _phrase_pattern(phrase).search(folded)
    if not found:
        return None
    end = where[found.end() - 1] + 1
    while end < len(text) and unicodedata.combining(text[end]):   # the last letter's own marks
        end += 1
    return where[found.start()], end


@lru_cache(maxsize=64)
def _fold(text: str) -> tuple[str, tuple[int, ...]]:
    """The text as the vectorizers see it (accents stripped, ligatures expanded), and for each of
    its characters the position in ``text`` it came from."""
    folded, where = [], []
    for i, c in enumerate(text):
        for plain in _fold_char(c):
            folded.append(plain)
            where.append(i)
    return "".join(folded), tuple(where)


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    return "".join(p for p in strip_accents_unicode(c) if not unicodedata.combining(p))


@lru_cache(maxsize=50_000)
def _phrase_pattern(phrase: str) -> re.Pattern:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"[\W_]+".join(words) + r"(?!\w)", flags=re.IGNORECASE)


@lru_cache(maxsize=8)
def feature_names(vectorizer) -> np.ndarray:
    return vectorizer.get_feature_names_out()


def top_phrases(pipeline, text: str, column: int, *, k: int = 5) -> list[dict]:
    """The word n-grams of ``text`` that pushed tactic ``column`` up the most, with offsets
    (n-grams made only of stop words are skipped)."""
    union = pipeline.named_steps["features"]
    vectorizer = dict(union.transformer_list)[WORD_FEATURES]
    coef = getattr(pipeline.named_steps["clf"].estimators_[column], "coef_", None)
    if coef is None:
        return []
    return phrases_from_row(text, vectorizer.transform([text]), coef, feature_names(vectorizer), k=k)


def phrases_from_row(text: str, row, coef: np.ndarray, names: np.ndarray, *, k: int = 5) -> list[dict]:
    """``top_phrases`` from the text's word-block row (1 x n words, sparse) already computed."""
    weights = row.data * coef[0, row.indices]
    phrases: list[dict] = []
    covered: list[tuple[int, int]] = []
    for i in np.argsort(-weights, kind="stable"):
        if weights[i] <= 0 or len(phrases) == k:
            break
        name = names[row.indices[i]]
        if all(word in ENGLISH_STOP_WORDS for word in name.split()):
            continue  # "about", "of the": real weight, but no help to a reader
        span = locate(text, name)
        if span is None or any(s <= span[0] and span[1] <= e for s, e in covered):
            continue
        covered.append(span)
        phrases.append({"text": text[span[0]:span[1]], "start": span[0], "end": span[1],
                        "weight": round(float(weights[i]), 4)})
    return phrases
