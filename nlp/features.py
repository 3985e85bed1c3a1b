"""Text features: word and character n-gram TF-IDF, plus cues of stance (attribution, refutation).

The stance cues exist because the same vocabulary appears in propaganda and in its debunking;
what differs is distance: "claims", "so-called", "falsely", "no evidence", quotation marks.
"""

from __future__ import annotations

import re

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

__all__ = ["StanceCues", "build_features", "WORD_FEATURES", "STANCE_CUES"]

WORD_FEATURES = "words"

# Each cue is a regular expression; its feature is log(1 + matches). Order fixes the columns.
STANCE_CUES: dict[str, str] = {
    "attribution": r"\b(?:says?|said|claim(?:s|ed)?|alleg(?:es|ed|edly)|according to|assert(?:s|ed)"
                   r"|insist(?:s|ed)|told|argu(?:es|ed)|contend(?:s|ed))\b",
    "refutation": r"\b(?:false(?:ly)?|debunk\w*|no evidence|misleading|baseless|unfounded|myth"
                  r"|fact[- ]?check\w*|disinformation|misinformation|propaganda|not true|untrue"
                  r"|distort\w*|fabricat\w*|conspiracy theor\w*|lie[sd]?|lying)\b",
    "analysis": r"\b(?:narrative|talking points?|messaging|framing|frames?|rhetoric|kremlin line"
                r"|state media|pro-kremlin|information operation|influence campaign|tactic)\b",
    "distance": r"\b(?:so-called|purported(?:ly)?|supposed(?:ly)?|reportedly|would have us believe)\b",
    "counterpoint": r"\b(?:however|but|in fact|actually|contrary|whereas|rejected|denied|dismissed"
                    r"|responded|countered)\b",
    "negation": r"\b(?:not|no|never|nor|n't)\b|n't\b",
    "question": r"\?",
    "exclamation": r"!",
    "quotes": r"[\"“”«»]|(?<!\w)['‘]|['’](?!\w)",
    "we_our": r"\b(?:we|our|us)\b",
}


class StanceCues(BaseEstimator, TransformerMixin):
    """Counts of stance cues per text, log-scaled, as a sparse matrix (stateless)."""

    def __init__(self, cues: tuple[str, ...] = tuple(STANCE_CUES)) -> None:
        self.cues = cues

    def fit(self, X, y=None):
        self.n_features_out_ = len(self.cues)
        return self

    def transform(self, X) -> sparse.csr_matrix:
        patterns = [re.compile(STANCE_CUES[c], re.IGNORECASE) for c in self.cues]
        counts = np.array([[len(p.findall(text)) for p in patterns] for text in X], dtype=np.float64)
        return sparse.csr_matrix(np.log1p(counts))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"cue:{c}" for c in self.cues], dtype=object)


def build_features(*, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                   min_df: int = 2, max_word_features: int | None = 40000,
                   max_char_features: int | None = 60000, stance: bool = True) -> FeatureUnion:
    """The feature union every scikit-learn model here uses; the word block comes first (evidence)."""
    parts = [
        (WORD_FEATURES, TfidfVectorizer(ngram_range=word_ngrams, min_df=min_df, sublinear_tf=True,
                                        max_features=max_word_features, strip_accents="unicode",
                                        token_pattern=r"(?u)\b\w[\w'’-]*\w\b|\b\w\b",
                                        dtype=np.float32)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, min_df=min_df,
                                  sublinear_tf=True, max_features=max_char_features,
                                  strip_accents="unicode", dtype=np.float32)),
    ]
    if stance:
        parts.append(("stance", StanceCues()))
    return FeatureUnion(parts)
