"""Per-tactic calibration of raw scores into probabilities, and per-tactic decision thresholds.

Both are fitted on out-of-fold scores, never on the data the scores were trained on, and both are
stored as plain arrays so a model file needs no code to restore them.

With a *gate*, the raw scores carry one extra last column: a shared score for "advances any
tactic". Each tactic's probability then combines its own score with the gate score, so that the
stance signal learnt from all texts (propaganda vs reporting, analysis, debunking) can veto a
tactic whose own classifier only sees the topic.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

__all__ = ["ScoreCalibrator", "tune_thresholds", "tune_thresholds_jointly",
           "tune_within_budget", "recalibrate",
           "fit_recalibration", "logit"]

log = logging.getLogger(__name__)

# Multiples of a none-FPR weight tried, in order, until a dev split's none-FPR is within budget.
FPR_WEIGHT_STEPS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


class ScoreCalibrator(TransformerMixin, BaseEstimator):
    """Map raw scores (n, k [+1 gate column]) to calibrated probabilities (n, k).

    Per tactic, a logistic regression on its own score (and the gate score, when ``gate``) gives
    a logit; ``method="sigmoid"`` returns its sigmoid (Platt scaling), ``"isotonic"`` passes the
    logit through a monotone step function kept as knots and applied by interpolation.
    """

    def __init__(self, method: str = "sigmoid", gate: bool = False) -> None:
        self.method = method
        self.gate = gate

    def _inputs(self, scores: np.ndarray, k: int) -> np.ndarray:
        return scores[:, [k, -1]] if self.gate else scores[:, [k]]

    def fit(self, scores: np.ndarray, Y: np.ndarray):
        if self.method not in ("sigmoid", "isotonic"):
            raise ValueError(f"calibration method must be 'sigmoid' or 'isotonic', not {self.method!r}")
        scores, Y = np.asarray(scores, dtype=np.float64), np.asarray(Y)
        n_outputs = Y.shape[1]
        width = 2 if self.gate else 1
        self.coef_ = np.zeros((n_outputs, width))
        self.intercept_ = np.zeros(n_outputs)
        self.knots_x_, self.knots_y_ = [], []
        for k in range(n_outputs):
            y = Y[:, k]
            if y.min() == y.max():  # a tactic absent from the data: a constant probability
                self.intercept_[k] = -10.0 if y.max() == 0 else 10.0
            else:
                platt = LogisticRegression(C=1e4).fit(self._inputs(scores, k), y)
                self.coef_[k], self.intercept_[k] = platt.coef_[0], platt.intercept_[0]
            if self.method == "isotonic":
                logit = self._inputs(scores, k) @ self.coef_[k] + self.intercept_[k]
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(logit, y)
                self.knots_x_.append(np.asarray(iso.X_thresholds_, dtype=np.float64))
                self.knots_y_.append(np.asarray(iso.y_thresholds_, dtype=np.float64))
        self.n_outputs_ = n_outputs
        return self

    def transform(self, scores: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_outputs_")
        scores = np.asarray(scores, dtype=np.float64)
        out = np.empty((len(scores), self.n_outputs_))
        for k in range(self.n_outputs_):
            logit = self._inputs(scores, k) @ self.coef_[k] + self.intercept_[k]
            out[:, k] = (1.0 / (1.0 + np.exp(-logit)) if self.method == "sigmoid"
                         else np.interp(logit, self.knots_x_[k], self.knots_y_[k]))
        return out


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


def tune_thresholds_jointly(probabilities: np.ndarray, Y: np.ndarray, *, fpr_weight: float = 1.0,
                            rounds: int = 3, floor: float = 0.05, ceiling: float = 0.95,
                            sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Thresholds that maximise macro F1 minus ``fpr_weight`` x the none-FPR (the share of texts
    with no tactic that get any), by coordinate ascent from the per-tactic F1 optimum.

    Per-tactic F1 ignores that fifteen independent cuts add up their false alarms on texts with
    no tactic; this objective prices that in. ``sample_weight`` weighs rows in both terms (to
    give a small held-out set of another register as much say as the training folds).
    """
    Y = Y.astype(bool)
    w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    thresholds = tune_thresholds(probabilities, Y, floor=floor, ceiling=ceiling)
    none_rows = ~Y.any(axis=1)
    none_w = w[none_rows]
    hits = probabilities >= thresholds
    f1 = np.array([_f1(hits[:, k], Y[:, k], w) for k in range(Y.shape[1])])
    for _ in range(rounds):
        for k in range(Y.shape[1]):
            if not Y[:, k].any():
                continue  # nothing to find: keep the per-tactic cut
            others = np.delete(hits, k, axis=1)[none_rows].any(axis=1)
            candidates = np.unique(np.clip(np.quantile(probabilities[Y[:, k], k],
                                                       np.linspace(0, 1, 41)), floor, ceiling))
            candidates = np.union1d(candidates, [thresholds[k]])
            best_value, best_cut = -np.inf, thresholds[k]
            for cut in candidates:
                column = probabilities[:, k] >= cut
                fpr = (none_w @ (others | column[none_rows]) / none_w.sum()) if none_rows.any() else 0.0
                value = (f1.sum() - f1[k] + _f1(column, Y[:, k], w)) / Y.shape[1] - fpr_weight * fpr
                if value > best_value + 1e-12:
                    best_value, best_cut = value, cut
            thresholds[k] = best_cut
            hits[:, k] = probabilities[:, k] >= best_cut
            f1[k] = _f1(hits[:, k], Y[:, k], w)
    return thresholds


def tune_within_budget(probabilities: np.ndarray, Y: np.ndarray, *, fpr_weight: float,
                       sample_weight: np.ndarray | None = None, dev_rows: np.ndarray | None = None,
                       fpr_budget: float | None = None) -> tuple[np.ndarray, float]:
    """Thresholds from ``tune_thresholds_jointly`` and the none-FPR weight they were tuned with:
    ``fpr_weight``, raised step by step (``FPR_WEIGHT_STEPS``) until the none-FPR of the
    ``dev_rows`` (a held-out split of other registers) is at most ``fpr_budget``. So a corpus that
    shifts the balance keeps the false-alarm rate on those registers instead of trading it away;
    without dev rows or a budget the weight is not raised."""
    none = ~Y[dev_rows].any(axis=1) if dev_rows is not None and fpr_budget is not None else None
    capped = none is not None and none.any() and fpr_weight > 0   # 0 x any step is still 0
    for step in FPR_WEIGHT_STEPS if capped else (1.0,):
        weight = fpr_weight * step
        thresholds = tune_thresholds_jointly(probabilities, Y, fpr_weight=weight,
                                             sample_weight=sample_weight)
        if not capped:
            break
        fpr = (probabilities[dev_rows][none] >= thresholds).any(axis=1).mean()
        if fpr <= fpr_budget:
            break
        log.info(f"none-FPR on the dev split {fpr:.3f} > {fpr_budget} at weight {weight:.2f}: "
                 f"raising it")
    return thresholds, float(weight)


def _f1(predicted: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    tp = weight @ (predicted & truth)
    denominator = weight @ predicted + weight @ truth
    return float(2 * tp / denominator) if denominator else 0.0


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def recalibrate(probabilities: np.ndarray, slope: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """A model's probabilities moved to another feed: per tactic, sigmoid(slope x logit(p) +
    intercept); slope 1 and intercept 0 leave them as they are."""
    return 1.0 / (1.0 + np.exp(-(logit(probabilities) * slope + intercept)))


def fit_recalibration(probabilities: np.ndarray, Y: np.ndarray, *, prior_strength: float = 10.0,
                      centre: tuple[float, float] = (1.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the slope and intercept of ``recalibrate`` that fit labels ``Y``, shrunk toward
    ``centre`` (default (1, 0): the model as it is): the log-loss is penalised by
    ``prior_strength`` / 2 x ((slope - centre slope)^2 + (intercept - centre intercept)^2)."""
    X, Y = logit(probabilities), np.asarray(Y, dtype=np.float64)
    slope, intercept = np.ones(Y.shape[1]), np.zeros(Y.shape[1])
    c_slope, c_intercept = centre
    for k in range(Y.shape[1]):
        x, y = X[:, k], Y[:, k]

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = theta[0] * x + theta[1]
            q = 1.0 / (1.0 + np.exp(-z))
            value = np.sum(np.logaddexp(0, z) - y * z) + prior_strength / 2 * (
                (theta[0] - c_slope) ** 2 + (theta[1] - c_intercept) ** 2)
            residual = q - y
            gradient = np.array([residual @ x + prior_strength * (theta[0] - c_slope),
                                 residual.sum() + prior_strength * (theta[1] - c_intercept)])
            return float(value), gradient

        result = minimize(loss, np.array([c_slope, c_intercept]), jac=True, method="L-BFGS-B",
                          bounds=[(0.05, 20.0), (-20.0, 20.0)])
        slope[k], intercept[k] = result.x
    return slope, intercept
