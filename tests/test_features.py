"""Stance features: the words of sentences that keep a claim at arm's length, in each language."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.corpus.dataset import load_split
from nlp.model.features import (_HASHTAG, _REPOST, _SYMBOLS, _URL, DistancedWords, clean_feed_text,
                                 distance_cue, distanced_text)

DATA = Path(__file__).resolve().parent.parent / "training_data"


def test_only_the_distanced_sentence_gives_its_words():
    out = distanced_text("Moscow claims NATO provoked the war. The sky over Kyiv was blue.").split()
    assert "d_provoked" in out and "d_moscow" in out
    assert "d_sky" not in out and "d_blue" not in out


@pytest.mark.parametrize("lang, text, word", [
    ("ru", "Кремль якобы защищает Донбасс. Погода была хорошая.", "d_защищает"),
    ("uk", "Росія нібито захищає Донбас. Погода була гарна.", "d_захищає"),
    ("de", "Russland schützt angeblich den Donbass. Das Wetter war gut.", "d_schützt"),
])
def test_each_language_has_its_own_cues(lang, text, word):
    native = distanced_text(text, distance_cue((lang,))).split()
    assert word in native
    assert not any(w.startswith(("d_погод", "d_wetter")) for w in native)
    assert distanced_text(text) == ""                      # the English cues miss them


def test_a_cue_inside_a_longer_word_does_not_count():
    assert distanced_text("Die Lautstärke im Saal stieg.", distance_cue(("de",))) == ""


def test_a_transformer_saved_before_languages_reads_english_cues():
    texts = ["Moscow claims NATO provoked the war.", "Кремль якобы защищает Донбасс."] * 2
    old = DistancedWords(min_df=1).fit(texts)
    del old.languages                                      # as an older model file loads
    assert old.distanced(texts) == [distanced_text(t) for t in texts]
    assert old.transform(texts)[1].nnz == 0


@pytest.mark.parametrize("text, cleaned", [
    ("RT @kremlin_fan: The West is tired #Ukraine https://t.co/x1 🇺🇦🔥",
     "The West is tired Ukraine      "),                       # links and emoji become spaces
    ("Aid stops after the vote. www.example.org/a", "Aid stops after the vote.  "),
    ("Price of peace: #1 topic", "Price of peace: 1 topic"),
    ("Kyiv 💔 will fall", "Kyiv   will fall"),
    ("plain text, no clutter", "plain text, no clutter"),
])
def test_feed_clutter_is_removed_and_nothing_else(text, cleaned):
    assert clean_feed_text(text) == cleaned


def test_feed_cleaning_skips_only_searches_that_cannot_match():
    """Each search is skipped when its pattern cannot match: the result is what all four
    substitutions give, on every corpus text and on clutter of each kind."""
    texts = [r.text for split in ("train", "test", "shift_dev")
             for r in load_split(DATA / f"{split}.jsonl")]
    texts += ["http://a.b c", "x www.a.b", "#tag", "a#b", "RT @x: hi", "emoji ✊️ here", "\u200dx"]
    full = [_SYMBOLS.sub(" ", _HASHTAG.sub(r"\1", _REPOST.sub("", _URL.sub(" ", t))))
            for t in texts]
    assert [clean_feed_text(t) for t in texts] == full
