"""Model directories: writing them, and loading them without ever executing code from a file.

A model directory holds ``model.skops`` (the fitted estimator in skops' format, restored only from
an explicit list of trusted types) or, for the spaCy architecture, a ``spacy/`` pipeline directory
(spaCy's own config + msgpack weights, no pickle); ``model.json`` (what the model is: version,
tactics, thresholds, data hash, library versions, metrics); ``config.json`` (the training
parameters); and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import platform
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import skops.io as sio

from ..errors import ModelError
from ..io.writers import atomic_directory
from .schema import parse_meta

__all__ = ["FORMAT_VERSION", "MODEL_FILE", "META_FILE", "CARD_FILE", "TRUSTED_TYPES",
           "write_model_dir", "read_meta", "read_estimator", "library_versions"]

FORMAT_VERSION = 1
MODEL_FILE, META_FILE, CARD_FILE, CONFIG_FILE = "model.skops", "model.json", "MODEL_CARD.md", "config.json"
SPACY_DIR = "spacy"

# The project's own classes a model file may contain, on top of the scikit-learn, NumPy and SciPy
# types skops trusts by default. Anything else in a file is refused before it is built.
TRUSTED_TYPES = [
    "nlp.model.calibration.ScoreCalibrator",
    "nlp.model.classifier.TacticClassifier",
    "nlp.model.encoder_classifier.EncoderClassifier",
    "nlp.model.features.DistancedWords",
    "nlp.model.features.StanceCues",
]


def library_versions() -> dict[str, str]:
    names = ["narrative-tactics", "scikit-learn", "numpy", "scipy", "skops", "spacy"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_model_dir(path: str | Path, estimator: Any, meta: dict, card: str, config: dict,
                    *, parts: dict[str, tuple[Any, dict, str, dict]] | None = None) -> Path:
    """Write a complete model directory atomically: built beside the target, then renamed.

    ``parts`` are sub-models written into sub-directories of the same directory (the
    multilingual model in ``multilingual/``), as (estimator, meta, card, config)."""
    with atomic_directory(path) as staging:
        _write_contents(staging, estimator, meta, card, config)
        for name, part in (parts or {}).items():
            (staging / name).mkdir()
            _write_contents(staging / name, *part)
    return Path(path)


def _write_contents(directory: Path, estimator: Any, meta: dict, card: str, config: dict) -> None:
    if hasattr(estimator, "save_dir"):  # estimators with their own safe format (spaCy)
        estimator.save_dir(directory / SPACY_DIR)
        storage = "spacy"
    else:
        sio.dump(estimator, directory / MODEL_FILE, compression=zipfile.ZIP_DEFLATED,
                 compresslevel=9)
        storage = "skops"
    _write_json(directory / META_FILE, {"format_version": FORMAT_VERSION, "storage": storage, **meta})
    _write_json(directory / CONFIG_FILE, config)
    (directory / CARD_FILE).write_text(card, encoding="utf-8")


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n",
                    encoding="utf-8")


def read_meta(path: str | Path) -> dict:
    """Read and check ``model.json`` (``nlp.model.schema``); raise ModelError naming what is
    wrong."""
    path = Path(path)
    meta_path = path / META_FILE
    if not path.is_dir():
        raise ModelError(f"model directory not found: {path}")
    if not meta_path.exists():
        raise ModelError(f"{path} is not a model directory: {META_FILE} is missing "
                         f"(train one with `tactics train --output {path}`)")
    return parse_meta(meta_path, FORMAT_VERSION)


def read_estimator(path: str | Path, storage: str = "skops") -> Any:
    """Restore the estimator, refusing any file that holds types outside the trusted list."""
    if storage == "spacy":
        from .spacy_textcat import SpacyTextcatClassifier

        return SpacyTextcatClassifier.load_dir(Path(path) / SPACY_DIR)
    if storage != "skops":
        raise ModelError(f"{path}: unknown model storage {storage!r}; expected 'skops' or 'spacy'")
    model_path = Path(path) / MODEL_FILE
    if not model_path.exists():
        raise ModelError(f"{model_path} is missing")
    if not zipfile.is_zipfile(model_path):
        raise ModelError(f"{model_path} is not a skops model file (perhaps a pickle); refusing to "
                         f"load it. Only skops files with trusted types are loaded")
    try:
        untrusted = [t for t in sio.get_untrusted_types(file=model_path) if t not in TRUSTED_TYPES]
    except Exception as exc:  # skops raises assorted errors on a damaged archive
        raise ModelError(f"{model_path} is damaged: {exc}") from None
    if untrusted:
        raise ModelError(f"{model_path} holds untrusted types {untrusted}; refusing to load it")
    try:
        return sio.load(model_path, trusted=TRUSTED_TYPES)
    except Exception as exc:
        raise ModelError(f"{model_path} could not be restored: {exc}") from None
