"""Training, the model directory, and loading it safely."""

import json
import pickle
import random
import re
import shutil

import numpy as np
import pytest
import skops.io as sio
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from typer.testing import CliRunner

from nlp import load_model
from nlp.cli import app
from nlp.model.artifact import META_FILE, MODEL_FILE
from nlp.model import classifier
from nlp.model.augment import add_typos, typo_variants
from nlp.model.classifier import TacticClassifier, out_of_fold_scores
from nlp.corpus.dataset import corpus_hash, in_language, label_matrix, load_corpus
from nlp.errors import ModelError
from nlp.taxonomy import load_taxonomy
from nlp.model.train import train

from .conftest import DATA, ROOT, SMALL_PARAMS


def test_model_directory_is_self_describing(small_model, small_corpus):
    meta = json.loads((small_model / META_FILE).read_text())
    assert meta["tactics"] == load_taxonomy().ids
    assert set(meta["thresholds"]) == set(meta["tactics"])
    assert all(0.05 <= v <= 0.95 for v in meta["thresholds"].values())
    assert meta["data"]["corpus_sha256"] == corpus_hash(small_corpus)
    assert {"scikit-learn", "numpy", "skops", "python"} <= set(meta["versions"])
    assert 0.0 <= meta["metrics"]["test"]["macro_f1"] <= 1.0
    assert json.loads((small_model / "config.json").read_text())["params"] == SMALL_PARAMS
    card = (small_model / "MODEL_CARD.md").read_text()
    for section in ("Intended use", "Out-of-scope use", "Training data", "Evaluation data",
                    "Metrics", "Ethical considerations", "Caveats"):
        assert f"## {section}" in card
    assert meta["model_version"] in card


def test_same_data_and_seed_give_identical_predictions(small_model, small_corpus, tmp_path):
    again = train(tmp_path / "again", data_dir=small_corpus, params=SMALL_PARAMS, seed=0)
    texts = [r.text for r in load_corpus(small_corpus)["test"]]
    first, second = load_model(small_model), load_model(again)
    assert np.array_equal(first.predict_proba(texts), second.predict_proba(texts))
    assert first.meta["thresholds"] == second.meta["thresholds"]


def test_predict_applies_tuned_thresholds_not_one_half(small_model, small_corpus):
    model = load_model(small_model)
    texts = [r.text for r in load_corpus(small_corpus)["test"]]
    proba = model.estimator.predict_proba(texts)
    predicted = model.estimator.predict(texts)
    assert np.array_equal(predicted, (proba >= model.thresholds).astype(np.int8))
    assert not np.allclose(model.thresholds, 0.5)
    # the one-vs-rest pipeline alone would cut raw scores at 0: a different decision somewhere
    assert not np.array_equal(predicted, model.estimator.pipeline_.predict(texts))


def test_classifier_overfits_a_tiny_set_and_round_trips(tmp_path):
    texts = ["Kyiv walked out of the Istanbul talks on orders from London.",
             "London told Kyiv to abandon the peace deal in Istanbul, everyone knows it.",
             "Sanctions hit Europe harder than Russia: German factories close.",
             "Europe freezes while the Russian economy grows despite sanctions.",
             "Local bakery wins regional bread award.",
             "The river festival returns to Dnipro this weekend."] * 3
    Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0, 0], [0, 0]] * 3)
    model = TacticClassifier(cv=3, min_df=1).fit(texts, Y)
    assert np.array_equal(model.predict(texts[:6]), Y[:6])
    sio.dump(model, tmp_path / "m.skops")
    restored = sio.load(tmp_path / "m.skops", trusted=sio.get_untrusted_types(file=tmp_path / "m.skops"))
    assert np.array_equal(restored.predict_proba(texts), model.predict_proba(texts))


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _copy_model(small_model, tmp_path):
    return shutil.copytree(small_model, tmp_path / "copy")


def test_a_pickle_in_place_of_the_model_is_refused_without_running(small_model, tmp_path):
    target = _copy_model(small_model, tmp_path)
    marker = tmp_path / "pwned"
    (target / MODEL_FILE).write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ModelError, match="not a skops model file"):
        load_model(target)
    assert not marker.exists()


class Unvetted:  # a type no model of this project contains
    def __init__(self):
        self.n_outputs_ = 15


def test_a_skops_file_with_untrusted_types_is_refused(small_model, tmp_path):
    target = _copy_model(small_model, tmp_path)
    sio.dump(Unvetted(), target / MODEL_FILE)
    with pytest.raises(ModelError, match="untrusted types.*Unvetted"):
        load_model(target)


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / META_FILE).unlink(), "model.json is missing"),
    (lambda d: (d / MODEL_FILE).unlink(), "model.skops is missing"),
    (lambda d: (d / META_FILE).write_text("{"), "not valid JSON"),
    (lambda d: (d / MODEL_FILE).write_bytes(b"PK\x03\x04garbage"), "damaged|not a skops|could not"),
])
def test_broken_model_directories_give_clear_errors(small_model, tmp_path, damage, message):
    target = _copy_model(small_model, tmp_path)
    damage(target)
    with pytest.raises(ModelError, match=message):
        load_model(target)


def test_a_model_that_restores_but_cannot_score_is_refused(small_model, tmp_path):
    target = _copy_model(small_model, tmp_path)
    stale = TacticClassifier()
    stale.n_outputs_ = 15  # looks complete, but was never fitted (like a file from another release)
    sio.dump(stale, target / MODEL_FILE)
    with pytest.raises(ModelError, match="cannot score with this release.*retrain"):
        load_model(target)


def _edit_meta(directory, **changes):
    meta = json.loads((directory / META_FILE).read_text())
    meta.update(changes)
    (directory / META_FILE).write_text(json.dumps(meta))


def test_incompatible_versions_are_refused_and_foreign_tactics_noted(small_model, tmp_path):
    target = _copy_model(small_model, tmp_path)
    _edit_meta(target, format_version=99)
    with pytest.raises(ModelError, match="format version 99 is not supported"):
        load_model(target)
    _edit_meta(target, format_version=1, tactics=["russophobia"] + load_taxonomy().ids[1:],
               thresholds={t: 0.5 for t in ["russophobia"] + load_taxonomy().ids[1:]})
    loaded = load_model(target)   # a codebook without the model's ids: a note, not an error
    assert loaded.tactics[0] == "russophobia"
    assert "russophobia are not in the codebook in use" in loaded.notes[0]
    assert "taxonomy.toml" in loaded.notes[0]
    _edit_meta(target, tactics=load_taxonomy().ids[:3],
               thresholds={t: 0.5 for t in load_taxonomy().ids})
    with pytest.raises(ModelError, match="scores 15 tactics but model.json lists 3"):
        load_model(target)
    with pytest.raises(ModelError, match="model directory not found"):
        load_model(tmp_path / "nowhere")


def test_the_default_model_was_trained_on_the_committed_corpus():
    meta = json.loads((ROOT / "models" / "default" / META_FILE).read_text())
    assert meta["data"]["corpus_sha256"] == corpus_hash(DATA), (
        "models/default is stale: retrain it with `tactics train`")
    model = load_model(ROOT / "models" / "default")
    test = in_language(load_corpus(DATA)["test"], "en")   # the English model's own figures
    Y = label_matrix(test, model.tactics)
    predicted = (model.predict_proba([r.text for r in test]) >= model.thresholds).astype(int)
    from nlp.model.metrics import multilabel_metrics
    assert multilabel_metrics(Y, predicted, model.tactics)["macro_f1"] == pytest.approx(
        meta["metrics"]["test"]["macro_f1"], abs=1e-4)


def test_default_model_is_small():
    size = sum(p.stat().st_size for p in (ROOT / "models" / "default").iterdir())
    assert size < 15 * 2**20


def _set_threshold(value):
    def damage(directory):
        text = (directory / META_FILE).read_text()
        meta = json.loads(text)
        tactic = meta["tactics"][0]
        meta["thresholds"][tactic] = "PLACEHOLDER"
        (directory / META_FILE).write_text(json.dumps(meta).replace('"PLACEHOLDER"', value))
    return damage


def _nested(levels):
    def damage(directory):
        meta = json.loads((directory / META_FILE).read_text())
        meta["metrics"]["deep"] = "PLACEHOLDER"
        text = json.dumps(meta).replace('"PLACEHOLDER"', "[" * levels + "]" * levels)
        (directory / META_FILE).write_text(text)
    return damage


def _edited(**changes):
    return lambda directory: _edit_meta(directory, **changes)


@pytest.mark.parametrize("damage, message", [
    (_set_threshold("Infinity"), "Infinity is not a number JSON allows"),
    (_set_threshold("NaN"), "NaN is not a number JSON allows"),
    (_set_threshold("1e999"), "the threshold of talks_good_faith is inf; thresholds must be "
                              "numbers from 0 to 1"),
    (_set_threshold("1.5"), "the threshold of talks_good_faith is 1.5"),
    (_set_threshold("-0.1"), "the threshold of talks_good_faith is -0.1"),
    (_set_threshold('"0.5"'), "the threshold of talks_good_faith is '0.5'"),
    (_set_threshold("true"), "the threshold of talks_good_faith is True"),
    (_nested(100_000), "nested too deeply"),
    (_nested(40), "nested too deeply"),
    (_edited(tactics="us_decline"), "'tactics' must be a non-empty list of distinct tactic ids"),
    (_edited(tactics=[]), "'tactics' must be a non-empty list"),
    (_edited(thresholds=[0.5]), "'thresholds' must be an object"),
    (_edited(thresholds={"talks_good_faith": 0.5}), "'thresholds' has no threshold for "
                                                    "blame_talks_failure"),
    (_edited(model_version=""), "'model_version' must be a non-empty string"),
    (_edited(storage="pickle"), "'storage' must be 'skops' or 'spacy'"),
    (_edited(families=["x"]), "'families' must be an object of strings"),
    (_edited(languages="en"), "'languages' must be a list of language codes"),
    (lambda d: (d / META_FILE).write_text("[1, 2]"), "must hold a JSON object, not list"),
])
def test_model_json_is_checked_against_its_schema(small_model, tmp_path, damage, message):
    target = _copy_model(small_model, tmp_path)
    damage(target)
    with pytest.raises(ModelError, match=re.escape(message)) as refused:
        load_model(target)
    assert str(refused.value).startswith(str(target / META_FILE))
    assert "\n" not in str(refused.value)
    result = CliRunner().invoke(app, ["predict", "a text", "--model", str(target)])
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_model_json_may_carry_keys_of_newer_models(small_model, tmp_path):
    target = _copy_model(small_model, tmp_path)
    _edit_meta(target, languages=["en", "ru", "uk"], encoder="a-multilingual-encoder",
               metrics={"test": {"by_language": {"ru": {"macro_f1": 0.61}}}},
               anything_else={"new": [1, 2, 3]})
    _set_threshold("1")(target)              # the edges of [0, 1] are allowed
    assert load_model(target).meta["languages"] == ["en", "ru", "uk"]


def _english(corpus, split, n=None):
    records = in_language(load_corpus(corpus)[split], "en")[:n]
    return [r.text for r in records], label_matrix(records, load_taxonomy().ids)


def test_features_are_built_once_and_workers_give_the_same_model(small_corpus, monkeypatch):
    texts, Y = _english(small_corpus, "train", 250)
    monkeypatch.setattr(classifier, "PARALLEL_MIN_NNZ", 0)   # workers even for a small matrix
    built = []
    make_features = TacticClassifier.make_features

    def counted(self):
        union = make_features(self)
        fit_transform = union.fit_transform
        union.fit_transform = lambda X, *args, **kwargs: built.append(len(X)) or fit_transform(X)
        return union

    monkeypatch.setattr(TacticClassifier, "make_features", counted)
    one = TacticClassifier(**SMALL_PARAMS, n_jobs=1).fit(texts, Y)
    copies = len(typo_variants(texts, one.typo_share, one.random_state)[0])
    assert copies > 0
    assert built == [len(texts) + copies]   # one vocabulary for the folds and the final fit
    two = TacticClassifier(**SMALL_PARAMS, n_jobs=2).fit(texts, Y)
    assert two.pipeline_.named_steps["features"].n_jobs is None   # scoring stays in-process
    assert np.array_equal(one.predict_proba(texts), two.predict_proba(texts))
    assert np.array_equal(one.thresholds_, two.thresholds_)


def test_thresholds_keep_the_dev_split_false_alarms_within_the_budget(small_corpus):
    texts, Y = _english(small_corpus, "train")
    dev_texts, dev_Y = _english(small_corpus, "test")
    none = ~dev_Y.any(axis=1)

    def dev_fpr(model):
        return float((model.predict_proba(dev_texts)[none] >= model.thresholds_).any(axis=1).mean())

    free = TacticClassifier(**SMALL_PARAMS, fpr_budget=None).fit(texts, Y, dev=(dev_texts, dev_Y))
    assert free.fpr_weight_ == free.fpr_weight
    budget = dev_fpr(free) / 2
    assert budget > 0.02
    capped = TacticClassifier(**SMALL_PARAMS, fpr_budget=budget).fit(texts, Y, dev=(dev_texts, dev_Y))
    assert capped.fpr_weight_ > free.fpr_weight_
    assert dev_fpr(capped) <= budget
    assert (capped.thresholds_ >= free.thresholds_ - 1e-9).sum() > len(capped.thresholds_) / 2


def test_typo_variants_are_seeded_copies_of_a_share_of_the_texts():
    texts = [f"Negotiators in Istanbul discussed the grain corridor again on day {n}." for n in range(400)]
    sources, variants = typo_variants(texts, 0.25, random_state=3)
    assert 70 <= len(sources) <= 130 and len(set(sources.tolist())) == len(sources)
    assert sum(v != texts[i] for i, v in zip(sources, variants)) > len(sources) / 2
    again = typo_variants(texts, 0.25, random_state=3)
    assert np.array_equal(sources, again[0]) and variants == again[1]
    assert typo_variants(texts, 0.0)[1] == []
    assert add_typos("Zelensky", random.Random(0), rate=1.0) != "Zelensky"


class _Recorder(ClassifierMixin, BaseEstimator):
    """Remembers which source rows (column 0 holds each row's source id) each fit saw."""

    seen: list = []

    def fit(self, X, Y):
        _Recorder.seen.append(np.asarray(X[:, 0].todense()).ravel().astype(int).tolist())
        return self

    def decision_function(self, X):
        return np.zeros((X.shape[0], 2))


def test_typo_copies_join_the_folds_of_their_source_and_are_never_held_out():
    n = 30
    X = sparse.csr_matrix(np.arange(n, dtype=float).reshape(-1, 1))
    sources = np.array([2, 5, 11, 17, 29])
    extra = (sparse.csr_matrix(sources.astype(float).reshape(-1, 1)), sources)
    Y = np.tile([[1, 0], [0, 1]], (n // 2, 1))
    _Recorder.seen = []
    oof = out_of_fold_scores(_Recorder(), X, Y, cv=3, random_state=0, extra=extra)
    assert oof.shape == (n, 2) and len(_Recorder.seen) == 3
    for seen in _Recorder.seen:   # rows of a fit are its own sources and their copies, never others
        held = set(range(n)) - set(seen)
        assert len(held) == n // 3 and held.isdisjoint(seen)
        assert len(seen) == len(set(seen)) + len(set(seen) & set(sources.tolist()))
