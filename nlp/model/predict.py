"""Prediction: load a model directory and turn texts into tactics, scores and evidence.

This is the one implementation behind the Python API, the CLI, batch jobs and the web service.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .artifact import CODEBOOK_FILE, read_estimator, read_meta, weights_dir
from .calibration import recalibrate
from ..errors import EncoderMissing, InputError, ModelError
from .evidence import feature_names, phrases_from_row, top_phrases
from .fastscore import LinearScorer
from .language import SUPPORTED, detect_languages, language_name
from ..io.home import find_home
from ..io.readers import Row
from .features import CLAIM_OPENING, clean_feed_text, refutation_cue
from .segment import sentence_spans, windows
from ..taxonomy import Taxonomy, load_taxonomy

__all__ = ["Prediction", "TacticModel", "load_model", "predict", "default_model_path",
           "check_text", "classify_rows", "resolve_model_path", "MAX_CHARS", "UNCERTAIN_MARGIN"]

MAX_CHARS = 20_000
UNCERTAIN_MARGIN = 0.1
SCORE_DIGITS = 4
LONG_TEXT_WORDS = 120      # texts longer than this are also scored window by window
# How a long text's best sentence window lifts its score (model.json "long_text" overrides):
# score = max(whole, best_window ** pull x whole ** (1 - pull)).
LONG_TEXT_DEFAULTS = {"window": 5, "pull": 0.5}
MODEL_ENV = "TACTICS_MODEL"
MULTILINGUAL_DIR = "multilingual"   # a model directory's sub-model for the languages it routes on
log = logging.getLogger(__name__)


@dataclass
class Prediction:
    """One text's result: the tactics it advances, a calibrated score for every tactic, and
    evidence for each predicted tactic."""

    labels: list[str]
    scores: dict[str, float]
    evidence: dict[str, dict] = field(default_factory=dict)
    uncertain: list[str] = field(default_factory=list)
    model: str = ""
    lang: str = "en"
    note: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        if out["note"] is None:
            del out["note"]
        return out


def check_text(text: object, name: str = "text") -> str:
    """Return the text if it can be classified, else raise InputError saying why (``name``
    says which text, e.g. "text 3 of 10")."""
    if text is None:
        raise InputError(f"{name} is null")
    if not isinstance(text, str):
        raise InputError(f"{name} must be a string, not {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{name} is empty")
    return text


class TacticModel:
    """A loaded model: its estimator, and the metadata that says what it is."""

    def __init__(self, estimator, meta: dict, path: Path | None = None, *,
                 multilingual: TacticModel | None = None, fast: bool = True) -> None:
        self.estimator, self.meta, self.path = estimator, meta, path
        # linear models score in one pass (``fastscore``); ``fast=False`` keeps the pipeline
        self.scorer: LinearScorer | None = LinearScorer.build(estimator) if fast else None
        self.tactics: list[str] = list(meta["tactics"])
        self.thresholds = np.array([meta["thresholds"][t] for t in self.tactics])
        self.version: str = meta["model_version"]
        self.multilingual = multilingual
        self.missing: str | None = None   # why a multilingual sub-model could not be loaded
        self.languages: tuple[str, ...] = tuple(meta.get("languages", ["en"]))
        self.long_text: dict = {**LONG_TEXT_DEFAULTS, **meta.get("long_text", {})}
        self.notes: list[str] = []        # what loading noticed (tactic ids the codebook lacks)
        self._refutation: re.Pattern | None = None
        recalibration = meta.get("recalibration")
        self.recalibration = None if not recalibration else tuple(
            np.array([recalibration[key].get(t, default) for t in self.tactics])
            for key, default in (("slope", 1.0), ("intercept", 0.0)))

    def __repr__(self) -> str:
        return f"TacticModel({self.version!r}, {len(self.tactics)} tactics, path={str(self.path)!r})"

    def codebook(self) -> Taxonomy:
        """The codebook the model was trained with (its snapshot), else the one in use."""
        snapshot = self.path / CODEBOOK_FILE if self.path else None
        return load_taxonomy(snapshot if snapshot and snapshot.is_file() else None)

    def predict_proba(self, texts: Iterable[str], *, long_texts: bool = True) -> np.ndarray:
        """Calibrated probabilities, (n texts, n tactics), in ``self.tactics`` order.

        A text over LONG_TEXT_WORDS words is also scored in windows of ``long_text["window"]``
        sentences: a tactic's score rises to a weighted geometric mean of its best window and the
        whole text (weight ``long_text["pull"]`` on the window) when that is higher. A few loaded
        sentences in a long article then count, while a claim restated inside a debunk does not:
        a long text with words of refutation or analysis ("debunked", "no evidence", "narrative"),
        or that opens by setting out a claim to examine (``CLAIM_OPENING``), is scored whole
        (window and pull are chosen on the long texts of the shift_dev split when
        training; ``long_texts=False`` turns windows off).
        """
        texts = [_clip(check_text(t))[0] for t in texts]
        if not texts:
            return np.zeros((0, len(self.tactics)))
        return self._scores(texts, long_texts)[0]

    def _scores(self, texts: list[str], long_texts: bool = True):
        """(probabilities, probabilities before the long-text lift, feature rows or None)."""
        if self.scorer is not None:
            features = self.scorer.features(texts)
            plain = self.scorer.proba(features)
        else:
            features, plain = None, self.estimator.predict_proba(texts)
        plain = self._recalibrated(plain)
        probabilities = plain.copy()
        if long_texts:
            self._raise_to_window_scores(texts, probabilities)
        return probabilities, plain, features

    def _plain_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities without the long-text lift."""
        if self.scorer is not None:
            return self._recalibrated(self.scorer.proba(self.scorer.features(texts)))
        return self._recalibrated(self.estimator.predict_proba(texts))

    def _recalibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities moved to the feed the model was calibrated on (when ``tactics
        calibrate`` made it)."""
        if self.recalibration is None:
            return probabilities
        return recalibrate(probabilities, *self.recalibration)

    def _raise_to_window_scores(self, texts: list[str], probabilities: np.ndarray) -> None:
        rows, best = self._window_scores(texts, int(self.long_text["window"]))
        lift(probabilities, rows, best, float(self.long_text["pull"]))

    def window_scores(self, texts: Iterable[str], window: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, best): which texts are long, and each one's best score over windows of
        ``window`` sentences, per tactic; ``lift`` applies them (see ``predict_proba``)."""
        return self._window_scores([_clip(check_text(t))[0] for t in texts], window)

    def _window_scores(self, texts: list[str], window: int) -> tuple[np.ndarray, np.ndarray]:
        owners, pieces = [], []
        for i, text in enumerate(texts):
            if len(text.split()) > LONG_TEXT_WORDS and not self._refutes(text):
                for start, end in windows(sentence_spans(text), window):
                    owners.append(i)
                    pieces.append(text[start:end])
        if not pieces:
            return np.zeros(0, dtype=int), np.zeros((0, len(self.tactics)))
        rows, where = np.unique(owners, return_inverse=True)
        best = np.zeros((len(rows), len(self.tactics)))
        np.maximum.at(best, where, self._plain_proba(pieces))
        return rows, best

    def _refutes(self, text: str) -> bool:
        """Whether a long text uses words of refutation or analysis, or opens by setting out a
        claim to examine: a debunk restates the claim at length, and its loaded sentences must
        not lift it."""
        if self._refutation is None:
            self._refutation = refutation_cue(self.languages)
        return (self._refutation.search(text) is not None
                or CLAIM_OPENING.match(text) is not None)

    def predict(self, texts: Iterable[str], *, evidence: bool = True) -> list[Prediction]:
        """Classify texts, each by the model that reads its language; raises InputError naming
        the first text that cannot be classified.

        English goes to this model; Russian, Ukrainian and German to the multilingual model in
        its ``multilingual/`` directory; any other language gets no tactics and a note saying so.
        """
        texts = list(texts)
        for i, text in enumerate(texts):
            check_text(text, "the text" if len(texts) == 1 else f"text {i + 1} of {len(texts)}")
        langs = detect_languages(texts)
        results: list[Prediction | None] = [None] * len(texts)
        routes: dict[str, list[int]] = {}
        for i, lang in enumerate(langs):
            routes.setdefault(self._route(lang), []).append(i)
        for route, rows in routes.items():
            if route == "here":
                done = self._predict_here([texts[i] for i in rows], evidence)
            elif route == "multilingual":
                done = self.multilingual._predict_here([texts[i] for i in rows], evidence)
            else:
                done = [self._unsupported(texts[i], langs[i]) for i in rows]
            for i, result in zip(rows, done):
                result.lang = langs[i]
                results[i] = result
        return results

    def _route(self, lang: str) -> str:
        if lang in self.languages or lang == "und":  # no letters at all: nothing to route by
            return "here"
        if self.multilingual is not None and lang in self.multilingual.languages:
            return "multilingual"
        return "unsupported"

    def _unsupported(self, text: str, lang: str) -> Prediction:
        readable = sorted({*self.languages, *(self.multilingual.languages if self.multilingual else ())})
        note = (f"language {language_name(lang)} ({lang}) is not supported by this model "
                f"(it reads {', '.join(language_name(x) for x in readable)}); no tactics were assigned")
        if self.missing and lang in SUPPORTED:
            note = f"{language_name(lang)} texts need the multilingual model: {self.missing}"
        _, truncated = _clip(text)
        return Prediction(labels=[], scores={}, model=self.version,
                          note=note if truncated is None else f"{note}; {truncated}")

    def _predict_here(self, texts: list[str], evidence: bool) -> list[Prediction]:
        clipped = [_clip(t) for t in texts]
        plain_texts = [t for t, _ in clipped]
        probabilities, plain, features = self._scores(plain_texts)
        fired = probabilities >= self.thresholds
        found = (self._evidence(plain_texts, [np.flatnonzero(row) for row in fired], plain,
                                features) if evidence else [{} for _ in texts])
        near = np.abs(probabilities - self.thresholds) < UNCERTAIN_MARGIN
        tactics = self.tactics
        # whole-matrix comparisons, then plain lists: per-row NumPy calls cost more than the
        # arithmetic on a batch of short texts
        return [Prediction(labels=[t for t, f in zip(tactics, fire) if f],
                           scores=dict(zip(tactics, rounded)), evidence=proof,
                           uncertain=[t for t, c in zip(tactics, close) if c],
                           model=self.version, note=note)
                for (_, note), rounded, fire, close, proof in zip(
                    clipped, round_scores(probabilities).tolist(), fired.tolist(),
                    near.tolist(), found)]

    def _evidence(self, texts: list[str], hits: list[np.ndarray], plain: np.ndarray,
                  features) -> list[dict[str, dict]]:
        """Evidence for the tactics that fired, for all texts at once: every sentence of a text
        with a hit is scored in one batch (a text that is one sentence reuses its own score), and
        phrases are read from the feature rows already built."""
        rows = [i for i, fired in enumerate(hits) if len(fired)]
        spans = {i: sentence_spans(texts[i]) for i in rows}
        pieces = [texts[i][s:e] for i in rows if not _whole(spans[i], texts[i]) for s, e in spans[i]]
        piece_scores = self._plain_proba(pieces) if pieces else None
        words = self._word_rows(texts, rows, features)
        out: list[dict[str, dict]] = [{} for _ in texts]
        at = 0
        for i in rows:
            if _whole(spans[i], texts[i]):
                sentence_scores = plain[i:i + 1]
            else:
                sentence_scores = piece_scores[at:at + len(spans[i])]
                at += len(spans[i])
            out[i] = {self.tactics[k]: self._tactic_evidence(texts[i], int(k), spans[i],
                                                             sentence_scores, words.get(i))
                      for k in hits[i]}
        return out

    def _word_rows(self, texts: list[str], rows: list[int], features) -> dict[int, object]:
        """Each hit text's word-block row: sliced from the features when cleaning the text for
        the model left it as it was, else computed from the text as written."""
        if self.scorer is None:
            return {}
        block = self.scorer.word_block(features[rows]) if rows else None
        raw = [i for i in rows if clean_feed_text(texts[i]) != texts[i]]
        redone = dict(zip(raw, self.scorer.word_rows([texts[i] for i in raw]))) if raw else {}
        return {i: redone.get(i, block[n]) for n, i in enumerate(rows)}

    def _tactic_evidence(self, text: str, k: int, spans: list[tuple[int, int]],
                         sentence_scores: np.ndarray, word_row) -> dict:
        best = int(np.argmax(sentence_scores[:, k]))
        start, end = spans[best]
        if word_row is not None:
            phrases = phrases_from_row(text, word_row, self.scorer.coefs[k],
                                       feature_names(self.scorer.word_vectorizer))
        elif hasattr(self.estimator, "pipeline_"):   # linear models only
            phrases = top_phrases(self.estimator.pipeline_, text, k)
        elif hasattr(self.estimator, "word_phrases"):   # the multilingual model's n-grams
            phrases = self.estimator.word_phrases(text, k)
        else:
            phrases = []
        return {"phrases": phrases,
                "sentence": {"text": text[start:end], "start": start, "end": end,
                             "score": round(float(sentence_scores[best, k]), SCORE_DIGITS)}}


def lift(probabilities: np.ndarray, rows: np.ndarray, best: np.ndarray, pull: float) -> np.ndarray:
    """Raise long texts' scores (``rows``) towards their best windows' (``best``), in place:
    max(whole, best ** pull x whole ** (1 - pull))."""
    if len(rows):
        probabilities[rows] = np.maximum(probabilities[rows],
                                         best ** pull * probabilities[rows] ** (1 - pull))
    return probabilities


def _whole(spans: list[tuple[int, int]], text: str) -> bool:
    """Whether the text is a single sentence with nothing around it (its score is the sentence's)."""
    return len(spans) == 1 and spans[0] == (0, len(text))


def round_scores(scores: np.ndarray, digits: int = SCORE_DIGITS) -> np.ndarray:
    """``round(score, digits)`` of every score, as Python rounds, at NumPy's speed. NumPy
    scales, rounds half to even and scales back, which gives Python's result except where the
    scaled score lies within rounding error of a half; those few are rounded by Python."""
    scores = np.asarray(scores, dtype=np.float64)
    scale = 10.0 ** digits
    scaled = scores * scale
    rounded = np.round(scaled) / scale
    for at in np.argwhere(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6):
        rounded[tuple(at)] = round(float(scores[tuple(at)]), digits)
    return rounded


def _clip(text: str) -> tuple[str, str | None]:
    if len(text) <= MAX_CHARS:
        return text, None
    return text[:MAX_CHARS], f"text truncated to its first {MAX_CHARS} of {len(text)} characters"


def default_model_path() -> Path:
    """``$TACTICS_MODEL`` when set, else ``models/default`` of the home (``nlp.io.home``)."""
    return Path(os.environ.get(MODEL_ENV) or find_home().models / "default")


def resolve_model_path(path: str | Path | None) -> Path:
    """A model directory from a path, a model name under the home's ``models/``, or the
    default (``$TACTICS_MODEL``, else the home's ``models/default``)."""
    if not path:
        return default_model_path()
    path = Path(path)
    named = find_home().models / path
    if not path.exists() and len(path.parts) == 1 and named.exists():
        return named
    return path


def load_model(path: str | Path | None = None) -> TacticModel:
    """Load a model directory or named model (the default model when ``path`` is None), with
    its multilingual model when the directory holds one (``multilingual/``)."""
    path = resolve_model_path(path)
    model = _load_one(path)
    if (path / MULTILINGUAL_DIR).is_dir():
        try:
            model.multilingual = _load_one(path / MULTILINGUAL_DIR)
        except EncoderMissing as exc:  # English still works; other languages say what is missing
            model.missing = str(exc)
    return model


def _load_one(path: Path) -> TacticModel:
    meta = read_meta(path)
    estimator = read_estimator(weights_dir(path, meta), meta.get("storage", "skops"))
    n_outputs = getattr(estimator, "n_outputs_", None)
    if n_outputs != len(meta["tactics"]):
        raise ModelError(f"{path}: the model file scores {n_outputs} tactics but model.json lists "
                         f"{len(meta['tactics'])}; the directory is inconsistent, retrain it")
    model = TacticModel(estimator, meta, path)
    foreign = load_taxonomy().unknown(meta["tactics"])
    if foreign:
        where = ("its own codebook (taxonomy.toml) defines them" if (path / CODEBOOK_FILE).is_file()
                 else "model.json holds their definitions")
        model.notes.append(f"{path}: tactic id(s) {', '.join(foreign)} are not in the codebook in "
                           f"use; {where}")
        log.warning(model.notes[-1])
    try:
        model.predict_proba(["A short probe text."], long_texts=False)
    except EncoderMissing:
        raise
    except Exception as exc:  # a file from another release restores but cannot score
        raise ModelError(f"{path}: the model cannot score with this release ({exc}); retrain it "
                         f"with `tactics train`") from None
    return model


def classify_rows(model: TacticModel, rows: Iterable[Row], *, chunk_size: int = 256,
                  evidence: bool = True) -> Iterator[dict]:
    """One output record per input row, in order: a prediction, or the row's error."""
    for chunk in _chunks(rows, chunk_size):
        good = [row for row in chunk if row.error is None]
        results = iter(model.predict([row.text for row in good], evidence=evidence)) if good else None
        for row in chunk:
            if row.error is not None:
                yield {"id": row.id, "error": row.error, "model": model.version}
            else:
                yield {"id": row.id, **next(results).to_dict()}


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@lru_cache(maxsize=4)
def _cached_model(path: str) -> TacticModel:
    return load_model(path)


def predict(texts: str | Iterable[str], *, model: TacticModel | str | Path | None = None,
            evidence: bool = True) -> list[Prediction]:
    """Classify one text or many with the given (or default) model, loading it once per process."""
    if not isinstance(model, TacticModel):
        model = _cached_model(str(resolve_model_path(model)))
    return model.predict([texts] if isinstance(texts, str) else texts, evidence=evidence)
