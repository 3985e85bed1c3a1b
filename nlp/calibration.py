"""Per-tactic calibration of raw scores into probabilities, and per-tactic decision thresholds.

Both are fitted on out-of-fold scores, never on the data the scores were trained on, and both are
stored as plain arrays so a model file needs no code to restore them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

__all__ = ["ScoreCalibrator", "tune_thresholds"]


class ScoreCalibrator(TransformerMixin, BaseEstimator):
    """Map a (n, k) matrix of raw scores to calibrated probabilities, one mapping per column.

    ``method="sigmoid"`` is Platt scaling; ``"isotonic"`` a monotone step function, kept as its
    knots and applied with linear interpolation.
    """

    def __init__(self, method: str = "sigmoid") -> None:
        self.method = method

    def fit(self, scores: np.ndarray, Y: np.ndarray):
        if self.method not in ("sigmoid", "isotonic"):
            raise ValueError(f"calibration method must be 'sigmoid' or 'isotonic', not {self.method!r}")
        scores, Y = np.asarray(scores, dtype=np.float64), np.asarray(Y)
        self.knots_x_, self.knots_y_, self.slope_, self.intercept_ = [], [], [], []
        for k in range(scores.shape[1]):
            s, y = scores[:, k], Y[:, k]
            if self.method == "sigmoid":
                if y.min() == y.max():  # a tactic absent from the data: a constant probability
                    self.slope_.append(0.0)
                    self.intercept_.append(-10.0 if y.max() == 0 else 10.0)
                    continue
                platt = LogisticRegression(C=1e4).fit(s.reshape(-1, 1), y)
                self.slope_.append(float(platt.coef_[0, 0]))
                self.intercept_.append(float(platt.intercept_[0]))
            else:
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
                self.knots_x_.append(np.asarray(iso.X_thresholds_, dtype=np.float64))
                self.knots_y_.append(np.asarray(iso.y_thresholds_, dtype=np.float64))
        self.slope_, self.intercept_ = np.array(self.slope_), np.array(self.intercept_)
        self.n_outputs_ = scores.shape[1]
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_outputs_")
        scores = np.asarray(scores, dtype=np.float64)
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(scores * self.slope_ + self.intercept_)))
        return np.column_stack([np.interp(scores[:, k], self.knots_x_[k], self.knots_y_[k])
                                for k in range(self.n_outputs_)])


def tune_thresholds(probabilities: np.ndarray, Y: np.ndarray, *, floor: float = 0.05,
                    ceiling: float = 0.95) -> np.ndarray:
    """Per column, the probability cut that maximises F1 (ties go to the cut nearest 0.5).

    The cut sits halfway between neighbouring scores so it does not hinge on one example.
    """
    thresholds = []
    for k in range(Y.shape[1]):
        p, y = probabilities[:, k], Y[:, k].astype(bool)
        order = np.argsort(-p, kind="stable")
        p_sorted, y_sorted = p[order], y[order]
        tp = np.cumsum(y_sorted)
        fp = np.cumsum(~y_sorted)
        f1 = 2 * tp / np.maximum(tp + fp + y.sum(), 1)
        # predicting the top i+1 items is only possible at a cut between distinct scores
        distinct = np.append(p_sorted[1:] < p_sorted[:-1], True)
        f1 = np.where(distinct, f1, -1.0)
        nxt = np.append(p_sorted[1:], 0.0)
        cuts = (p_sorted + nxt) / 2
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        cut = cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]] if y.any() else ceiling
        thresholds.append(float(np.clip(cut, floor, ceiling)))
    return np.array(thresholds)
