"""Two models on one test split: is the new one better, and by how much can we trust it?

Per tactic the F1 of each model and the difference, with a 95% confidence interval from a paired
bootstrap over the test texts (both models scored on the same resampled texts, seeded), the same
for macro F1 and for the none-FPR, and the texts whose predicted tactics changed. The promotion
rule reads these figures: a tactic's F1 has really dropped when even the upper end of its
interval lies below minus the tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..corpus.dataset import Record, label_matrix
from ..model.metrics import multilabel_metrics
from ..model.predict import TacticModel
from ..io.markdown import markdown_table
from ..taxonomy import Taxonomy, load_taxonomy

__all__ = ["compare_models", "bootstrap_figures", "promotion_blockers", "render_comparison", "write_comparison",
           "verdict", "DEFAULT_RESAMPLES", "DEFAULT_TOLERANCE"]

DEFAULT_RESAMPLES = 1000
DEFAULT_TOLERANCE = 0.02
CONFIDENCE = 0.95
CHANGED_SHOWN = 50


def compare_models(old: TacticModel, new: TacticModel, records: list[Record], *,
                   resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                   taxonomy: Taxonomy | None = None) -> dict:
    """Figures of both models on ``records`` and their differences with bootstrap intervals.

    Columns follow the taxonomy (then any tactic a model knows that the codebook lacks), so a
    tactic only one model knows (a new tactic) is scored as never predicted by the other; macro
    F1 averages the tactics both models know. A new tactic also shows its cross-validated F1.
    """
    tactics = (taxonomy or load_taxonomy()).ids
    tactics += [t for t in dict.fromkeys([*old.tactics, *new.tactics]) if t not in tactics]
    Y = label_matrix(records, tactics)
    texts = [r.text for r in records]
    P = {"old": _predictions(old, texts, tactics), "new": _predictions(new, texts, tactics)}
    figures = {side: multilabel_metrics(Y, P[side], tactics) for side in P}
    shared = [k for k, t in enumerate(tactics) if t in old.tactics and t in new.tactics]
    deltas = _bootstrap_deltas(Y, P["old"], P["new"], shared, resamples, seed)
    per_tactic = {}
    for k, t in enumerate(tactics):
        old_f1, new_f1 = (figures[side]["per_tactic"][t]["f1"] for side in ("old", "new"))
        per_tactic[t] = {"support": int(Y[:, k].sum()), "in_old": t in old.tactics,
                         "in_new": t in new.tactics,
                         **_delta(old_f1, new_f1, deltas["f1"][:, k], "f1")}
        if t in new.tactics and t not in old.tactics:
            per_tactic[t].update(_cross_validated(new, t))
    macro = [float(np.mean([figures[side]["per_tactic"][tactics[k]]["f1"] for k in shared]))
             for side in ("old", "new")]
    changed = np.flatnonzero((P["old"] != P["new"]).any(axis=1))
    return {
        "old": _identity(old), "new": _identity(new),
        "test_records": len(records),
        "bootstrap": {"resamples": resamples, "seed": seed, "confidence": CONFIDENCE,
                      "paired_over": "test texts"},
        "macro_f1": _delta(*macro, deltas["macro_f1"], "macro_f1"),
        "none_fpr": _delta(figures["old"]["none_fpr"], figures["new"]["none_fpr"],
                           deltas["none_fpr"], "none_fpr"),
        "per_tactic": per_tactic,
        "changed": [{"id": records[i].id, "text": records[i].text,
                     "true": _names(Y[i], tactics), "old": _names(P["old"][i], tactics),
                     "new": _names(P["new"][i], tactics)} for i in changed],
    }


def _cross_validated(model: TacticModel, tactic: str) -> dict:
    """A new tactic's out-of-fold F1 on the train split and its train examples (model.json):
    on a small test split they say more than its test F1."""
    f1 = model.meta.get("metrics", {}).get("train_out_of_fold_f1", {}).get(tactic)
    examples = model.meta.get("data", {}).get("train_per_tactic", {}).get(tactic)
    return {"cv_f1": f1, "train_examples": examples}


def _identity(model: TacticModel) -> dict:
    return {"name": model.meta.get("name", ""), "version": model.version, "path": str(model.path)}


def _names(row: np.ndarray, tactics: list[str]) -> list[str]:
    return [t for t, y in zip(tactics, row) if y]


def _predictions(model: TacticModel, texts: list[str], tactics: list[str]) -> np.ndarray:
    """The model's 0/1 decisions in ``tactics`` columns (zeros for tactics it does not know), as
    ``predict`` makes them (each text routed by its language)."""
    decided = np.array([[t in result.labels for t in model.tactics]
                        for result in model.predict(texts, evidence=False)],
                       dtype=np.int8).reshape(len(texts), len(model.tactics))
    out = np.zeros((len(texts), len(tactics)), dtype=np.int8)
    column = {t: k for k, t in enumerate(tactics)}
    for j, tactic in enumerate(model.tactics):
        out[:, column[tactic]] = decided[:, j]
    return out


def _delta(old: float, new: float, samples: np.ndarray, name: str) -> dict:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return {f"old_{name}": round(old, 4), f"new_{name}": round(new, 4),
            "delta": round(new - old, 4), "ci": [round(float(low), 4), round(float(high), 4)]}


def _bootstrap_deltas(Y: np.ndarray, old: np.ndarray, new: np.ndarray, shared: list[int],
                      resamples: int, seed: int) -> dict[str, np.ndarray]:
    """new minus old, per resample: F1 per tactic (resamples x tactics), macro F1, none-FPR.

    A resample is a row of multinomial counts over the texts (how often each was drawn), so
    every figure is a weighted count and all resamples are computed at once.
    """
    n = len(Y)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    f1_old, f1_new = _weighted_f1(weights, Y, old), _weighted_f1(weights, Y, new)
    return {"f1": f1_new - f1_old,
            "macro_f1": f1_new[:, shared].mean(axis=1) - f1_old[:, shared].mean(axis=1),
            "none_fpr": _weighted_none_fpr(weights, Y, new) - _weighted_none_fpr(weights, Y, old)}


def bootstrap_figures(Y: np.ndarray, decisions: dict[str, np.ndarray], tactics: list[str], *,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """Per tactic the precision, recall and F1 of each set of decisions (e.g. ``before`` and
    ``after``) with 95% bootstrap intervals, paired over the texts (every side is scored on the
    same resamples), and the none-FPR; plus, per tactic, the F1 change of the last side against
    the first with its interval; macro F1 averages the tactics present in ``Y``."""
    n = len(Y)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=resamples)
    Yb = Y.astype(bool)
    out: dict = {"texts": n, "resamples": resamples, "seed": seed, "confidence": CONFIDENCE,
                 "per_tactic": {t: {"support": int(Yb[:, k].sum())} for k, t in enumerate(tactics)},
                 "none_fpr": {}, "none_texts": int((~Yb.any(axis=1)).sum())}
    f1 = {}
    for side, P in decisions.items():
        P = P.astype(bool)
        point = np.ones((1, n))
        tp, fp, fn = zip(*((w @ (Yb & P), w @ (~Yb & P), w @ (Yb & ~P)) for w in (point, weights)))
        figures = {
            "precision": [_ratio(tp[0], tp[0] + fp[0]), _ratio(tp[1], tp[1] + fp[1])],
            "recall": [_ratio(tp[0], tp[0] + fn[0]), _ratio(tp[1], tp[1] + fn[1])],
            "f1": [_ratio(2 * tp[0], 2 * tp[0] + fp[0] + fn[0]),
                   _ratio(2 * tp[1], 2 * tp[1] + fp[1] + fn[1])]}
        f1[side] = figures["f1"][1]
        for k, t in enumerate(tactics):
            out["per_tactic"][t][side] = {name: _estimate(value[0][0, k], value[1][:, k])
                                          for name, value in figures.items()}
        out["none_fpr"][side] = _estimate(_weighted_none_fpr(point, Y, P)[0],
                                          _weighted_none_fpr(weights, Y, P))
        present = Yb.any(axis=0)
        out.setdefault("macro_f1", {})[side] = _estimate(
            figures["f1"][0][0, present].mean() if present.any() else 0.0,
            figures["f1"][1][:, present].mean(axis=1) if present.any() else np.zeros(resamples))
    first, last = list(decisions)[0], list(decisions)[-1]
    for k, t in enumerate(tactics):
        row = out["per_tactic"][t]
        delta = f1[last][:, k] - f1[first][:, k]
        row["f1_delta"] = {"value": round(row[last]["f1"]["value"] - row[first]["f1"]["value"], 4),
                           "ci": _percentiles(delta)}
    return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(np.shape(denominator)),
                     where=denominator > 0)


def _percentiles(samples: np.ndarray) -> list[float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    return [round(float(x), 4) for x in np.percentile(samples, [tail, 100 - tail])]


def _estimate(value: float, samples: np.ndarray) -> dict:
    return {"value": round(float(value), 4), "ci": _percentiles(samples)}


def _weighted_f1(weights: np.ndarray, Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Per-tactic F1 under each row of text weights; 0 where a tactic is neither true nor
    predicted (as ``multilabel_metrics`` counts it)."""
    Y, P = Y.astype(bool), P.astype(bool)
    tp = weights @ (Y & P)
    wrong = weights @ (Y ^ P)
    denominator = 2 * tp + wrong
    return np.divide(2 * tp, denominator, out=np.zeros(denominator.shape), where=denominator > 0)


def _weighted_none_fpr(weights: np.ndarray, Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    none = ~Y.any(axis=1)
    flagged = weights @ (none & P.any(axis=1))
    total = weights @ none
    return np.divide(flagged, total, out=np.zeros(len(weights)), where=total > 0)


def promotion_blockers(comparison: dict, tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """Why the new model must not replace the old: each tactic of the old model whose F1 really
    dropped (upper end of the interval below -tolerance), and a none-FPR that really rose (lower
    end above +tolerance). Empty when the new model may be promoted."""
    blockers = [f"{t} F1 {r['old_f1']:.3f} -> {r['new_f1']:.3f} ({_interval(r)})"
                for t, r in comparison["per_tactic"].items()
                if r["in_old"] and r["ci"][1] < -tolerance]
    fpr = comparison["none_fpr"]
    if fpr["ci"][0] > tolerance:
        blockers.append(f"none-FPR {fpr['old_none_fpr']:.3f} -> {fpr['new_none_fpr']:.3f} "
                        f"({_interval(fpr)})")
    return blockers


def verdict(comparison: dict, tolerance: float = DEFAULT_TOLERANCE) -> list[str]:
    """The comparison in three lines: macro F1 and none-FPR old -> new with their intervals,
    and whether ``tactics promote`` would allow the new model (and if not, why)."""
    macro, fpr = comparison["macro_f1"], comparison["none_fpr"]
    blockers = promotion_blockers(comparison, tolerance)
    old = [r for r in comparison["per_tactic"].values() if r["in_old"] and r["in_new"]]
    dropped = [t for t, r in comparison["per_tactic"].items()
               if r["in_old"] and r["in_new"] and r["ci"][1] < -tolerance]
    return [f"macro F1 {macro['old_macro_f1']:.3f} -> {macro['new_macro_f1']:.3f} "
            f"({_interval(macro)})",
            f"none-FPR {fpr['old_none_fpr']:.3f} -> {fpr['new_none_fpr']:.3f} ({_interval(fpr)})",
            *(f"new tactic {t}: {_new_tactic(r)}" for t, r in comparison["per_tactic"].items()
              if r["in_new"] and not r["in_old"]),
            f"old tactics: {len(dropped)} of {len(old)} really dropped"
            + (f" ({', '.join(dropped)})" if dropped else " (no tactic regressed)"),
            "promotion: allowed (no tactic's F1 really dropped, the none-FPR did not really rise)"
            if not blockers else f"promotion: refused unless --force: {'; '.join(blockers)}"]


def _interval(row: dict) -> str:
    return f"delta {row['delta']:+.3f}, 95% CI {row['ci'][0]:+.3f} to {row['ci'][1]:+.3f}"


def _new_tactic(row: dict) -> str:
    cv = (f"cross-validated F1 {row['cv_f1']:.3f} on {row['train_examples']} train examples, "
          if row.get("cv_f1") is not None else "")
    return f"{cv}test F1 {row['new_f1']:.3f} on {row['support']} test examples"


def _verdict(row: dict) -> str:
    if not row["in_old"] or not row["in_new"]:
        return f"new tactic ({_new_tactic(row)})" if row["in_new"] else "dropped from the model"
    low, high = row["ci"]
    return "better" if low > 0 else "worse" if high < 0 else "no clear change"


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + " …"


def render_comparison(comparison: dict, tolerance: float = DEFAULT_TOLERANCE) -> str:
    """The comparison as Markdown: summary, per-tactic deltas, promotion check, changed texts."""
    old, new, boot = comparison["old"], comparison["new"], comparison["bootstrap"]
    summary = markdown_table(
        ["figure", "old", "new", "delta", "95% CI"],
        [[name, f"{row[f'old_{key}']:.3f}", f"{row[f'new_{key}']:.3f}", f"{row['delta']:+.3f}",
          f"{row['ci'][0]:+.3f} to {row['ci'][1]:+.3f}"]
         for name, key, row in (("macro F1 (shared tactics)", "macro_f1", comparison["macro_f1"]),
                                ("none FPR", "none_fpr", comparison["none_fpr"]))])
    per_tactic = markdown_table(
        ["tactic", "support", "old F1", "new F1", "delta", "95% CI", "verdict"],
        [[t, r["support"], f"{r['old_f1']:.3f}", f"{r['new_f1']:.3f}", f"{r['delta']:+.3f}",
          f"{r['ci'][0]:+.3f} to {r['ci'][1]:+.3f}", _verdict(r)]
         for t, r in comparison["per_tactic"].items()])
    blockers = promotion_blockers(comparison, tolerance)
    check = ("**allowed**: no tactic's F1 really dropped and the none-FPR did not really rise."
             if not blockers else "**refused** (unless `--force`): " + "; ".join(blockers) + ".")
    changed = comparison["changed"]
    changes = markdown_table(
        ["id", "true", "old", "new", "text"],
        [[c["id"], ", ".join(c["true"]) or "none", ", ".join(c["old"]) or "none",
          ", ".join(c["new"]) or "none", _excerpt(c["text"])] for c in changed[:CHANGED_SHOWN]])
    more = (f"\n\nThe first {CHANGED_SHOWN} are shown; the JSON file lists all {len(changed)}."
            if len(changed) > CHANGED_SHOWN else "")
    return f"""# Model comparison: `{old['name']}` -> `{new['name']}`

Old: `{old['version']}` (`{old['path']}`). New: `{new['version']}` (`{new['path']}`).
Both scored on the same {comparison['test_records']} test texts. Intervals: paired bootstrap over
the test texts, {boot['resamples']} resamples, seed {boot['seed']}, {boot['confidence']:.0%}
percentile intervals of new minus old.

## Summary

{summary}

## Per tactic

{per_tactic}

"better" / "worse": the whole interval lies above / below zero.

## Promotion check (tolerance {tolerance:.3f})

{check} A tactic's F1 counts as dropped when the upper end of its interval is below
-{tolerance:.3f}; `tactics promote --tolerance` sets another tolerance.

## Texts whose predictions changed ({len(changed)})

{changes if changed else "None."}{more}
"""


def write_comparison(comparison: dict, out_dir: str | Path = "evaluation",
                     tolerance: float = DEFAULT_TOLERANCE) -> Path:
    """Write ``compare-OLD-NEW.md`` and ``.json`` into ``out_dir``; return the Markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{comparison['old']['name']}-{comparison['new']['name']}"
    (out_dir / f"{stem}.json").write_text(json.dumps(comparison, indent=2, ensure_ascii=False)
                                          + "\n", encoding="utf-8")
    markdown = out_dir / f"{stem}.md"
    markdown.write_text(render_comparison(comparison, tolerance), encoding="utf-8")
    return markdown
