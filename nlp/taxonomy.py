"""The label codebook as one object: tactic ids, families and definitions, read from one file."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .errors import TaxonomyError

__all__ = ["Tactic", "Taxonomy", "load_taxonomy", "DEFAULT_TAXONOMY_PATH", "TAXONOMY_ENV"]

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("data") / "taxonomy.toml"
TAXONOMY_ENV = "TACTICS_TAXONOMY"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Tactic:
    id: str
    family: str
    definition: str
    keywords: tuple[str, ...] = ()
    boundary: tuple[str, ...] = ()   # what else the tactic covers, and where its line runs


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of tactics; the order fixes the columns of every label matrix."""

    version: str
    families: dict[str, str]
    tactics: tuple[Tactic, ...]
    rules: tuple[str, ...] = ()      # boundary rules that hold for every tactic

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tactics]

    def __len__(self) -> int:
        return len(self.tactics)

    def __contains__(self, tactic_id: object) -> bool:
        return tactic_id in self.ids

    def __getitem__(self, tactic_id: str) -> Tactic:
        for tactic in self.tactics:
            if tactic.id == tactic_id:
                return tactic
        raise TaxonomyError(self.unknown_message([tactic_id]))

    def family_of(self, tactic_id: str) -> str:
        return self[tactic_id].family

    def unknown(self, labels: Iterable[str]) -> list[str]:
        """The labels that are not tactic ids, in the order given."""
        known = set(self.ids)
        return [label for label in labels if label not in known]

    def unknown_message(self, unknown: list[str]) -> str:
        return (f"unknown tactic id(s) {', '.join(map(repr, unknown))}; "
                f"valid ids: {', '.join(self.ids)}")

    def check(self, labels: Iterable[str]) -> None:
        """Raise TaxonomyError when any label is not a tactic id."""
        unknown = self.unknown(labels)
        if unknown:
            raise TaxonomyError(self.unknown_message(unknown))

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "families": dict(self.families),
            "rules": list(self.rules),
            "tactics": [
                {"id": t.id, "family": t.family, "definition": t.definition,
                 "boundary": list(t.boundary)} for t in self.tactics
            ],
        }


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and check a taxonomy TOML file: ``path``, else ``$TACTICS_TAXONOMY``, else the
    packaged codebook."""
    resolved = Path(path or os.environ.get(TAXONOMY_ENV) or DEFAULT_TAXONOMY_PATH).resolve()
    try:
        modified = resolved.stat().st_mtime_ns
    except OSError:
        modified = 0
    return _load(str(resolved), modified)


@lru_cache(maxsize=8)
def _load(path: str, modified: int) -> Taxonomy:
    """Parse and check one version of a taxonomy file (cached by path and modification time)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaxonomyError(f"taxonomy file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: not valid TOML: {exc}") from None
    families = raw.get("families") or {}
    tactics = []
    for n, entry in enumerate(raw.get("tactic") or [], start=1):
        missing = [k for k in ("id", "family", "definition") if not entry.get(k)]
        if missing:
            raise TaxonomyError(f"{path}: tactic #{n} lacks {', '.join(missing)}")
        if not _ID.match(entry["id"]):
            raise TaxonomyError(f"{path}: tactic id {entry['id']!r} must be lowercase snake_case")
        if entry["family"] not in families:
            raise TaxonomyError(f"{path}: tactic {entry['id']!r} names unknown family "
                                f"{entry['family']!r}; families: {', '.join(families)}")
        tactics.append(Tactic(entry["id"], entry["family"], entry["definition"].strip(),
                              tuple(k.lower() for k in entry.get("keywords", ())),
                              _strings(entry.get("boundary", []), f"tactic {entry['id']!r} boundary", path)))
    ids = [t.id for t in tactics]
    if not tactics:
        raise TaxonomyError(f"{path}: no [[tactic]] entries")
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise TaxonomyError(f"{path}: duplicate tactic id(s): {', '.join(dupes)}")
    return Taxonomy(str(raw.get("version", "1")), dict(families), tuple(tactics),
                    _strings(raw.get("rules", []), "rules", path))


def _strings(value: object, what: str, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaxonomyError(f"{path}: {what} must be a list of non-empty strings")
    return tuple(" ".join(v.split()) for v in value)
