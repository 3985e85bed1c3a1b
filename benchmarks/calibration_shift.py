"""Calibration against a feed whose scores sit lower than the corpus's: how much recall
`tactics calibrate` wins back, and at what none-FPR.

The feed is the English test records that carry a register (the corpus's media-like writing:
claim records, translations, social posts, debunks, broadcasts, long articles ...). A copy of
the model with every score pushed down by SHIFT logits plays a model tuned on other writing;
both it and the model itself are calibrated on 70% of the feed and all three are measured on
the other 30%, pooled over tactics:

    python benchmarks/calibration_shift.py [--model models/default] [--shift -1.5]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from nlp.corpus.dataset import label_matrix, read_records
from nlp.model.artifact import write_shared_model_dir
from nlp.model.predict import load_model
from nlp.research.calibrate import calibrate
from nlp.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parent.parent


def pooled(model, records) -> dict:
    """Recall and precision over all tactic labels, and the none-FPR."""
    Y = label_matrix(records, model.tactics).astype(bool)
    P = model.predict_proba([r.text for r in records]) >= model.thresholds
    tp = (P & Y).sum()
    return {"recall": round(tp / Y.sum(), 3), "precision": round(tp / max(P.sum(), 1), 3),
            "none_fpr": round(float(P[~Y.any(axis=1)].any(axis=1).mean()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--shift", type=float, default=-1.5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="calibration-shift-"))
    feed = work / "feed.jsonl"
    lines = [line for line in (ROOT / "training_data" / "test.jsonl").read_text().splitlines()
             if line.strip() and json.loads(line).get("lang", "en") == "en"
             and json.loads(line).get("register")]
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = load_model(args.model)
    meta = {k: v for k, v in base.meta.items() if k not in ("format_version", "storage", "weights")}
    meta.update(name="shifted", model_version=f"shifted-{base.version}", recalibration={
        "slope": {t: 1.0 for t in base.tactics}, "intercept": {t: args.shift for t in base.tactics}})
    shifted = write_shared_model_dir(work / "models" / "shifted", base.path, meta, "# shifted\n", {})
    rows = {}
    for name, model in (("model", base.path), ("shifted", shifted)):
        result = calibrate(feed, name=f"{name}-calibrated", model=model,
                           models_dir=work / "models", resamples=200)
        records = {r.id: r for _, r in read_records(feed, load_taxonomy())}
        held = [records[i] for i in result.held_out_ids]
        rows[name] = pooled(load_model(model), held)
        rows[f"{name} calibrated"] = pooled(load_model(result.path), held)
    print(f"{len(lines)} feed texts, {len(held)} held out; shift {args.shift} logits")
    print(f"{'':20} {'recall':>7} {'precision':>9} {'none-FPR':>8}")
    for name, row in rows.items():
        print(f"{name:20} {row['recall']:7.3f} {row['precision']:9.3f} {row['none_fpr']:8.3f}")


if __name__ == "__main__":
    main()
