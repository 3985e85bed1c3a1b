"""What ``model.json`` may hold, checked whenever a model directory is read: a damaged or
crafted file is refused with one line naming the key, instead of loading and misbehaving (a
threshold of ``Infinity`` silently disables a tactic; deep nesting ends in a RecursionError).

Keys this release does not use are allowed (newer models carry e.g. ``languages`` or
``encoder``); the keys it uses must have the right types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from ..errors import ModelError

__all__ = ["parse_meta", "MAX_META_BYTES", "MAX_DEPTH"]

MAX_META_BYTES = 5_000_000
MAX_DEPTH = 16           # objects and arrays inside each other; the trained files use 4


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_list(value: object) -> bool:
    return isinstance(value, list) and all(map(_is_text, value))


def _text_map(value: object) -> bool:
    return isinstance(value, dict) and all(map(_is_text, value.values()))


# Optional keys this release reads, and what each must be.
OPTIONAL: dict[str, tuple[Callable[[object], bool], str]] = {
    "name": (_is_text, "a string"),
    "created": (_is_text, "a string"),
    "architecture": (_is_text, "a string"),
    "encoder": (_is_text, "a string"),
    "storage": (lambda v: v in ("skops", "spacy"), "'skops' or 'spacy'"),
    "languages": (_text_list, "a list of language codes"),
    "families": (_text_map, "an object of strings"),
    "definitions": (_text_map, "an object of strings"),
    "data": (lambda v: isinstance(v, dict), "an object"),
    "metrics": (lambda v: isinstance(v, dict), "an object"),
    "params": (lambda v: isinstance(v, dict), "an object"),
    "versions": (lambda v: isinstance(v, dict), "an object"),
    "training_seconds": (_is_number, "a number"),
    "weights": (lambda v: isinstance(v, dict) and _is_text(v.get("from"))
                and _is_text(v.get("sha256")), "an object with 'from' and 'sha256' strings"),
    "recalibration": (lambda v: isinstance(v, dict) and all(
        isinstance(v.get(key), dict) and all(_is_number(x) and math.isfinite(x)
                                             for x in v[key].values())
        for key in ("slope", "intercept")), "an object with 'slope' and 'intercept' objects "
                                             "of finite numbers"),
}


def parse_meta(path: str | Path, format_version: int) -> dict:
    """Read ``model.json`` at ``path`` and check it; raise ModelError naming what is wrong."""
    path = Path(path)
    if path.stat().st_size > MAX_META_BYTES:
        raise ModelError(f"{path}: {path.stat().st_size:,} bytes; a model.json holds at most "
                         f"{MAX_META_BYTES:,}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except RecursionError:
        raise ModelError(f"{path}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    _check(meta, format_version, str(path))
    return meta


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows; thresholds and figures must be finite")


def _depth(value: object) -> int:
    """How many objects and arrays are nested at the deepest point (iteratively)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1)
                         for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check(meta: object, format_version: int, where: str) -> None:
    if not isinstance(meta, dict):
        raise ModelError(f"{where}: must hold a JSON object, not {type(meta).__name__}")
    if _depth(meta) > MAX_DEPTH:
        raise ModelError(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)")
    version = meta.get("format_version")
    if version != format_version:
        raise ModelError(f"{where}: model format version {version!r} is not supported by this "
                         f"release (expects {format_version}); retrain it with `tactics train`")
    for key in ("tactics", "thresholds", "model_version"):
        if key not in meta:
            raise ModelError(f"{where}: required key {key!r} is missing")
    if not _is_text(meta["model_version"]) or not meta["model_version"].strip():
        raise ModelError(f"{where}: 'model_version' must be a non-empty string")
    tactics = meta["tactics"]
    if not (_text_list(tactics) and tactics and all(tactics) and len(set(tactics)) == len(tactics)):
        raise ModelError(f"{where}: 'tactics' must be a non-empty list of distinct tactic ids")
    _check_thresholds(meta["thresholds"], tactics, where)
    for key, (valid, kind) in OPTIONAL.items():
        if key in meta and not valid(meta[key]):
            raise ModelError(f"{where}: {key!r} must be {kind}, not {meta[key]!r:.80}")


def _check_thresholds(thresholds: object, tactics: list[str], where: str) -> None:
    if not isinstance(thresholds, dict):
        raise ModelError(f"{where}: 'thresholds' must be an object of tactic id -> number")
    missing = [t for t in tactics if t not in thresholds]
    if missing:
        raise ModelError(f"{where}: 'thresholds' has no threshold for {', '.join(missing)}")
    for tactic, value in thresholds.items():
        if not (_is_number(value) and math.isfinite(value) and 0 <= value <= 1):
            raise ModelError(f"{where}: the threshold of {tactic} is {value!r}; thresholds must "
                             f"be numbers from 0 to 1")
