"""Label quality: likely label errors from out-of-fold scores, and agreement between two
independent labelling passes.

The audit follows the idea of confident learning (Northcutt et al., 2021): a label is suspect
when a model that never saw the text scores it far on the other side of that tactic's typical
score for its class.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score

from .calibration import ScoreCalibrator
from .classifier import TacticClassifier, out_of_fold_scores
from .dataset import Record, label_matrix

__all__ = ["find_label_issues", "agreement"]


def find_label_issues(records: list[Record], tactics: list[str], *, params: dict | None = None,
                      cv: int = 5, seed: int = 0, n_jobs: int | None = None) -> list[dict]:
    """Records whose given labels disagree with cross-validated scores, most suspect first.

    A given label is suspect when its out-of-fold probability falls below the average
    probability of the texts *without* that tactic plus half the gap to the positives' average
    (and the reverse for a missing label). Each issue names the tactic, what was given, and the
    probability, so a reviewer can decide.
    """
    X = [r.text for r in records]
    Y = label_matrix(records, tactics)
    estimator = TacticClassifier(**(params or {}), random_state=seed)
    raw = out_of_fold_scores(estimator.make_pipeline(), X, Y, cv=cv, random_state=seed,
                             n_jobs=n_jobs)
    P = ScoreCalibrator(estimator.calibration).fit(raw, Y).transform(raw)
    issues = []
    for i, record in enumerate(records):
        found = []
        for k, tactic in enumerate(tactics):
            positives, negatives = P[Y[:, k] == 1, k], P[Y[:, k] == 0, k]
            if not len(positives) or not len(negatives):
                continue
            cut = (positives.mean() + negatives.mean()) / 2
            if Y[i, k] == 1 and P[i, k] < min(cut, 0.5) / 2:
                found.append({"tactic": tactic, "given": 1, "probability": round(float(P[i, k]), 4)})
            elif Y[i, k] == 0 and P[i, k] > max(cut, 0.5) + (1 - max(cut, 0.5)) / 2:
                found.append({"tactic": tactic, "given": 0, "probability": round(float(P[i, k]), 4)})
        if found:
            severity = max(abs(f["given"] - f["probability"]) for f in found)
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
