"""Model directories: writing them, and loading them without ever executing code from a file.

A model directory holds ``model.skops`` (the fitted estimator in skops' format, restored only from
an explicit list of trusted types) or, for the spaCy architecture, a ``spacy/`` pipeline directory
(spaCy's own config + msgpack weights, no pickle); ``model.json`` (what the model is: version,
tactics, thresholds, data hash, library versions, metrics); ``config.json`` (the training
parameters); ``MODEL_CARD.md``; and ``taxonomy.toml``, a snapshot of the codebook the model was
trained with, so that a model always explains its own tactic ids.

A directory may share another's weights instead of holding a copy (``tactics calibrate`` writes
such directories): its ``model.json`` then names them under ``weights`` (``from``: the directory
holding them, relative to this one; ``sha256``: their digest, checked on every load).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import skops.io as sio

from ..errors import ModelError
from ..io.writers import atomic_directory, umask_mode
from ..taxonomy import CODEBOOK_FILE, Taxonomy, dump_toml
from .schema import parse_meta

__all__ = ["FORMAT_VERSION", "MODEL_FILE", "META_FILE", "CARD_FILE", "CODEBOOK_FILE",
           "TRUSTED_TYPES", "write_model_dir", "write_shared_model_dir", "copy_model_dir",
           "read_meta", "read_estimator", "weights_dir", "weights_digest", "library_versions"]

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
                    *, parts: dict[str, tuple[Any, dict, str, dict]] | None = None,
                    codebook: Taxonomy | None = None) -> Path:
    """Write a complete model directory atomically: built beside the target, then renamed.

    ``parts`` are sub-models written into sub-directories of the same directory (the
    multilingual model in ``multilingual/``), as (estimator, meta, card, config); ``codebook``
    is saved as the directory's ``taxonomy.toml``."""
    with atomic_directory(path) as staging:
        _write_contents(staging, estimator, meta, card, config)
        for name, part in (parts or {}).items():
            (staging / name).mkdir()
            _write_contents(staging / name, *part)
        _write_codebook(staging, codebook)
    return Path(path)


def write_shared_model_dir(path: str | Path, base: Path, meta: dict, card: str, config: dict, *,
                           parts: dict[str, tuple[Path, dict, str, dict]] | None = None,
                           codebook: Taxonomy | None = None) -> Path:
    """Write a model directory that shares the weights of model directory ``base`` (and each
    part those of its own base directory) instead of copying them; atomically."""
    path = Path(path)
    with atomic_directory(path) as staging:
        for name, (source, part_meta, part_card, part_config) in {
                "": (base, meta, card, config), **(parts or {})}.items():
            directory = staging / name
            directory.mkdir(exist_ok=True)
            source_meta = read_meta(source)
            storage = source_meta.get("storage", "skops")
            shared = weights_dir(source, source_meta)
            reference = {"from": os.path.relpath(shared.resolve(), (path / name).resolve()),
                         "sha256": weights_digest(shared, storage)}
            _write_json(directory / META_FILE, {"format_version": FORMAT_VERSION,
                                                "storage": storage, **part_meta,
                                                "weights": reference})
            _write_json(directory / CONFIG_FILE, part_config)
            (directory / CARD_FILE).write_text(part_card, encoding="utf-8")
        _write_codebook(staging, codebook)
    return path


def copy_model_dir(source: Path, target: Path) -> None:
    """Copy model directory ``source`` into ``target`` (new or empty) with the weights it shares
    copied in, so that the copy stands on its own."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    target.chmod(umask_mode(directory=True))   # copytree copied the source's mode
    for meta_path in sorted(target.glob(f"**/{META_FILE}")):
        directory = meta_path.parent
        meta = read_meta(directory)
        if "weights" not in meta:
            continue
        shared = weights_dir(source / directory.relative_to(target), meta)
        for name in (MODEL_FILE, SPACY_DIR):
            if (shared / name).is_dir():
                shutil.copytree(shared / name, directory / name)
            elif (shared / name).exists():
                shutil.copyfile(shared / name, directory / name)
        del meta["weights"]
        _write_json(meta_path, meta)


def weights_digest(directory: Path, storage: str = "skops") -> str:
    """SHA-256 over the weight files of a model directory (``model.skops`` or ``spacy/``)."""
    digest = hashlib.sha256()
    root = Path(directory)
    files = [root / MODEL_FILE] if storage == "skops" else sorted(
        p for p in (root / SPACY_DIR).rglob("*") if p.is_file())
    for file in files:
        if not file.exists():
            raise ModelError(f"{file} is missing")
        digest.update(file.relative_to(root).as_posix().encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weights_dir(path: str | Path, meta: dict) -> Path:
    """The directory holding a model's weights: its own, or the one it shares them with (checked
    against the digest recorded when it was written)."""
    path = Path(path)
    reference = meta.get("weights")
    if not reference:
        return path
    shared = (path / reference["from"]).resolve()
    if not (shared / META_FILE).exists():
        raise ModelError(f"{path} shares the weights of {shared}, which is not there any more; "
                         f"recalibrate from a model that exists (`tactics calibrate`)")
    if weights_digest(shared, meta.get("storage", "skops")) != reference["sha256"]:
        raise ModelError(f"{path} shares the weights of {shared}, which changed since (retrained "
                         f"or promoted over); recalibrate it (`tactics calibrate`)")
    return shared


def _write_codebook(directory: Path, codebook: Taxonomy | None) -> None:
    if codebook is not None:
        (directory / CODEBOOK_FILE).write_text(
            dump_toml(codebook, header="The codebook this model was trained with (a snapshot)."),
            encoding="utf-8")


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
