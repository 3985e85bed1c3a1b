"""Feed noise: the same texts as a feed garbles them, to measure what each kind of noise costs.

Every kind is seeded and changes only the surface (letters, case, punctuation, clutter a feed
adds), never what a text advances, so the labels stay valid.
"""

from __future__ import annotations

import random
import re
from typing import Callable

__all__ = ["NOISE_KINDS", "add_noise"]

_KEYBOARD_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm",
    "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji",
    "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}
_WORD = re.compile(r"\w{4,}")


def _typos(text: str, rng: random.Random, rate: float = 0.12) -> str:
    """About ``rate`` of the words of four or more letters get one typo: a swap of neighbouring
    letters, a dropped or doubled letter, or a neighbouring key."""
    def garble(match: re.Match) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if kind == 1:
            return word[:i] + word[i + 1:]
        if kind == 2:
            return word[:i] + word[i] + word[i:]
        near = _KEYBOARD_NEIGHBOURS.get(word[i].lower())
        return word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1:]
    return _WORD.sub(garble, text)


def _lowercase(text: str, rng: random.Random) -> str:
    return text.lower()


def _shouting(text: str, rng: random.Random) -> str:
    return text.upper()


def _no_punctuation(text: str, rng: random.Random) -> str:
    return re.sub(r"[^\w\s#@]", "", text)


def _feed_clutter(text: str, rng: random.Random) -> str:
    """What reposts add: a prefix, hashtags, a link and an emoji."""
    prefix = rng.choice(["BREAKING: ", "RT @newsdesk: ", "⚡️ ", "Must read 👇 ", ""])
    tags = " ".join(rng.sample(["#Ukraine", "#Russia", "#news", "#NATO", "#war", "#peace"], 2))
    return f"{prefix}{text} {tags} https://t.co/{rng.randrange(16**8):08x} 🔥"


NOISE_KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "typos": _typos, "lowercase": _lowercase, "all caps": _shouting,
    "no punctuation": _no_punctuation, "feed clutter": _feed_clutter,
}


def add_noise(texts: list[str], kind: str, *, random_state: int = 0) -> list[str]:
    """The texts with one kind of noise applied, reproducibly."""
    rng = random.Random(random_state)
    return [NOISE_KINDS[kind](text, rng) for text in texts]
