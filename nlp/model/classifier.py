"""The default estimator: TF-IDF features, one logistic regression per tactic, calibrated scores
and per-tactic thresholds fitted out-of-fold.

``OneVsRestClassifier.predict`` would cut every tactic at 0.5; this estimator's ``predict`` applies
the tuned ``thresholds_`` instead, so the thresholds are part of the fitted model.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import joblib
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from .augment import typo_variants
from .calibration import ScoreCalibrator, tune_thresholds, tune_within_budget
from .features import build_features, clean_feed_text, plain_vocabularies

__all__ = ["TacticClassifier", "out_of_fold_scores"]

# Below this many non-zero features, the regressions run in this process: starting workers and
# mapping the rows would cost more than they save.
PARALLEL_MIN_NNZ = 2_000_000

log = logging.getLogger(__name__)


class TacticClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier over texts; ``Y`` is a 0/1 matrix with one column per tactic.

    With ``gate`` (the default) one more linear model learns "advances any tactic" from all
    texts, and each tactic's calibrated probability combines its own score with that gate score.
    Thresholds maximise out-of-fold macro F1 minus ``fpr_weight`` x the none-FPR (0: per-tactic
    F1 alone); with a dev split, the weight is raised until the dev split's none-FPR is at most
    ``fpr_budget`` (None: never raised). A seeded ``typo_share`` of the texts is also trained on
    as typo'd copies (``augment.typo_variants``), which never join the held-out folds.

    Training is quick because nothing is done twice: the features are built once (their blocks
    side by side in ``n_jobs`` processes) and shared by the ``cv`` folds and the final fit, the
    logistic regressions of each fit run side by side in ``n_jobs`` processes over that one
    matrix, and they stop at tolerance ``tol`` (0.05 gave the same test and shift_dev figures as
    0.01 in three quarters of the time, and 0.1 the same again, a few seconds sooner). Two folds
    instead of three cost a third less; over three seeds they moved macro F1 by -0.003 (test)
    and -0.008 (shift_dev) and the hard-negative FPR by -0.004 on both, within the seeds' spread.
    """

    def __init__(self, *, C: float = 20.0, class_weight: str | None = "balanced",
                 word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                 min_df: int = 2, max_word_features: int | None = 40000,
                 max_char_features: int | None = 60000, stance: bool = True,
                 distanced: bool = True,
                 gate: bool = True, calibration: str = "sigmoid", fpr_weight: float = 0.5,
                 fpr_budget: float | None = 0.08,
                 typo_share: float = 0.25, cv: int = 2, tol: float = 0.1,
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
        self.fpr_budget = fpr_budget
        self.typo_share = typo_share
        self.cv = cv
        self.tol = tol
        self.random_state = random_state
        self.n_jobs = n_jobs

    def make_features(self) -> FeatureUnion:
        """The unfitted feature union: word and character n-grams, stance cues, distanced words."""
        return build_features(word_ngrams=tuple(self.word_ngrams),
                              char_ngrams=tuple(self.char_ngrams), min_df=self.min_df,
                              max_word_features=self.max_word_features,
                              max_char_features=self.max_char_features, stance=self.stance,
                              distanced=self.distanced)

    def make_linear(self) -> OneVsRestClassifier:
        """The unfitted one-vs-rest logistic regressions that turn features into raw scores."""
        # The dual problem: the same optimum, about 3x faster when features outnumber texts.
        linear = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear",
                                    dual=True, tol=self.tol, random_state=self.random_state,
                                    max_iter=2000)
        return OneVsRestClassifier(linear, n_jobs=self.n_jobs)

    def fit(self, X, Y, *, dev: tuple[list[str], np.ndarray] | None = None):
        """Fit on texts ``X`` and labels ``Y``. With ``dev`` (texts, labels of a held-out set of
        other registers, never trained on), thresholds are tuned on the out-of-fold train scores
        and the dev scores together, each set weighing as much as the other."""
        X, Y = [clean_feed_text(x) for x in X], np.asarray(Y, dtype=np.int8)
        targets = np.column_stack([Y, Y.any(axis=1)]) if self.gate else Y
        sources, variants = typo_variants(X, self.typo_share, self.random_state)
        log.info(f"features of {len(X)} texts and {len(variants)} typo'd copies, built once for "
                 f"the {self.cv} folds and the final fit")
        # the blocks are built side by side in worker processes (the same matrix), then the union
        # goes back to scoring in this process
        features = self.make_features().set_params(n_jobs=self.n_jobs)
        F = features.fit_transform(X + variants)
        features.set_params(n_jobs=None)
        F, extra = F[:len(X)], (F[len(X):], sources)
        # worker processes pay for themselves only on a large matrix (the fits are the same)
        n_jobs = self.n_jobs if F.nnz >= PARALLEL_MIN_NNZ else None
        oof, linear = out_of_fold_scores(self.make_linear().set_params(n_jobs=n_jobs), F, targets,
                                         cv=self.cv, random_state=self.random_state,
                                         n_jobs=n_jobs, final=True, extra=extra)
        self.pipeline_ = Pipeline([("features", features), ("clf", linear)])
        self.calibrator_ = ScoreCalibrator(self.calibration, gate=self.gate).fit(oof, Y)
        oof_probabilities = self.calibrator_.transform(oof)
        _shrink(self.pipeline_)
        self.n_outputs_ = Y.shape[1]
        probabilities, truth, weight, dev_rows = oof_probabilities, Y, None, None
        if dev is not None:
            dev_Y = np.asarray(dev[1], dtype=np.int8)
            probabilities = np.vstack([oof_probabilities, self.predict_proba(dev[0])])
            truth = np.vstack([Y, dev_Y])
            weight = np.concatenate([np.full(len(Y), 1 / len(Y)), np.full(len(dev_Y), 1 / len(dev_Y))])
            dev_rows = np.arange(len(Y), len(truth))
        self.thresholds_, self.fpr_weight_ = self._tune(probabilities, truth, weight, dev_rows)
        oof_predicted = oof_probabilities >= self.thresholds_
        self.oof_f1_ = f1_score(Y, oof_predicted, average=None, zero_division=0)
        self.oof_none_fpr_ = float(oof_predicted[~Y.any(axis=1)].any(axis=1).mean())
        return self

    def _tune(self, probabilities: np.ndarray, truth: np.ndarray, weight: np.ndarray | None,
              dev_rows: np.ndarray | None) -> tuple[np.ndarray, float]:
        """Thresholds and the none-FPR weight they were tuned with (``tune_within_budget``)."""
        if not self.fpr_weight:
            return tune_thresholds(probabilities, truth), 0.0
        return tune_within_budget(probabilities, truth, fpr_weight=self.fpr_weight,
                                  sample_weight=weight, dev_rows=dev_rows,
                                  fpr_budget=self.fpr_budget)

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


def out_of_fold_scores(estimator, X, Y: np.ndarray, *, cv: int = 5, random_state: int = 0,
                       n_jobs: int | None = None, final: bool = False, extra: tuple | None = None):
    """Raw scores for every row of ``X`` (a feature matrix, or texts for a pipeline) from a copy
    of ``estimator`` that never saw it (k-fold, shuffled, seeded).

    The folds are fitted one after another. ``n_jobs`` says whether the estimator runs its own
    work in worker processes (the one-vs-rest models do, with their ``n_jobs``): a matrix's rows
    are then memory-mapped from one file that every worker opens, instead of each receiving a
    copy. (Processes, not threads: liblinear draws from one random generator per process, so
    threads would make the fits depend on timing.) With ``final``, the estimator is also fitted
    on all rows and ``(scores, fitted)`` is returned. ``extra`` (rows of a feature matrix, and
    the row of ``X`` each is a variant of) adds training rows: each joins a fit whenever its
    source does, and is never held out or scored (its source's score would leak into it).
    """
    oof = np.zeros(Y.shape, dtype=np.float64)
    folds = KFold(cv, shuffle=True, random_state=random_state).split(np.zeros(len(Y)))
    with tempfile.TemporaryDirectory(prefix="tactics-folds-") as scratch:
        shared = scratch if n_jobs not in (None, 1) else None

        def fit(index):
            if extra is None:
                return clone(estimator).fit(_rows(X, index, shared), Y[index])
            keep = np.flatnonzero(np.isin(extra[1], index))   # the copies of these rows
            rows = sparse.vstack([X[index], extra[0][keep]], format="csr")
            targets = np.vstack([Y[index], Y[extra[1][keep]]])
            return clone(estimator).fit(_rows(rows, slice(None), shared), targets)

        for done, (train_idx, held_idx) in enumerate(folds, start=1):
            fitted = fit(train_idx)
            oof[held_idx] = fitted.decision_function(_rows(X, held_idx)).reshape(len(held_idx), -1)
            log.info(f"fold {done} of {cv} scored ({len(held_idx)} held-out texts)")
        if not final:
            return oof
        fitted = fit(np.arange(len(Y)))
    log.info(f"final fit on all {len(Y)} texts")
    return oof, fitted


def _rows(X, index: np.ndarray | slice, scratch: str | None = None):
    """Rows ``index`` of a matrix or of a list of texts. A sparse matrix is put in canonical form
    (scikit-learn would otherwise do it in place) and, with a ``scratch`` folder, memory-mapped
    from a file there, which worker processes open instead of receiving a copy each."""
    if not hasattr(X, "shape"):
        return [X[i] for i in np.arange(len(X))[index]]
    part = X[index]
    if not sparse.issparse(part):
        return part
    part.sum_duplicates()
    if scratch is None:
        return part
    path = Path(scratch) / f"rows-{len(list(Path(scratch).iterdir()))}.joblib"
    joblib.dump(part, path)
    return joblib.load(path, mmap_mode="r")


def _shrink(pipeline: Pipeline) -> None:
    """Make the fitted pipeline compact on disk without changing a decision beyond 1e-5:
    vocabularies map to plain ints (skops would store each NumPy int as a file of its own),
    and coefficients are stored in float32."""
    plain_vocabularies(pipeline.named_steps["features"])
    for estimator in pipeline.named_steps["clf"].estimators_:
        if hasattr(estimator, "coef_"):
            estimator.coef_ = estimator.coef_.astype(np.float32)
