"""Word n-gram overlap between texts: near-duplicate detection and a template-reuse figure."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

__all__ = ["shingles", "near_duplicate_pairs", "template_share"]

_WORD = re.compile(r"\w+")


def shingles(text: str, n: int) -> frozenset[str]:
    """The set of word n-grams of a text; a text shorter than n words is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))


def near_duplicate_pairs(queries: list[str], corpus: list[str], *, n: int = 5,
                         threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """(query index, corpus index, Jaccard) for every pair whose n-gram Jaccard >= threshold.

    An inverted index over the corpus shingles keeps this near-linear for realistic corpora.
    """
    corpus_sets = [shingles(t, n) for t in corpus]
    index: dict[str, list[int]] = defaultdict(list)
    for j, grams in enumerate(corpus_sets):
        for gram in grams:
            index[gram].append(j)
    pairs = []
    for i, text in enumerate(queries):
        grams = shingles(text, n)
        shared = Counter(j for gram in grams for j in index.get(gram, ()))
        for j, common in shared.items():
            score = common / (len(grams) + len(corpus_sets[j]) - common)
            if score >= threshold:
                pairs.append((i, j, score))
    return pairs


def template_share(texts: list[str], *, n: int = 4, threshold: float = 0.5) -> float:
    """Share of texts whose word n-gram set overlaps another text's by more than the threshold."""
    if not texts:
        return 0.0
    pairs = near_duplicate_pairs(texts, texts, n=n, threshold=threshold)
    flagged = {i for i, j, score in pairs if i != j and score > threshold}
    return len(flagged) / len(texts)
