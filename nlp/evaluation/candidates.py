"""Comparing model candidates on equal terms, and the stance ablation.

Each candidate is an architecture plus parameters. It is trained on the train split into
``models/NAME`` (or reused when that directory already holds it, trained on the same corpus with
the same parameters and seed) and measured on the test split: macro F1, none-FPR on hard negatives, mean ECE,
throughput on one core, model size and training time. The recommendation uses only figures from
the train split (out-of-fold macro F1 minus out-of-fold none-FPR), so choosing the default never
looks at the test split.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..model.artifact import CONFIG_FILE, META_FILE
from ..corpus.dataset import DEFAULT_DATA_DIR, corpus_hash, in_language, label_matrix, load_corpus
from ..model.metrics import expected_calibration_error, split_figures
from ..model.predict import load_model
from ..io.markdown import markdown_table
from ..model.classifier import TacticClassifier
from ..model.train import train

__all__ = ["CANDIDATES", "compare_candidates", "recommend", "throughput"]

log = logging.getLogger(__name__)

CANDIDATES: dict[str, tuple[str, dict, str]] = {
    "default": ("tfidf", {}, "word+char TF-IDF, stance cues, distanced words, any-tactic gate; "
                             "thresholds priced for false alarms"),
    "tfidf-gate-f1": ("tfidf", {"fpr_weight": 0.0}, "as above, thresholds for per-tactic F1 only"),
    "tfidf-no-gate": ("tfidf", {"gate": False, "fpr_weight": 0.0}, "as above, without the gate"),
    "tfidf-no-stance": ("tfidf", {"gate": False, "stance": False, "distanced": False,
                                  "fpr_weight": 0.0},
                        "word+char TF-IDF only: no stance cues, no distanced words, no gate"),
    "tfidf-3-folds": ("tfidf", {"cv": 3}, "as default, thresholds and calibration from three folds "
                                          "instead of two"),
    "tfidf-char-3-5": ("tfidf", {"char_ngrams": [3, 5]},
                       "as default, character n-grams of 3-5 letters instead of 2-5"),
    "spacy-bow": ("spacy", {"architecture": "bow"}, "spaCy textcat_multilabel, bag of words"),
    "spacy-ensemble": ("spacy", {"architecture": "ensemble"},
                       "spaCy textcat_multilabel, ensemble (bow + tok2vec, no vectors)"),
}


def throughput(model, texts: list[str], repeat: int = 3) -> float:
    """Snippets per second on one core (BLAS threads limited to 1), best of ``repeat`` runs."""
    best = np.inf
    with threadpool_limits(limits=1):
        for _ in range(repeat):
            started = time.perf_counter()
            model.predict_proba(texts)
            best = min(best, time.perf_counter() - started)
    return len(texts) / best


def _is_current(path: Path, architecture: str, params: dict, seed: int, data_hash: str) -> bool:
    """Whether ``path`` already holds this candidate trained on this corpus (then it is reused)."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        meta = json.loads((path / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (config == {"architecture": architecture, "seed": seed, "params": params}
            and meta.get("data", {}).get("corpus_sha256") == data_hash)


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def compare_candidates(names: list[str] | None = None, *, data_dir: str | Path = DEFAULT_DATA_DIR,
                       models_dir: str | Path = "models", out_dir: str | Path = "evaluation",
                       seed: int = 0, n_jobs: int | None = None,
                       overrides: dict | None = None) -> dict:
    """Train and measure each named candidate; write candidates.{json,md}; return the figures.

    ``overrides`` are parameters applied to every candidate (e.g. smaller models in tests).
    """
    corpus = load_corpus(data_dir)
    test = in_language(corpus["test"], "en")
    short = [r.text for r in test if len(r.text.split()) <= 40][:1000]
    rows = {}
    for n, name in enumerate(names or list(CANDIDATES), start=1):
        architecture, params, description = CANDIDATES[name]
        params = {**params, **(overrides or {})}
        path = Path(models_dir) / name
        log.info(f"candidate {n} of {len(names or CANDIDATES)}: {name}")
        if not _is_current(path, architecture, params, seed, corpus_hash(data_dir)):
            # the candidates differ in the English model only: the multilingual one would be the
            # same minutes of encoding for each
            train(path, data_dir=data_dir, name=name, seed=seed, params=params, n_jobs=n_jobs,
                  architecture=architecture, multilingual=False)
        model = load_model(path)
        metrics = model.meta["metrics"]
        P = model.predict_proba([r.text for r in test])
        Y = label_matrix(test, model.tactics)
        figures = split_figures(Y, (P >= model.thresholds).astype(np.int8), model.tactics, test)
        rows[name] = {
            "description": description,
            "train_oof_macro_f1": metrics["train_out_of_fold_macro_f1"],
            "train_oof_none_fpr": metrics.get("train_out_of_fold_none_fpr"),
            "test_macro_f1": figures["macro_f1"],
            "test_none_fpr_hard_negative": figures["none_fpr_hard_negative"],
            "test_none_fpr_neutral": figures["none_fpr_neutral"],
            "test_ece_mean": round(float(np.mean([expected_calibration_error(Y[:, k], P[:, k])
                                                  for k in range(Y.shape[1])])), 4),
            "snippets_per_second_one_core": round(throughput(model, short), 1),
            "size_mb": round(_size_mb(path), 2),
            "training_seconds": model.meta["training_seconds"],
        }
    recommended = recommend(rows, {n: {**CANDIDATES[n][1], **(overrides or {})} for n in rows})
    result = {"candidates": rows, "recommended": recommended,
              "rule": "highest train out-of-fold macro F1 minus out-of-fold none-FPR, among "
                      "candidates whose train figures are out-of-fold with the default's number "
                      "of folds (the spaCy candidates' come from the dev split their thresholds "
                      "were tuned on; more folds fit each fold's model on more texts)"}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "candidates.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "candidates.md").write_text(_render(result), encoding="utf-8")
    return result


def recommend(rows: dict[str, dict], params: dict[str, dict]) -> str:
    """The candidate with the highest train out-of-fold macro F1 minus out-of-fold none-FPR.

    spaCy models report figures on the dev split their thresholds were tuned on: optimistic, so
    not comparable with out-of-fold figures and left out; so are out-of-fold figures from another
    number of folds than the default's (each fold's model is fitted on more or fewer texts)."""
    default_folds = TacticClassifier().cv
    folds = params.get("default", {}).get("cv", default_folds)
    tfidf = [n for n in rows if CANDIDATES.get(n, ("tfidf",))[0] == "tfidf"] or list(rows)
    comparable = [n for n in tfidf if params[n].get("cv", default_folds) == folds] or tfidf
    return max(comparable, key=lambda n: rows[n]["train_oof_macro_f1"]
               - (rows[n]["train_oof_none_fpr"] or 0.0))


def _render(result: dict) -> str:
    table = markdown_table(
        ["candidate", "what", "train OOF macro F1", "train OOF none FPR", "test macro F1",
         "test FPR hard neg.", "test FPR other", "test ECE", "snippets/s (1 core)", "size MB",
         "training s"],
        [[name, r["description"], f"{r['train_oof_macro_f1']:.3f}",
          "n/a" if r["train_oof_none_fpr"] is None else f"{r['train_oof_none_fpr']:.3f}",
          f"{r['test_macro_f1']:.3f}", f"{r['test_none_fpr_hard_negative']:.3f}",
          f"{r['test_none_fpr_neutral']:.3f}", f"{r['test_ece_mean']:.3f}",
          f"{r['snippets_per_second_one_core']:.0f}", f"{r['size_mb']:.1f}",
          f"{r['training_seconds']:.0f}"] for name, r in result["candidates"].items()])
    return f"""# Model candidates

Produced by `tactics compare`: each candidate trained on the train split with the same seed,
measured on the test split in the same run. Throughput: short test snippets (<= 40 words),
`predict_proba` without evidence, one core. "training s" is the time recorded when each model
was trained (possibly in an earlier run, on a machine shared with other work): compare it
loosely. The recommendation uses train-split figures only
({result['rule']}): **{result['recommended']}**.

The rows `default`, `tfidf-gate-f1`, `tfidf-no-gate` and `tfidf-no-stance` are the stance
ablation: the same model with the stance machinery removed step by step (thresholds priced for
false alarms, then the any-tactic gate, then the stance cue counts and distanced-sentence words).
`tfidf-3-folds` and `tfidf-char-3-5` are the training-speed alternatives: out-of-fold scores from
three folds (the default before two), and character n-grams without the two-letter ones (the
densest block of the feature rows, so the costliest for the regressions and for scoring).

{table}
"""
