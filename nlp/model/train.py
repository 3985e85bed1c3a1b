"""Training: corpus in, self-describing model directory out."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .artifact import library_versions, write_model_dir
from .card import render_card
from .classifier import TacticClassifier
from .embedding_cache import encode_cached
from .encoder import DEFAULT_ENCODER
from .encoder_classifier import EncoderClassifier
from ..corpus.dataset import (DEFAULT_DATA_DIR, LANGUAGES, corpus_hash, in_language, label_matrix,
                              load_corpus)
from ..errors import ModelError
from ..io.writers import check_not_input
from .metrics import multilabel_metrics, split_figures
from .predict import LONG_TEXT_DEFAULTS, LONG_TEXT_WORDS, MULTILINGUAL_DIR, TacticModel, lift
from ..taxonomy import Taxonomy, load_taxonomy

__all__ = ["train", "make_estimator", "DEFAULT_PARAMS", "ARCHITECTURES"]

log = logging.getLogger(__name__)

DEFAULT_PARAMS: dict = {}
ARCHITECTURES = {
    "tfidf": "tfidf-word-char+stance-cues / one-vs-rest logistic regression + any-tactic gate",
    "spacy": "spaCy textcat_multilabel (trained from config.cfg, no pretrained vectors)",
    "encoder": "multilingual sentence encoder (multilingual-e5-small) + word/char TF-IDF / "
               "one-vs-rest logistic regression + any-tactic gate",
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
          n_jobs: int | None = None, architecture: str = "tfidf",
          multilingual: bool | None = None, encoder: str = DEFAULT_ENCODER) -> Path:
    """Fit the English model on the English train records, score it on the test split, and write
    the model directory; with ``multilingual`` (the default when the corpus holds Russian,
    Ukrainian or German records) also fit the encoder model on the train records of every
    language into its ``multilingual/`` sub-directory.

    The test split is only scored, never used to choose anything. Thresholds are tuned
    out-of-fold on train and, when the corpus has a ``shift_dev`` split, on it too (it is never
    trained on). Same data, params and seed give the same predictions.
    """
    taxonomy = taxonomy or load_taxonomy()
    output = Path(output)
    check_not_input(output, data_dir)          # the model directory replaces what is there
    corpus = load_corpus(data_dir, taxonomy)
    tactics = taxonomy.ids
    english = in_language(corpus["train"], "en")
    Y = label_matrix(english, tactics)
    params = {**(DEFAULT_PARAMS if architecture == "tfidf" else {}), **(params or {})}
    dev = in_language(corpus.get("shift_dev", []), "en")
    fit_params = ({"dev": ([r.text for r in dev], label_matrix(dev, tactics))}
                  if dev and architecture == "tfidf" else {})
    log.info(f"training {output.name} ({architecture}) on {len(english)} English records of "
             f"{data_dir}: features, out-of-fold thresholds and calibration, then the final fit")
    started = time.perf_counter()
    estimator = make_estimator(architecture, params, seed, n_jobs).fit(
        [r.text for r in english], Y, **fit_params)
    seconds = time.perf_counter() - started
    log.info(f"trained in {seconds:.0f} s; scoring the test records")
    data_hash = corpus_hash(data_dir)
    name = name or output.name
    meta = _meta(name, data_hash, seed, architecture, taxonomy, estimator, english, seconds,
                 data_dir, ["en"])
    # windows trade F1 for false alarms at the rate the thresholds were tuned with
    meta["long_text"] = choose_long_text(estimator, meta, dev,
                                         fpr_weight=getattr(estimator, "fpr_weight_", 0.5))
    test = in_language(corpus["test"], "en")
    meta["data"].update(test_records=len(test), shift_dev_records=len(dev))
    meta["metrics"]["test"] = _test_figures(TacticModel(estimator, meta), test)
    if dev:
        meta["metrics"]["shift_dev"] = _test_figures(TacticModel(estimator, meta), dev)
    config = {"architecture": architecture, "seed": seed, "params": params}
    foreign = [lang for lang in LANGUAGES if lang != "en" and in_language(corpus["train"], lang)]
    parts = {}
    if multilingual or (multilingual is None and foreign):
        parts[MULTILINGUAL_DIR] = _train_multilingual(corpus, name, data_hash, seed, taxonomy,
                                                      foreign, encoder, data_dir)
    return write_model_dir(output, estimator, meta, render_card(meta), config, parts=parts,
                           codebook=taxonomy)


def choose_long_text(estimator, meta: dict, dev: list, *, fpr_weight: float = 0.5,
                     minimum: int = 20) -> dict:
    """The sentence window and pull that score the long texts of the dev split best (macro F1
    over the tactics present minus ``fpr_weight`` x none-FPR); the defaults when it has fewer
    than ``minimum`` long texts."""
    long = [r for r in dev if len(r.text.split()) > LONG_TEXT_WORDS]
    if len(long) < minimum:
        return {**LONG_TEXT_DEFAULTS, "chosen_on": f"defaults ({len(long)} long dev texts)"}
    Y = label_matrix(long, meta["tactics"])
    present = Y.any(axis=0)
    best_value, best = -np.inf, dict(LONG_TEXT_DEFAULTS)
    model = TacticModel(estimator, meta)
    texts = [r.text for r in long]
    whole = model.predict_proba(texts, long_texts=False)   # scored once; windows once per size
    for window in (2, 3, 5):
        rows, window_best = model.window_scores(texts, window)
        for pull in (0.5, 0.7, 0.85, 1.0):
            predicted = lift(whole.copy(), rows, window_best, pull) >= model.thresholds
            figures = multilabel_metrics(Y[:, present], predicted[:, present].astype(np.int8),
                                         [t for t, keep in zip(meta["tactics"], present) if keep])
            value = figures["macro_f1"] - fpr_weight * figures["none_fpr"]
            if value > best_value + 1e-9:
                best_value, best = value, {"window": window, "pull": pull}
    return {**best, "chosen_on": f"{len(long)} long texts of the shift_dev split"}


def _train_multilingual(corpus: dict, name: str, data_hash: str, seed: int, taxonomy: Taxonomy,
                        languages: list[str], encoder: str, data_dir) -> tuple:
    """The encoder model: weights learnt from every language, calibration from the out-of-fold
    scores of the languages it will be routed (English reads on its own model), thresholds and
    the long-text window from those and the same languages' shift_dev records when there are."""
    if not languages:
        raise ModelError("the corpus has no Russian, Ukrainian or German train records to train "
                         "the multilingual model on")
    records = corpus["train"]
    Y = label_matrix(records, taxonomy.ids)
    dev = in_language(corpus.get("shift_dev", []), *languages)
    log.info(f"training the multilingual model on {len(records)} records in "
             f"{', '.join(['en', *languages])}: embeddings (cached), n-grams, out-of-fold "
             f"thresholds{f' with {len(dev)} shift_dev records' if dev else ''}, then the final fit")
    started = time.perf_counter()
    texts = [r.text for r in records]
    dev_texts = [r.text for r in dev]
    fit_params = ({"dev": (dev_texts, label_matrix(dev, taxonomy.ids),
                           encode_cached(encoder, dev_texts))} if dev else {})
    estimator = EncoderClassifier(encoder=encoder, random_state=seed).fit(
        texts, Y, tune_rows=[r.lang in languages for r in records],
        embeddings=encode_cached(encoder, texts), **fit_params)
    seconds = time.perf_counter() - started
    meta = _meta(f"{name}-multilingual", data_hash, seed, "encoder", taxonomy, estimator, records,
                 seconds, data_dir, languages)
    meta["encoder"] = encoder
    log.info(f"trained in {seconds:.0f} s; choosing the long-text window, scoring the "
             f"{', '.join(languages)} test records")
    meta["long_text"] = choose_long_text(estimator, meta, dev, fpr_weight=estimator.fpr_weight_)
    model = TacticModel(estimator, meta)
    test = in_language(corpus["test"], *languages)
    meta["data"].update(test_records=len(test), shift_dev_records=len(dev))
    meta["metrics"]["test"], meta["metrics"]["test_by_language"] = _test_figures(
        model, test, by_language=True)
    if dev:
        meta["metrics"]["shift_dev"], meta["metrics"]["shift_dev_by_language"] = _test_figures(
            model, dev, by_language=True)
    config = {"architecture": "encoder", "seed": seed, "params": estimator.get_params()}
    return estimator, meta, render_card(meta), config


def _meta(name: str, data_hash: str, seed: int, architecture: str, taxonomy: Taxonomy, estimator,
          records: list, seconds: float, data_dir, languages: list[str]) -> dict:
    tactics = taxonomy.ids
    Y = label_matrix(records, tactics)
    meta = {
        "name": name,
        "model_version": f"{name}-{data_hash[:8]}-s{seed}",
        "architecture": architecture,
        "architecture_description": ARCHITECTURES[architecture],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "languages": languages,
        "tactics": tactics,
        "families": {t: taxonomy.family_of(t) for t in tactics},
        "definitions": {t: taxonomy[t].definition for t in tactics},
        "boundaries": {t: list(taxonomy[t].boundary) for t in tactics if taxonomy[t].boundary},
        "thresholds": {t: round(float(v), 6) for t, v in zip(tactics, estimator.thresholds_)},
        "params": {k: v for k, v in estimator.get_params().items() if k != "n_jobs"},
        "data": {"corpus_sha256": data_hash, "data_dir": str(data_dir),
                 "train_records": len(records),
                 "train_per_tactic": dict(zip(tactics, Y.sum(axis=0).tolist()))},
        "versions": library_versions(),
        "training_seconds": round(seconds, 1),
        "metrics": {
            "train_out_of_fold_f1": {t: round(float(f), 4) for t, f in zip(tactics, estimator.oof_f1_)},
            "train_out_of_fold_macro_f1": round(float(np.mean(estimator.oof_f1_)), 4),
            "train_out_of_fold_none_fpr": round(float(getattr(estimator, "oof_none_fpr_", np.nan)), 4),
        },
    }
    if hasattr(estimator, "fpr_weight_"):    # the none-FPR weight the thresholds were tuned with
        meta["metrics"]["thresholds_fpr_weight"] = round(float(estimator.fpr_weight_), 4)
    return meta


def _test_figures(model: TacticModel, records: list, *, by_language: bool = False):
    """Figures on a held-out split, scored exactly as ``predict`` scores (long-text windows too);
    with ``by_language`` also ``{lang: figures}`` from the same scores (each text scored once)."""
    Y = label_matrix(records, model.tactics)
    predicted = (model.predict_proba([r.text for r in records]) >= model.thresholds).astype(np.int8)
    figures = split_figures(Y, predicted, model.tactics, records)
    if not by_language:
        return figures
    langs = np.array([r.lang for r in records])
    return figures, {lang: split_figures(Y[langs == lang], predicted[langs == lang], model.tactics,
                                         in_language(records, lang))
                     for lang in LANGUAGES if (langs == lang).any()}
