"""Does more data still help? Test-split figures for models trained on growing shares of train."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..model.classifier import TacticClassifier
from ..corpus.dataset import DEFAULT_DATA_DIR, in_language, label_matrix, load_corpus
from ..model.metrics import multilabel_metrics
from .plots import plot_learning_curve
from ..io.markdown import markdown_table
from ..taxonomy import load_taxonomy

__all__ = ["learning_curve", "FRACTIONS"]

FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
log = logging.getLogger(__name__)


def learning_curve(*, data_dir: str | Path = DEFAULT_DATA_DIR, out_dir: str | Path = "evaluation",
                   fractions: tuple[float, ...] = FRACTIONS, params: dict | None = None,
                   seed: int = 0, n_jobs: int | None = None) -> dict:
    """Train on seeded random subsets of train (nested: each contains the smaller ones) and
    score each on the full test split. Writes learning_curve.{json,md,png}."""
    tactics = load_taxonomy().ids
    corpus = load_corpus(data_dir)
    train, test = in_language(corpus["train"], "en"), in_language(corpus["test"], "en")
    order = np.random.default_rng(seed).permutation(len(train))
    Y_test = label_matrix(test, tactics)
    points = []
    for fraction in fractions:
        subset = [train[i] for i in order[: max(int(round(fraction * len(train))), 20)]]
        log.info(f"training on {fraction:.0%} of train ({len(subset)} records)")
        model = TacticClassifier(**(params or {}), random_state=seed, n_jobs=n_jobs)
        model.fit([r.text for r in subset], label_matrix(subset, tactics))
        m = multilabel_metrics(Y_test, model.predict([r.text for r in test]), tactics,
                               [r.kind for r in test])
        points.append({"fraction": fraction, "train_records": len(subset),
                       "macro_f1": m["macro_f1"], "none_fpr_hard_negative": m["none_fpr_hard_negative"],
                       "per_tactic_f1": {t: m["per_tactic"][t]["f1"] for t in tactics}})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"seed": seed, "points": points}
    (out_dir / "learning_curve.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_learning_curve(points, out_dir / "learning_curve.png")
    (out_dir / "learning_curve.md").write_text(_render(points, tactics), encoding="utf-8")
    return result


def _render(points: list[dict], tactics: list[str]) -> str:
    overall = markdown_table(
        ["share of train", "records", "test macro F1", "none FPR (hard negatives)"],
        [[f"{p['fraction']:.0%}", p["train_records"], f"{p['macro_f1']:.3f}",
          f"{p['none_fpr_hard_negative']:.3f}"] for p in points])
    first, half, last = points[0], points[len(points) // 2], points[-1]
    gains = markdown_table(
        ["tactic", f"F1 at {first['fraction']:.0%}", f"F1 at {half['fraction']:.0%}",
         f"F1 at {last['fraction']:.0%}", "gain over the second half"],
        [[t, f"{first['per_tactic_f1'][t]:.3f}", f"{half['per_tactic_f1'][t]:.3f}",
          f"{last['per_tactic_f1'][t]:.3f}",
          f"{last['per_tactic_f1'][t] - half['per_tactic_f1'][t]:+.3f}"]
         for t in sorted(tactics, key=lambda t: half['per_tactic_f1'][t] - last['per_tactic_f1'][t])])
    return f"""# Learning curve

Models trained on nested, seeded random shares of the train split (same parameters as the
default model), each scored on the whole test split. Produced by `tactics learning-curve`.

{overall}

![Learning curve](learning_curve.png)

## Which tactics still gain from more data

{gains}
"""
