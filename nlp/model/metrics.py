"""Figures for multi-label tactic predictions, shared by training, evaluation and comparison."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

__all__ = ["multilabel_metrics", "grouped_metrics", "split_figures", "none_false_positive_rate",
           "expected_calibration_error"]


def none_false_positive_rate(Y_true: np.ndarray, Y_pred: np.ndarray,
                             mask: np.ndarray | None = None) -> tuple[float, int]:
    """Share of texts with no tactic that got at least one predicted (and how many there were)."""
    none = ~Y_true.any(axis=1)
    if mask is not None:
        none &= mask
    n = int(none.sum())
    return (float(Y_pred[none].any(axis=1).mean()) if n else 0.0), n


def multilabel_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, tactics: list[str],
                       kinds: list[str] | None = None) -> dict:
    """Per-tactic P/R/F1/support; micro, macro and samples F1; false-positive rate on texts with
    no tactic, overall and by kind (hard negatives vs the rest)."""
    Y_true, Y_pred = np.asarray(Y_true), np.asarray(Y_pred)
    p, r, f, s = precision_recall_fscore_support(Y_true, Y_pred, average=None, zero_division=0)
    fpr, n_none = none_false_positive_rate(Y_true, Y_pred)
    out = {
        "per_tactic": {t: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                           "f1": round(float(f[i]), 4), "support": int(s[i])}
                       for i, t in enumerate(tactics)},
        "micro_f1": round(float(f1_score(Y_true, Y_pred, average="micro", zero_division=0)), 4),
        "macro_f1": round(float(f1_score(Y_true, Y_pred, average="macro", zero_division=0)), 4),
        "samples_f1": round(float(_samples_f1(Y_true, Y_pred)), 4),
        "none_fpr": round(fpr, 4),
        "none_count": n_none,
    }
    if kinds is not None:
        kinds_arr = np.array([k or "neutral" for k in kinds])
        for kind in ("hard_negative", "neutral"):
            rate, n = none_false_positive_rate(Y_true, Y_pred, kinds_arr == kind)
            out[f"none_fpr_{kind}"], out[f"none_count_{kind}"] = round(rate, 4), n
    return out


def _samples_f1(Y_true: np.ndarray, Y_pred: np.ndarray) -> float:
    """Per-text F1 averaged over texts, counting a correct empty prediction as 1."""
    tp = (Y_true & Y_pred).sum(axis=1)
    denom = Y_true.sum(axis=1) + Y_pred.sum(axis=1)
    return float(np.where(denom == 0, 1.0, 2 * tp / np.maximum(denom, 1)).mean())


def expected_calibration_error(y_true: np.ndarray, probabilities: np.ndarray,
                               bins: int = 10) -> float:
    """ECE for one tactic: the bin-weighted gap between mean confidence and observed frequency."""
    y_true, probabilities = np.asarray(y_true, dtype=float), np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(probabilities[in_bin].mean() - y_true[in_bin].mean())
    return float(ece)


def grouped_metrics(Y_true: np.ndarray, Y_pred: np.ndarray, tactics: list[str],
                    groups: list[str]) -> dict[str, dict]:
    """Macro F1 over the tactics present and none-FPR, for each group (e.g. genre)."""
    out = {}
    groups_arr = np.array([g or "?" for g in groups])
    for group in sorted(set(groups_arr)):
        rows = groups_arr == group
        present = Y_true[rows].any(axis=0)
        m = multilabel_metrics(Y_true[rows][:, present], Y_pred[rows][:, present],
                               [t for t, p in zip(tactics, present) if p]) if present.any() else None
        fpr_rows = rows & ~Y_true.any(axis=1)
        out[group] = {"records": int(rows.sum()),
                      "macro_f1": m["macro_f1"] if m else 0.0,
                      "none_fpr": float(Y_pred[fpr_rows].any(axis=1).mean()) if fpr_rows.any() else 0.0}
    return out


def split_figures(Y_true: np.ndarray, Y_pred: np.ndarray, tactics: list[str], records) -> dict:
    """``multilabel_metrics`` with none-FPR by kind, plus figures by genre, for corpus records."""
    figures = multilabel_metrics(Y_true, Y_pred, tactics, [r.kind for r in records])
    figures["records"] = len(records)
    figures["by_genre"] = grouped_metrics(Y_true, Y_pred, tactics, [r.genre for r in records])
    return figures
