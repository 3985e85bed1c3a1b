"""Feed reports: which tactics rise, where and when, which sources repeat the same text, and the
strongest examples, over a whole feed, streamed.

``run_report`` (``tactics report``) reads a feed file chunk by chunk; ``feed_report`` takes a
DataFrame; ``nlp.apps.dask.report_dask`` takes a Dask DataFrame. All three turn rows into the
same canonical chunks, classify the rows that carry no ``labels`` through the batch engine
(``nlp.apps.batch.classify_chunks``), and fill one ``ReportBuilder``.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from .batch import classify_chunks
from .repetition import Signatures, find_clusters
from .report_html import render_report
from .trends import NO_SOURCE, PERIODS, FeedCounts, period_labels
from ..errors import DataError
from ..io.readers import Row, iter_rows, text_error
from ..io.writers import atomic_text_output, check_not_input, json_line
from ..model.predict import TacticModel, _chunks, load_model
from ..taxonomy import load_taxonomy

__all__ = ["feed_report", "run_report", "write_report", "FeedReport", "ReportOptions",
           "ReportBuilder", "CHUNK_COLUMNS"]

CHUNK_COLUMNS = ("row", "id", "text", "source", "time", "labels", "scores", "evidence", "error")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOptions:
    """Which fields hold what, and how texts are grouped in time."""

    source_field: str = "source"
    time_field: str = "date"
    text_field: str = "text"
    id_field: str = "id"
    period: str = "week"
    window: str = "72h"
    min_sources: int = 3

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise DataError(f"the period must be one of {', '.join(PERIODS)}, not "
                            f"{self.period!r} (--period)")
        if self.min_sources < 2:
            raise DataError(f"a coordinated cluster needs at least 2 sources, not {self.min_sources}")
        try:
            ok = pd.Timedelta(self.window) > pd.Timedelta(0)
        except ValueError:
            ok = False
        if not ok:
            raise DataError(f"the window must be a positive duration such as 72h or 3d, "
                            f"not {self.window!r} (--window)")

    def check_columns(self, columns: Iterable[str]) -> None:
        """A missing source or time column is an error naming the column and its flag."""
        columns = list(columns)
        for name, flag in ((self.source_field, "--source-field"), (self.time_field, "--time-field")):
            if name not in columns:
                raise DataError(f"the feed has no column {name!r} (columns: "
                                f"{', '.join(map(str, columns))}); name the column with {flag}")


@dataclass
class FeedReport:
    """A report's figures: the counts behind it, trends, rising tactics and clusters."""

    counts: FeedCounts
    trends: pd.DataFrame
    rising: pd.DataFrame
    clusters: pd.DataFrame
    summary: dict
    options: ReportOptions
    path: Path | None = None


class ReportBuilder:
    """Counts and signatures of canonical chunks (``CHUNK_COLUMNS``), merged across parts."""

    def __init__(self, options: ReportOptions, tactics: list[str]) -> None:
        self.options, self.tactics = options, tactics
        self.counts, self.signatures = FeedCounts(tactics), Signatures()
        self._bit = {tactic: 1 << k for k, tactic in enumerate(tactics)}

    def add(self, chunk: pd.DataFrame) -> None:
        times = _times(chunk["time"].tolist())
        dated = (times.notna() & chunk["error"].isna()).to_numpy()
        self.counts.add(chunk, period_labels(times, self.options.period))
        if dated.any():
            rows = chunk[dated]
            self.signatures.add(rows["row"].tolist(), rows["text"].tolist(),
                                [NO_SOURCE if s is None else str(s) for s in rows["source"]],
                                _nanos(times[dated]),
                                [sum(self._bit[t] for t in labels) for labels in rows["labels"]])

    def merge(self, other: ReportBuilder) -> ReportBuilder:
        self.counts.merge(other.counts)
        self.signatures.merge(other.signatures)
        return self

    def finish(self, lookup: Callable[[set], dict], model: TacticModel | None,
               started: float) -> FeedReport:
        """The report, with cluster ids and texts from ``lookup`` (row key -> (id, text)) and,
        when a model is at hand, evidence sentences for the kept examples."""
        clusters = find_clusters(self.signatures, window=pd.Timedelta(self.options.window),
                                 min_sources=self.options.min_sources)
        found = lookup({key for cluster in clusters for key in cluster.keys})
        frame = pd.DataFrame([{"cluster": n, "ids": [found[k][0] for k in c.keys],
                               "sources": c.sources, "first": c.first.isoformat(),
                               "last": c.last.isoformat(),
                               "tactics": [t for t in self.tactics if c.tactics & self._bit[t]],
                               "text": found[c.keys[0]][1]}
                              for n, c in enumerate(clusters, start=1)],
                             columns=["cluster", "ids", "sources", "first", "last", "tactics", "text"])
        if model is not None:
            _add_sentences(self.counts, model)
        counts = self.counts
        summary = {"rows": counts.rows, "classified": counts.classified, "errors": counts.errors,
                   "bad_dates": counts.bad_dates, "no_source": counts.no_source,
                   "sources": len(counts.by_source), "periods": len({p for p, _ in counts.by_period}),
                   "compared": len(self.signatures), "too_short": self.signatures.short,
                   "clusters": len(frame), "model": model.version if model else None,
                   "seconds": round(time.perf_counter() - started, 3)}
        return FeedReport(counts, counts.trends(), counts.rising(), frame, summary, self.options)


def _times(values: list) -> pd.Series:
    """UTC timestamps; NaT where a value is missing, not a date or not readable as one."""
    series = pd.Series([v if isinstance(v, (str, date)) else None for v in values], dtype=object)
    times = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601")
    retry = times.isna() & series.notna()
    if retry.any():
        times[retry] = pd.to_datetime(series[retry], errors="coerce", utc=True, format="mixed")
    return times


def _nanos(times: pd.Series) -> np.ndarray:
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _add_sentences(counts: FeedCounts, model: TacticModel) -> None:
    """Evidence sentences for the kept examples that came without one."""
    missing = [(tactic, i) for tactic, heap in counts.examples.items()
               for i, example in enumerate(heap) if example[5] is None]
    results = model.predict([counts.examples[t][i][4] for t, i in missing], evidence=True)
    for (tactic, i), result in zip(missing, results):
        sentence = result.evidence.get(tactic, {}).get("sentence", {}).get("text")
        counts.examples[tactic][i] = (*counts.examples[tactic][i][:5], sentence)


def parse_labels(value: object, tactics: set[str], row: int) -> list[str] | None:
    """A row's ``labels`` as a list of tactic ids: a list, or text (JSON list, or ids separated
    by commas, semicolons or bars); None when the row carries none."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise DataError(f"row {row}: labels are not a JSON list: {exc.msg}",
                                field="labels") from None
        else:
            value = [part.strip() for part in value.replace(";", ",").replace("|", ",").split(",")
                     if part.strip()]
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise DataError(f"row {row}: labels must be a list of tactic ids, not "
                        f"{type(value).__name__}", field="labels")
    labels = [str(label) for label in value]
    unknown = sorted(set(labels) - tactics)
    if unknown:
        raise DataError(f"row {row}: unknown tactic {', '.join(map(repr, unknown))} (known: "
                        f"{', '.join(sorted(tactics))})", field="labels")
    return labels


def _mapping(value: object) -> dict | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def canonical_chunk(records: list[dict], tactics: set[str]) -> pd.DataFrame:
    """Canonical chunk columns from records with ``row``, ``id``, ``text``, ``source``, ``time``,
    ``labels``, ``scores``, ``evidence`` and ``error`` (a reader's, or a batch output's)."""
    for record in records:
        record["error"] = record["error"] or text_error(record["text"])
        record["labels"] = None if record["error"] else parse_labels(record["labels"], tactics,
                                                                     record["row"])
        record["scores"], record["evidence"] = _mapping(record["scores"]), _mapping(record["evidence"])
    return pd.DataFrame({name: pd.Series([r[name] for r in records], dtype=object)
                         for name in CHUNK_COLUMNS})


def row_record(row: Row, options: ReportOptions) -> dict:
    fields = row.fields
    return {"row": row.number, "id": row.id, "text": row.text,
            "source": fields.get(options.source_field), "time": fields.get(options.time_field),
            "labels": fields.get("labels"), "scores": fields.get("scores"),
            "evidence": fields.get("evidence"), "error": row.error or fields.get("error")}


def frame_records(frame: pd.DataFrame, options: ReportOptions, first_key: int = 1) -> list[dict]:
    """A DataFrame's rows as records for ``canonical_chunk``, keyed from ``first_key``."""
    options.check_columns(frame.columns)

    def column(name: str) -> list:
        if name not in frame.columns:
            return [None] * len(frame)
        return [None if missing else v for v, missing in zip(frame[name].tolist(),
                                                             frame[name].isna().tolist())]

    names = {"id": options.id_field, "text": options.text_field, "source": options.source_field,
             "time": options.time_field, "labels": "labels", "scores": "scores",
             "evidence": "evidence", "error": "error"}
    values = {key: column(name) for key, name in names.items()}
    records = []
    for i in range(len(frame)):
        record = {key: values[key][i] for key in names}
        record["row"] = first_key + i
        record["id"] = first_key + i if record["id"] is None else record["id"]
        records.append(record)
    return records


def classified(chunks: Iterable[pd.DataFrame], model: Callable[[], TacticModel],
               workers: int = 1) -> Iterator[pd.DataFrame]:
    """The chunks with ``labels`` and ``scores`` filled for the rows that carried none, through
    the batch engine; ``model`` is called (once) only when some row needs it."""
    chunks = iter(chunks)
    for chunk in chunks:
        if not _unlabelled(chunk).any():
            yield chunk
            continue
        pending: deque = deque()

        def columns() -> Iterator[dict[str, list]]:
            for part in chain([chunk], chunks):
                pending.append(part)
                todo = part[_unlabelled(part)]
                yield {"id": todo["id"].tolist(), "text": todo["text"].tolist(),
                       "error": [None] * len(todo)}

        for result in classify_chunks(model(), columns(), workers=workers):
            yield _filled(pending.popleft(), result)
        return


def _unlabelled(chunk: pd.DataFrame) -> pd.Series:
    return chunk["labels"].isna() & chunk["error"].isna()


def _filled(chunk: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    chunk = chunk.copy()
    where = np.flatnonzero(_unlabelled(chunk).to_numpy())
    for name in ("labels", "scores", "error"):
        values = chunk[name].tolist()
        for i, value in zip(where, result[name].tolist()):
            values[i] = value
        chunk[name] = pd.Series(values, index=chunk.index, dtype=object)
    return chunk


def _model_loader(model: TacticModel | str | Path | None) -> Callable[[], TacticModel]:
    return functools.cache(lambda: model if isinstance(model, TacticModel) else load_model(model))


def feed_report(frame: pd.DataFrame, *, model: TacticModel | str | Path | None = None,
                out: str | Path | None = None, options: ReportOptions | None = None,
                chunk_size: int = 1000, **fields) -> FeedReport:
    """The report of a feed held in a DataFrame (rows with ``labels`` are used as they are),
    written to ``out`` when given. ``fields`` are ``ReportOptions`` fields (``source_field``,
    ``time_field``, ``period``, ``window``, ...)."""
    options = options or ReportOptions(**fields)
    started, tactics = time.perf_counter(), load_taxonomy().ids
    records = frame_records(frame, options)
    load = _model_loader(model)
    builder = ReportBuilder(options, tactics)
    chunks = (canonical_chunk(part, set(tactics)) for part in _chunks(records, chunk_size))
    for chunk in classified(chunks, load):
        builder.add(chunk)
    texts = frame[options.text_field].tolist() if options.text_field in frame else []
    ids = [records[i]["id"] for i in range(len(records))]
    report = builder.finish(lambda keys: {k: (ids[k - 1], texts[k - 1]) for k in keys},
                            load() if load.cache_info().currsize else None, started)
    return write_report(report, out) if out is not None else report


def run_report(feed: str | Path, out: str | Path, *, model: TacticModel | str | Path | None = None,
               options: ReportOptions | None = None, workers: int = 1, chunk_size: int = 1000,
               **fields) -> FeedReport:
    """The report of a feed file (any input ``tactics batch`` reads), streamed chunk by chunk,
    written to the directory ``out``: report.html, trends.csv and clusters.jsonl."""
    options = options or ReportOptions(**fields)
    if str(feed) == "-" or not Path(feed).is_file():
        raise DataError("feed file not found (a report reads its feed twice, so not stdin)",
                        path=str(feed))
    check_not_input(out, feed)
    for name in ("report.html", "trends.csv", "clusters.jsonl"):
        check_not_input(Path(out) / name, feed)
    started, tactics = time.perf_counter(), load_taxonomy().ids
    rows = iter_rows(feed, text_field=options.text_field, id_field=options.id_field)
    first = next(rows, None)
    if first is not None and not first.error:
        options.check_columns([options.text_field, options.id_field, *first.fields])
    rows = chain([first], rows) if first is not None else iter(())
    load = _model_loader(model)
    builder = ReportBuilder(options, tactics)
    chunks = (canonical_chunk([row_record(r, options) for r in part], set(tactics))
              for part in _chunks(rows, chunk_size))
    for n, chunk in enumerate(classified(chunks, load, workers), start=1):
        builder.add(chunk)
        if n % 100 == 0:
            log.info(f"{builder.counts.rows:,} rows read")
    log.info(f"{builder.counts.rows:,} rows read; finding coordinated clusters")

    def lookup(keys: set) -> dict:
        return {row.number: (row.id, row.text) for row in
                iter_rows(feed, text_field=options.text_field, id_field=options.id_field)
                if row.number in keys}

    report = builder.finish(lookup, load() if load.cache_info().currsize else None, started)
    return write_report(report, out)


def write_report(report: FeedReport, out: str | Path) -> FeedReport:
    """Write report.html, trends.csv and clusters.jsonl into the directory ``out`` (each file
    appears whole or not at all); other files there are left alone."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError("the report's --out must be a directory", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    with atomic_text_output(out / "trends.csv") as handle:
        report.trends.round({"share": 4}).to_csv(handle, index=False)
    with atomic_text_output(out / "clusters.jsonl") as handle:
        for record in report.clusters.to_dict("records"):
            handle.write(json_line(record))
    with atomic_text_output(out / "report.html") as handle:
        handle.write(render_report(report))
    report.path = out
    return report
