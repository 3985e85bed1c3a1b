"""The evaluation report: the model on the test split, beside baselines and cross-validation.

Everything in ``evaluation/report.md`` and ``report.json`` is computed here, in one run, from the
committed corpus and the model directory; nothing is tuned on the test split.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold

from ..model.baselines import KeywordBaseline, most_frequent_baseline
from ..corpus.dataset import (DEFAULT_DATA_DIR, Record, corpus_hash, in_language, label_matrix,
                              load_corpus)
from ..model.metrics import (
    expected_calibration_error,
    grouped_metrics,
    multilabel_metrics,
    split_figures,
)
from .noise import NOISE_KINDS, add_noise
from .plots import plot_confusion, plot_f1_bars, plot_pr_curves, plot_reliability
from ..model.predict import TacticModel, load_model
from .report import render_report

__all__ = ["evaluate", "cross_validate", "confusion_counts", "long_text_figures", "worst_errors",
           "language_figures", "noise_figures"]

log = logging.getLogger(__name__)


def evaluate(model: TacticModel | str | Path | None = None, *,
             data_dir: str | Path = DEFAULT_DATA_DIR, out_dir: str | Path = "evaluation",
             folds: int = 5, n_jobs: int | None = None) -> dict:
    """Score ``model`` on the English test split and on the register-shift dev split, run
    baselines and k-fold CV on train, score each other language through the router, measure
    what feed noise costs, and write the report."""
    model = model if isinstance(model, TacticModel) else load_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(data_dir)
    data_hash = corpus_hash(data_dir)
    tactics = model.tactics
    train, test = in_language(corpus["train"], "en"), in_language(corpus["test"], "en")
    shift = in_language(corpus.get("shift_dev", []), "en")
    X_test, Y_test = [r.text for r in test], label_matrix(test, tactics)
    kinds = [r.kind for r in test]
    log.info(f"scoring {model.version} on the {len(test)} test records")
    P = model.predict_proba(X_test)
    Y_pred = (P >= model.thresholds).astype(np.int8)

    model_metrics = split_figures(Y_test, Y_pred, tactics, test)
    ece = {t: round(expected_calibration_error(Y_test[:, k], P[:, k]), 4)
           for k, t in enumerate(tactics)}
    baselines = {}
    log.info("fitting the baselines; drawing the plots")
    for name, baseline in (("keyword rule", KeywordBaseline()),
                           ("most frequent", most_frequent_baseline())):
        fitted = baseline.fit([r.text for r in train], label_matrix(train, tactics))
        predicted = np.asarray(fitted.predict(X_test)).reshape(Y_test.shape).astype(np.int8)
        baselines[name] = multilabel_metrics(Y_test, predicted, tactics, kinds)

    plots = {
        "f1": plot_f1_bars({"model": _f1(model_metrics),
                            **{name: _f1(m) for name, m in baselines.items()}},
                           out_dir / "f1_per_tactic.png").name,
        "confusion": plot_confusion(confusion_counts(Y_test, Y_pred), tactics,
                                    out_dir / "confusion.png").name,
        "pr_curves": plot_pr_curves(Y_test, P, tactics, model.thresholds,
                                    out_dir / "pr_curves.png").name,
        "reliability": plot_reliability(Y_test, P, out_dir / "reliability.png").name,
    }
    if folds > 1:
        log.info(f"{folds}-fold cross-validation on the {len(train)} train records")
    report = {
        "model": {"path": _shown(model.path), "version": model.version, "test": model_metrics,
                  "ece": ece, "ece_mean": round(float(np.mean(list(ece.values()))), 4),
                  "thresholds": dict(zip(tactics, model.thresholds.round(4).tolist()))},
        "baselines": baselines,
        "cross_validation": cross_validate(model.estimator, train, tactics, folds=folds,
                                           n_jobs=n_jobs) if folds > 1 else None,
        "long_texts": long_text_figures(model, test, Y_test, Y_pred),
        "shift_dev": _held_out_figures(model, shift) if shift else None,
        "languages": language_figures(model, corpus["test"]),
        "languages_shift_dev": language_figures(model, corpus.get("shift_dev", [])),
        "noise": noise_figures(model, test, Y_test, model_metrics["macro_f1"]),
        "worst_errors": worst_errors(test, Y_test, P, Y_pred, tactics),
        "data": {"corpus_sha256": data_hash, "train_records": len(train),
                 "test_records": len(test), "shift_dev_records": len(shift),
                 "model_trained_on_this_corpus":
                     model.meta.get("data", {}).get("corpus_sha256") == data_hash},
        "plots": plots,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    (out_dir / "report.md").write_text(render_report(report, tactics), encoding="utf-8")
    return report


def _held_out_figures(model: TacticModel, records: list[Record]) -> dict:
    """The model's figures on another held-out split, with its own long-text section."""
    Y = label_matrix(records, model.tactics)
    Y_pred = (model.predict_proba([r.text for r in records]) >= model.thresholds).astype(np.int8)
    figures = split_figures(Y, Y_pred, model.tactics, records)
    figures["by_register"] = grouped_metrics(Y, Y_pred, model.tactics,
                                             [r.register or "general" for r in records])
    figures["long_texts"] = long_text_figures(model, records, Y, Y_pred)
    return figures


def language_figures(model: TacticModel, records: list[Record]) -> dict:
    """Per language other than English: figures on its test records as ``predict`` serves them
    (language identified by the router, then the model for that language), and how often the
    router named the language the text was written in."""
    out = {}
    for lang in sorted({r.lang for r in records} - {"en"}):
        subset = in_language(records, lang)
        results = model.predict([r.text for r in subset], evidence=False)
        Y = label_matrix(subset, model.tactics)
        Y_pred = np.array([[t in r.labels for t in model.tactics] for r in results], dtype=np.int8)
        figures = split_figures(Y, Y_pred, model.tactics, subset)
        figures["identified"] = round(float(np.mean([r.lang == lang for r in results])), 4)
        out[lang] = figures
    return out


def noise_figures(model: TacticModel, records: list[Record], Y: np.ndarray,
                  clean_macro_f1: float) -> dict:
    """Macro F1 on the test split with each kind of feed noise, and its cost against clean text."""
    out = {}
    for kind in NOISE_KINDS:
        noisy = add_noise([r.text for r in records], kind)
        Y_pred = (model.predict_proba(noisy) >= model.thresholds).astype(np.int8)
        macro = multilabel_metrics(Y, Y_pred, model.tactics)["macro_f1"]
        out[kind] = {"macro_f1": macro, "cost": round(clean_macro_f1 - macro, 4)}
    return out


def _shown(path: Path | None) -> str:
    """A path relative to the working directory when it lies below it (reports stay portable)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (TypeError, ValueError):
        return str(path)


def _f1(metrics: dict) -> dict[str, float]:
    return {t: v["f1"] for t, v in metrics["per_tactic"].items()}


def cross_validate(estimator, records: list[Record], tactics: list[str], *, folds: int = 5,
                   n_jobs: int | None = None, random_state: int = 0) -> dict:
    """k-fold CV of a fresh copy of ``estimator`` on the train split: mean and std of the figures."""
    X = [r.text for r in records]
    Y = label_matrix(records, tactics)
    kinds = [r.kind for r in records]
    figures: dict[str, list[float]] = {"macro_f1": [], "micro_f1": [], "none_fpr": [],
                                       "none_fpr_hard_negative": []}
    for train_idx, held_idx in KFold(folds, shuffle=True, random_state=random_state).split(X):
        fitted = clone(estimator).set_params(n_jobs=n_jobs).fit([X[i] for i in train_idx],
                                                                 Y[train_idx])
        m = multilabel_metrics(Y[held_idx], fitted.predict([X[i] for i in held_idx]), tactics,
                               [kinds[i] for i in held_idx])
        for key in figures:
            figures[key].append(m[key])
    return {"folds": folds, **{key: {"mean": round(float(np.mean(v)), 4),
                                     "std": round(float(np.std(v)), 4),
                                     "values": [round(x, 4) for x in v]}
                               for key, v in figures.items()}}


def long_text_figures(model: TacticModel, records: list[Record], Y: np.ndarray,
                      Y_pred: np.ndarray, min_words: int = 150) -> dict | None:
    """On texts of ``min_words`` or more: whole-text scoring alone vs with sentence windows."""
    rows = [i for i, r in enumerate(records) if len(r.text.split()) >= min_words]
    if not rows:
        return None
    whole = model.predict_proba([records[i].text for i in rows], long_texts=False)
    variants = {"whole text only": (whole >= model.thresholds).astype(np.int8),
                "whole text + sentence windows (default)": Y_pred[rows]}
    labels = ["long"] * len(rows)
    return {"min_words": min_words, "records": len(rows),
            "with_tactic": int(Y[rows].any(axis=1).sum()),
            "variants": {name: grouped_metrics(Y[rows], pred, model.tactics, labels)["long"]
                         for name, pred in variants.items()}}


def confusion_counts(Y_true: np.ndarray, Y_pred: np.ndarray) -> np.ndarray:
    """(k+1) x (k+1) counts: for each true tactic (or none), which tactics (or none) were predicted."""
    k = Y_true.shape[1]
    matrix = np.zeros((k + 1, k + 1), dtype=int)
    for truth, pred in zip(Y_true, Y_pred):
        rows = np.flatnonzero(truth) if truth.any() else [k]
        cols = np.flatnonzero(pred) if pred.any() else [k]
        for r in rows:
            for c in cols:
                matrix[r, c] += 1
    return matrix


def worst_errors(records: list[Record], Y: np.ndarray, P: np.ndarray, Y_pred: np.ndarray,
                 tactics: list[str], n: int = 20) -> list[dict]:
    """The n wrong texts whose scores missed the truth by the most."""
    miss = np.abs(Y - P).max(axis=1)
    wrong = np.flatnonzero((Y != Y_pred).any(axis=1))
    ranked = wrong[np.argsort(-miss[wrong], kind="stable")][:n]
    return [{"id": records[i].id, "genre": records[i].genre, "kind": records[i].kind,
             "text": records[i].text,
             "true": [t for t, y in zip(tactics, Y[i]) if y],
             "predicted": [t for t, y in zip(tactics, Y_pred[i]) if y],
             "miss": round(float(miss[i]), 3)} for i in ranked]
