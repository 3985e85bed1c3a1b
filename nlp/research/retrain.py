"""The researchers' loop over corpus and model versions: merge new labels into a new corpus
version, train a candidate on it and compare it with the default, promote it, list the models,
and export a corpus as a Hugging Face dataset.

The corpus a model was trained on is never rewritten: merged records go to a new directory
(``training_data/versions/NAME`` by default), whose test split is the old one, byte for byte,
plus only the new records marked ``"split": "test"``.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from ..model.artifact import copy_model_dir, read_meta
from ..evaluation.compare import (
    DEFAULT_RESAMPLES,
    DEFAULT_TOLERANCE,
    compare_models,
    promotion_blockers,
    write_comparison,
)
from ..corpus.dataset import (
    DEFAULT_DATA_DIR,
    GENRES,
    NEAR_DUPLICATE_JACCARD,
    SPLITS,
    present_splits,
    Problem,
    Record,
    corpus_hash,
    load_corpus,
    load_hf_dataset,
    read_records,
    split_path,
    validate_corpus,
)
from ..corpus.datasheet import render_stats
from ..errors import DataError, ModelError, TacticsError
from .importers import text_key
from ..model.predict import TacticModel, load_model
from ..io.home import in_home
from ..io.markdown import markdown_table
from ..corpus.similarity import near_duplicate_pairs
from ..taxonomy import Taxonomy, load_taxonomy
from ..model.train import train
from ..io.writers import atomic_directory, json_line, staging_directory

__all__ = ["Addition", "Merge", "Retrained", "Promotion", "PromotionRefused", "merge_records",
           "check_name",
           "read_additions", "write_corpus_version", "retrain", "promote", "compare_model_dirs",
           "list_models", "export_dataset", "dataset_card", "DEFAULT_MODEL"]

DEFAULT_MODEL = "default"
log = logging.getLogger(__name__)


class PromotionRefused(TacticsError):
    """The candidate is worse than the default on some tactic; ``--force`` overrides."""


@dataclass(frozen=True)
class Addition:
    """A record to add, and where it was read."""

    path: str
    line: int
    record: Record

    @property
    def split(self) -> str:
        return self.record.extra.get("split", "train")


@dataclass
class Merge:
    """What merging new records did: records added per split, and those left out."""

    train: list[Record] = field(default_factory=list)
    test: list[Record] = field(default_factory=list)
    duplicates: list[Problem] = field(default_factory=list)   # exact and near-duplicates
    conflicts: list[Problem] = field(default_factory=list)    # same text, other labels


@dataclass
class Retrained:
    """What ``retrain`` produced: the merge, the corpus version, the candidate, the report."""

    merge: Merge
    data_dir: Path
    model: Path
    comparison: Path | None   # the Markdown report; None when there is no default to compare
    figures: dict | None = None   # the comparison itself (``compare_models``), for its verdict


@dataclass
class Promotion:
    """The new default, where the old one was kept, and what ``force`` overrode."""

    path: Path
    backup: Path | None
    overridden: list[str]     # blockers that --force overrode


def read_additions(paths: Sequence[str | Path], taxonomy: Taxonomy) -> list[Addition]:
    """Read corpus JSONL files of new records (``tactics import`` writes them); the first bad
    line raises DataError naming file, line and field."""
    additions = []
    for path in paths:
        for line, item in read_records(path, taxonomy):
            if isinstance(item, Problem):
                raise DataError(item.message, path=item.path, line=item.line, field=item.field)
            addition = Addition(str(path), line, item)
            if addition.split not in SPLITS:
                raise DataError(f"unknown split {addition.split!r}; valid splits: "
                                f"{', '.join(SPLITS)}", path=str(path), line=line, field="split")
            additions.append(addition)
    if not additions:
        raise DataError(f"no records to add in {', '.join(map(str, paths))}")
    return additions


def merge_records(corpus: dict[str, list[Record]], additions: list[Addition]) -> Merge:
    """Decide which new records join which split: texts already in the corpus (exactly or as
    near-duplicates) and texts the new records label in different ways are left out. New test
    records are placed first, so that no new train record near-duplicates them."""
    merge = Merge()
    kept = _without_inner_conflicts(additions, merge)
    reference = [(split, record) for split, records in corpus.items() for record in records]
    for split in ("test", "train"):
        accepted = _screen([a for a in kept if a.split == split], reference, merge)
        getattr(merge, split).extend(accepted)
        reference += [(split, record) for record in accepted]
    return merge


def _without_inner_conflicts(additions: list[Addition], merge: Merge) -> list[Addition]:
    """One addition per distinct text; texts the additions label differently go to conflicts."""
    groups: dict[str, list[Addition]] = {}
    for addition in additions:
        groups.setdefault(text_key(addition.record.text), []).append(addition)
    kept = []
    for group in groups.values():
        first = group[0]
        if len({frozenset(a.record.labels) for a in group}) > 1:
            sets = "; ".join(f"{a.path}:{a.line} {list(a.record.labels)}" for a in group)
            merge.conflicts += [Problem(a.path, a.line, "labels", f"the new records label this "
                                        f"text differently ({sets}); left out") for a in group]
            continue
        merge.duplicates += [Problem(a.path, a.line, "text", f"repeats {first.path}:{first.line}")
                             for a in group[1:]]
        kept.append(first)
    return kept


def _screen(batch: list[Addition], reference: list[tuple[str, Record]],
            merge: Merge) -> list[Record]:
    """The records of ``batch`` that are new to ``reference``; the others go into ``merge``."""
    same_text = {text_key(record.text): (split, record) for split, record in reference}
    ids = {record.id: split for split, record in reference}
    near: dict[int, tuple[int, float]] = {}
    for i, j, score in near_duplicate_pairs([a.record.text for a in batch],
                                            [record.text for _, record in reference],
                                            n=5, threshold=NEAR_DUPLICATE_JACCARD):
        if score > near.get(i, (0, 0.0))[1]:
            near[i] = (j, score)
    accepted = []
    for i, addition in enumerate(batch):
        record = addition.record
        twin = same_text.get(text_key(record.text))
        if twin and set(twin[1].labels) != set(record.labels):
            merge.conflicts.append(Problem(
                addition.path, addition.line, "labels",
                f"labels {list(record.labels)} conflict with {twin[0]} record {twin[1].id!r} "
                f"{list(twin[1].labels)}; left out (change corpus labels with `tactics relabel`)"))
        elif twin or i in near:
            split, other = twin or reference[near[i][0]]
            how = "duplicate" if twin else f"near-duplicate (word 5-gram Jaccard {near[i][1]:.2f})"
            merge.duplicates.append(Problem(addition.path, addition.line, "text",
                                            f"{how} of {split} record {other.id!r}; left out"))
        elif record.id in ids:
            raise DataError(f"id {record.id!r} is already in the {ids[record.id]} split; give new "
                            f"records ids of their own", path=addition.path, line=addition.line,
                            field="id")
        else:
            ids[record.id] = addition.split
            accepted.append(replace(record, extra={k: v for k, v in record.extra.items()
                                                   if k != "split"}))
    return accepted


def write_corpus_version(data_dir: str | Path, out: str | Path, merge: Merge,
                         taxonomy: Taxonomy | None = None) -> Path:
    """Write the merged corpus into the new directory ``out``: each old split file unchanged,
    then its new records. Built beside ``out`` and checked by ``validate_corpus`` first, so a
    corpus version appears complete and valid or not at all."""
    out = Path(out)
    if out.exists():
        raise DataError("already exists; choose another --name or --data-out", path=str(out))
    with atomic_directory(out, replace=False) as staging:
        for split in present_splits(data_dir):
            old = split_path(data_dir, split).read_text(encoding="utf-8")
            new = "".join(json_line(record.to_json()) for record in getattr(merge, split, []))
            split_path(staging, split).write_text(
                old + ("\n" if old and not old.endswith("\n") else "") + new, encoding="utf-8")
        report = validate_corpus(staging, taxonomy)
        if not report.ok:
            raise DataError(f"the merged corpus would not be valid ({len(report.problems)} "
                            f"problem(s)), first: {report.problems[0]}", path=str(out))
    return out


def _version_dir(data_dir: Path, name: str) -> Path:
    """Where corpus version ``name`` goes: beside ``data_dir`` when that is a version itself."""
    root = data_dir.parent if data_dir.parent.name == "versions" else data_dir / "versions"
    return root / name


def check_name(name: str) -> None:
    """Refuse a candidate name that is not a plain directory name, or is the default's."""
    if name == DEFAULT_MODEL or not name or name.startswith(".") or Path(name).name != name:
        raise ModelError(f"{name!r} cannot name a candidate: use a plain directory name other "
                         f"than {DEFAULT_MODEL!r} (only `tactics promote` replaces the default)")


def retrain(add: Sequence[str | Path], *, name: str, data_dir: str | Path = DEFAULT_DATA_DIR,
            data_out: str | Path | None = None, models_dir: str | Path | None = None,
            out_dir: str | Path = "evaluation", params: dict | None = None, seed: int = 0,
            n_jobs: int | None = None, resamples: int = DEFAULT_RESAMPLES,
            taxonomy: Taxonomy | None = None) -> Retrained:
    """Merge the records in ``add`` into a new corpus version, train candidate ``name`` on it
    (under ``models_dir``, default: the home's ``models/``), and compare it with the default
    model on that version's test split."""
    taxonomy = taxonomy or load_taxonomy()
    check_name(name)
    models_dir = in_home(models_dir, "models", write=True)
    model_path = models_dir / name
    if model_path.exists():
        raise ModelError(f"{model_path} already exists; choose another --name")
    data_out = Path(data_out) if data_out else _version_dir(Path(data_dir), name)
    log.info(f"merging {', '.join(map(str, add))} into {data_out}")
    merge = merge_records(load_corpus(data_dir, taxonomy), read_additions(add, taxonomy))
    write_corpus_version(data_dir, data_out, merge, taxonomy)
    train(model_path, data_dir=data_out, name=name, seed=seed, params=params, n_jobs=n_jobs,
          taxonomy=taxonomy)
    default = models_dir / DEFAULT_MODEL
    if not default.exists():
        return Retrained(merge, data_out, model_path, None)
    comparison = compare_model_dirs(default, model_path, data_dir=data_out, resamples=resamples,
                                    seed=seed, taxonomy=taxonomy)
    return Retrained(merge, data_out, model_path, write_comparison(comparison, out_dir),
                     comparison)


def compare_model_dirs(old: TacticModel | str | Path, new: TacticModel | str | Path, *,
                       data_dir: str | Path | None = None, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = 0, taxonomy: Taxonomy | None = None) -> dict:
    """``compare_models`` for two model directories (paths, or names under the home's
    ``models/``), on the test split of ``data_dir`` (default: the corpus ``new`` was trained
    on)."""
    old_model, new_model = (m if isinstance(m, TacticModel) else load_model(m) for m in (old, new))
    data_dir = data_dir or new_model.meta.get("data", {}).get("data_dir")
    if not data_dir:
        raise DataError(f"{new_model.path}: model.json does not say which corpus it was trained "
                        f"on; pass --data")
    test = load_corpus(data_dir, taxonomy)["test"]
    log.info(f"scoring {old_model.version} and {new_model.version} on {len(test)} test texts of "
             f"{data_dir} ({resamples} bootstrap resamples)")
    return compare_models(old_model, new_model, test, resamples=resamples, seed=seed,
                          taxonomy=taxonomy)


def promote(name: str, *, models_dir: str | Path | None = None,
            data_dir: str | Path | None = None, tolerance: float = DEFAULT_TOLERANCE,
            force: bool = False, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
            taxonomy: Taxonomy | None = None) -> Promotion:
    """Make model ``name`` the default, unless it is really worse than the current default on
    some tactic (see ``promotion_blockers``) and ``force`` is off. Both are scored on the test
    split of ``data_dir`` (default: the corpus the candidate was trained on). The old default
    is kept as ``default-previous-TIMESTAMP``."""
    check_name(name)
    models_dir = in_home(models_dir, "models", write=True)
    candidate, default = models_dir / name, models_dir / DEFAULT_MODEL
    new = load_model(candidate)
    blockers: list[str] = []
    if default.exists():
        comparison = compare_model_dirs(default, new, data_dir=data_dir,
                                        resamples=resamples, seed=seed, taxonomy=taxonomy)
        blockers = promotion_blockers(comparison, tolerance)
        if blockers and not force:
            raise PromotionRefused(f"refusing to promote {name}: {'; '.join(blockers)}. "
                                   f"Use --force to promote it anyway")
    return Promotion(default, _install(candidate, default), blockers)


def _install(candidate: Path, default: Path) -> Path | None:
    """Copy ``candidate`` over ``default`` (with the weights a calibrated candidate shares copied
    in): the copy is built beside it and renamed in, and the old default renamed aside
    (restored if the swap fails). Returns the backup's path."""
    staging = staging_directory(default)
    try:
        copy_model_dir(candidate, staging)
        backup = _backup_path(default) if default.exists() else None
        if backup:
            os.replace(default, backup)
        try:
            os.replace(staging, default)
        except OSError:
            if backup:
                os.replace(backup, default)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return backup


def _backup_path(default: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = default.with_name(f"{default.name}-previous-{stamp}")
    n = 1
    while path.exists():
        n += 1
        path = default.with_name(f"{default.name}-previous-{stamp}-{n}")
    return path


def list_models(models_dir: str | Path | None = None) -> list[dict]:
    """One row per model directory under ``models_dir`` (default: the home's ``models/``): name,
    version, corpus hash, test macro F1, hard-negative none-FPR, creation time, and whether it
    is the default."""
    models_dir = in_home(models_dir, "models")
    if not models_dir.is_dir():
        raise ModelError(f"models directory not found: {models_dir}")
    rows = []
    directories = (p for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for path in sorted(directories):
        try:
            meta = read_meta(path)
        except ModelError as exc:
            rows.append({"name": path.name, "error": str(exc)})
            continue
        test = meta.get("metrics", {}).get("test", {})
        rows.append({"name": path.name, "default": path.name == DEFAULT_MODEL,
                     "version": meta["model_version"],
                     "corpus_sha256": meta.get("data", {}).get("corpus_sha256", ""),
                     "test_macro_f1": test.get("macro_f1"),
                     "test_none_fpr_hard_negative": test.get("none_fpr_hard_negative"),
                     "created": meta.get("created", "")})
    return rows


def export_dataset(path: str | Path, *, data_dir: str | Path = DEFAULT_DATA_DIR,
                   taxonomy: Taxonomy | None = None) -> Path:
    """Save a valid corpus as a Hugging Face ``DatasetDict`` (``save_to_disk``) with a dataset
    card (``README.md``) and, when the corpus has one, its datasheet (``DATASHEET.md``);
    ``datasets.load_from_disk(path)`` loads it back."""
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DataError("already exists and is not an empty directory; choose another path",
                        path=str(path))
    report = validate_corpus(data_dir, taxonomy)
    if not report.ok:
        raise DataError(f"the corpus has {len(report.problems)} problem(s), first: "
                        f"{report.problems[0]}; run `tactics validate {data_dir}`")
    with atomic_directory(path) as staging:  # replaces at most an empty directory
        load_hf_dataset(data_dir, taxonomy).save_to_disk(str(staging))
        (staging / "README.md").write_text(dataset_card(data_dir, taxonomy), encoding="utf-8")
        datasheet = Path(data_dir) / "README.md"
        if datasheet.exists():
            shutil.copyfile(datasheet, staging / "DATASHEET.md")
    return path


def dataset_card(data_dir: str | Path, taxonomy: Taxonomy) -> str:
    """The Hugging Face dataset card: metadata header, labels, fields, provenance, figures."""
    corpus = load_corpus(data_dir, taxonomy)
    total = sum(len(records) for records in corpus.values())
    size = next(name for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"),
                                         (100_000, "10K<n<100K"), (float("inf"), "n>100K"))
                if total < limit)
    labels = markdown_table(["id", "family", "the text advances the claim that ..."],
                            [[t.id, t.family, t.definition] for t in taxonomy.tactics])
    return f"""---
language:
- en
pretty_name: Narrative tactics corpus
task_categories:
- text-classification
task_ids:
- multi-label-classification
size_categories:
- {size}
---

# Narrative tactics corpus

English media snippets labelled with the pro-Kremlin narrative tactics they *advance* (an empty
label list: none). Exported by `tactics export-dataset` from `{data_dir}` (corpus SHA-256
`{corpus_hash(data_dir)}`, taxonomy version {taxonomy.version}, {len(taxonomy)} tactics).

```python
from datasets import load_from_disk
dataset = load_from_disk("PATH")          # DatasetDict: {", ".join(corpus)}
names = dataset["train"].features["labels"].feature.names   # tactic ids, in taxonomy order
```

## Fields

| field | meaning |
|---|---|
| `id` | unique across the splits |
| `text` | the snippet |
| `labels` | the tactics the text advances (`ClassLabel` ids; `[]` for none) |
| `genre` | {", ".join(GENRES)} |
| `kind` | `positive`; `hard_negative` (no tactic, but a tactic's topic and vocabulary); `neutral` |

## Labels

{labels}

## Splits and figures

The test split was written separately from the training split and holds no near-duplicate of
it; use it only for the final evaluation.

{render_stats(corpus)}

## Caveats

The texts were written for the project, not sampled from real media: figures measured on them
overstate what a model achieves on real feeds. A label marks a text that advances a tactic,
never a person or an outlet. How the texts were written and labelled: `DATASHEET.md`, when present.
"""
