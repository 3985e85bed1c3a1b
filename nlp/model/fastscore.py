"""Scoring a fitted linear ``TacticClassifier`` in one pass, with the same numbers as its pipeline.

``TacticClassifier.predict_proba`` goes through scikit-learn's pipeline: a feature union, fifteen
logistic regressions plus the gate, then per-tactic calibration. ``LinearScorer`` computes the same
probabilities (within 1e-9) from the same fitted parts, faster:

- n-gram counts are taken with each vectorizer's own tokenizer and n-gram makers (private
  scikit-learn methods, so the version is pinned below 2; tests hold the counts to
  ``transform``) and its own TF-IDF weighting, but texts are lower-cased and stripped of accents
  once for both n-gram blocks, each word's character n-grams are looked up once and remembered,
  and counting is done in bulk;
- the per-tactic models, the gate and the Platt calibration are folded into one weight matrix, so
  raw features become calibrated logits in a single sparse x dense product;
- the feature rows are kept, so evidence reads its word weights from them instead of
  vectorising the text again.
"""

from __future__ import annotations

import unicodedata

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from .features import WORD_FEATURES, DistancedWords, clean_feed_text

__all__ = ["LinearScorer", "tfidf_rows", "strip_accents"]

CACHE_WORDS = 200_000   # distinct words whose character n-grams are remembered, per vectorizer


class LinearScorer:
    """Calibrated probabilities of a fitted linear ``TacticClassifier`` from one feature pass.

    Build it with ``LinearScorer.build(estimator)``, which returns None for any estimator it
    cannot reproduce exactly (other architectures, a tactic with a constant model)."""

    def __init__(self, union: FeatureUnion, weights: np.ndarray, bias: np.ndarray, calibrator,
                 coefs: list[np.ndarray]) -> None:
        self.blocks = list(union.transformer_list)
        self.weights, self.bias, self.calibrator = weights, bias, calibrator
        self.coefs = coefs            # each tactic's own coefficients (float32, as stored)
        self.word_vectorizer = dict(self.blocks)[WORD_FEATURES]
        self._caches: dict[int, dict[str, list[int]]] = {}

    @classmethod
    def build(cls, estimator) -> LinearScorer | None:
        pipeline = getattr(estimator, "pipeline_", None)
        calibrator = getattr(estimator, "calibrator_", None)
        if pipeline is None or calibrator is None or "features" not in pipeline.named_steps:
            return None
        union, estimators = pipeline.named_steps["features"], pipeline.named_steps["clf"].estimators_
        if (not isinstance(union, FeatureUnion) or union.transformer_weights is not None
                or WORD_FEATURES not in dict(union.transformer_list)
                or any(not hasattr(e, "coef_") or e.coef_.shape[0] != 1 for e in estimators)):
            return None
        coef = np.column_stack([e.coef_[0].astype(np.float64) for e in estimators])
        intercept = np.array([float(e.intercept_[0]) for e in estimators])
        a = calibrator.coef_[:, 0]
        if calibrator.gate:   # logit_k = a_k x own_k + g_k x gate + c_k
            g = calibrator.coef_[:, 1]
            weights = coef[:, :-1] * a + coef[:, -1:] * g
            bias = intercept[:-1] * a + intercept[-1] * g + calibrator.intercept_
        else:
            weights, bias = coef * a, intercept * a + calibrator.intercept_
        return cls(union, weights, bias, calibrator, [e.coef_ for e in estimators])

    def features(self, texts: list[str]) -> sparse.csr_matrix:
        """The feature union's rows for the texts (feed clutter removed first, as in training)."""
        cleaned = [clean_feed_text(t) for t in texts]
        prepared: dict[tuple, list[str]] = {}   # the word and character blocks prepare alike
        blocks = [self._block(transformer, cleaned, prepared) for _, transformer in self.blocks]
        return sparse.hstack(blocks, format="csr")

    def proba(self, features: sparse.csr_matrix) -> np.ndarray:
        """Calibrated probabilities (n texts, n tactics) from feature rows."""
        logits = np.asarray(features @ self.weights) + self.bias
        if self.calibrator.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        return np.column_stack([np.interp(logits[:, k], self.calibrator.knots_x_[k],
                                          self.calibrator.knots_y_[k])
                                for k in range(logits.shape[1])])

    def word_rows(self, texts: list[str]) -> sparse.csr_matrix:
        """The word block alone for texts as given (not cleaned): what phrases are read from."""
        return self._tfidf(self.word_vectorizer, texts)

    def word_block(self, features: sparse.csr_matrix) -> sparse.csr_matrix:
        """The word block's columns of feature rows (it comes first in the union)."""
        block = features[:, :len(self.word_vectorizer.vocabulary_)]
        return block.astype(self.word_vectorizer.dtype)   # exact: the values were that type

    def _block(self, transformer, texts: list[str], prepared: dict[tuple, list[str]]):
        if isinstance(transformer, DistancedWords):
            return self._tfidf(transformer.vectorizer_, transformer.distanced(texts))
        if isinstance(transformer, TfidfVectorizer):
            if _plain(transformer):
                key = (transformer.lowercase, transformer.strip_accents)
                if key not in prepared:
                    prepared[key] = [_prepare(transformer, t) for t in texts]
                return self._tfidf(transformer, texts, prepared[key])
            return self._tfidf(transformer, texts)
        return transformer.transform(texts)

    def _tfidf(self, vectorizer: TfidfVectorizer, texts: list[str],
               prepared: list[str] | None = None) -> sparse.csr_matrix:
        cache = self._caches.setdefault(id(vectorizer), {})
        return tfidf_rows(vectorizer, texts, cache, prepared=prepared)


def tfidf_rows(vectorizer: TfidfVectorizer, texts: list[str],
               cache: dict[str, list[int]] | None = None, *,
               prepared: list[str] | None = None) -> sparse.csr_matrix:
    """``vectorizer.transform(texts)``, bit for bit, counted faster: the n-grams come from the
    vectorizer's own tokenizer and n-gram makers (character n-grams word by word, remembered in
    ``cache``) and the counts are weighted by its fitted IDF, as its transformer does.
    ``prepared``: the texts already lower-cased and stripped of accents as the vectorizer does."""
    if not _plain(vectorizer):
        return vectorizer.transform(texts)
    vocabulary = vectorizer.vocabulary_
    docs = prepared if prepared is not None else [_prepare(vectorizer, t) for t in texts]
    indices: list[int] = []
    indptr = [0]
    if vectorizer.analyzer == "char_wb":
        cache = {} if cache is None else cache
        for doc in docs:
            for word in vectorizer._white_spaces.sub(" ", doc).split():
                ids = cache.get(word)
                if ids is None:
                    if len(cache) >= CACHE_WORDS:
                        cache.clear()
                    ids = cache[word] = [vocabulary[g] for g in vectorizer._char_wb_ngrams(word)
                                         if g in vocabulary]
                indices.extend(ids)
            indptr.append(len(indices))
    else:
        tokenize, stop_words = vectorizer.build_tokenizer(), vectorizer.get_stop_words()
        for doc in docs:
            grams = vectorizer._word_ngrams(tokenize(doc), stop_words)
            indices.extend([vocabulary[g] for g in grams if g in vocabulary])
            indptr.append(len(indices))
    counts = sparse.csr_matrix((np.ones(len(indices), dtype=vectorizer.dtype),
                                np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
                               shape=(len(texts), len(vocabulary)))
    counts.sum_duplicates()
    return _weigh(vectorizer._tfidf, counts)


def _weigh(tfidf, counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """``TfidfTransformer.transform`` in place, step for step, without its per-call checks
    (they cost more than the arithmetic on a few short texts)."""
    if tfidf.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if hasattr(tfidf, "idf_"):
        counts.data *= tfidf.idf_[counts.indices]
    if tfidf.norm == "l2":
        inplace_csr_row_normalize_l2(counts)
    return counts


def _prepare(vectorizer: TfidfVectorizer, text: str) -> str:
    """The vectorizer's preprocessing (lower case, then accents), with the same result."""
    if vectorizer.lowercase:
        text = text.lower()
    return strip_accents(text) if vectorizer.strip_accents == "unicode" else text


def strip_accents(text: str) -> str:
    """scikit-learn's ``strip_accents_unicode``, with the same result: it tests every
    character of a non-ASCII text for a combining mark, this only the distinct ones."""
    if text.isascii():
        return text
    normalized = unicodedata.normalize("NFKD", text)
    marks = {c for c in set(normalized) if unicodedata.combining(c)}
    return "".join([c for c in normalized if c not in marks]) if marks else normalized


def _plain(vectorizer) -> bool:
    """Whether ``tfidf_rows`` reproduces this vectorizer (its default input, no custom hooks)."""
    return (isinstance(vectorizer, TfidfVectorizer) and vectorizer.analyzer in ("word", "char_wb")
            and vectorizer.input == "content" and vectorizer.preprocessor is None
            and not vectorizer.binary and getattr(vectorizer, "norm", None) in ("l2", None)
            and hasattr(vectorizer, "_tfidf") and vectorizer.strip_accents in ("unicode", None)
            and (vectorizer.analyzer == "word" or vectorizer.tokenizer is None))
