"""The label codebook as one object: tactic ids, families and definitions, read from one file.

The codebook in use is ``$TACTICS_TAXONOMY`` when set, else the project's own ``taxonomy.toml``
in the home (``nlp.io.home``; ``tactics labels add`` writes it), else the one shipped in the
package. Every model directory carries a snapshot of the codebook it was trained with.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from .errors import TaxonomyError
from .io.home import CODEBOOK_FILE, find_home
from .io.writers import atomic_text_output

__all__ = ["Tactic", "Taxonomy", "load_taxonomy", "codebook_path", "parse_taxonomy", "dump_toml",
           "add_tactic", "DEFAULT_TAXONOMY_PATH", "TAXONOMY_ENV", "CODEBOOK_FILE"]

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


def codebook_path() -> tuple[Path, str]:
    """The codebook in use and why: ``$TACTICS_TAXONOMY``; else the home's own ``taxonomy.toml``
    when it has one; else the codebook shipped with the package."""
    explicit = os.environ.get(TAXONOMY_ENV)
    if explicit:
        return Path(explicit), f"${TAXONOMY_ENV}"
    home = find_home()
    if home.source != "package" and home.codebook.is_file():
        return home.codebook, f"the project's own codebook ({home.source} home {home.root})"
    return DEFAULT_TAXONOMY_PATH, "the codebook shipped with the package"


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and check a taxonomy TOML file: ``path``, else the codebook in use
    (``codebook_path``)."""
    resolved = Path(path or codebook_path()[0]).resolve()
    try:
        modified = resolved.stat().st_mtime_ns
    except OSError:
        modified = 0
    return _load(str(resolved), modified)


@lru_cache(maxsize=8)
def _load(path: str, modified: int) -> Taxonomy:
    """Parse and check one version of a taxonomy file (cached by path and modification time)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError(f"taxonomy file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not valid UTF-8: {exc}") from None
    return parse_taxonomy(text, path)


def parse_taxonomy(text: str, path: str) -> Taxonomy:
    """Parse and check the text of a taxonomy file (``path`` names it in messages)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
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


def dump_toml(taxonomy: Taxonomy, header: str = "") -> str:
    """The taxonomy as a TOML file that ``load_taxonomy`` reads back to an equal object."""
    q = lambda value: json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML string
    lines = [f"# {line}" for line in header.splitlines()]
    lines += ["", f"version = {q(taxonomy.version)}", ""]
    if taxonomy.rules:
        lines += ["rules = [", *(f"  {q(rule)}," for rule in taxonomy.rules), "]", ""]
    lines += ["[families]", *(f"{q(name)} = {q(text)}" for name, text in taxonomy.families.items())]
    for t in taxonomy.tactics:
        lines += ["", "[[tactic]]", f"id = {q(t.id)}", f"family = {q(t.family)}",
                  f"definition = {q(t.definition)}", f"keywords = {q(list(t.keywords))}"]
        if t.boundary:
            lines += ["boundary = [", *(f"  {q(line)}," for line in t.boundary), "]"]
    return "\n".join(lines) + "\n"


def add_tactic(tactic_id: str, family: str, definition: str, *, keywords: Iterable[str] = (),
               boundary: Iterable[str] = (), family_definition: str | None = None,
               path: str | Path | None = None) -> Path:
    """Add a tactic to the project's own codebook and return its path.

    The codebook written is ``path``, else ``$TACTICS_TAXONOMY``, else the home's
    ``taxonomy.toml``; when it does not exist yet it starts as a copy of the codebook in use.
    A family not in the codebook needs ``family_definition``. The result is checked as
    ``load_taxonomy`` checks a file and written atomically; the packaged codebook is never
    written.
    """
    target = Path(path or os.environ.get(TAXONOMY_ENV) or find_home().writable().codebook)
    if target.resolve() == DEFAULT_TAXONOMY_PATH.resolve():
        raise TaxonomyError(f"{target} is the codebook shipped with the package and is not "
                            f"written; add tactics to the project's own codebook")
    current = load_taxonomy(target if target.is_file() else None)
    if tactic_id in current:
        raise TaxonomyError(f"{target}: tactic {tactic_id!r} is already in the codebook")
    families = dict(current.families)
    if family not in families:
        if not family_definition:
            raise TaxonomyError(f"unknown family {family!r}; families: {', '.join(families)} "
                                f"(a new family needs a definition: --family-definition)")
        if not _ID.match(family):
            raise TaxonomyError(f"family name {family!r} must be lowercase snake_case")
        families[family] = family_definition
    tactic = Tactic(tactic_id, family, " ".join(definition.split()),
                    tuple(k.strip().lower() for k in keywords if k.strip()), tuple(boundary))
    grown = Taxonomy(f"{current.version}+{tactic_id}", families, (*current.tactics, tactic),
                     current.rules)
    text = dump_toml(grown, header=_HEADER)
    parse_taxonomy(text, str(target))     # the same checks as the shipped codebook
    with atomic_text_output(target) as handle:
        handle.write(text)
    return target


_HEADER = """The project's own codebook, written by `tactics labels add` (see docs/research.md).
It is used instead of the codebook shipped with the package while it lies in the home."""
