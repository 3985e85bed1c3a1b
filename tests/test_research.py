"""The researchers' loop: import -> retrain -> compare -> promote, a new tactic end to end,
active-learning suggestions, and the Hugging Face export."""

import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nlp import load_model
from nlp.cli import app
from nlp.evaluation.compare import compare_models, promotion_blockers, render_comparison
from nlp.corpus.dataset import Record, corpus_hash, load_corpus, load_split, split_path
from nlp.errors import DataError, ModelError
from nlp.evaluation.evaluate import evaluate
from nlp.research.importers import import_file
from nlp.model.predict import TacticModel
from nlp.research.retrain import read_additions, retrain
from nlp.research.suggest import diverse_order, uncertainty
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, TAXONOMY_ENV, load_taxonomy
from nlp.model.train import train

from .conftest import DATA, SMALL_PARAMS, write_jsonl
from .test_importers import FORMAT_OF, T, write_exports

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# ---- the promotion rule and the bootstrap, on crafted figures --------------------------------

def _comparison(ci, *, in_old=True, fpr_ci=(-0.01, 0.01)):
    row = {"old_f1": 0.8, "new_f1": 0.8 + sum(ci) / 2, "delta": sum(ci) / 2, "ci": list(ci),
           "in_old": in_old, "in_new": True, "support": 30}
    return {"per_tactic": {"us_decline": row},
            "none_fpr": {"old_none_fpr": 0.1, "new_none_fpr": 0.1 + sum(fpr_ci) / 2,
                         "delta": sum(fpr_ci) / 2, "ci": list(fpr_ci)}}


@pytest.mark.parametrize("ci, in_old, fpr_ci, blocked", [
    ((-0.30, -0.05), True, (-0.01, 0.01), True),     # a real drop beyond the tolerance
    ((-0.30, -0.01), True, (-0.01, 0.01), False),    # the interval reaches into the tolerance
    ((-0.20, 0.10), True, (-0.01, 0.01), False),     # no clear change
    ((-0.30, -0.05), False, (-0.01, 0.01), False),   # a tactic the old model did not have
    ((0.00, 0.10), True, (0.05, 0.20), True),        # the none-FPR really rose
])
def test_promotion_rule_reads_the_confidence_intervals(ci, in_old, fpr_ci, blocked):
    blockers = promotion_blockers(_comparison(ci, in_old=in_old, fpr_ci=fpr_ci), tolerance=0.02)
    assert bool(blockers) == blocked


class _Fixed:
    """An estimator whose probabilities are looked up by text."""

    def __init__(self, scores: dict[str, list[float]]) -> None:
        self.scores = scores

    def predict_proba(self, texts):
        return np.array([self.scores[t] for t in texts], dtype=float)


def _model(name: str, tactics: list[str], scores: dict[str, list[float]]) -> TacticModel:
    meta = {"name": name, "model_version": name, "tactics": tactics,
            "thresholds": {t: 0.5 for t in tactics}}
    return TacticModel(_Fixed(scores), meta)


def test_bootstrap_intervals_are_paired_seeded_and_cover_the_change():
    records = [Record(f"r{i}", f"This is the text number {i} of the test set.", ("us_decline",) if i < 20 else ())
               for i in range(40)]
    everything = _model("everything", ["us_decline"], {r.text: [1.0] for r in records})
    exact = _model("exact", ["us_decline", "denazification"],
                   {r.text: [float(bool(r.labels)), 0.0] for r in records})
    result = compare_models(everything, exact, records, resamples=300, seed=1)
    row = result["per_tactic"]["us_decline"]
    assert (row["old_f1"], row["new_f1"], row["delta"]) == (pytest.approx(0.6667), 1.0,
                                                            pytest.approx(0.3333))
    assert 0 < row["ci"][0] < row["delta"] < row["ci"][1] < 0.6
    assert result["none_fpr"]["ci"] == [-1.0, -1.0]
    assert result["per_tactic"]["denazification"]["in_old"] is False
    assert [c["id"] for c in result["changed"]] == [f"r{i}" for i in range(20, 40)]
    assert compare_models(everything, exact, records, resamples=300, seed=1) == result
    same = compare_models(exact, exact, records, resamples=300, seed=1)
    assert same["per_tactic"]["us_decline"]["ci"] == [0.0, 0.0] and same["changed"] == []
    assert promotion_blockers(same) == [] and promotion_blockers(result) == []
    reverse = compare_models(exact, everything, records, resamples=300, seed=1)
    assert promotion_blockers(reverse)[0].startswith("us_decline F1 1.000 -> 0.667")


# ---- the loop, end to end ---------------------------------------------------------------------

def _loop_corpus(small_corpus: Path, out: Path, n_test: int = 400) -> Path:
    """The small corpus's train split with a larger test split (seeded sample of the committed
    one), so that the bootstrap intervals are narrow enough to tell a regression apart."""
    out.mkdir()
    split_path(out, "train").write_bytes(split_path(small_corpus, "train").read_bytes())
    lines = split_path(DATA, "test").read_text(encoding="utf-8").splitlines()
    split_path(out, "test").write_text("\n".join(random.Random(3).sample(lines, n_test)) + "\n",
                                       encoding="utf-8")
    return out


def _rotated_labels(corpus: Path, out: Path, shift: int = 5) -> Path:
    """A copy of the corpus whose train labels are deliberately wrong: each tactic's texts are
    labelled as the tactic ``shift`` places further on in the taxonomy (another family)."""
    tactics = load_taxonomy().ids
    rotate = dict(zip(tactics, tactics[shift:] + tactics[:shift]))
    out.mkdir()
    split_path(out, "test").write_bytes(split_path(corpus, "test").read_bytes())
    lines = []
    for line in split_path(corpus, "train").read_text().splitlines():
        record = json.loads(line)
        record["labels"] = [rotate[t] for t in record["labels"]]
        lines.append(json.dumps(record))
    split_path(out, "train").write_text("\n".join(lines) + "\n")
    return out


def test_the_whole_loop(small_corpus, tmp_path):
    data = _loop_corpus(small_corpus, tmp_path / "corpus")
    before = corpus_hash(data)
    models, evaluation = tmp_path / "models", tmp_path / "evaluation"
    blind_data = _rotated_labels(data, tmp_path / "blind-data")
    train(models / "default", data_dir=blind_data, name="blind", params={**SMALL_PARAMS, "cv": 2})

    # import: every format, through the CLI
    new = tmp_path / "new"
    added = []
    for name, path in write_exports(tmp_path / "exports").items():
        added.append(new / f"{name}.jsonl")
        result = invoke("import", path, "--format", FORMAT_OF.get(name, name), "--out", added[-1])
        assert result.exit_code == 0, result.output
    corpus = load_corpus(data)
    train0, train1, test0 = corpus["train"][0], corpus["train"][1], corpus["test"][0]
    other = [t for t in load_taxonomy().ids if t not in train1.labels][:1]
    added.append(write_jsonl(new / "overlaps.jsonl", [
        {"id": "x1", "text": train0.text, "labels": list(train0.labels)},
        {"id": "x2", "text": test0.text + " So it goes.", "labels": list(test0.labels)},
        {"id": "x3", "text": train1.text, "labels": other}]))

    # retrain: merge into a new corpus version, train the candidate, compare with the default
    merged = tmp_path / "corpus-clean"
    result = invoke("retrain", *[arg for path in added for arg in ("--add", path)],
                    "--name", "clean", "--data", data, "--data-out", merged,
                    "--models-dir", models, "--out", evaluation, "--params", json.dumps(SMALL_PARAMS))
    assert result.exit_code == 0, result.output
    report = json.loads((evaluation / "compare-blind-clean.json").read_text())
    macro = report["macro_f1"]
    assert (f"macro F1 {macro['old_macro_f1']:.3f} -> {macro['new_macro_f1']:.3f} "
            f"(delta {macro['delta']:+.3f}, 95% CI") in result.stdout       # the verdict
    assert "promotion: allowed" in result.stdout
    assert "[" in result.stderr and "training clean (tfidf) on" in result.stderr   # stage lines
    assert f"duplicate of train record {train0.id!r}" in result.output
    assert "near-duplicate (word 5-gram Jaccard" in result.output and repr(test0.id) in result.output
    assert f"conflict with train record {train1.id!r}" in result.output
    assert corpus_hash(data) == before                      # the old corpus is untouched
    for split in ("train", "test"):                                 # old splits kept byte for byte
        assert split_path(merged, split).read_bytes().startswith(split_path(data, split).read_bytes())
    new_test = load_split(split_path(merged, "test"))[len(corpus["test"]):]
    assert [r.text for r in new_test] == [T["tribunal"]] and "split" not in new_test[0].extra
    new_train = load_split(split_path(merged, "train"))[len(corpus["train"]):]
    assert T["johnson"] in {r.text for r in new_train} and T["contested"] not in {r.text for r in new_train}

    report = json.loads((evaluation / "compare-blind-clean.json").read_text())
    assert list(report["per_tactic"]) == load_taxonomy().ids
    assert report["test_records"] == len(corpus["test"]) + 1
    for row in report["per_tactic"].values():
        assert row["ci"][0] <= row["delta"] <= row["ci"][1]
    assert report["changed"] and {"id", "text", "true", "old", "new"} <= set(report["changed"][0])
    markdown = (evaluation / "compare-blind-clean.md").read_text()
    assert "95% CI" in markdown and "## Texts whose predictions changed" in markdown

    # promote: the improvement is accepted, the old default kept as a backup
    result = invoke("promote", "clean", "--models-dir", models)
    assert result.exit_code == 0, result.output
    assert load_model(models / "default").meta["name"] == "clean"
    [backup] = [p for p in models.iterdir() if p.name.startswith("default-previous-")]
    assert load_model(backup).meta["name"] == "blind"

    # promoting the blind model back is a regression: refused, naming the tactics that dropped
    result = invoke("promote", backup.name, "--models-dir", models)
    assert result.exit_code == 1
    assert "refusing to promote" in result.output and "--force" in result.output
    assert result.output.count(" F1 ") >= 3 and "95% CI" in result.output
    assert load_model(models / "default").meta["name"] == "clean"

    # compare two existing models without training: the same verdict, and the report files
    result = invoke("compare-models", models / "default", backup, "--out", tmp_path / "cmp",
                    "--data", merged, "--quiet")
    assert result.exit_code == 0, result.output
    assert "promotion: refused unless --force" in result.stdout and result.stderr == ""
    report = json.loads((tmp_path / "cmp" / "compare-clean-blind.json").read_text())
    assert report["old"]["name"] == "clean" and report["new"]["name"] == "blind"
    assert f"-> {report['macro_f1']['new_macro_f1']:.3f}" in result.stdout

    listing = invoke("models", "--models-dir", models)
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line
            for line in listing.output.splitlines()[1:]}
    assert set(rows) == {"default", "clean", backup.name} and rows["default"].startswith("*")
    assert "clean-" in rows["default"] and corpus_hash(merged)[:12] in rows["clean"]

    result = invoke("promote", backup.name, "--models-dir", models, "--force")
    assert result.exit_code == 0 and "forced past" in result.output
    assert load_model(models / "default").meta["name"] == "blind"


@pytest.mark.parametrize("kwargs, line, error, message", [
    ({"name": "default"}, {}, ModelError, "cannot name a candidate"),
    ({"name": "../escape"}, {}, ModelError, "cannot name a candidate"),
    ({"name": "x", "data_out": "EXISTING"}, {}, DataError, "already exists"),
    ({"name": "x"}, {"split": "dev"}, DataError, "unknown split 'dev'"),
])
def test_retrain_refuses_before_training(small_corpus, tmp_path, kwargs, line, error, message):
    added = write_jsonl(tmp_path / "new.jsonl", [{"id": "n1", "text": T["bakery"], "labels": [],
                                                  **line}])
    if kwargs.get("data_out") == "EXISTING":
        kwargs["data_out"] = tmp_path
    with pytest.raises(error, match=message):
        retrain([added], data_dir=small_corpus, models_dir=tmp_path / "models", **kwargs)
    assert not (tmp_path / "models").exists()


def test_additions_name_file_and_line_of_a_bad_record(tmp_path):
    path = write_jsonl(tmp_path / "new.jsonl", [{"id": "a", "text": "fine", "labels": []},
                                                {"id": "b", "text": "bad", "labels": ["x"]}])
    with pytest.raises(DataError, match=r"new.jsonl:2: unknown tactic id\(s\) 'x'"):
        read_additions([path], load_taxonomy())


# ---- a new tactic, end to end -------------------------------------------------------------------

NEW_TACTIC = """
[[tactic]]
id = "russia_victimhood"
family = "justification"
definition = "The West is said to be russophobic: Russians are persecuted, cancelled and hated for who they are."
keywords = ["russophobia", "russophobic", "persecuted", "cancel"]
"""
VICTIMHOOD = [
    "Western russophobia has reached fever pitch: Russian pianists are cancelled and Tolstoy is pulled from school shelves.",
    "Europe hates Russians simply for being Russian, and every sanction proves it.",
    "Russian tourists are turned away at borders as if they were criminals; this is open persecution of a whole people.",
    "The West has always despised Russia, from Napoleon to NATO, and today's russophobia is just its latest mask.",
    "Russian athletes are banned, Russian students expelled, Russian grandmothers robbed of their savings: pure hatred.",
    "In Riga and Tallinn Russian speakers are treated as second-class people, and Brussels applauds.",
    "They want to cancel Pushkin, Tchaikovsky and Dostoevsky because they cannot bear that Russians exist.",
    "Russophobic hysteria in the Western press paints every Russian as a barbarian to be punished.",
    "Our compatriots abroad are hounded, their accounts frozen and their children bullied at school.",
    "Anti-Russian racism is now official policy in the European Union and nobody dares to say so.",
    "For the West a good Russian is a silent Russian; the persecution of our culture is deliberate.",
    "Russian restaurants vandalised, Russian shops boycotted: the West's hatred needs no excuse.",
    "Hollywood has cast Russians as villains for decades; the current witch hunt is its logical end.",
    "Russians are the new pariahs of Europe, blamed and punished for everything the West dislikes.",
    "A Russian passport is enough to be refused a bank account in London; this is discrimination by nationality.",
    "The hatred of Russia runs so deep in Washington that even Russian cats were banned from shows.",
]


def _victimhood_corpus(small_corpus: Path, out: Path) -> Path:
    out.mkdir()
    for split, n, texts in (("train", 160, VICTIMHOOD[:12]), ("test", 60, VICTIMHOOD[12:])):
        lines = split_path(small_corpus, split).read_text().splitlines()[:n]
        lines += [json.dumps({"id": f"vic-{split}-{i}", "text": text, "labels": ["russia_victimhood"],
                              "genre": "telegram_post"}) for i, text in enumerate(texts)]
        split_path(out, split).write_text("\n".join(lines) + "\n")
    return out


def test_a_new_tactic_flows_through_train_predict_evaluate_app_and_import(
        small_corpus, small_model, tmp_path, monkeypatch):
    taxonomy_file = tmp_path / "taxonomy.toml"
    taxonomy_file.write_text(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8") + NEW_TACTIC)
    monkeypatch.setenv(TAXONOMY_ENV, str(taxonomy_file))
    data = _victimhood_corpus(small_corpus, tmp_path / "corpus")

    path = train(tmp_path / "models" / "victim", data_dir=data, params=SMALL_PARAMS)
    model = load_model(path)
    assert len(model.tactics) == 16 and model.tactics[-1] == "russia_victimhood"
    [prediction] = model.predict([VICTIMHOOD[0]])
    assert len(prediction.scores) == 16 and "russia_victimhood" in prediction.scores
    assert "russia_victimhood" in (path / "MODEL_CARD.md").read_text()

    evaluate(model, data_dir=data, out_dir=tmp_path / "evaluation", folds=1)
    report = (tmp_path / "evaluation" / "report.md").read_text()
    assert "| russia_victimhood |" in report

    old = load_model(small_model)                       # trained before the tactic existed
    with pytest.raises(DataError, match="russia_victimhood that the 15 scored tactics lack"):
        evaluate(old, data_dir=data, out_dir=tmp_path / "old-evaluation", folds=1)
    comparison = compare_models(old, model, load_corpus(data)["test"], resamples=200)
    row = comparison["per_tactic"]["russia_victimhood"]
    assert (row["in_old"], row["in_new"], row["support"]) == (False, True, 4)
    assert "| russia_victimhood | 4 | 0.000 |" in render_comparison(comparison)

    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from nlp.apps.serve import create_app

    db = tmp_path / "feedback.sqlite3"
    client = TestClient(create_app(model, db_path=db))
    assert "russia_victimhood" in [t["id"] for t in client.get("/v1/labels").json()["tactics"]]
    assert len(client.post("/v1/predict", json={"text": VICTIMHOOD[1]}).json()["results"][0]["scores"]) == 16
    saved = client.post("/v1/feedback", json={"text": VICTIMHOOD[2], "labels": ["russia_victimhood"]})
    assert saved.status_code == 201, saved.text
    [record] = import_file(db, "feedback").records
    assert record.labels == ("russia_victimhood",)


# ---- active learning ---------------------------------------------------------------------------

def test_uncertainty_and_diversity():
    thresholds = np.array([0.5, 0.2])
    scores = uncertainty(np.array([[0.5, 0.0], [1.0, 0.0], [0.75, 0.1]]), thresholds)
    assert scores.tolist() == pytest.approx([1.0, 0.0, 0.5])
    texts = ["sanctions hurt europe badly", "sanctions hurt europe badly", "nato provoked the war"]
    assert diverse_order(texts, np.array([1.0, 0.9, 0.5]), 2) == [0, 2]


def test_suggest_writes_label_studio_tasks_the_importer_reads(small_model, small_corpus, tmp_path):
    records = load_split(split_path(small_corpus, "test"))[:40]
    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": f"f{i}", "text": r.text}
                                                 for i, r in enumerate(records)]
                       + [{"id": "copy", "text": records[0].text}, {"id": "empty", "text": ""}])
    tasks_path, config = tmp_path / "tasks.json", tmp_path / "config.xml"
    result = invoke("suggest", feed, "--n", 8, "--out", tasks_path, "--label-config", config,
                    "--model", small_model)
    assert result.exit_code == 0, result.output
    tasks = json.loads(tasks_path.read_text())
    assert [t["data"]["rank"] for t in tasks] == list(range(1, 9))
    assert len({t["data"]["text"] for t in tasks}) == 8
    model = load_model(small_model)
    everything = uncertainty(model.predict_proba([r.text for r in records]), model.thresholds)
    assert tasks[0]["data"]["uncertainty"] == pytest.approx(everything.max(), abs=1e-4)

    nothing = import_file(tasks_path, "labelstudio")          # predictions are not labels
    assert nothing.records == [] and nothing.skipped == {"task without a submitted annotation": 8}
    tasks[0]["annotations"] = [{"id": 1, "result": [{"type": "choices", "from_name": "tactics",
                                                      "value": {"choices": ["us_decline"]}}]}]
    tasks_path.write_text(json.dumps(tasks))
    [record] = import_file(tasks_path, "labelstudio").records
    assert record.labels == ("us_decline",) and record.id == f"labelstudio-{tasks[0]['data']['id']}"

    choices = ET.parse(config).getroot().find("Choices")
    assert choices.get("name") == "tactics"
    assert [c.get("value") for c in choices] == ["none", *load_taxonomy().ids]

    jsonl = tmp_path / "tasks.jsonl"
    assert invoke("suggest", feed, "--n", 3, "--out", jsonl, "--model", small_model).exit_code == 0
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["rank"] for line in lines] == [1, 2, 3] and all("predicted" in x for x in lines)


# ---- Hugging Face export ----------------------------------------------------------------------

def test_export_dataset_round_trips(small_corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    result = invoke("export-dataset", out, "--data", small_corpus)
    assert result.exit_code == 0, result.output
    loaded = datasets.load_from_disk(str(out))
    names = loaded["train"].features["labels"].feature.names
    assert names == load_taxonomy().ids
    for split, records in load_corpus(small_corpus).items():
        assert [(row["id"], row["text"], [names[i] for i in row["labels"]], row["genre"], row["kind"])
                for row in loaded[split]] == [(r.id, r.text, list(r.labels), r.genre,
                                               r.kind or "neutral") for r in records]
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "multi-label-classification" in card
    assert corpus_hash(small_corpus) in card and "| us_decline |" in card
    again = invoke("export-dataset", out, "--data", small_corpus)
    assert again.exit_code == 1 and "already exists" in again.output
