"""Which language a text is in, so each text goes to a model that can read it.

py3langid (a naive Bayes identifier over byte n-grams that ships its own model, 97 languages)
decides. Two shortcuts keep the English path fast without changing what it would say: a text of
which at least a quarter of the words are common English ones (function words, and words the
other Latin-script languages of the news do not use) and none a German marker ("und", "der",
"nicht" ...) is English, and a Cyrillic text with letters that
only Ukrainian or only Russian uses is that language. A mixed-language text goes by its dominant
language (the one most of its first ``SAMPLE_CHARS`` characters are in).

A Latin-script text of a few words that the identifier is unsure of ("Zelensky puppet",
"Kiew lügt") is not given an improbable language (Quechua, Slovene ...) but the likelier of the
supported Latin-script languages, English or German; a longer one is given English or German
when the identifier's guess beats it by less than a factor of two (headlines with few function
words are close calls between English and Nigerian Pidgin).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["SUPPORTED", "detect_language", "detect_languages", "language_name"]

SUPPORTED = ("en", "ru", "uk", "de")
NAMES = {"en": "English", "ru": "Russian", "uk": "Ukrainian", "de": "German"}
SAMPLE_CHARS = 600          # identification reads the start of a text; enough for any language
ENGLISH_SHARE = 0.25        # share of English function words that settles a Latin text as English
UNSURE = 0.5                # below this probability the identifier's top language is a guess ...
SHORT_WORDS = 4             # ... and a text of this many words or fewer may be too short to tell
NEAR_TIE = 0.5              # an unsure guess loses to a supported language this close to it
LATIN_SUPPORTED = ("en", "de")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z]+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_ONLY_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_ONLY_RUSSIAN = re.compile(r"[ыэъёЫЭЪЁ]")
_ENGLISH = frozenset(
    "the of and to in is are was were that this it its for on with as by at from be been has have "
    "had not but or an will would can could should their they them he she his her we our you your "
    "who what which there than more about after over into says said "
    # more common English words, none of them a word of German, Dutch or the Romance languages
    # (so not "also", "so", "war", "die", "still", "see", "west", "even", "want", "me", "no", "a")
    "while how without being another when why every these those through against between because "
    "only just other some any very much many such then now where must might him does did done get "
    "got make made like two three first last year years people before under again off up out back "
    "never ever yet shows week today tonight across around onto upon whose whom less least "
    "own same each both either neither nor ago already always often since until though although "
    "whether cannot wants say told tell know think going went come came take took give "
    "gave too well during within among government peace talks military army country countries "
    "weapons aid attack strikes killed claims world power officials troops western".split())
# Words of German that English does not use: a text holding one is not settled as English by the
# shortcut ("Was in der Ukraine passiert, will niemand ..." is half English function words).
_GERMAN = frozenset(
    "der und nicht ist sich auf ein eine einen dem auch noch wird sind werden für über dass oder "
    "aber zum vom beim nach wie bei".split())


def language_name(code: str) -> str:
    return NAMES.get(code, code)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's dominant language ('und' when it has no letters)."""
    sample = text[:SAMPLE_CHARS]
    plain = sample.isascii()
    if not plain and _CYRILLIC.search(sample):   # letters are counted only when both scripts may be present
        cyrillic, latin = len(_CYRILLIC.findall(sample)), len(_LATIN.findall(sample))
    else:
        cyrillic, latin = 0, int(_LATIN.search(sample) is not None)
    if not cyrillic and not latin:
        return _identifier("all").classify(sample)[0] if _WORD.search(sample) else "und"
    if cyrillic > latin:
        uk, ru = bool(_ONLY_UKRAINIAN.search(sample)), bool(_ONLY_RUSSIAN.search(sample))
        if uk != ru:
            return "uk" if uk else "ru"
        return _identifier("cyrillic").classify(sample)[0]
    # an ASCII text's words are runs of a-z: the simpler pattern finds the same words sooner
    words = (_ASCII_WORD.findall(sample.lower()) if plain
             else [w.lower() for w in _WORD.findall(sample)])
    if (words and sum(map(_ENGLISH.__contains__, words)) >= ENGLISH_SHARE * len(words)
            and _GERMAN.isdisjoint(words)):
        return "en"
    identifier = _identifier("all")
    lang, probability = identifier.classify(sample)   # cheaper than ranking every language
    if probability >= UNSURE:
        return lang
    if len(words) <= SHORT_WORDS:
        return _identifier("latin").classify(sample)[0]
    # unsure on a longer text: a near tie with a supported language goes to that language
    # ("The Iraq war vote still haunts Democrats.": Nigerian Pidgin 0.28, English 0.27)
    likelier, chance = max(((code, p) for code, p in identifier.rank(sample)
                            if code in LATIN_SUPPORTED),
                           key=lambda pair: pair[1])
    return likelier if chance >= NEAR_TIE * probability else lang


def detect_languages(texts: list[str]) -> list[str]:
    return [detect_language(text) for text in texts]


@lru_cache(maxsize=3)
def _identifier(which: str):
    """py3langid's identifier (probabilities normalised): all its languages, Cyrillic ones only
    (Russian vs Ukrainian, Belarusian, Bulgarian, Serbian ... when no letter settles it), or the
    supported Latin-script ones (for texts too short to identify among all)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if which == "cyrillic":
        identifier.set_languages(["ru", "uk", "be", "bg", "mk", "sr", "kk", "mn", "ky"])
    elif which == "latin":
        identifier.set_languages(["en", "de"])
    return identifier
