"""Adapt a model to one's own feed without retraining: per-tactic calibration and thresholds
fitted on a few hundred labelled texts of that feed.

A model trained on our corpus ranks texts of another feed better than it places its cuts. Given
labelled texts of the feed, ``calibrate`` keeps the weights and moves the probabilities,
sigmoid(slope x logit(p) + intercept), and the thresholds:

1. a shift shared by all tactics (one slope and intercept) is fitted on every tactic's labels
   together, shrunk toward the base model (slope 1, intercept 0) by ``strength`` texts;
2. per tactic, its own slope and intercept (fitted around the shared ones) and its own cut (the
   one that maximises macro F1 minus half the none-FPR on the feed) count with weight
   n / (n + strength) for a tactic with n positive texts, against the shared shift and the base
   model's cut: with the default strength 10, 5 positives move a tactic a third of the way from
   where the shared shift puts it, 40 four fifths.

Texts are routed by language as ``predict`` routes them: English adapts the model, Russian,
Ukrainian and German its multilingual model. Part of the texts (``holdout``) is kept out of the
fit to report the change, before and after, with bootstrap intervals. The new model directory
shares the base model's weights (``write_shared_model_dir``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..corpus.dataset import Record, label_matrix
from ..errors import DataError, ModelError
from ..evaluation.compare import DEFAULT_RESAMPLES, bootstrap_figures
from ..io.home import in_home
from ..io.markdown import markdown_table
from ..model.artifact import write_shared_model_dir
from ..model.calibration import fit_recalibration, logit, recalibrate, tune_thresholds_jointly
from ..model.language import detect_languages
from ..model.predict import MULTILINGUAL_DIR, TacticModel, load_model
from ..taxonomy import Taxonomy, load_taxonomy
from .retrain import check_name, read_additions

__all__ = ["Calibrated", "Adaptation", "calibrate", "fit_adaptation", "render_calibration",
           "render_report"]

DEFAULT_HOLDOUT = 0.3
DEFAULT_STRENGTH = 10.0
FPR_WEIGHT = 0.5            # as the base model's thresholds were tuned
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Adaptation:
    """One model part moved to a feed: per-tactic recalibration and thresholds, and the
    positives each was fitted on."""

    slope: np.ndarray
    intercept: np.ndarray
    thresholds: np.ndarray
    positives: np.ndarray
    shared: tuple[float, float]   # the slope and intercept shared by all tactics

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return recalibrate(probabilities, self.slope, self.intercept) >= self.thresholds

    def base_scale_cuts(self) -> np.ndarray:
        """The thresholds on the base model's scale (the p where the decision flips)."""
        return 1 / (1 + np.exp(-((logit(self.thresholds) - self.intercept) / self.slope)))


@dataclass
class Calibrated:
    """What ``calibrate`` wrote and measured."""

    path: Path
    report: dict | None       # before/after on the held-out texts (None with holdout 0)
    fitted: int               # texts fitted on
    held_out: int
    skipped: int              # texts in languages the model does not read
    held_out_ids: list[str]   # the records the report is measured on


def fit_adaptation(probabilities: np.ndarray, Y: np.ndarray, base_thresholds: np.ndarray, *,
                   strength: float = DEFAULT_STRENGTH) -> Adaptation:
    """Recalibration and thresholds for labels ``Y`` of a feed, given the base model's
    probabilities on it (see the module's docstring)."""
    Y = np.asarray(Y)
    shared = fit_recalibration(probabilities.reshape(-1, 1), Y.reshape(-1, 1),
                               prior_strength=strength)
    shared = (float(shared[0][0]), float(shared[1][0]))
    own = fit_recalibration(probabilities, Y, prior_strength=strength, centre=shared)
    positives = Y.sum(axis=0)
    weight = positives / (positives + strength)
    slope = shared[0] + weight * (own[0] - shared[0])
    intercept = shared[1] + weight * (own[1] - shared[1])
    feed = tune_thresholds_jointly(recalibrate(probabilities, slope, intercept), Y,
                                   fpr_weight=FPR_WEIGHT)
    thresholds = 1 / (1 + np.exp(-(weight * logit(feed) + (1 - weight) * logit(base_thresholds))))
    return Adaptation(slope, intercept, thresholds, positives, shared)


def calibrate(labelled: str | Path, *, name: str, model: TacticModel | str | Path | None = None,
              holdout: float = DEFAULT_HOLDOUT, strength: float = DEFAULT_STRENGTH, seed: int = 0,
              models_dir: str | Path | None = None, resamples: int = DEFAULT_RESAMPLES,
              taxonomy: Taxonomy | None = None) -> Calibrated:
    """Fit model ``model`` (default: the default model) to the labelled texts in ``labelled``
    (corpus JSONL, as ``tactics import`` writes it) and write it as model ``name`` under
    ``models_dir`` (default: the home's ``models/``), sharing the base model's weights."""
    if not 0 <= holdout < 1:
        raise DataError(f"holdout must be from 0 to below 1, not {holdout}")
    check_name(name)
    target = in_home(models_dir, "models", write=True) / name
    if target.exists():
        raise ModelError(f"{target} already exists; choose another --name")
    base = model if isinstance(model, TacticModel) else load_model(model)
    if base.path is None:
        raise ModelError("the base model must be a model directory (its weights are shared)")
    records = [a.record for a in read_additions([labelled], taxonomy or load_taxonomy())]
    parts = _route(base, records)
    skipped = len(records) - sum(len(rows) for _, rows in parts.values())
    held = _holdout(records, parts, holdout, seed)
    tactics = base.tactics
    Y = label_matrix(records, tactics)
    before = np.zeros_like(Y, dtype=bool)
    after = np.zeros_like(Y, dtype=bool)
    adapted: dict[str, Adaptation] = {}
    for part, (sub, rows) in parts.items():
        log.info(f"scoring {len(rows)} texts with {sub.version}")
        P = sub.predict_proba([records[i].text for i in rows])
        Ys = label_matrix([records[i] for i in rows], sub.tactics)
        fit = np.array([i not in held for i in rows])
        adapted[part] = fit_adaptation(P[fit], Ys[fit], sub.thresholds, strength=strength)
        columns = [tactics.index(t) for t in sub.tactics if t in tactics]
        mine = [k for k, t in enumerate(sub.tactics) if t in tactics]
        before[np.ix_(rows, columns)] = (P >= sub.thresholds)[:, mine]
        after[np.ix_(rows, columns)] = adapted[part].decide(P)[:, mine]
    evaluated = sorted(held)
    report = None
    if evaluated:
        report = bootstrap_figures(Y[evaluated], {"before": before[evaluated],
                                                  "after": after[evaluated]},
                                   tactics, resamples=resamples, seed=seed)
    settings = {"labelled": str(labelled), "labelled_sha256": _digest(labelled),
                "holdout": holdout, "strength": strength, "seed": seed,
                "texts": len(records), "fitted": len(records) - len(held) - skipped,
                "held_out": len(held), "skipped_languages": skipped}
    _write(target, name, base, adapted, settings, report)
    return Calibrated(target, report, settings["fitted"], len(held), skipped,
                      [records[i].id for i in evaluated])


def _route(base: TacticModel, records: list[Record]) -> dict[str, tuple[TacticModel, list[int]]]:
    """Which model part reads which text: '' the model itself, 'multilingual' its sub-model."""
    parts: dict[str, tuple[TacticModel, list[int]]] = {}
    for i, lang in enumerate(detect_languages([r.text for r in records])):
        route = base._route(lang)
        if route == "here":
            parts.setdefault("", (base, []))[1].append(i)
        elif route == "multilingual":
            parts.setdefault(MULTILINGUAL_DIR, (base.multilingual, []))[1].append(i)
    if not parts:
        raise DataError("none of the labelled texts is in a language the model reads")
    return parts


def _holdout(records: list[Record], parts: dict, fraction: float, seed: int) -> set[int]:
    """The held-out texts: ``fraction`` of each model part's texts with a tactic and of those
    without, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    held: set[int] = set()
    for _, rows in parts.values():
        for carries in (True, False):
            group = [i for i in rows if bool(records[i].labels) == carries]
            take = int(round(fraction * len(group)))
            held.update(int(i) for i in rng.permutation(group)[:take])
    return held


def _digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _write(target: Path, name: str, base: TacticModel, adapted: dict[str, Adaptation],
           settings: dict, report: dict | None) -> None:
    """The model directory: each part's model.json with its new thresholds and recalibration
    (composed with the base's own, when the base was itself calibrated)."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    pieces = {}
    for part, sub in (("", base), (MULTILINGUAL_DIR, base.multilingual)):
        if sub is None:
            continue
        adaptation = adapted.get(part)
        meta = {k: v for k, v in sub.meta.items()
                if k not in ("format_version", "storage", "weights", "metrics")}
        suffix = f"-{part}" if part else ""
        meta.update(name=f"{name}{suffix}", model_version=f"{name}{suffix}-from-{sub.version}",
                    created=created, calibrated={**settings, "base": sub.version,
                                                 "base_path": str(sub.path)})
        if adaptation is not None:
            slope, intercept = adaptation.slope, adaptation.intercept
            if sub.recalibration is not None:     # compose: logit-affine maps chain
                slope, intercept = slope * sub.recalibration[0], \
                    slope * sub.recalibration[1] + intercept
            meta["thresholds"] = {t: round(float(c), 6)
                                  for t, c in zip(sub.tactics, adaptation.thresholds)}
            meta["recalibration"] = {
                "slope": {t: round(float(v), 6) for t, v in zip(sub.tactics, slope)},
                "intercept": {t: round(float(v), 6) for t, v in zip(sub.tactics, intercept)},
                "positives": {t: int(v) for t, v in zip(sub.tactics, adaptation.positives)}}
        if report is not None and not part:
            meta["metrics"] = {"feed_held_out": report}
        card = render_calibration(meta, report if not part else None)
        config = {"calibrated_from": sub.version, **settings}
        pieces[part] = (sub.path, meta, card, config)
    base_piece = pieces.pop("")
    write_shared_model_dir(target, *base_piece, parts=pieces, codebook=base.codebook())


def render_calibration(meta: dict, report: dict | None) -> str:
    """The model card of a calibrated model: what it was fitted on, and before/after."""
    settings = meta["calibrated"]
    lines = [f"# Model card: {meta['name']}", "",
             f"`{meta['model_version']}`: model `{settings['base']}` "
             f"(`{settings['base_path']}`, whose weights it shares) calibrated to the feed "
             f"labelled in `{settings['labelled']}` (SHA-256 `{settings['labelled_sha256'][:16]}`): "
             f"{settings['fitted']} texts fitted, {settings['held_out']} held out, "
             f"shrinkage strength {settings['strength']}, seed {settings['seed']}. "
             f"Thresholds and calibration moved; weights, features and evidence unchanged.", ""]
    if report is not None:
        lines += ["## On the held-out texts of the feed", "", render_report(report)]
    return "\n".join(lines) + "\n"


def render_report(report: dict) -> str:
    """Before/after per tactic (precision, recall, F1 with 95% intervals) and the none-FPR."""
    def cell(figure: dict) -> str:
        return f"{figure['value']:.3f} ({figure['ci'][0]:.2f}-{figure['ci'][1]:.2f})"

    rows = [[t, r["support"], *(cell(r[side][m]) for side in ("before", "after")
                                for m in ("precision", "recall", "f1")),
             f"{r['f1_delta']['value']:+.3f} ({r['f1_delta']['ci'][0]:+.2f} to "
             f"{r['f1_delta']['ci'][1]:+.2f})"]
            for t, r in report["per_tactic"].items() if r["support"]]
    table = markdown_table(["tactic", "support", "P before", "R before", "F1 before", "P after",
                            "R after", "F1 after", "F1 change"], rows)
    fpr, macro = report["none_fpr"], report["macro_f1"]
    return (f"{table}\n\nmacro F1 (tactics present): before {cell(macro['before'])}, after "
            f"{cell(macro['after'])}; none-FPR (texts with no tactic that get any, "
            f"{report['none_texts']} texts): before {cell(fpr['before'])}, after "
            f"{cell(fpr['after'])}. "
            f"{report['texts']} held-out texts; 95% intervals from {report['resamples']} "
            f"bootstrap resamples (seed {report['seed']}), paired over the texts.\n")
