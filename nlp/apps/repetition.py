"""Coordinated repetition: near-duplicate texts posted by several distinct sources within a
time window, found with MinHash signatures and locality-sensitive hashing, never all pairs.

Each text is normalised (case, punctuation, URLs, hashtags, mentions, prefixes such as
"BREAKING:"), cut into word bigrams and summarised by a ``datasketch`` MinHash of ``NUM_PERM``
32-bit values. ``Signatures`` keeps only those values, the time, a source code and the row's
key: ``4 * NUM_PERM + 20`` bytes a row. ``find_clusters`` buckets the signatures band by band
(the bands and rows that ``datasketch.MinHashLSH`` picks for the threshold) with a sort per
band, checks each candidate against its bucket's first member, joins the confirmed pairs into
components, and keeps the groups of a component that fall within the window and come from at
least ``min_sources`` distinct sources.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from datasketch import MinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["normalise", "Signatures", "Cluster", "find_clusters", "NUM_PERM", "THRESHOLD"]

NUM_PERM = 64
THRESHOLD = 0.5          # estimated Jaccard similarity of word bigrams
MIN_WORDS = 6            # shorter texts ("Breaking news") are too generic to compare
SEED = 1
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"(?<!\w)[#@]\w+")
_PREFIX = re.compile(r"^\s*(?:rt\b|(?:breaking|just in|urgent|update|exclusive|watch|read|"
                     r"developing|alert|news|flash)(?:\s+news)?\s*[:!|\-\u2013\u2014]+)\s*",
                     re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")
_MIX = np.random.default_rng(SEED).integers(1, 2**63, size=NUM_PERM * 4, dtype=np.uint64) | 1


def normalise(text: str) -> list[str]:
    """The words a text is compared by: NFKC, URLs, hashtags and mentions removed, leading
    prefixes such as "BREAKING:" or "RT" dropped, lower case, punctuation removed."""
    text = _TAG.sub(" ", _URL.sub(" ", unicodedata.normalize("NFKC", text)))
    previous = None
    while previous != text:
        previous, text = text, _PREFIX.sub("", text)
    return _NON_WORD.sub(" ", text.lower()).split()


def _shingles(words: list[str]) -> list[bytes]:
    return [f"{a} {b}".encode() for a, b in zip(words, words[1:])]


@dataclass
class Signatures:
    """MinHash signatures of a feed's dated texts, added chunk by chunk."""

    num_perm: int = NUM_PERM
    short: int = 0                                      # texts too short to compare
    sources: dict = field(default_factory=dict)        # source -> code
    _parts: list = field(default_factory=list)         # (keys, times, codes, tactics, hashes)

    def __post_init__(self) -> None:
        self._minhash = MinHash(num_perm=self.num_perm, seed=SEED, hashfunc=zlib.crc32)

    def __len__(self) -> int:
        return sum(len(part[0]) for part in self._parts)

    def add(self, keys: Sequence[int], texts: Sequence[str], sources: Sequence[str],
            times: Sequence[int], tactics: Sequence[int]) -> None:
        """Sign texts: ``keys`` name their rows, ``times`` are UTC nanoseconds, ``tactics``
        bit masks of their labels (bit k: the k-th tactic)."""
        kept, hashes = [], []
        for i, text in enumerate(texts):
            words = normalise(text)
            if len(words) < MIN_WORDS:
                self.short += 1
                continue
            self._minhash.clear()
            self._minhash.update_batch(_shingles(words))
            hashes.append(self._minhash.hashvalues.astype(np.uint32))
            kept.append(i)
        if not kept:
            return
        codes = [self.sources.setdefault(sources[i], len(self.sources)) for i in kept]
        self._parts.append((np.asarray(keys, dtype=np.int64)[kept],
                            np.asarray(times, dtype=np.int64)[kept],
                            np.asarray(codes, dtype=np.int32),
                            np.asarray(tactics, dtype=np.int64)[kept], np.vstack(hashes)))

    def merge(self, other: Signatures) -> Signatures:
        """Add another partition's signatures (its source codes renumbered) and return self."""
        recode = np.array([self.sources.setdefault(source, len(self.sources))
                           for source in other.sources], dtype=np.int32)
        self.short += other.short
        for keys, times, codes, tactics, hashes in other._parts:
            self._parts.append((keys, times, recode[codes] if len(recode) else codes, tactics,
                                hashes))
        return self

    def arrays(self) -> tuple[np.ndarray, ...]:
        """keys, times, source codes, tactic masks and signatures, one row per signed text
        (the parts are joined once, here, each freed as soon as it is copied)."""
        if len(self._parts) != 1:
            parts, self._parts, size, at = self._parts, [], len(self), 0
            columns = (np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int32),
                       np.empty(size, np.int64), np.empty((size, self.num_perm), np.uint32))
            parts.reverse()
            while parts:
                part = parts.pop()
                for column, values in zip(columns, part):
                    column[at:at + len(values)] = values
                at += len(part[0])
            self._parts = [columns]
        return self._parts[0]


@dataclass(frozen=True)
class Cluster:
    keys: list[int]          # rows of the cluster, earliest first
    sources: list[str]
    first: pd.Timestamp
    last: pd.Timestamp
    tactics: int             # bit mask: tactics carried by any member


def find_clusters(signatures: Signatures, *, window: pd.Timedelta, min_sources: int = 3,
                  threshold: float = THRESHOLD) -> list[Cluster]:
    """Groups of near-duplicate texts from at least ``min_sources`` sources, each group within
    ``window`` from its first text to its last; largest first."""
    keys, times, codes, tactics, hashes = signatures.arrays()
    if not len(keys):
        return []
    components = _components(hashes, threshold)
    names = np.array(list(signatures.sources), dtype=object)
    order = np.lexsort((times, components))
    bounds = np.flatnonzero(np.diff(components[order])) + 1
    clusters = []
    for members in np.split(order, bounds):
        if len(members) < min_sources or len(np.unique(codes[members])) < min_sources:
            continue
        for group in _windows(times[members], codes[members], window.value, min_sources):
            rows = members[group]
            clusters.append(Cluster(keys[rows].tolist(), sorted(set(names[codes[rows]])),
                                    pd.Timestamp(times[rows].min(), tz="UTC"),
                                    pd.Timestamp(times[rows].max(), tz="UTC"),
                                    int(np.bitwise_or.reduce(tactics[rows]))))
    clusters.sort(key=lambda c: (-len(c.sources), -len(c.keys), c.first))
    return clusters


def _components(hashes: np.ndarray, threshold: float) -> np.ndarray:
    """Each signature's component: signatures sharing an LSH band bucket and estimated to be
    at least ``threshold`` similar are joined."""
    size, num_perm = hashes.shape
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    pairs = []
    for start, end in lsh.hashranges:
        band = hashes[:, start:end].astype(np.uint64) @ _MIX[: end - start]   # wraps: a hash
        order = np.argsort(band, kind="stable")
        opens = np.concatenate(([True], band[order[1:]] != band[order[:-1]]))
        heads = order[np.flatnonzero(opens)[np.cumsum(opens) - 1]]
        linked = heads != order
        pairs.append((heads[linked], order[linked]))
    joined = np.unique(np.concatenate([a * size + b for a, b in pairs]))
    blocks = np.array_split(joined, max(1, len(joined) // 100_000))
    confirmed = np.concatenate([_similar(hashes, block // size, block % size, threshold)
                                for block in blocks], axis=1)
    graph = coo_matrix((np.ones(confirmed.shape[1], dtype=np.int8), tuple(confirmed)),
                       shape=(size, size))
    return connected_components(graph, directed=False)[1]


def _similar(hashes: np.ndarray, left: np.ndarray, right: np.ndarray,
             threshold: float) -> np.ndarray:
    """The pairs whose signatures agree in at least ``threshold`` of their values."""
    agreement = (hashes[left] == hashes[right]).mean(axis=1)
    keep = agreement >= threshold
    return np.stack([left[keep], right[keep]])


def _windows(times: np.ndarray, codes: np.ndarray, window: int,
             min_sources: int) -> list[np.ndarray]:
    """Positions (into ``times``, which is sorted) of the groups that start at a text and take
    every later text within ``window``, kept when they span ``min_sources`` sources; a kept
    group's texts start no other group."""
    groups, start = [], 0
    while start < len(times):
        end = int(np.searchsorted(times, times[start] + window, side="right"))
        if len(np.unique(codes[start:end])) >= min_sources:
            groups.append(np.arange(start, end))
            start = end
        else:
            start += 1
    return groups
