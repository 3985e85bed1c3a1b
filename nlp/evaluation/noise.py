"""Feed noise: the same texts as a feed garbles them, to measure what each kind of noise costs.

Every kind is seeded and changes only the surface (letters, case, punctuation, clutter a feed
adds), never what a text advances, so the labels stay valid.
"""

from __future__ import annotations

import random
import re
from typing import Callable

from ..model.augment import add_typos

__all__ = ["NOISE_KINDS", "add_noise"]


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
    "typos": add_typos, "lowercase": _lowercase, "all caps": _shouting,
    "no punctuation": _no_punctuation, "feed clutter": _feed_clutter,
}


def add_noise(texts: list[str], kind: str, *, random_state: int = 0) -> list[str]:
    """The texts with one kind of noise applied, reproducibly."""
    rng = random.Random(random_state)
    return [NOISE_KINDS[kind](text, rng) for text in texts]
