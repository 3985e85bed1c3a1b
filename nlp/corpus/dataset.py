"""The labelled corpus: reading JSONL splits, checking them, and handing them to trainers.

A record is one JSON object a line: ``{"id", "text", "labels": [tactic ids], "genre", "kind", ...}``;
``labels: []`` means the text advances no tactic. ``kind`` tells negatives apart: ``hard_negative``
texts use a tactic's vocabulary without advancing it, ``neutral`` ones do not.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import DataError
from .similarity import near_duplicate_pairs
from ..taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "Record", "Problem", "GENRES", "KINDS", "SPLITS", "OPTIONAL_SPLITS", "LANGUAGES", "REGISTERS",
    "PERIODS", "DEFAULT_DATA_DIR",
    "read_records", "read_labels", "relabel", "load_split", "load_corpus", "validate_corpus", "corpus_hash",
    "label_matrix", "to_frame", "load_hf_dataset", "present_splits", "in_language",
]

DEFAULT_DATA_DIR = Path("training_data")
SPLITS = ("train", "test")
# Written by other writers in the registers of real media; never trained on, it chooses the
# operating point (thresholds) and is reported beside the test split.
OPTIONAL_SPLITS = ("shift_dev",)
GENRES = (
    "headline", "wire_report", "official_quote", "telegram_post", "x_post", "vk_post",
    "tv_talk_show", "op_ed", "forum_comment", "fact_check", "analysis", "article", "speech",
    "podcast", "blog", "claim_summary",
)
KINDS = ("positive", "hard_negative", "neutral")
LANGUAGES = ("en", "ru", "uk", "de")
REGISTERS = ("claim_record", "translated", "long_article", "debunk", "social", "broadcast",
             "official", "news", "commentary")
PERIODS = ("2014-2021", "2022-2023", "2024-2025", "timeless")
NEAR_DUPLICATE_JACCARD = 0.5


@dataclass(frozen=True)
class Record:
    id: str
    text: str
    labels: tuple[str, ...]
    genre: str = ""
    kind: str = ""
    hard_for: tuple[str, ...] = ()
    note: str = ""
    extra: dict = field(default_factory=dict, compare=False)
    lang: str = "en"
    register: str = ""
    period: str = ""

    @property
    def is_none(self) -> bool:
        return not self.labels

    def to_json(self) -> dict:
        out = {"id": self.id, "text": self.text, "labels": list(self.labels)}
        for key in ("genre", "kind", "note"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.hard_for:
            out["hard_for"] = list(self.hard_for)
        if self.lang != "en":
            out["lang"] = self.lang
        for key in ("register", "period"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return {**out, **self.extra}


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f" (field '{self.field}')" if self.field else ""
        return f"{where}: {self.message}{what}"


def read_records(path: str | Path, taxonomy: Taxonomy) -> Iterator[tuple[int, Record | Problem]]:
    """Yield (line number, Record) for each good line and (line number, Problem) for each bad one."""
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(f"cannot open: {exc.strerror}", path=str(path)) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, _parse_line(raw, str(path), number, taxonomy)


def _parse_line(raw: bytes, path: str, number: int, taxonomy: Taxonomy) -> Record | Problem:
    def problem(message: str, field_name: str | None = None) -> Problem:
        return Problem(path, number, field_name, message)

    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return problem("line is not valid UTF-8")
    except json.JSONDecodeError as exc:
        return problem(f"not valid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(obj, dict):
        return problem("a record must be a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return problem("missing or empty text", "text")
    record_id = obj.get("id")
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool) or str(record_id) == "":
        return problem("missing id", "id")
    labels = obj.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return problem("labels must be a list of tactic ids ([] for none)", "labels")
    unknown = taxonomy.unknown(labels + list(obj.get("hard_for") or []))
    if unknown:
        return problem(taxonomy.unknown_message(unknown), "labels")
    if len(set(labels)) != len(labels):
        return problem("a label is repeated", "labels")
    genre, kind = obj.get("genre", ""), obj.get("kind") or ("positive" if labels else "")
    if genre and genre not in GENRES:
        return problem(f"unknown genre {genre!r}; valid genres: {', '.join(GENRES)}", "genre")
    if kind and kind not in KINDS:
        return problem(f"unknown kind {kind!r}; valid kinds: {', '.join(KINDS)}", "kind")
    if bool(labels) != (kind == "positive") and kind:
        return problem(f"kind {kind!r} does not match labels {labels}", "kind")
    for name, valid, default in (("lang", LANGUAGES, "en"), ("register", REGISTERS, ""),
                                 ("period", PERIODS, "")):
        value = obj.get(name, default)
        if value != default and value not in valid:
            return problem(f"unknown {name} {value!r}; valid: {', '.join(valid)}", name)
    known = {"id", "text", "labels", "genre", "kind", "hard_for", "note", "lang", "register", "period"}
    return Record(str(record_id), text, tuple(labels), genre, kind, tuple(obj.get("hard_for") or ()),
                  str(obj.get("note") or ""), {k: v for k, v in obj.items() if k not in known},
                  obj.get("lang", "en"), obj.get("register", ""), obj.get("period", ""))


def load_split(path: str | Path, taxonomy: Taxonomy | None = None) -> list[Record]:
    """Read one split; the first bad line raises DataError naming file, line and field."""
    taxonomy = taxonomy or load_taxonomy()
    records = []
    for _, item in read_records(path, taxonomy):
        if isinstance(item, Problem):
            raise DataError(item.message, path=item.path, line=item.line, field=item.field)
        records.append(item)
    if not records:
        raise DataError("no records", path=str(path))
    return records


def read_labels(path: str | Path, taxonomy: Taxonomy | None = None) -> dict[str, list[str]]:
    """Read a labels-only JSONL file (``{"id", "labels"}`` a line, e.g. a second labelling pass);
    the first bad line raises DataError naming file, line and field."""
    taxonomy = taxonomy or load_taxonomy()
    labels: dict[str, list[str]] = {}
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise DataError(f"cannot open: {exc.strerror}", path=str(path)) from None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        padded = _parse_line(_with_text(raw), str(path), number, taxonomy)
        if isinstance(padded, Problem):
            raise DataError(padded.message, path=padded.path, line=padded.line, field=padded.field)
        if padded.id in labels:
            raise DataError(f"duplicate id {padded.id!r}", path=str(path), line=number, field="id")
        labels[padded.id] = list(padded.labels)
    return labels


def relabel(data_dir: str | Path, corrections: dict[str, list[str]],
            notes: dict[str, str] | None = None, taxonomy: Taxonomy | None = None) -> list[str]:
    """Apply reviewed label corrections (id -> labels) to the corpus files in place, atomically.

    A record that loses all its labels becomes a hard negative for the tactics it had; one that
    gains labels becomes a positive. Only the changed records' lines are rewritten: every other
    line stays byte for byte as it was. Returns the ids whose labels changed. Unknown ids raise.
    """
    taxonomy = taxonomy or load_taxonomy()
    for labels in corrections.values():
        taxonomy.check(labels)
    corpus = load_corpus(data_dir, taxonomy)
    known = {r.id for records in corpus.values() for r in records}
    unknown = sorted(set(corrections) - known)
    if unknown:
        raise DataError(f"ids not in the corpus: {', '.join(unknown[:10])}")
    changed = []
    for split, records in corpus.items():
        fixed = {r.id: _relabelled(r, corrections[r.id], (notes or {}).get(r.id))
                 for r in records
                 if r.id in corrections and sorted(corrections[r.id]) != sorted(r.labels)}
        if fixed:
            _rewrite_lines(split_path(data_dir, split), fixed)
            changed.extend(fixed)
    return changed


def _relabelled(record: Record, labels: list[str], note: str | None) -> Record:
    if labels:
        kind, hard_for = "positive", ()
    else:
        kind = "hard_negative"
        hard_for = tuple(dict.fromkeys(record.hard_for + record.labels))
    return replace(record, labels=tuple(labels), kind=kind, hard_for=hard_for,
                   note=note or record.note)


def _rewrite_lines(path: Path, fixed: dict[str, Record]) -> None:
    """Rewrite the lines of the ``fixed`` records (their other fields and key order kept)."""
    from ..io.writers import atomic_text_output

    # lines end at "\n" only: a text may hold U+2028 and the like, which JSON leaves unescaped
    lines = re.split(r"(?<=\n)", path.read_bytes().decode("utf-8"))
    with atomic_text_output(path) as out:
        for line in lines:
            obj = json.loads(line) if line.strip() else None
            record = fixed.get(str(obj.get("id"))) if isinstance(obj, dict) else None
            if record is not None:
                obj.update(labels=list(record.labels), kind=record.kind)
                if record.hard_for or "hard_for" in obj:
                    obj["hard_for"] = list(record.hard_for)
                if record.note:
                    obj["note"] = record.note
                line = json.dumps(obj, ensure_ascii=False) + line[len(line.rstrip("\r\n")):]
            out.write(line)


def _with_text(raw: bytes) -> bytes:
    """A labels-only line with a placeholder text, so it passes through the record checks."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw
    if isinstance(obj, dict):
        obj.setdefault("text", "-")
        return json.dumps(obj).encode("utf-8")
    return raw


def split_path(data_dir: str | Path, split: str) -> Path:
    return Path(data_dir) / f"{split}.jsonl"


def present_splits(data_dir: str | Path) -> tuple[str, ...]:
    """The required splits, then the optional ones that the directory holds."""
    return SPLITS + tuple(s for s in OPTIONAL_SPLITS if split_path(data_dir, s).exists())


def load_corpus(data_dir: str | Path = DEFAULT_DATA_DIR,
                taxonomy: Taxonomy | None = None) -> dict[str, list[Record]]:
    """Read the train and test splits of a corpus directory, and ``shift_dev`` when present."""
    return {split: load_split(split_path(data_dir, split), taxonomy)
            for split in present_splits(data_dir)}


def corpus_hash(data_dir: str | Path = DEFAULT_DATA_DIR) -> str:
    """SHA-256 over the split files' bytes: models record it to prove what they were trained on
    (and, for ``shift_dev``, tuned on)."""
    digest = hashlib.sha256()
    for split in SPLITS:
        if not split_path(data_dir, split).exists():
            raise DataError("split file is missing", path=str(split_path(data_dir, split)))
    for split in present_splits(data_dir):
        digest.update(split.encode() + b"\0" + split_path(data_dir, split).read_bytes() + b"\0")
    return digest.hexdigest()


def in_language(records: list[Record], *langs: str) -> list[Record]:
    """The records written in any of ``langs``."""
    return [r for r in records if r.lang in langs]


def label_matrix(records: list[Record], tactic_ids: list[str]) -> np.ndarray:
    """A 0/1 matrix (records x tactics) in the taxonomy's column order; a label outside
    ``tactic_ids`` (a tactic added after a model was trained) raises DataError."""
    column = {t: i for i, t in enumerate(tactic_ids)}
    extra = sorted({label for record in records for label in record.labels} - set(column))
    if extra:
        raise DataError(f"the records carry tactic(s) {', '.join(extra)} that the {len(tactic_ids)} "
                        f"scored tactics lack; a model trained before they were added cannot be "
                        f"scored on them: retrain it (`tactics retrain`)")
    y = np.zeros((len(records), len(tactic_ids)), dtype=np.int8)
    for row, record in enumerate(records):
        for label in record.labels:
            y[row, column[label]] = 1
    return y


def to_frame(records: list[Record]) -> pd.DataFrame:
    return pd.DataFrame([r.to_json() for r in records])


def load_hf_dataset(data_dir: str | Path = DEFAULT_DATA_DIR, taxonomy: Taxonomy | None = None):
    """The corpus as a Hugging Face ``DatasetDict`` (train, test, and shift_dev when present),
    labels typed as a ClassLabel list."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    taxonomy = taxonomy or load_taxonomy()
    features = Features({
        "id": Value("string"), "text": Value("string"),
        "labels": Sequence(ClassLabel(names=taxonomy.ids)),
        "genre": Value("string"), "kind": Value("string"), "lang": Value("string"),
    })
    corpus = load_corpus(data_dir, taxonomy)
    return DatasetDict({
        split: Dataset.from_dict({
            "id": [r.id for r in records], "text": [r.text for r in records],
            "labels": [list(r.labels) for r in records],
            "genre": [r.genre for r in records], "kind": [r.kind or "neutral" for r in records],
            "lang": [r.lang for r in records],
        }, features=features)
        for split, records in corpus.items()
    })


@dataclass
class ValidationReport:
    problems: list[Problem]
    stats: dict

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_corpus(data_dir: str | Path = DEFAULT_DATA_DIR,
                    taxonomy: Taxonomy | None = None) -> ValidationReport:
    """Check every split and the splits against each other; collect all problems, never stop early."""
    taxonomy = taxonomy or load_taxonomy()
    problems: list[Problem] = []
    splits: dict[str, list[tuple[int, Record]]] = {}
    for split in present_splits(data_dir):
        path = split_path(data_dir, split)
        if not path.exists():
            problems.append(Problem(str(path), None, None, "split file is missing"))
            continue
        splits[split] = []
        for number, item in read_records(path, taxonomy):
            if isinstance(item, Problem):
                problems.append(item)
            else:
                splits[split].append((number, item))
    problems += _duplicate_problems(data_dir, splits)
    return ValidationReport(problems, _stats(splits, taxonomy))


def _duplicate_problems(data_dir, splits: dict[str, list[tuple[int, Record]]]) -> list[Problem]:
    problems = []
    seen_ids: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    for split, rows in splits.items():
        path = str(split_path(data_dir, split))
        for number, record in rows:
            where = f"{path}:{number}"
            if record.id in seen_ids:
                problems.append(Problem(path, number, "id",
                                        f"duplicate id {record.id!r} (first at {seen_ids[record.id]})"))
            seen_ids.setdefault(record.id, where)
            key = " ".join(record.text.lower().split())
            if key in seen_texts:
                problems.append(Problem(path, number, "text",
                                        f"duplicate text (first at {seen_texts[key]})"))
            seen_texts.setdefault(key, where)
    names = list(splits)
    for later_index, later in enumerate(names):  # every held-out split against those before it
        for earlier in names[:later_index]:
            problems += _near_duplicates(data_dir, later, splits[later], earlier, splits[earlier])
    return problems


def _near_duplicates(data_dir, held_name: str, held: list[tuple[int, Record]], other_name: str,
                     other: list[tuple[int, Record]]) -> list[Problem]:
    pairs = near_duplicate_pairs([r.text for _, r in held], [r.text for _, r in other],
                                 n=5, threshold=NEAR_DUPLICATE_JACCARD)
    held_path, other_path = str(split_path(data_dir, held_name)), str(split_path(data_dir, other_name))
    return [Problem(held_path, held[i][0], "text", f"near-duplicate of {other_path}:{other[j][0]} "
                                                    f"(word 5-gram Jaccard {score:.2f})")
            for i, j, score in pairs]


def _stats(splits: dict[str, list[tuple[int, Record]]], taxonomy: Taxonomy) -> dict:
    from .similarity import template_share

    stats: dict = {"splits": {}}
    for split, rows in splits.items():
        records = [r for _, r in rows]
        positives = [r for r in records if r.labels]
        words = np.array([len(r.text.split()) for r in records]) if records else np.zeros(1)
        stats["splits"][split] = {
            "records": len(records),
            "per_tactic": {t: sum(t in r.labels for r in records) for t in taxonomy.ids},
            "none": sum(r.is_none for r in records),
            "hard_negatives": sum(r.kind == "hard_negative" for r in records),
            "multi_label_share": (sum(len(r.labels) > 1 for r in positives) / len(positives)
                                  if positives else 0.0),
            "genres": dict(pd.Series([r.genre or "?" for r in records]).value_counts()),
            "languages": dict(pd.Series([r.lang for r in records]).value_counts()),
            "registers": dict(pd.Series([r.register or "general" for r in records]).value_counts()),
            "periods": dict(pd.Series([r.period or "unrecorded" for r in records]).value_counts()),
            "words_min": int(words.min()), "words_median": float(np.median(words)),
            "words_max": int(words.max()),
        }
    if "train" in splits:
        stats["train_template_share"] = template_share([r.text for _, r in splits["train"]])
    return stats
