"""Reference points for the evaluation report: a keyword rule built from the taxonomy, and the
most-frequent label set. A model that cannot beat these has learned nothing worth shipping."""

from __future__ import annotations

import re

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

from ..taxonomy import Taxonomy, load_taxonomy

__all__ = ["KeywordBaseline", "most_frequent_baseline"]


class KeywordBaseline(ClassifierMixin, BaseEstimator):
    """Predict a tactic when any of its taxonomy keywords occurs in the text (whole words)."""

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self.taxonomy = taxonomy

    def fit(self, X=None, Y=None):
        taxonomy = self.taxonomy or load_taxonomy()
        self.patterns_ = [
            re.compile(r"\b(?:" + "|".join(re.escape(k) for k in t.keywords) + r")\b", re.IGNORECASE)
            if t.keywords else re.compile(r"(?!x)x")
            for t in taxonomy.tactics
        ]
        return self

    def predict(self, X) -> np.ndarray:
        return np.array([[bool(p.search(text)) for p in self.patterns_] for text in X],
                        dtype=np.int8).reshape(-1, len(self.patterns_))

    def predict_proba(self, X) -> np.ndarray:
        return self.predict(X).astype(float)


def most_frequent_baseline() -> DummyClassifier:
    """Per tactic, always the more frequent answer in train (for a sparse label: never)."""
    return DummyClassifier(strategy="most_frequent")
