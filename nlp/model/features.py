"""Text features: word and character n-gram TF-IDF, plus cues of stance (attribution, refutation).

The stance cues exist because the same vocabulary appears in propaganda and in its debunking;
what differs is distance: "claims", "so-called", "falsely", "no evidence", quotation marks.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

__all__ = ["StanceCues", "CUE_HINTS", "DistancedWords", "distanced_text", "distance_cue",
           "DISTANCE_HINTS", "fold", "build_features", "WORD_FEATURES", "STANCE_CUES",
           "clean_feed_text", "plain_vocabularies", "REFUTATION_WORDS", "refutation_cue",
           "CLAIM_OPENING"]

_URL = re.compile(r"https?://\S+|www\.\S+")
_REPOST = re.compile(r"^\s*(?:RT\s+)?@\w+:\s*")
_HASHTAG = re.compile(r"(?<!\w)#(\w)")
_SYMBOLS = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D]")


def clean_feed_text(text: str) -> str:
    """The text without what feeds add around it: links, a repost prefix, hashtag signs, emoji.

    Models read the cleaned text; evidence offsets still refer to the original."""
    # each search only where its pattern can match: most texts have no link, tag or emoji
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    text = _REPOST.sub("", text)
    if "#" in text:
        text = _HASHTAG.sub(r"\1", text)
    return text if text.isascii() else _SYMBOLS.sub(" ", text)

WORD_FEATURES = "words"

# Words that refute a claim or analyse it as messaging: stance cues here, and in ``predict`` the
# sign of a long text that is about a claim rather than for it.
_REFUTING = (r"false(?:ly)?|debunk\w*|no evidence|misleading|baseless|unfounded|myth"
             r"|fact[- ]?check\w*|disinformation|misinformation|propaganda|not true|untrue"
             r"|distort\w*|fabricat\w*|conspiracy theor\w*|lie[sd]?|lying")
_ANALYSING = (r"narrative|talking points?|messaging|framing|frames?|rhetoric|kremlin line"
              r"|state media|pro-kremlin|information operation|influence campaign|tactic")

# Each cue is a regular expression; its feature is log(1 + matches). Order fixes the columns.
STANCE_CUES: dict[str, str] = {
    "attribution": r"\b(?:says?|said|claim(?:s|ed)?|alleg(?:es|ed|edly)|according to|assert(?:s|ed)"
                   r"|insist(?:s|ed)|told|argu(?:es|ed)|contend(?:s|ed))\b",
    "refutation": rf"\b(?:{_REFUTING})\b",
    "analysis": rf"\b(?:{_ANALYSING})\b",
    "distance": r"\b(?:so-called|purported(?:ly)?|supposed(?:ly)?|reportedly|would have us believe)\b",
    "counterpoint": r"\b(?:however|but|in fact|actually|contrary|whereas|rejected|denied|dismissed"
                    r"|responded|countered)\b",
    "negation": r"\b(?:not|no|never|nor|n't)\b|n't\b",
    "question": r"\?",
    "exclamation": r"!",
    "quotes": r"[\"“”«»]|(?<!\w)['‘]|['’](?!\w)",
    "we_our": r"\b(?:we|our|us)\b",
}


# For each cue, literal pieces (lower case) of which every match holds one: a text holding none
# of them is not searched. Keep them in step with STANCE_CUES (a test checks them on the corpus).
CUE_HINTS: dict[str, tuple[str, ...]] = {
    "attribution": ("say", "said", "claim", "alleg", "according to", "assert", "insist", "told",
                    "argu", "contend"),
    "refutation": ("false", "debunk", "no evidence", "misleading", "baseless", "unfounded", "myth",
                   "fact", "information", "propaganda", "not true", "untrue", "distort", "fabricat",
                   "conspiracy theor", "lie", "lying"),
    "analysis": ("narrative", "talking point", "messaging", "fram", "rhetoric", "kremlin line",
                 "state media", "pro-kremlin", "information operation", "influence campaign",
                 "tactic"),
    "distance": ("so-called", "purported", "supposed", "reportedly", "would have us believe"),
    "counterpoint": ("however", "but", "in fact", "actually", "contrary", "whereas", "rejected",
                     "denied", "dismissed", "responded", "countered"),
    "negation": ("no", "never", "n't"),
    "question": ("?",),
    "exclamation": ("!",),
    "quotes": ('"', "“", "”", "«", "»", "'", "‘", "’"),
    "we_our": ("we", "our", "us"),
}
# The only non-ASCII letters that re.IGNORECASE equates with ASCII ones.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def fold(text: str) -> str:
    """The text lower-cased as ``re.IGNORECASE`` compares ASCII letters, for searching hints."""
    return (text if text.isascii() else text.translate(_FOLD)).lower()


def _cue_counts(text: str, patterns: list[tuple[re.Pattern, re.Pattern | None]]) -> list[int]:
    folded = fold(text)
    return [len(pattern.findall(folded)) if hints is None or hints.search(folded) else 0
            for pattern, hints in patterns]


@lru_cache(maxsize=4)
def _cue_patterns(cues: tuple[str, ...]) -> list[tuple[re.Pattern, re.Pattern | None]]:
    """Each cue's pattern, and one pattern of its literal hints (a text matching none is not
    searched). The cues are lower case and search the folded text: the same matches as
    ``re.IGNORECASE`` on the text, at half the cost."""
    return [(re.compile(STANCE_CUES[c]),
             re.compile("|".join(map(re.escape, CUE_HINTS[c]))) if c in CUE_HINTS else None)
            for c in cues]


class StanceCues(BaseEstimator, TransformerMixin):
    """Counts of stance cues per text, log-scaled, as a sparse matrix (stateless)."""

    def __init__(self, cues: tuple[str, ...] = tuple(STANCE_CUES)) -> None:
        self.cues = cues

    def fit(self, X, y=None):
        self.n_features_out_ = len(self.cues)
        return self

    def transform(self, X) -> sparse.csr_matrix:
        patterns = _cue_patterns(tuple(self.cues))
        counts = np.array([_cue_counts(text, patterns) for text in X], dtype=np.float64)
        return sparse.csr_matrix(np.log1p(counts))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([f"cue:{c}" for c in self.cues], dtype=object)


# Sentences with these cues keep a claim at arm's length: reported, refuted or analysed. One
# pattern per language; a model reads the union of its languages' cues.
DISTANCE_WORDS: dict[str, str] = {
    "en": r"claim(?:s|ed|ing)?|alleg\w*|false(?:ly)?|so-called|purported\w*|debunk\w*|no evidence"
          r"|misleading|baseless|unfounded|myth|fact[- ]?check\w*|disinformation|misinformation"
          r"|propaganda|narrative|talking points?|framing|rhetoric|according to|insists?|insisted"
          r"|lie[sd]?|lying|denied|rejected|dismissed|responded|countered|not true|untrue|no basis"
          r"|distort\w*",
    "ru": r"якобы|так называем\w*|утвержда\w*|по словам|по данным|по версии|фейк\w*|дезинформац\w*"
          r"|пропаганд\w*|нарратив\w*|миф\w*|опроверг\w*|опровержени\w*|ложн\w*|ложь|лжи"
          r"|неправд\w*|не соответству\w*|без доказательств|манипуляц\w*|конспиролог\w*"
          r"|фактчек\w*|провер\w* фактов|отверг\w*|отрица\w*|выдум\w*|сфабрикован\w*|искаж\w*",
    "uk": r"нібито|так зван\w*|стверджу\w*|за словами|за даними|за версією|фейк\w*|дезінформац\w*"
          r"|пропаганд\w*|наратив\w*|міф\w*|спростов\w*|неправд\w*|брехн\w*|брехлив\w*"
          r"|не відповіда\w*|без доказів|маніпуляц\w*|конспіролог\w*|фактчек\w*"
          r"|перевір\w* фактів|відкида\w*|відкину\w*|заперечу\w*|вигад\w*|сфабрикован\w*"
          r"|перекруч\w*",
    "de": r"angeblich\w*|sogenannt\w*|behaupt\w*|laut|zufolge|fake\w*|falschbehauptung\w*"
          r"|falschmeldung\w*|falsch\w*|desinformation\w*|propaganda\w*|narrativ\w*|mythos|mythen"
          r"|widerleg\w*|lüge\w*|irreführend\w*|ohne beleg\w*|keine belege|faktencheck\w*"
          r"|verschwörung\w*|zurückgewiesen|bestritt\w*|bestreit\w*|dementi\w*|erfunden\w*"
          r"|verzerr\w*|manipul\w*",
}


# Words of refutation and analysis: a long text that holds one is about a claim rather than
# for it, and its loaded sentences are not allowed to lift its score (see ``predict``).
REFUTATION_WORDS: dict[str, str] = {
    "en": f"{_REFUTING}|{_ANALYSING}",   # the stance cues' refutation and analysis words
    "ru": r"фейк\w*|дезинформац\w*|пропаганд\w*|нарратив\w*|миф\w*|опроверг\w*|опровержени\w*"
          r"|ложн\w*|ложь|лжи|неправд\w*|не соответству\w*|без доказательств|манипуляц\w*"
          r"|конспиролог\w*|фактчек\w*|провер\w* фактов|сфабрикован\w*|искаж\w*",
    "uk": r"фейк\w*|дезінформац\w*|пропаганд\w*|наратив\w*|міф\w*|спростов\w*|неправд\w*"
          r"|брехн\w*|брехлив\w*|не відповіда\w*|без доказів|маніпуляц\w*|конспіролог\w*"
          r"|фактчек\w*|перевір\w* фактів|сфабрикован\w*|перекруч\w*",
    "de": r"fake\w*|falschbehauptung\w*|falschmeldung\w*|desinformation\w*|propaganda\w*"
          r"|narrativ\w*|mythos|mythen|widerleg\w*|lüge\w*|irreführend\w*|ohne beleg\w*"
          r"|keine belege|faktencheck\w*|verschwörung\w*|erfunden\w*|verzerr\w*|manipul\w*",
}


# A text that opens by setting out a claim to examine: a quoted first sentence followed by a new
# sentence ('"Kyiv shells its own cities." This claim ...', not '"We will win!" he said') or a
# fact-check's claim label ("Claim:", "Утверждение:" ...).
CLAIM_OPENING = re.compile(
    r"[\s*_\ufeff]*(?:[\"“«„][^\"”»“]{20,}?[.!?…][\"”»“](?=\s*(?:\n|(?-i:[A-ZА-ЯЁІЇЄҐ])))"
    r"|(?:the |viral )?(?:claim|утверждение|твердження|behauptung)\b\s*(?::|—|–|\s-\s))",
    re.IGNORECASE)


# Literal pieces (lower case) of which every match of a language's distance cues holds one, as
# CUE_HINTS are for the stance cues (a test checks them on the corpus).
DISTANCE_HINTS: dict[str, tuple[str, ...]] = {
    "en": ("claim", "alleg", "false", "so-called", "purported", "debunk", "no evidence",
           "misleading", "baseless", "unfounded", "myth", "fact", "information", "propaganda",
           "narrative", "talking point", "framing", "rhetoric", "according to", "insist", "lie",
           "lying", "denied", "rejected", "dismissed", "responded", "countered", "not true",
           "untrue", "no basis", "distort"),
}


def refutation_cue(languages: tuple[str, ...] = ("en",)) -> re.Pattern:
    """The refutation and analysis words of ``languages`` (those it has) as one pattern."""
    words = [REFUTATION_WORDS[lang] for lang in languages if lang in REFUTATION_WORDS]
    return re.compile(r"\b(?:" + "|".join(words or [r"(?!)"]) + r")\b", re.IGNORECASE)


def distance_cue(languages: tuple[str, ...] = ("en",)) -> re.Pattern:
    """The distance cues of ``languages`` as one case-insensitive pattern of whole words."""
    return re.compile(r"\b(?:" + "|".join(DISTANCE_WORDS[lang] for lang in languages) + r")\b",
                      re.IGNORECASE)


DISTANCE_CUE = distance_cue()


@lru_cache(maxsize=4)
def _distance_matcher(languages: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern | None]:
    """The distance cues of ``languages`` and one pattern of their hints (None when a language
    has none): a text matching no hint holds no cue."""
    if not all(lang in DISTANCE_HINTS for lang in languages):
        return distance_cue(languages), None
    hints = sorted({h for lang in languages for h in DISTANCE_HINTS[lang]})
    return distance_cue(languages), re.compile("|".join(map(re.escape, hints)))


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_TOKEN = re.compile(r"\w[\w'’-]*\w|\w")


def distanced_text(text: str, cue: re.Pattern = DISTANCE_CUE) -> str:
    """The words of every sentence that carries a distance ``cue``, each prefixed with ``d_``.

    A linear model then sees "provoked" in "Moscow claims NATO provoked the war" as its own
    feature (``d_provoked``) and can learn that it points away from the tactic.
    """
    if not cue.search(text):   # a cue in a sentence is a cue in the text (no cue spans a
        return ""              # sentence end), so most texts stop here
    return " ".join("d_" + token.lower()
                    for sentence in _SENTENCE.findall(text) if cue.search(sentence)
                    for token in _TOKEN.findall(sentence))


class DistancedWords(BaseEstimator, TransformerMixin):
    """TF-IDF over the words of distanced sentences (see ``distanced_text``), with the distance
    cues of ``languages``."""

    def __init__(self, min_df: int = 2, max_features: int | None = 20000,
                 languages: tuple[str, ...] = ("en",)) -> None:
        self.min_df = min_df
        self.max_features = max_features
        self.languages = languages

    def fit(self, X, y=None):
        self.vectorizer_ = TfidfVectorizer(min_df=self.min_df, max_features=self.max_features,
                                           sublinear_tf=True, token_pattern=r"\S+",
                                           dtype=np.float32)
        self.vectorizer_.fit(self.distanced(X) + ["d_"])
        return self

    def distanced(self, X) -> list[str]:
        """``distanced_text`` of each text, with this transformer's cues."""
        # Models saved before the cues had languages read English ones.
        cue, hints = _distance_matcher(tuple(getattr(self, "languages", ("en",))))
        return [distanced_text(x, cue) if hints is None or hints.search(fold(x)) else ""
                for x in X]

    def transform(self, X) -> sparse.csr_matrix:
        return self.vectorizer_.transform(self.distanced(X))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return self.vectorizer_.get_feature_names_out()


def build_features(*, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                   min_df: int = 2, max_word_features: int | None = 40000,
                   max_char_features: int | None = 60000, stance: bool = True,
                   distanced: bool = True, languages: tuple[str, ...] = ("en",)) -> FeatureUnion:
    """The feature union every scikit-learn model here uses; the word block comes first (evidence)."""
    parts = [
        (WORD_FEATURES, TfidfVectorizer(ngram_range=word_ngrams, min_df=min_df, sublinear_tf=True,
                                        max_features=max_word_features, strip_accents="unicode",
                                        token_pattern=r"(?u)\b\w[\w'’-]*\w\b|\b\w\b",
                                        dtype=np.float32)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, min_df=min_df,
                                  sublinear_tf=True, max_features=max_char_features,
                                  strip_accents="unicode", dtype=np.float32)),
    ]
    if stance:
        parts.append(("stance", StanceCues()))
    if distanced:
        parts.append(("distanced", DistancedWords(min_df=min_df, languages=languages)))
    return FeatureUnion(parts)


def plain_vocabularies(union: FeatureUnion) -> None:
    """Map each fitted vectorizer's vocabulary to plain ints: skops would store every NumPy int
    as a file of its own."""
    for _, transformer in union.transformer_list:
        vectorizer = getattr(transformer, "vectorizer_", transformer)   # DistancedWords holds one
        if hasattr(vectorizer, "vocabulary_"):
            vectorizer.vocabulary_ = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
