"""Embeddings already computed, kept on disk by encoder and text, so that retraining on a grown
corpus encodes only the texts it has not seen (the encoder, not the fit, is what makes training
slow). An encoder gives a text the same vector alone or in any batch, so a cached vector is the
vector: models trained with and without the cache are identical.

The cache is one SQLite file, ``embeddings.sqlite``, in ``$TACTICS_CACHE`` (``off`` turns it off),
else ``$XDG_CACHE_HOME/narrative-tactics``, else ``~/.cache/narrative-tactics``. Deleting it costs
only time. Vectors are committed a chunk at a time, so an interrupted run keeps what it encoded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import TacticsError
from .encoder import Encoder, get_encoder

__all__ = ["EmbeddingCache", "default_cache", "encode_cached", "CACHE_ENV"]

log = logging.getLogger(__name__)

CACHE_ENV = "TACTICS_CACHE"
CACHE_FILE = "embeddings.sqlite"
CHUNK = 256          # texts encoded (and committed) per step
_LOOKUP = 500        # keys per SELECT, below SQLite's variable limit


def encode_cached(spec: str, texts: Sequence[str]) -> np.ndarray:
    """The vectors the encoder ``spec`` gives ``texts``, through the default cache when it is on."""
    encoder, cache = get_encoder(spec), default_cache()
    return encoder.encode(texts) if cache is None else cache.encode(encoder, texts)


def default_cache() -> EmbeddingCache | None:
    """The cache the environment names (see the module docstring); ``None`` when turned off."""
    value = os.environ.get(CACHE_ENV, "")
    if value.lower() in {"off", "0", "none"}:
        return None
    if value:
        return EmbeddingCache(Path(value) / CACHE_FILE)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return EmbeddingCache(Path(base) / "narrative-tactics" / CACHE_FILE)


class EmbeddingCache:
    """``encode(encoder, texts)``: the encoder's vectors for ``texts``, encoding only those not
    stored yet (duplicates once) and storing them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def encode(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(encoder.spec, text) for text in texts]
        with self._open() as db:
            found = self._lookup(db, keys, encoder.dim)
            todo = {key: text for key, text in zip(keys, texts) if key not in found}
            if todo:
                log.info(f"encoding {len(todo):,} of {len(texts):,} texts with {encoder.spec} "
                         f"({len(texts) - len(todo):,} cached in {self.path})")
            pending = list(todo.items())
            for start in range(0, len(pending), CHUNK):
                chunk = pending[start:start + CHUNK]
                vectors = encoder.encode([text for _, text in chunk])
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                               [(key, vector.tobytes()) for (key, _), vector in zip(chunk, vectors)])
                db.commit()
                found.update((key, vector) for (key, _), vector in zip(chunk, vectors))
                log.info(f"encoded {min(start + CHUNK, len(pending)):,}/{len(pending):,}")
        out = np.empty((len(texts), encoder.dim), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = found[key]
        return out

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
            yield db
        except (OSError, sqlite3.Error) as exc:
            raise TacticsError(f"the embedding cache {self.path} cannot be used ({exc}); delete "
                               f"it, or set {CACHE_ENV}=off to train without it") from None
        finally:
            if db is not None:
                db.close()

    def _lookup(self, db: sqlite3.Connection, keys: list[str], dim: int) -> dict[str, np.ndarray]:
        found = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _LOOKUP):
            part = unique[start:start + _LOOKUP]
            rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN "
                              f"({','.join('?' * len(part))})", part)
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.size == dim:    # a vector of another size is re-encoded, never trusted
                    found[key] = vector
        return found


def _key(spec: str, text: str) -> str:
    return hashlib.sha256(f"{spec}\0{text}".encode("utf-8")).hexdigest()
