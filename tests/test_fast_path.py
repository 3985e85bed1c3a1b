"""The fast path (one feature pass, fused weights, evidence from the same rows) against the
scikit-learn pipeline it replaces: the same scores, labels and evidence."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import strip_accents_unicode

from nlp.corpus.dataset import in_language, label_matrix, load_split
from nlp.model.classifier import TacticClassifier
from nlp.model.features import (CUE_HINTS, DISTANCE_HINTS, STANCE_CUES, _cue_patterns,
                                 clean_feed_text, distance_cue, fold)
from nlp.model.fastscore import LinearScorer, strip_accents, tfidf_rows
from nlp.model.predict import TacticModel, load_model

from .conftest import DATA, ROOT

ODD_TEXTS = ["  Leading and   trailing\tspaces \n", "Ça, c'est «la» naïveté — ſo‑called!",
             "RT @user: #NATO provoked it https://t.co/x 🔥", "x", "ЯКЩО ЦЕ кирилиця", "a\u00a0b\u2003c"]


@pytest.fixture(scope="module")
def shipped() -> tuple[TacticModel, TacticModel]:
    fast = load_model(ROOT / "models" / "default")
    return fast, TacticModel(fast.estimator, fast.meta, fast.path, fast=False)


@pytest.fixture(scope="module")
def english_test() -> list[str]:
    return [r.text for r in in_language(load_split(DATA / "test.jsonl"), "en")]


def test_the_shipped_model_takes_the_fast_path(shipped):
    fast, slow = shipped
    assert fast.scorer is not None and slow.scorer is None


def test_fast_path_scores_labels_and_evidence_match_the_pipeline_on_the_test_split(shipped,
                                                                                  english_test):
    fast, slow = shipped
    assert np.abs(fast.predict_proba(english_test) - slow.predict_proba(english_test)).max() < 1e-6
    quick, reference = fast.predict(english_test), slow.predict(english_test)
    assert sum(bool(p.labels) for p in reference) > len(english_test) // 10   # evidence is tested
    for a, b in zip(quick, reference):
        assert a.labels == b.labels and a.uncertain == b.uncertain
        assert a.evidence == b.evidence
        assert a.scores.keys() == b.scores.keys()
        assert all(abs(a.scores[t] - b.scores[t]) < 1e-6 for t in a.scores)


def test_fast_counts_are_the_vectorizers_own(shipped, english_test):
    scorer = shipped[0].scorer
    texts = english_test[:300] + ODD_TEXTS
    vectorizers = [t for _, t in scorer.blocks if hasattr(t, "build_analyzer")]
    assert {v.analyzer for v in vectorizers} == {"word", "char_wb"}
    for vectorizer in vectorizers:
        ours, theirs = tfidf_rows(vectorizer, texts, {}), vectorizer.transform(texts)
        assert ours.dtype == theirs.dtype
        assert (ours != theirs).nnz == 0
        assert np.array_equal(ours.indices, theirs.indices) and np.array_equal(ours.indptr, theirs.indptr)


def test_feature_rows_are_the_unions_own_bit_for_bit(shipped, english_test):
    """The word and character blocks share one preparation of each text: the rows must still be
    exactly what the fitted feature union gives."""
    fast = shipped[0]
    texts = english_test[:300] + ODD_TEXTS
    union = fast.estimator.pipeline_.named_steps["features"]
    ours = fast.scorer.features(texts)
    theirs = union.transform([clean_feed_text(t) for t in texts]).tocsr()
    assert ours.shape == theirs.shape and (ours != theirs).nnz == 0


def test_accents_are_stripped_as_scikit_learn_strips_them():
    texts = _corpus_texts() + ODD_TEXTS + ["e\u0301te\u0301 ﬁn ½ Ĳ", "й ё ї ґ", "ǅ x\u0308\u0301"]
    assert [strip_accents(t.lower()) for t in texts] == [
        strip_accents_unicode(t.lower()) for t in texts]


def test_odd_texts_score_alike(shipped):
    fast, slow = shipped
    assert np.abs(fast.predict_proba(ODD_TEXTS) - slow.predict_proba(ODD_TEXTS)).max() < 1e-6


@pytest.mark.parametrize("gate, calibration", [(False, "isotonic"), (True, "isotonic")])
def test_fused_weights_reproduce_other_calibrations(small_corpus, gate, calibration):
    records = load_split(small_corpus / "train.jsonl")[:160]
    texts = [r.text for r in records]
    tactics = sorted({t for r in records for t in r.labels})
    estimator = TacticClassifier(gate=gate, calibration=calibration, cv=2, max_word_features=2000,
                                 max_char_features=2000).fit(texts, label_matrix(records, tactics))
    scorer = LinearScorer.build(estimator)
    assert np.abs(scorer.proba(scorer.features(texts)) - estimator.predict_proba(texts)).max() < 1e-9


def test_estimators_it_cannot_reproduce_keep_their_own_path():
    assert LinearScorer.build(object()) is None


HINTED_TEXTS = ODD_TEXTS + ["İT İS ſAİD", "\u212aremlin line", "DON'T", "So-Called",
                            "DİSİNFORMATİON", "ALLEGED", "ſo-called", "NOT TRUE"]


def _corpus_texts() -> list[str]:
    return [r.text for split in ("train", "test") for r in load_split(DATA / f"{split}.jsonl")]


def test_every_stance_cue_match_holds_one_of_its_hints():
    """The hints let a text skip a cue's search; they must never skip a match."""
    texts = _corpus_texts() + HINTED_TEXTS
    for cue, pattern in STANCE_CUES.items():
        compiled = re.compile(pattern, re.IGNORECASE)
        missed = [t[:80] for t in texts if compiled.search(t)
                  and not any(h in fold(t) for h in CUE_HINTS[cue])]
        assert not missed, (cue, missed[:3])


def test_stance_cues_count_on_the_folded_text_what_ignorecase_counts_on_the_text():
    texts = _corpus_texts() + HINTED_TEXTS + ["SAID Said sAid", "İNSİSTED", "NO! NOT NEVER"]
    patterns = _cue_patterns(tuple(STANCE_CUES))
    for cue, pattern in STANCE_CUES.items():
        assert pattern == pattern.lower(), cue          # lower-case literals search folded text
        compiled = re.compile(pattern, re.IGNORECASE)
        assert [len(compiled.findall(t)) for t in texts] == [
            len(patterns[list(STANCE_CUES).index(cue)][0].findall(fold(t))) for t in texts], cue


def test_every_distance_cue_match_holds_one_of_its_hints():
    texts = _corpus_texts() + HINTED_TEXTS
    for lang, hints in DISTANCE_HINTS.items():
        cue = distance_cue((lang,))
        missed = [t[:80] for t in texts if cue.search(t) and not any(h in fold(t) for h in hints)]
        assert not missed, (lang, missed[:3])
    assert fold("İT İS ſAİD \u212aREMLIN") == "it is said kremlin"   # as re.IGNORECASE reads it
