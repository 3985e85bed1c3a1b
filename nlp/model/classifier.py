"""The default estimator: TF-IDF features, one logistic regression per tactic, calibrated scores
and per-tactic thresholds fitted out-of-fold.

``OneVsRestClassifier.predict`` would cut every tactic at 0.5; this estimator's ``predict`` applies
the tuned ``thresholds_`` instead, so the thresholds are part of the fitted model.
"""

from __future__ import annotations

import logging

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .calibration import ScoreCalibrator, tune_thresholds, tune_thresholds_jointly
from .features import build_features, clean_feed_text, plain_vocabularies

__all__ = ["TacticClassifier", "out_of_fold_scores"]

log = logging.getLogger(__name__)


class TacticClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier over texts; ``Y`` is a 0/1 matrix with one column per tactic.

    With ``gate`` (the default) one more linear model learns "advances any tactic" from all
    texts, and each tactic's calibrated probability combines its own score with that gate score.
    Thresholds maximise out-of-fold macro F1 minus ``fpr_weight`` x the none-FPR (0: per-tactic
    F1 alone).
    """

    def __init__(self, *, C: float = 20.0, class_weight: str | None = "balanced",
                 word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                 min_df: int = 2, max_word_features: int | None = 40000,
                 max_char_features: int | None = 60000, stance: bool = True,
                 distanced: bool = True,
                 gate: bool = True, calibration: str = "sigmoid", fpr_weight: float = 0.5,
                 cv: int = 5,
                 random_state: int = 0,
                 n_jobs: int | None = None) -> None:
        self.C = C
        self.class_weight = class_weight
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.stance = stance
        self.distanced = distanced
        self.gate = gate
        self.calibration = calibration
        self.fpr_weight = fpr_weight
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def make_pipeline(self) -> Pipeline:
        """The unfitted features + one-vs-rest pipeline that produces raw scores."""
        features = build_features(word_ngrams=tuple(self.word_ngrams),
                                  char_ngrams=tuple(self.char_ngrams), min_df=self.min_df,
                                  max_word_features=self.max_word_features,
                                  max_char_features=self.max_char_features, stance=self.stance,
                                  distanced=self.distanced)
        # The dual problem: the same optimum, about 3x faster when features outnumber texts.
        linear = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear",
                                    dual=True, random_state=self.random_state, max_iter=2000)
        return Pipeline([("features", features), ("clf", OneVsRestClassifier(linear))])

    def fit(self, X, Y, *, dev: tuple[list[str], np.ndarray] | None = None):
        """Fit on texts ``X`` and labels ``Y``. With ``dev`` (texts, labels of a held-out set of
        other registers, never trained on), thresholds are tuned on the out-of-fold train scores
        and the dev scores together, each set weighing as much as the other."""
        X, Y = [clean_feed_text(x) for x in X], np.asarray(Y, dtype=np.int8)
        targets = np.column_stack([Y, Y.any(axis=1)]) if self.gate else Y
        log.info(f"{self.cv}-fold out-of-fold scores for calibration and thresholds, and the final "
                 f"fit ({'one at a time' if self.n_jobs in (None, 1) else 'in parallel'})")
        oof, self.pipeline_ = out_of_fold_scores(self.make_pipeline(), X, targets, cv=self.cv,
                                                 random_state=self.random_state,
                                                 n_jobs=self.n_jobs, final=True)
        self.calibrator_ = ScoreCalibrator(self.calibration, gate=self.gate).fit(oof, Y)
        oof_probabilities = self.calibrator_.transform(oof)
        _shrink(self.pipeline_)
        self.n_outputs_ = Y.shape[1]
        probabilities, truth, weight = oof_probabilities, Y, None
        if dev is not None:
            dev_Y = np.asarray(dev[1], dtype=np.int8)
            probabilities = np.vstack([oof_probabilities, self.predict_proba(dev[0])])
            truth = np.vstack([Y, dev_Y])
            weight = np.concatenate([np.full(len(Y), 1 / len(Y)), np.full(len(dev_Y), 1 / len(dev_Y))])
        self.thresholds_ = (tune_thresholds_jointly(probabilities, truth, fpr_weight=self.fpr_weight,
                                                    sample_weight=weight)
                            if self.fpr_weight else tune_thresholds(probabilities, truth))
        oof_predicted = oof_probabilities >= self.thresholds_
        self.oof_f1_ = f1_score(Y, oof_predicted, average=None, zero_division=0)
        self.oof_none_fpr_ = float(oof_predicted[~Y.any(axis=1)].any(axis=1).mean())
        return self

    def decision_function(self, X) -> np.ndarray:
        """Raw linear scores, (n texts, n tactics [+1 gate column when ``gate``])."""
        check_is_fitted(self, "pipeline_")
        scores = self.pipeline_.decision_function([clean_feed_text(x) for x in X])
        return scores.reshape(len(scores), -1)

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, (n texts, n tactics)."""
        return self.calibrator_.transform(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        """0/1 matrix: a tactic is predicted when its probability reaches its tuned threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)


def out_of_fold_scores(pipeline: Pipeline, X: list[str], Y: np.ndarray, *, cv: int = 5,
                       random_state: int = 0, n_jobs: int | None = None, final: bool = False):
    """Raw scores for every text from a model that never saw it (k-fold, shuffled, seeded).

    With ``final``, the pipeline is also fitted on all texts, as one more job beside the folds
    (so a free core is never left idle waiting for the last fold), and ``(scores, fitted)`` is
    returned.
    """
    folds = list(KFold(cv, shuffle=True, random_state=random_state).split(X))
    if final:
        folds.append((np.arange(len(X)), None))

    def fit_fold(train_idx, held_idx):
        fitted = clone(pipeline).fit([X[i] for i in train_idx], Y[train_idx])
        if held_idx is None:
            return None, fitted
        return held_idx, fitted.decision_function([X[i] for i in held_idx])

    oof, fitted, done = np.zeros(Y.shape, dtype=np.float64), None, 0
    jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(fit_fold)(tr, te) for tr, te in folds)
    for held_idx, result in jobs:
        if held_idx is None:
            fitted = result
            log.info(f"final fit on all {len(X)} texts")
        else:
            oof[held_idx] = result.reshape(len(held_idx), -1)
            done += 1
            log.info(f"fold {done} of {cv} scored ({len(held_idx)} held-out texts)")
    return (oof, fitted) if final else oof


def _shrink(pipeline: Pipeline) -> None:
    """Make the fitted pipeline compact on disk without changing a decision beyond 1e-5:
    vocabularies map to plain ints (skops would store each NumPy int as a file of its own),
    and coefficients are stored in float32."""
    plain_vocabularies(pipeline.named_steps["features"])
    for estimator in pipeline.named_steps["clf"].estimators_:
        if hasattr(estimator, "coef_"):
            estimator.coef_ = estimator.coef_.astype(np.float32)
