"""Typo augmentation: seeded copies of training texts with the typos feeds are full of.

Training on a share of typo'd copies teaches the weights that a misspelt word still carries its
tactic; the same generator garbles the test texts in the feed-noise evaluation (another seed, other
texts), which measures how much of that robustness holds.
"""

from __future__ import annotations

import random
import re

import numpy as np

__all__ = ["add_typos", "typo_variants"]

_KEYBOARD_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm",
    "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji",
    "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}
_WORD = re.compile(r"\w{4,}")


def add_typos(text: str, rng: random.Random, rate: float = 0.12) -> str:
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


def typo_variants(texts: list[str], share: float, random_state: int = 0
                  ) -> tuple[np.ndarray, list[str]]:
    """A seeded ``share`` of the texts, each garbled by ``add_typos``: (the index of each
    variant's source text, the variants)."""
    rng = random.Random(random_state)
    sources = [i for i in range(len(texts)) if rng.random() < share]
    return np.array(sources, dtype=np.intp), [add_typos(texts[i], rng) for i in sources]
