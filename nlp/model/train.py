"""Training: corpus in, self-describing model directory out."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .artifact import library_versions, write_model_dir
from .card import render_card
from .classifier import TacticClassifier
from ..corpus.dataset import DEFAULT_DATA_DIR, corpus_hash, label_matrix, load_corpus
from ..errors import ModelError
from .metrics import split_figures
from .predict import TacticModel
from ..taxonomy import Taxonomy, load_taxonomy

__all__ = ["train", "make_estimator", "DEFAULT_PARAMS", "ARCHITECTURES"]

DEFAULT_PARAMS: dict = {}
ARCHITECTURES = {
    "tfidf": "tfidf-word-char+stance-cues / one-vs-rest logistic regression + any-tactic gate",
    "spacy": "spaCy textcat_multilabel (trained from config.cfg, no pretrained vectors)",
}


def make_estimator(architecture: str, params: dict, seed: int, n_jobs: int | None):
    """An unfitted estimator of the named architecture with the given parameters."""
    if architecture == "tfidf":
        cls, extra = TacticClassifier, {"n_jobs": n_jobs}
    elif architecture == "spacy":
        from .spacy_textcat import SpacyTextcatClassifier

        cls, extra = SpacyTextcatClassifier, {}
    else:
        raise ModelError(f"unknown architecture {architecture!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}")
    unknown = sorted(set(params) - set(cls().get_params()))
    if unknown:
        raise ModelError(f"unknown parameter(s) for the {architecture} architecture: "
                         f"{', '.join(unknown)}; valid: {', '.join(sorted(cls().get_params()))}")
    return cls(**params, random_state=seed, **extra)


def train(output: str | Path, *, data_dir: str | Path = DEFAULT_DATA_DIR, name: str | None = None,
          seed: int = 0, params: dict | None = None, taxonomy: Taxonomy | None = None,
          n_jobs: int | None = None, architecture: str = "tfidf") -> Path:
    """Fit a TacticClassifier on the train split, score it on the test split, write the model dir.

    The test split is only scored, never used to choose anything; thresholds are tuned
    out-of-fold on train. Same data, params and seed give the same predictions.
    """
    taxonomy = taxonomy or load_taxonomy()
    output = Path(output)
    corpus = load_corpus(data_dir, taxonomy)
    tactics = taxonomy.ids
    train_texts = [r.text for r in corpus["train"]]
    Y = label_matrix(corpus["train"], tactics)
    params = {**(DEFAULT_PARAMS if architecture == "tfidf" else {}), **(params or {})}
    started = time.perf_counter()
    estimator = make_estimator(architecture, params, seed, n_jobs).fit(train_texts, Y)
    seconds = time.perf_counter() - started
    test = corpus["test"]
    data_hash = corpus_hash(data_dir)
    meta = {
        "name": name or output.name,
        "model_version": f"{name or output.name}-{data_hash[:8]}-s{seed}",
        "architecture": architecture,
        "architecture_description": ARCHITECTURES[architecture],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tactics": tactics,
        "families": {t: taxonomy.family_of(t) for t in tactics},
        "definitions": {t: taxonomy[t].definition for t in tactics},
        "thresholds": {t: round(float(v), 6) for t, v in zip(tactics, estimator.thresholds_)},
        "params": {k: v for k, v in estimator.get_params().items() if k != "n_jobs"},
        "data": {"corpus_sha256": data_hash, "data_dir": str(data_dir),
                 "train_records": len(corpus["train"]), "test_records": len(test),
                 "train_per_tactic": dict(zip(tactics, Y.sum(axis=0).tolist()))},
        "versions": library_versions(),
        "training_seconds": round(seconds, 1),
    }
    meta["metrics"] = {
        "train_out_of_fold_f1": {t: round(float(f), 4) for t, f in zip(tactics, estimator.oof_f1_)},
        "train_out_of_fold_macro_f1": round(float(np.mean(estimator.oof_f1_)), 4),
        "train_out_of_fold_none_fpr": round(float(getattr(estimator, "oof_none_fpr_", np.nan)), 4),
        "test": _test_figures(TacticModel(estimator, meta), test),
    }
    config = {"architecture": architecture, "seed": seed, "params": params}
    return write_model_dir(output, estimator, meta, render_card(meta), config)


def _test_figures(model: TacticModel, records: list) -> dict:
    """Figures on the test split, scored exactly as ``predict`` scores (long-text windows too)."""
    Y = label_matrix(records, model.tactics)
    predicted = (model.predict_proba([r.text for r in records]) >= model.thresholds).astype(np.int8)
    return split_figures(Y, predicted, model.tactics, records)
