"""The embedding cache: a text is encoded once, across runs, and a cached vector is the vector."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.errors import TacticsError
from nlp.model import embedding_cache
from nlp.model.embedding_cache import CACHE_ENV, EmbeddingCache, default_cache


class CountingEncoder:
    """A deterministic encoder (a vector from the text's bytes) that records what it was asked."""

    spec = "counting"
    dim = 8

    def __init__(self, fail_after: int | None = None) -> None:
        self.seen: list[str] = []
        self.fail_after = fail_after

    def encode(self, texts):
        if self.fail_after is not None and len(self.seen) >= self.fail_after:
            raise KeyboardInterrupt
        self.seen += list(texts)
        out = np.array([[sum(t.encode()) % (k + 3) for k in range(self.dim)]
                        for t in texts], dtype=np.float32) + 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_only_new_texts_are_encoded_and_vectors_match_plain_encoding(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    first = CountingEncoder()
    a = cache.encode(first, ["alpha", "beta", "alpha"])
    assert first.seen == ["alpha", "beta"]                    # a duplicate is encoded once
    second = CountingEncoder()
    b = cache.encode(second, ["beta", "gamma", "alpha"])
    assert second.seen == ["gamma"]
    plain = CountingEncoder().encode(["beta", "gamma", "alpha"])
    assert np.array_equal(b, plain) and np.array_equal(a[0], a[2])


def test_vectors_are_kept_per_encoder(tmp_path):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    cache.encode(CountingEncoder(), ["alpha"])
    other = CountingEncoder()
    other.spec = "another"
    cache.encode(other, ["alpha"])
    assert other.seen == ["alpha"]


def test_an_interrupted_run_keeps_the_chunks_it_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(embedding_cache, "CHUNK", 2)
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    texts = [f"text {i}" for i in range(6)]
    with pytest.raises(KeyboardInterrupt):
        cache.encode(CountingEncoder(fail_after=4), texts)
    resumed = CountingEncoder()
    cache.encode(resumed, texts)
    assert resumed.seen == texts[4:]


def test_a_damaged_cache_file_is_named_in_the_error(tmp_path):
    path = tmp_path / "e.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TacticsError, match="e.sqlite.*TACTICS_CACHE=off"):
        EmbeddingCache(path).encode(CountingEncoder(), ["alpha"])


def test_the_environment_chooses_or_turns_off_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")
    assert default_cache() is None
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert default_cache().path == tmp_path / "embeddings.sqlite"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache().path == tmp_path / "xdg" / "narrative-tactics" / "embeddings.sqlite"
