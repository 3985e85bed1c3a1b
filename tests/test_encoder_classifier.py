"""The multilingual estimator's n-gram block, tested without the encoder: embeddings that carry
nothing leave the n-grams as the only signal, so what the model learns there is theirs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from nlp.corpus.dataset import label_matrix, load_corpus
from nlp.model.calibration import FPR_WEIGHT_STEPS
from nlp.model.encoder_classifier import EncoderClassifier
from nlp.taxonomy import load_taxonomy


class BlankEncoder:
    """Every text gets the same unit vector: an encoder that tells the model nothing."""

    spec, dim = "blank", 8

    def encode(self, texts, *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 1.0
        return out


@pytest.fixture(scope="module")
def foreign():
    corpus = load_corpus()
    pick = lambda split, n: [r for lang in ("ru", "uk", "de")
                             for r in [r for r in corpus[split] if r.lang == lang][:n]]
    return pick("train", 120), pick("test", 50), load_taxonomy().ids


def _fit(records, tactics, monkeypatch, *, dev=None, **params):
    monkeypatch.setattr("nlp.model.encoder_classifier.get_encoder", lambda spec: BlankEncoder())
    return EncoderClassifier(encoder="blank", cv=3, **params).fit(
        [r.text for r in records], label_matrix(records, tactics), dev=dev)


@pytest.fixture(scope="module")
def fitted(foreign):
    """The default estimator (n-grams and native distance cues) on the foreign draw."""
    train, _, tactics = foreign
    with pytest.MonkeyPatch.context() as patch:
        yield _fit(train, tactics, patch)


def test_the_ngram_block_tells_tactic_texts_from_hard_negatives(foreign, fitted, monkeypatch):
    train, test, tactics = foreign
    truth = label_matrix(test, tactics).any(axis=1)
    texts = [r.text for r in test]
    monkeypatch.setattr("nlp.model.encoder_classifier.get_encoder", lambda spec: BlankEncoder())
    without = _fit(train, tactics, monkeypatch, lexical=0.0).predict_proba(texts).max(axis=1)
    assert roc_auc_score(truth, fitted.predict_proba(texts).max(axis=1)) > 0.7
    assert np.ptp(without) < 1e-6                      # blank embeddings: one score for all


def test_a_model_saved_before_the_ngram_block_still_scores(foreign, monkeypatch):
    train, test, tactics = foreign
    model = _fit(train, tactics, monkeypatch, lexical=0.0)
    expected = model.predict_proba([r.text for r in test[:5]])
    del model.lexical                                  # as an older model file loads
    assert np.array_equal(model.predict_proba([r.text for r in test[:5]]), expected)


def test_native_distance_cues_give_the_refuted_words_their_own_features(fitted):
    vocabulary = dict(fitted.ngrams_.transformer_list)["distanced"].vectorizer_.vocabulary_
    # words of sentences that keep a claim at arm's length, in each language
    assert {"d_по", "d_нібито", "d_angeblich"} <= set(vocabulary)     # "по данным", ...
    assert EncoderClassifier(distanced=False).get_params()["distanced"] is False


def test_a_dev_split_of_hard_negatives_raises_the_thresholds(foreign, fitted, monkeypatch):
    train, test, tactics = foreign
    hard = [r for r in test if r.kind == "hard_negative"]
    dev = ([r.text for r in hard], label_matrix(hard, tactics))
    tuned = _fit(train, tactics, monkeypatch, dev=dev)
    assert np.array_equal(tuned.oof_f1_.shape, fitted.oof_f1_.shape)
    assert np.any(tuned.thresholds_ > fitted.thresholds_)
    alarms = lambda model: (model.predict_proba(dev[0]) >= model.thresholds_).any(axis=1).mean()
    assert alarms(tuned) < alarms(fitted)


def test_thresholds_keep_the_dev_split_false_alarms_within_the_budget(foreign, monkeypatch):
    train, test, tactics = foreign
    dev = ([r.text for r in test], label_matrix(test, tactics))
    none = ~dev[1].any(axis=1)

    def dev_fpr(model):
        return float((model.predict_proba(dev[0])[none] >= model.thresholds_).any(axis=1).mean())

    free = _fit(train, tactics, monkeypatch, dev=dev, fpr_budget=None)
    assert free.fpr_weight_ == free.fpr_weight
    budget = dev_fpr(free) / 2
    assert budget > 0.02
    capped = _fit(train, tactics, monkeypatch, dev=dev, fpr_budget=budget)
    assert capped.fpr_weight_ > free.fpr_weight_
    assert dev_fpr(capped) < dev_fpr(free)
    # raised until within the budget, or as far as the steps go
    assert dev_fpr(capped) <= budget or capped.fpr_weight_ == free.fpr_weight * FPR_WEIGHT_STEPS[-1]
