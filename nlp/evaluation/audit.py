"""Label quality: likely label errors from out-of-fold scores, and agreement between two
independent labelling passes.

The audit follows the idea of confident learning (Northcutt et al., 2021): a label is suspect
when a model that never saw the text scores it far on the other side of that tactic's typical
score for its class.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

from ..model.calibration import ScoreCalibrator
from ..model.classifier import TacticClassifier, out_of_fold_scores
from ..corpus.dataset import Record, label_matrix

__all__ = ["find_label_issues", "agreement"]


def find_label_issues(records: list[Record], tactics: list[str], *, params: dict | None = None,
                      cv: int = 5, seed: int = 0, n_jobs: int | None = None) -> list[dict]:
    """Records whose given labels disagree with cross-validated scores, most suspect first.

    Confident learning's per-class thresholds, applied to each tactic as a binary task: a
    missing label is suspect when the text's probability reaches the mean probability of the
    texts that carry the tactic; a given label is suspect when its probability is no higher than
    the mean of the texts that do not. Each issue names the tactic, what was given, and the
    probability, so a reviewer can decide.
    """
    X = [r.text for r in records]
    Y = label_matrix(records, tactics)
    estimator = TacticClassifier(**(params or {}), random_state=seed)
    features = estimator.make_features().fit_transform(X)   # once, shared by the folds
    raw = out_of_fold_scores(estimator.set_params(n_jobs=n_jobs).make_linear(), features, Y,
                             cv=cv, random_state=seed, n_jobs=n_jobs)
    P = ScoreCalibrator(estimator.calibration).fit(raw, Y).transform(raw)
    positive_mean = np.array([P[Y[:, k] == 1, k].mean() if Y[:, k].any() else np.inf
                              for k in range(len(tactics))])
    negative_mean = np.array([P[Y[:, k] == 0, k].mean() if (Y[:, k] == 0).any() else -np.inf
                              for k in range(len(tactics))])
    missing = (Y == 0) & (P >= positive_mean)
    extra = (Y == 1) & (P <= negative_mean)
    issues = []
    for i in np.flatnonzero((missing | extra).any(axis=1)):
        found = [{"tactic": tactics[k], "given": int(Y[i, k]), "probability": round(float(P[i, k]), 4)}
                 for k in np.flatnonzero(missing[i] | extra[i])]
        severity = max(abs(f["given"] - f["probability"]) for f in found)
        record = records[i]
        issues.append({"id": record.id, "text": record.text, "labels": list(record.labels),
                       "kind": record.kind, "issues": found, "severity": round(severity, 4)})
    return sorted(issues, key=lambda item: -item["severity"])


def agreement(first: dict[str, list[str]], second: dict[str, list[str]],
              tactics: list[str]) -> dict:
    """Per-tactic agreement between two labellings of the same ids: F1 of one against the other,
    Cohen's kappa, and counts; plus the share of texts whose whole label set matches."""
    ids = sorted(set(first) & set(second))
    a = np.array([[t in first[i] for t in tactics] for i in ids], dtype=int)
    b = np.array([[t in second[i] for t in tactics] for i in ids], dtype=int)
    per_tactic = {}
    for k, tactic in enumerate(tactics):
        both_constant = a[:, k].min() == a[:, k].max() == b[:, k].min() == b[:, k].max()
        per_tactic[tactic] = {
            "first": int(a[:, k].sum()), "second": int(b[:, k].sum()),
            "f1": round(float(f1_score(a[:, k], b[:, k], zero_division=1)), 4),
            "kappa": 1.0 if both_constant else round(float(cohen_kappa_score(a[:, k], b[:, k])), 4),
        }
    none_a, none_b = ~a.any(axis=1), ~b.any(axis=1)
    return {
        "records": len(ids),
        "exact_set_match": round(float((a == b).all(axis=1).mean()), 4) if ids else 0.0,
        "none_kappa": round(float(cohen_kappa_score(none_a, none_b)), 4) if ids else 0.0,
        "macro_f1": round(float(np.mean([v["f1"] for v in per_tactic.values()])), 4),
        "mean_kappa": round(float(np.mean([v["kappa"] for v in per_tactic.values()])), 4),
        "per_tactic": per_tactic,
        "disagreements": [i for i, x, y in zip(ids, a, b) if (x != y).any()],
    }
