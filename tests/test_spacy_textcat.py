"""The spaCy architecture: it learns, it is reproducible, and its model directory round-trips
through spaCy's own format without ever unpickling anything."""

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlp import load_model
from nlp.model.artifact import META_FILE, SPACY_DIR
from nlp.errors import ModelError
from nlp.model.spacy_textcat import STATE_FILE, SpacyTextcatClassifier
from nlp.taxonomy import load_taxonomy
from nlp.model.train import train

# Three made-up categories with their own vocabulary; the last two texts carry none.
TINY = [
    ("Kyiv walked out of the Istanbul talks on orders from London.", [1, 0, 0]),
    ("London ordered Kyiv to abandon the Istanbul peace deal.", [1, 0, 0]),
    ("The Istanbul deal died because London told Kyiv to fight on.", [1, 0, 0]),
    ("Western handlers in London scuttled the Istanbul agreement.", [1, 0, 0]),
    ("Sanctions hurt Europe more than Russia: German factories close.", [0, 1, 0]),
    ("European industry freezes while sanctions boomerang on Berlin.", [0, 1, 0]),
    ("Sanctions backfire: Europe pays triple for gas, factories shut.", [0, 1, 0]),
    ("German plants close as sanctions wreck the European economy.", [0, 1, 0]),
    ("NATO expanded east and cornered Russia, leaving no choice.", [0, 0, 1]),
    ("NATO broke its promise not to move east, provoking Moscow.", [0, 0, 1]),
    ("Eastward NATO expansion provoked the war, Moscow had to respond.", [0, 0, 1]),
    ("NATO bases on the border forced Russia to defend itself.", [0, 0, 1]),
    ("London pushed Kyiv out of Istanbul and sanctions now ruin Europe.", [1, 1, 0]),
    ("NATO expansion and sanctions both aimed to weaken Russia.", [0, 1, 1]),
    ("Istanbul talks failed after London meddled, and NATO crept east.", [1, 0, 1]),
    ("The city council approved a new cycling lane on Monday.", [0, 0, 0]),
    ("Heavy rain is expected across the region this weekend.", [0, 0, 0]),
    ("The museum reopens after a two-year renovation.", [0, 0, 0]),
    ("Local farmers report a record apple harvest.", [0, 0, 0]),
    ("The football club signed a new goalkeeper.", [0, 0, 0]),
]
TEXTS = [text for text, _ in TINY]
Y = np.array([labels for _, labels in TINY], dtype=np.int8)
UNSEEN = ["Why did Kyiv leave Istanbul? London.", "Europe's factories fall to its own sanctions."]
TINY_PARAMS = {"max_steps": 300, "refit": True, "dev_fraction": 0.25}


def fit_tiny(**params) -> SpacyTextcatClassifier:
    return SpacyTextcatClassifier(**{**TINY_PARAMS, **params}).fit(TEXTS, Y)


@pytest.fixture(scope="module")
def tiny() -> SpacyTextcatClassifier:
    return fit_tiny()


@pytest.fixture(scope="module")
def spacy_model(small_corpus, tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("models") / "spacy", data_dir=small_corpus,
                 architecture="spacy", params={"max_steps": 200}, seed=0)


@pytest.mark.parametrize(("architecture", "steps"), [("bow", 300), ("ensemble", 150)])
def test_network_overfits_a_tiny_set(architecture, steps):
    # refit=True: the final network has seen all twenty texts and must be sure of each of them
    model = fit_tiny(architecture=architecture, max_steps=steps)
    network = 1 / (1 + np.exp(-model.decision_function(TEXTS)[:, :3]))
    assert (network[Y == 1] > 0.9).all() and (network[Y == 0] < 0.1).all()
    assert model.predict_proba(TEXTS).shape == (20, 3) and model.n_outputs_ == 3
    assert np.array_equal(model.predict(TEXTS),
                          (model.predict_proba(TEXTS) >= model.thresholds_).astype(np.int8))


def test_save_and_load_give_identical_probabilities(tiny, tmp_path):
    tiny.save_dir(tmp_path / "model")
    loaded = SpacyTextcatClassifier.load_dir(tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(TEXTS + UNSEEN), tiny.predict_proba(TEXTS + UNSEEN))
    assert np.array_equal(loaded.thresholds_, tiny.thresholds_)
    assert loaded.get_params() == tiny.get_params()
    assert not hasattr(loaded, "pipeline_")  # word evidence reads linear models only


def test_same_seed_same_probabilities_other_seed_other_dev_split(tiny):
    again, other = fit_tiny(), fit_tiny(random_state=1)
    assert np.array_equal(again.predict_proba(UNSEEN), tiny.predict_proba(UNSEEN))
    assert np.array_equal(again.thresholds_, tiny.thresholds_)
    assert not np.allclose(other.predict_proba(UNSEEN), tiny.predict_proba(UNSEEN))


def test_bad_parameters_are_refused_before_training():
    with pytest.raises(ValueError, match="architecture"):
        fit_tiny(architecture="transformer")
    with pytest.raises(ValueError, match="labels"):
        fit_tiny(labels=["a", "a", "b"])


def test_train_writes_a_spacy_model_dir_that_loads_and_predicts(spacy_model):
    meta = json.loads((spacy_model / META_FILE).read_text())
    assert meta["storage"] == "spacy" and meta["architecture"] == "spacy"
    assert 0.0 <= meta["metrics"]["test"]["macro_f1"] <= 1.0
    assert not list(spacy_model.rglob("*.skops")) and not list(spacy_model.rglob("*.pkl"))
    model = load_model(spacy_model)
    assert model.tactics == load_taxonomy().ids
    [result] = model.predict(["Kyiv walked out of the Istanbul talks on orders from London."])
    assert set(result.scores) == set(model.tactics)
    text = "London told Kyiv to quit. The talks ended."
    [found] = model._evidence([text], [np.array([0])], model.predict_proba([text], long_texts=False), None)
    evidence = found[model.tactics[0]]
    assert evidence["phrases"] == []  # no word evidence without a linear pipeline_
    sentence = evidence["sentence"]
    assert text[sentence["start"]:sentence["end"]] == sentence["text"]


class _Payload:
    """Creates ``marker`` when unpickled: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_crafted_pickle_in_the_model_dir_is_never_executed(spacy_model, tmp_path):
    check = tmp_path / "payload-works"
    pickle.loads(pickle.dumps(_Payload(check)))
    assert check.exists()  # the payload does run when something unpickles it

    marker = tmp_path / "executed"
    model_dir = shutil.copytree(spacy_model, tmp_path / "model")
    payload = pickle.dumps(_Payload(marker))
    for name in ("model.skops", "model.pkl", f"{SPACY_DIR}/model.pkl", f"{SPACY_DIR}/tactics.pkl"):
        (model_dir / name).write_bytes(payload)
    load_model(model_dir).predict(["NATO expanded east and cornered Russia."])
    weights = next(p for p in (model_dir / SPACY_DIR).glob("textcat_*/model"))
    weights.write_bytes(payload)  # spaCy's weights replaced by the pickle: refused, not run
    with pytest.raises(ModelError):
        load_model(model_dir)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["no state", "bad json", "no spacy dir"])
def test_a_damaged_spacy_dir_raises_model_error(spacy_model, tmp_path, damage):
    model_dir = shutil.copytree(spacy_model, tmp_path / "model")
    state = model_dir / SPACY_DIR / STATE_FILE
    if damage == "no state":
        state.unlink()
    elif damage == "bad json":
        state.write_text("{not json")
    else:
        shutil.rmtree(model_dir / SPACY_DIR)
    with pytest.raises(ModelError):
        load_model(model_dir)
