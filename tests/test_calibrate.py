"""Calibrating a model to one's own feed: shrinkage, recovery from a shifted feed, model
directories that share the base model's weights, promotion and --model NAME."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nlp.cli import app
from nlp.corpus.dataset import label_matrix, read_records
from nlp.errors import ModelError
from nlp.model.artifact import META_FILE, MODEL_FILE, write_shared_model_dir
from nlp.model.calibration import fit_recalibration, logit
from nlp.model.predict import MULTILINGUAL_DIR, load_model
from nlp.research.calibrate import calibrate, fit_adaptation
from nlp.research.retrain import promote
from nlp.taxonomy import load_taxonomy

from .conftest import DATA, _sample

SHIFT = -2.0   # the feed's scores, pushed down in logit space


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_recalibration_undoes_a_shift_and_shrinks_toward_the_model():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.02, 0.98, size=(3000, 1))
    Y = (rng.uniform(size=truth.shape) < truth).astype(int)
    shifted = _sigmoid(logit(truth) + SHIFT)
    slope, intercept = fit_recalibration(shifted, Y, prior_strength=1.0)
    assert slope[0] == pytest.approx(1.0, abs=0.15) and intercept[0] == pytest.approx(2.0, abs=0.3)
    few = fit_recalibration(shifted[:20], Y[:20], prior_strength=50.0)
    assert abs(few[1][0]) < 1.0 < intercept[0]       # twenty texts barely move it


def test_few_examples_keep_a_tactic_near_the_shift_all_tactics_share():
    rng = np.random.default_rng(1)
    n = 600
    Y = np.zeros((n, 3), dtype=int)
    Y[:5, 0] = 1                   # 5 positives
    Y[:200, 1] = 1                 # 200 positives
    Y[200:400, 2] = 1
    P = np.where(Y == 1, rng.uniform(0.15, 0.3, size=Y.shape), rng.uniform(0.0, 0.1, size=Y.shape))
    P[:5, 0] = rng.uniform(0.5, 0.6, size=5)   # this tactic's few positives look different
    base = np.array([0.6, 0.6, 0.6])           # the base model's cut: above the feed's positives

    def off_shared(adapted) -> np.ndarray:
        """How far (in logits) each tactic's cut lies from where the shared shift puts it."""
        slope, intercept = adapted.shared
        return np.abs(logit(adapted.base_scale_cuts()) - (logit(base) - intercept) / slope)

    shrunk = fit_adaptation(P, Y, base, strength=10.0)
    free = fit_adaptation(P, Y, base, strength=1e-3)
    assert off_shared(shrunk)[0] < 0.5 * off_shared(free)[0]   # 5 examples barely move it
    assert shrunk.decide(P)[:, 1].mean() == pytest.approx(200 / n, abs=0.05)   # 200 do
    assert shrunk.shared[1] > 1.0              # the feed's scores sit low: the shift lifts them


@pytest.fixture(scope="module")
def shifted(small_model, tmp_path_factory) -> Path:
    """The small model with every score pushed down (a model tuned on other writing): a model
    directory that shares the small model's weights."""
    model = load_model(small_model)
    meta = {k: v for k, v in model.meta.items() if k not in ("format_version", "storage")}
    meta.update(name="shifted", model_version="shifted-s0", recalibration={
        "slope": {t: 1.0 for t in model.tactics}, "intercept": {t: SHIFT for t in model.tactics}})
    models = tmp_path_factory.mktemp("calibrate") / "models"
    return write_shared_model_dir(models / "shifted", small_model, meta, "# shifted\n", {})


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    """800 labelled English texts of a feed (the committed test split, never trained on)."""
    path = tmp_path_factory.mktemp("feed") / "feed.jsonl"
    path.write_text("\n".join(_sample(DATA / "test.jsonl", 800, 3)) + "\n", encoding="utf-8")
    return path


def _pooled(model, records) -> tuple[float, float]:
    """Recall over all tactic labels, and the none-FPR, of a model on records."""
    Y = label_matrix(records, model.tactics).astype(bool)
    P = model.predict_proba([r.text for r in records]) >= model.thresholds
    return (P & Y).sum() / Y.sum(), P[~Y.any(axis=1)].any(axis=1).mean()


def test_calibration_recovers_recall_on_a_shifted_feed_at_equal_fpr(small_model, shifted, feed):
    result = calibrate(feed, name="feed", model=shifted, models_dir=shifted.parent, resamples=200)
    assert (result.path / META_FILE).exists() and not (result.path / MODEL_FILE).exists()
    records = {r.id: r for _, r in read_records(feed, load_taxonomy())}
    held = [records[i] for i in result.held_out_ids]
    assert len(held) == result.held_out == pytest.approx(0.3 * (800 - result.skipped), abs=3)

    unshifted_recall, unshifted_fpr = _pooled(load_model(small_model), held)
    shifted_recall, shifted_fpr = _pooled(load_model(shifted), held)
    recall, fpr = _pooled(load_model(result.path), held)
    assert shifted_recall < unshifted_recall - 0.2          # the shift costs recall
    # calibration wins most of it back (it may settle a little lower on the same curve, at
    # fewer false alarms: 0.39 at 0.21 against 0.46 at 0.25 for the small model)
    assert recall - shifted_recall > 0.7 * (unshifted_recall - shifted_recall)
    # at the same false-positive rate, within noise: ~110 held-out negatives, so 0.05 is five
    # texts (machines whose floating-point sums differ in the last bit flip one or two)
    assert fpr < unshifted_fpr + 0.05

    report = result.report
    assert report["texts"] == len(held)
    row = next(r for r in report["per_tactic"].values() if r["support"] >= 20)
    for side in ("before", "after"):
        for figure in ("precision", "recall", "f1"):
            low, high = row[side][figure]["ci"]
            assert low <= row[side][figure]["value"] <= high
    assert report["none_fpr"]["after"]["value"] == pytest.approx(fpr, abs=1e-3)
    assert "## On the held-out texts of the feed" in (result.path / "MODEL_CARD.md").read_text()


def test_a_calibrated_model_is_named_promoted_and_refused_when_its_base_changes(
        shifted, feed, monkeypatch):
    monkeypatch.setenv("TACTICS_HOME", str(shifted.parent.parent))
    runner = CliRunner()
    done = runner.invoke(app, ["calibrate", str(feed), "--name", "mine", "--model", "shifted",
                               "--holdout", "0", "-q"])
    assert done.exit_code == 0, done.output
    assert "wrote" in done.output and "F1 after" not in done.output     # no held-out part
    mine = shifted.parent / "mine"
    assert (mine / "taxonomy.toml").exists()
    predicted = runner.invoke(app, ["predict", "--model", "mine", "--json",
                                    "Sanctions hurt Europe more than Russia."])
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.output)["model"] == "mine-from-shifted-s0"

    result = promote("mine", models_dir=shifted.parent)     # no default yet: nothing to beat
    default = json.loads((result.path / META_FILE).read_text())
    assert "weights" not in default and (result.path / MODEL_FILE).exists()  # stands on its own
    assert load_model(result.path).version == "mine-from-shifted-s0"

    meta = json.loads((mine / META_FILE).read_text())
    meta["weights"]["sha256"] = "0" * 64
    (mine / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="changed since"):
        load_model(mine)


def test_the_multilingual_model_is_calibrated_and_shared_too(multilingual_model, tmp_path):
    path = tmp_path / "feed.jsonl"
    lines = [line for lang in ("en", "ru", "uk", "de")
             for line in _sample(DATA / "test.jsonl", 10, 5, lang, max_chars=400)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = calibrate(path, name="multi-feed", model=multilingual_model,
                       models_dir=tmp_path / "models", resamples=50)
    sub = result.path / MULTILINGUAL_DIR
    assert (sub / META_FILE).exists() and not (sub / MODEL_FILE).exists()
    model = load_model(result.path)
    assert model.multilingual is not None and model.multilingual.recalibration is not None
    [russian] = model.predict(["Санкции бьют по самой Европе, а не по России."], evidence=False)
    assert russian.lang == "ru" and russian.model == model.multilingual.version
