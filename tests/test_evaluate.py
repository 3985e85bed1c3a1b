"""The evaluation report, baselines, metrics, audit, agreement, learning curve and candidates."""

import json

import numpy as np
import pytest

from nlp.evaluation.audit import agreement, find_label_issues
from nlp.model.baselines import KeywordBaseline
from nlp.model.calibration import ScoreCalibrator, tune_thresholds, tune_thresholds_jointly
from nlp.evaluation.candidates import CANDIDATES, compare_candidates, recommend
from nlp.corpus.datasheet import END, START, render_stats
from nlp.corpus.dataset import Record, label_matrix, load_corpus
from nlp.evaluation.evaluate import confusion_counts, evaluate
from nlp.evaluation.learning_curve import learning_curve
from nlp.model.metrics import expected_calibration_error, multilabel_metrics
from nlp.taxonomy import load_taxonomy

from .conftest import DATA


@pytest.fixture(scope="module")
def report(small_model, small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluation")
    return evaluate(small_model, data_dir=small_corpus, out_dir=out, folds=2), out


def test_report_files_and_sections(report):
    result, out = report
    for name in ("report.md", "report.json", "f1_per_tactic.png", "confusion.png",
                 "pr_curves.png", "reliability.png"):
        assert (out / name).stat().st_size > 0, name
    markdown = (out / "report.md").read_text()
    for section in ("## Summary", "## Per tactic", "## Cross-validation", "## Long texts",
                    "worst errors", "keyword rule", "most frequent"):
        assert section in markdown
    assert json.loads((out / "report.json").read_text())["model"]["test"] == result["model"]["test"]


def test_report_figures_recompute_from_the_model(report, small_model, small_corpus):
    from nlp import load_model

    result, _ = report
    model = load_model(small_model)
    test = load_corpus(small_corpus)["test"]
    Y = label_matrix(test, model.tactics)
    predicted = (model.predict_proba([r.text for r in test]) >= model.thresholds).astype(int)
    assert result["model"]["test"]["macro_f1"] == multilabel_metrics(Y, predicted, model.tactics)["macro_f1"]
    assert result["baselines"]["most frequent"]["macro_f1"] == 0.0
    cv = result["cross_validation"]
    assert cv["folds"] == 2 and len(cv["macro_f1"]["values"]) == 2
    assert cv["macro_f1"]["mean"] == pytest.approx(np.mean(cv["macro_f1"]["values"]), abs=1e-4)
    assert len(result["worst_errors"]) <= 20
    for error in result["worst_errors"]:
        assert error["true"] != error["predicted"]
    assert result["data"]["model_trained_on_this_corpus"] is True


def test_metrics_on_a_hand_computed_example():
    Y = np.array([[1, 0], [0, 1], [0, 0], [0, 0]])
    P = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    m = multilabel_metrics(Y, P, ["a", "b"], ["positive", "positive", "hard_negative", "neutral"])
    assert m["per_tactic"]["a"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert m["per_tactic"]["b"]["f1"] == 0.0
    assert m["macro_f1"] == pytest.approx(0.3333, abs=1e-4)
    assert m["none_fpr"] == 0.5 and m["none_fpr_hard_negative"] == 1.0 and m["none_fpr_neutral"] == 0.0
    assert m["samples_f1"] == pytest.approx((1 + 0 + 0 + 1) / 4)
    assert confusion_counts(Y, P).tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 1]]


def test_expected_calibration_error():
    assert expected_calibration_error([0, 1, 0, 1], [0.0, 1.0, 0.0, 1.0]) == 0.0
    assert expected_calibration_error([0, 0, 0, 0], [0.8, 0.8, 0.8, 0.8]) == pytest.approx(0.8)


def test_thresholds_maximise_f1_and_calibration_is_monotone():
    p = np.array([[0.9], [0.8], [0.7], [0.3], [0.2], [0.1]])
    y = np.array([[1], [1], [0], [1], [0], [0]])
    threshold = tune_thresholds(p, y)[0]
    assert 0.2 < threshold <= 0.3  # taking the top four gives F1 0.857, the best cut
    scores = np.linspace(-3, 3, 40).reshape(-1, 1)
    labels = (scores[:, 0] + np.random.default_rng(0).normal(0, 1, 40) > 0).astype(int).reshape(-1, 1)
    for method in ("sigmoid", "isotonic"):
        out = ScoreCalibrator(method).fit(scores, labels).transform(scores)[:, 0]
        assert np.all(np.diff(out) >= -1e-12) and out.min() >= 0 and out.max() <= 1


def test_joint_thresholds_trade_recall_for_fewer_false_alarms():
    rng = np.random.default_rng(0)
    Y = (rng.random((600, 6)) < 0.08).astype(int)
    P = np.clip(Y * 0.25 + rng.random((600, 6)) * 0.75, 0, 1)
    none = ~Y.any(axis=1)

    def objective(thresholds, weight=1.0):
        hits = P >= thresholds
        m = multilabel_metrics(Y, hits.astype(int), [str(k) for k in range(6)])
        return m["macro_f1"] - weight * hits[none].any(axis=1).mean(), hits[none].any(axis=1).mean()

    per_tactic = tune_thresholds(P, Y)
    joint = tune_thresholds_jointly(P, Y, fpr_weight=1.0)
    assert objective(joint)[0] >= objective(per_tactic)[0]
    assert objective(joint)[1] < objective(per_tactic)[1]
    assert np.all(joint >= 0.05) and np.all(joint <= 0.95)


def test_keyword_baseline_uses_taxonomy_keywords():
    predicted = KeywordBaseline().fit().predict(["BRICS and the Global South", "a quiet day"])
    ids = load_taxonomy().ids
    assert predicted[0, ids.index("multipolar_order")] == 1 and predicted[1].sum() == 0


def _synthetic_records(n: int = 60) -> list[Record]:
    """Three clearly separable groups of texts from small word pools (seeded)."""
    rng = np.random.default_rng(0)
    pools = {("denazification",): "nazi regime banderite battalion swastika azov neo".split(),
             ("sanctions_backfire",): "sanctions boomerang europe freezes prices factories".split(),
             (): "weather football concert bakery tram festival garden".split()}
    records = []
    for labels, pool in pools.items():
        for i in range(n):
            words = rng.choice(pool, size=8).tolist() + rng.choice(["the", "a", "and"], size=3).tolist()
            records.append(Record(f"{labels[0] if labels else 'none'}-{i}", " ".join(words), labels,
                                  "x_post", "positive" if labels else "neutral"))
    return records


def test_audit_finds_flipped_labels():
    records = _synthetic_records()
    flipped_ids = {records[i].id for i in (3, 17, 40)}           # denazification texts
    flipped = [Record(r.id, r.text, (), r.genre, "neutral") if r.id in flipped_ids else r
               for r in records]
    issues = find_label_issues(flipped, load_taxonomy().ids,
                               params={"cv": 3, "min_df": 1, "gate": False})
    found = {issue["id"]: issue for issue in issues}
    assert flipped_ids <= set(found)
    for record_id in flipped_ids:
        assert {"tactic": "denazification", "given": 0}.items() <= found[record_id]["issues"][0].items()
    assert list(found)[:3] == sorted(flipped_ids, key=list(found).index)  # ranked first
    assert len(issues) <= 10


def test_agreement_per_tactic():
    tactics = ["a", "b"]
    first = {"1": ["a"], "2": ["a", "b"], "3": [], "4": ["b"]}
    second = {"1": ["a"], "2": ["a"], "3": [], "4": ["b"], "5": ["a"]}
    result = agreement(first, second, tactics)
    assert result["records"] == 4 and result["disagreements"] == ["2"]
    assert result["per_tactic"]["a"]["kappa"] == 1.0
    assert result["per_tactic"]["b"]["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["exact_set_match"] == 0.75


def test_learning_curve_writes_figures(small_corpus, tmp_path, caplog):
    caplog.set_level("INFO", logger="nlp")
    result = learning_curve(data_dir=small_corpus, out_dir=tmp_path, fractions=(0.5, 1.0),
                            params={"cv": 3, "max_char_features": 5000})
    sizes = [p["train_records"] for p in result["points"]]
    assert sizes == [200, 400]
    assert [r.getMessage() for r in caplog.records if r.name == "nlp.evaluation.learning_curve"] == [
        "training on 50% of train (200 records)", "training on 100% of train (400 records)"]
    # each point's model reports its folds too
    assert sum(r.getMessage() == "final fit on all 400 texts" for r in caplog.records) == 1
    assert (tmp_path / "learning_curve.png").exists() and "| 100% | 400 |" in (tmp_path / "learning_curve.md").read_text()


def test_compare_candidates(small_corpus, tmp_path):
    small = {"cv": 3, "max_char_features": 5000, "max_word_features": 5000}
    result = compare_candidates(["default", "tfidf-no-stance"], data_dir=small_corpus,
                                models_dir=tmp_path / "models", out_dir=tmp_path, overrides=small)
    assert set(result["candidates"]) == {"default", "tfidf-no-stance"}
    assert result["recommended"] in result["candidates"]
    for row in result["candidates"].values():
        assert 0 <= row["test_macro_f1"] <= 1 and row["snippets_per_second_one_core"] > 0
        assert row["size_mb"] > 0
    assert (tmp_path / "models" / "tfidf-no-stance" / "model.json").exists()
    assert "tfidf-no-stance" in (tmp_path / "candidates.md").read_text()
    trained = (tmp_path / "models" / "default" / "model.skops").stat().st_mtime_ns
    compare_candidates(["default"], data_dir=small_corpus, models_dir=tmp_path / "models",
                       out_dir=tmp_path, overrides=small)
    assert (tmp_path / "models" / "default" / "model.skops").stat().st_mtime_ns == trained


def test_datasheet_figures_match_the_corpus():
    readme = (DATA / "README.md").read_text()
    committed = readme[readme.index(START):readme.index(END) + len(END)]
    assert committed == render_stats(load_corpus(DATA)), "run `tactics datasheet`"


def test_committed_report_and_readme_figures_match_the_default_model():
    from .conftest import ROOT

    report = json.loads((ROOT / "evaluation" / "report.json").read_text())
    meta = json.loads((ROOT / "models" / "default" / "model.json").read_text())
    assert report["model"]["version"] == meta["model_version"]
    assert report["model"]["test"]["macro_f1"] == meta["metrics"]["test"]["macro_f1"]
    assert report["data"]["model_trained_on_this_corpus"] is True
    test = report["model"]["test"]
    readme = (ROOT / "README.md").read_text()
    assert (f"| default model | {test['macro_f1']:.3f} | {test['micro_f1']:.3f} | "
            f"{test['none_fpr_hard_negative']:.3f} |") in readme


def test_long_commands_print_stage_lines_unless_quiet(small_model, small_corpus, tmp_path):
    from typer.testing import CliRunner

    from nlp.cli import app

    version = json.loads((small_model / "model.json").read_text())["model_version"]
    args = ["evaluate", "--model", str(small_model), "--data", str(small_corpus), "--folds", "2"]
    loud = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "loud")])
    assert loud.exit_code == 0, loud.output
    stages = [line.split("s] ", 1)[1] for line in loud.stderr.splitlines()]
    assert stages[:3] == [
        f"scoring {version} on the 150 test records",
        "fitting the baselines; drawing the plots",
        "2-fold cross-validation on the 400 train records"]
    # each cross-validation model says how its own folds and final fit go
    assert sum(line.startswith("fold 3 of 3 scored") for line in stages) == 2
    assert sum(line.startswith("final fit on all 200 texts") for line in stages) == 2
    assert all(line.startswith("[") for line in loud.stderr.splitlines())
    # quiet: without the cross-validation, whose lines were checked above
    quiet = CliRunner().invoke(app, [*args[:-1], "1", "--out", str(tmp_path / "quiet"), "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.startswith("wrote ")


def test_candidates_train_the_english_model_only(multilingual_corpus, tmp_path):
    small = {"cv": 3, "max_char_features": 5000, "max_word_features": 5000}
    compare_candidates(["default"], data_dir=multilingual_corpus, models_dir=tmp_path / "models",
                       out_dir=tmp_path, overrides=small)
    candidate = tmp_path / "models" / "default"
    assert (candidate / "model.skops").exists() and not (candidate / "multilingual").exists()


def test_the_recommendation_compares_out_of_fold_figures_of_the_default_fold_count_only():
    rows = {"default": {"train_oof_macro_f1": 0.72, "train_oof_none_fpr": 0.06},
            "tfidf-3-folds": {"train_oof_macro_f1": 0.75, "train_oof_none_fpr": 0.07},
            "tfidf-char-3-5": {"train_oof_macro_f1": 0.73, "train_oof_none_fpr": 0.06},
            "spacy-ensemble": {"train_oof_macro_f1": 0.90, "train_oof_none_fpr": 0.01}}
    params = {name: CANDIDATES[name][1] for name in rows}
    assert recommend(rows, params) == "tfidf-char-3-5"
    assert recommend(rows, {**params, "tfidf-3-folds": {}}) == "tfidf-3-folds"
    everywhere = {name: {**p, "cv": 3} for name, p in params.items()}   # an override for all
    assert recommend(rows, everywhere) == "tfidf-3-folds"
    assert recommend({"spacy-ensemble": rows["spacy-ensemble"]},
                     {"spacy-ensemble": {}}) == "spacy-ensemble"     # nothing else to compare
