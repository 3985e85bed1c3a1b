"""The spaCy architecture: a ``textcat_multilabel`` pipeline trained by spaCy's own training loop
from a config file, with the project's calibration and per-tactic thresholds on top.

``fit`` holds out a seeded ``dev_fraction`` of the texts, trains on the rest, and fits the
calibrator and thresholds on the held-out scores, so both come from texts the network never saw.
As in the default estimator, a ``gate`` category ("advances any tactic") can be learnt beside the
tactics and combined into each tactic's probability, and thresholds price false alarms on texts
with no tactic (``fpr_weight``).

By default the network that scores new texts is the one the thresholds were tuned for. With
``refit=True`` it is retrained on all texts and inherits the first network's calibration; on a
part of train held back from both, that helped the bag of words (+0.02 macro F1) but hurt the
ensemble (-0.05), whose score scale moves between trainings, so it is off by default.

A fitted model is stored as a spaCy pipeline directory (``config.cfg`` + msgpack weights) plus
``tactics.json`` (labels, thresholds, calibration as plain arrays); nothing is pickled.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_loop
from spacy.util import load_config

from .calibration import ScoreCalibrator, tune_thresholds, tune_thresholds_jointly
from ..errors import ModelError

__all__ = ["COMPONENTS", "DEFAULT_CONFIG", "SpacyTextcatClassifier"]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "data" / "textcat.cfg"
COMPONENTS = {"bow": "textcat_bow", "ensemble": "textcat_ensemble"}  # architecture -> component
STATE_FILE = "tactics.json"
GATE_LABEL = "_any_tactic"
RETRAIN = "nlp.model.train.train(..., architecture='spacy')"
BATCH_SIZE = 256
_EPS = 1e-7  # keeps logits of saturated float32 probabilities finite


class SpacyTextcatClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier over texts; ``Y`` is a 0/1 matrix with one column per tactic.

    ``architecture`` picks the textcat component declared in ``config`` (default: the packaged
    ``textcat.cfg``): ``"bow"`` or ``"ensemble"``. ``labels`` names the columns of ``Y`` as
    spaCy categories (default: the column indices). ``gate`` and ``fpr_weight`` mean what they
    mean for ``TacticClassifier``.
    """

    def __init__(self, *, architecture: str = "bow", max_steps: int = 2000,
                 dev_fraction: float = 0.2, refit: bool = False, gate: bool = True,
                 calibration: str = "sigmoid", fpr_weight: float = 0.5,
                 labels: Sequence[str] | None = None, config: str | Path | None = None,
                 random_state: int = 0) -> None:
        self.architecture = architecture
        self.max_steps = max_steps
        self.dev_fraction = dev_fraction
        self.refit = refit
        self.gate = gate
        self.calibration = calibration
        self.fpr_weight = fpr_weight
        self.labels = labels
        self.config = config
        self.random_state = random_state

    def fit(self, X, Y) -> SpacyTextcatClassifier:
        """Train on all but the dev fraction; fit calibration and thresholds on the dev fraction."""
        X, Y = list(X), np.asarray(Y, dtype=np.int8)
        labels = self._check_params(Y.shape[1])
        targets = np.column_stack([Y, Y.any(axis=1)]) if self.gate else Y
        categories = [*labels, GATE_LABEL] if self.gate else labels
        fit_idx, dev_idx = train_test_split(np.arange(len(X)), test_size=self.dev_fraction,
                                            random_state=self.random_state)
        fit_texts, dev_texts = [X[i] for i in fit_idx], [X[i] for i in dev_idx]
        nlp = self._train(fit_texts, targets[fit_idx], dev_texts, targets[dev_idx], categories)
        dev_scores = _logits(nlp, categories, dev_texts)
        self._fit_decisions(dev_scores, Y[dev_idx])
        if self.refit:
            nlp = self._train(X, targets, dev_texts, targets[dev_idx], categories)
        self.nlp_, self.categories_, self.n_outputs_ = nlp, categories, Y.shape[1]
        return self

    def _fit_decisions(self, dev_scores: np.ndarray, dev_Y: np.ndarray) -> None:
        """Calibrator, thresholds and held-out figures, all from the dev split's scores."""
        self.calibrator_ = ScoreCalibrator(self.calibration, gate=self.gate).fit(dev_scores, dev_Y)
        probabilities = self.calibrator_.transform(dev_scores)
        self.thresholds_ = (
            tune_thresholds_jointly(probabilities, dev_Y, fpr_weight=self.fpr_weight)
            if self.fpr_weight else tune_thresholds(probabilities, dev_Y))
        predicted = probabilities >= self.thresholds_
        self.oof_f1_ = f1_score(dev_Y, predicted, average=None, zero_division=0)
        self.oof_none_fpr_ = float(predicted[~dev_Y.any(axis=1)].any(axis=1).mean())

    def decision_function(self, X) -> np.ndarray:
        """Raw scores: the logits of the network's per-category sigmoids, (n texts, n tactics
        [+1 gate column when ``gate``])."""
        check_is_fitted(self, "nlp_")
        return _logits(self.nlp_, self.categories_, list(X))

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities, (n texts, n tactics)."""
        return self.calibrator_.transform(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        """0/1 matrix: a tactic is predicted when its probability reaches its tuned threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)

    def save_dir(self, path: str | Path) -> Path:
        """Write the spaCy pipeline, and ``tactics.json`` with what spaCy does not hold: params,
        categories, thresholds, calibration."""
        check_is_fitted(self, "nlp_")
        path = Path(path)
        self.nlp_.to_disk(path)
        params = {**self.get_params(), "config": self.config and str(self.config)}
        state = {"params": params, "categories": list(self.categories_),
                 "thresholds": self.thresholds_.tolist(), "oof_f1": self.oof_f1_.tolist(),
                 "oof_none_fpr": self.oof_none_fpr_,
                 "calibrator": _calibrator_state(self.calibrator_)}
        (path / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load_dir(cls, path: str | Path) -> SpacyTextcatClassifier:
        """Restore a model written by ``save_dir``; raise ModelError if the directory is not one.

        spaCy reads its config and msgpack weights; the rest is JSON. Nothing is unpickled.
        """
        path = Path(path)
        state = _read_state(path)
        try:
            nlp = spacy.load(path)
            estimator = cls(**state["params"])
            estimator.categories_ = [str(c) for c in state["categories"]]
            estimator.thresholds_ = np.asarray(state["thresholds"], dtype=np.float64)
            estimator.oof_f1_ = np.asarray(state["oof_f1"], dtype=np.float64)
            estimator.oof_none_fpr_ = float(state["oof_none_fpr"])
            estimator.calibrator_ = _restore_calibrator(state["calibrator"])
        except Exception as exc:  # spaCy and a damaged state raise assorted errors
            raise ModelError(f"{path} could not be restored as a spaCy textcat model: {exc}; "
                             f"retrain it with {RETRAIN}") from None
        if nlp.pipe_names != [COMPONENTS.get(estimator.architecture)]:
            raise ModelError(f"{path}: the pipeline has components {nlp.pipe_names}, not the "
                             f"{estimator.architecture!r} textcat its {STATE_FILE} names")
        estimator.nlp_, estimator.n_outputs_ = nlp, len(estimator.thresholds_)
        return estimator

    def _check_params(self, n_outputs: int) -> list[str]:
        """Validate the parameters; return the category names for the ``n_outputs`` columns."""
        if self.architecture not in COMPONENTS:
            raise ValueError(f"architecture must be one of {', '.join(COMPONENTS)}, "
                             f"not {self.architecture!r}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be between 0 and 1, not {self.dev_fraction!r}")
        labels = [str(k) for k in range(n_outputs)] if self.labels is None else list(self.labels)
        if len(labels) != n_outputs or len(set(labels) - {GATE_LABEL}) != n_outputs:
            raise ValueError(f"labels must name each of the {n_outputs} columns of Y once (and "
                             f"not {GATE_LABEL!r}), got {labels}")
        return labels

    def _train(self, texts: list[str], Y: np.ndarray, dev_texts: list[str], dev_Y: np.ndarray,
               labels: list[str]) -> Language:
        """Train a fresh pipeline with spaCy's training loop; returns the final weights."""
        with tempfile.TemporaryDirectory(prefix="tactics-spacy-") as tmp:
            paths = {"train": Path(tmp) / "train.spacy", "dev": Path(tmp) / "dev.spacy"}
            _write_docbin(paths["train"], texts, Y, labels)
            _write_docbin(paths["dev"], dev_texts, dev_Y, labels)
            overrides = {"paths.train": str(paths["train"]), "paths.dev": str(paths["dev"]),
                         "system.seed": int(self.random_state),
                         "training.max_steps": int(self.max_steps),
                         "nlp.pipeline": [COMPONENTS[self.architecture]]}
            config = load_config(self.config or DEFAULT_CONFIG, overrides=overrides)
            quiet = io.StringIO()
            nlp, _ = train_loop(init_nlp(config), None, stdout=quiet, stderr=quiet)
        return nlp


def _write_docbin(path: Path, texts: list[str], Y: np.ndarray, labels: list[str]) -> None:
    """Texts with every category set to 0 or 1, so each label is known even when it never occurs
    (spaCy takes the textcat's labels from the training examples)."""
    nlp = spacy.blank("en")
    docs = DocBin()
    for doc, row in zip(nlp.pipe(texts, batch_size=BATCH_SIZE), Y):
        doc.cats = {label: float(value) for label, value in zip(labels, row)}
        docs.add(doc)
    docs.to_disk(path)


def _logits(nlp: Language, labels: list[str], texts: list[str]) -> np.ndarray:
    """Per-label logits of the textcat's probabilities, (n texts, n labels)."""
    if not texts:
        return np.zeros((0, len(labels)))
    probabilities = np.array([[doc.cats[label] for label in labels]
                              for doc in nlp.pipe(texts, batch_size=BATCH_SIZE)], dtype=np.float64)
    probabilities = np.clip(probabilities, _EPS, 1.0 - _EPS)
    return np.log(probabilities) - np.log1p(-probabilities)


def _calibrator_state(calibrator: ScoreCalibrator) -> dict[str, Any]:
    return {"method": calibrator.method, "gate": calibrator.gate, "coef": calibrator.coef_.tolist(),
            "intercept": calibrator.intercept_.tolist(),
            "knots_x": [k.tolist() for k in calibrator.knots_x_],
            "knots_y": [k.tolist() for k in calibrator.knots_y_]}


def _restore_calibrator(state: dict[str, Any]) -> ScoreCalibrator:
    calibrator = ScoreCalibrator(state["method"], gate=bool(state["gate"]))
    calibrator.coef_ = np.asarray(state["coef"], dtype=np.float64)
    calibrator.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
    calibrator.knots_x_ = [np.asarray(k, dtype=np.float64) for k in state["knots_x"]]
    calibrator.knots_y_ = [np.asarray(k, dtype=np.float64) for k in state["knots_y"]]
    calibrator.n_outputs_ = len(calibrator.intercept_)
    return calibrator


def _read_state(path: Path) -> dict[str, Any]:
    """``tactics.json`` of a saved model, after checking the directory is a spaCy pipeline."""
    for required in ("config.cfg", STATE_FILE):
        if not (path / required).is_file():
            raise ModelError(f"{path} is not a spaCy textcat model directory: {required} is "
                             f"missing; retrain it with {RETRAIN}")
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path / STATE_FILE}: not valid JSON ({exc})") from None
    keys = ("params", "categories", "thresholds", "oof_f1", "oof_none_fpr", "calibrator")
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise ModelError(f"{path / STATE_FILE}: required keys missing: {', '.join(missing)}")
    return state
