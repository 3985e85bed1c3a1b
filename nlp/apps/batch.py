"""Batch classification of whole feeds: one pure function over a DataFrame, and a streaming,
resumable, parallel job around it.

``classify_frame`` is the batch implementation; ``run_batch`` (``tactics batch``) and
``nlp.apps.dask.classify_dask`` are thin wrappers around it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import chain, islice
from multiprocessing import get_context
from pathlib import Path

import pandas as pd
import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..errors import DataError, TacticsError
from ..model.predict import TacticModel, _chunks, load_model
from ..io.readers import Row, estimate_rows, iter_rows, text_error
from ..io.writers import FrameEncoder, check_not_input, frame_encoder, resumable_output

__all__ = ["classify_frame", "classify_chunks", "run_batch", "result_columns", "result_schema",
           "format_summary"]

RESULT_COLUMNS = ("id", "labels", "scores", "uncertain", "model", "lang", "error", "note")
PR_SET_PDEATHSIG = 1          # linux/prctl.h: the signal a process gets when its parent dies
log = logging.getLogger(__name__)


def result_columns(keep_fields: Sequence[str] = (), evidence: bool = False) -> list[str]:
    """The columns of ``classify_frame``'s output, in order; kept fields come last."""
    columns = [*RESULT_COLUMNS, *(["evidence"] if evidence else [])]
    clash = [name for name in keep_fields if name in columns]
    if clash:
        raise DataError(f"cannot keep {', '.join(clash)}: the output has a column of that name "
                        f"(output columns: {', '.join(columns)})")
    return [*columns, *keep_fields]


def result_schema(tactics: Sequence[str], keep_fields: Sequence[str] = (),
                  evidence: bool = False) -> pa.Schema:
    """The Arrow schema of batch output: ``labels`` and ``uncertain`` are lists of tactic ids,
    ``scores`` a struct of one float per tactic, every other column text (evidence and values
    that are not strings as JSON), since Parquet holds one type per column."""
    types = {"labels": pa.list_(pa.string()), "uncertain": pa.list_(pa.string()),
             "scores": pa.struct([(tactic, pa.float64()) for tactic in tactics])}
    return pa.schema([(name, types.get(name, pa.string()))
                      for name in result_columns(keep_fields, evidence)])


def classify_frame(model: TacticModel, frame: pd.DataFrame, *, text_field: str = "text",
                   id_field: str = "id", keep_fields: Sequence[str] = (),
                   evidence: bool = False) -> pd.DataFrame:
    """Classify every row of ``frame``: one output row per input row, same order and index.

    Columns (all ``object``): ``id`` (the id field, else the row's 1-based position in the
    frame), ``labels``, ``scores`` (tactic -> probability), ``uncertain``, ``model``, ``error``,
    ``note`` (set when a long text was truncated), ``evidence`` when asked for, then
    ``keep_fields``. A row whose text is missing, empty or not a
    string, or whose ``error`` column is already set (the readers mark undecodable lines so),
    gets an ``error`` and None for labels, scores and uncertain.
    """
    columns = result_columns(keep_fields, evidence)
    missing = [name for name in (text_field, *keep_fields) if name not in frame.columns]
    if missing:
        raise DataError(f"the frame has no column {', '.join(map(repr, missing))} "
                        f"(columns: {', '.join(map(str, frame.columns))})")
    size = len(frame)
    texts = _values(frame, text_field)
    errors = [error or text_error(text, text_field)
              for error, text in zip(_values(frame, "error"), texts)]
    good = [i for i, error in enumerate(errors) if error is None]
    labels, scores, uncertain, found, langs, notes = ([None] * size for _ in range(6))
    for i, result in zip(good, model.predict([texts[i] for i in good], evidence=evidence)):
        labels[i], scores[i], uncertain[i], found[i], langs[i], notes[i] = (
            result.labels, result.scores, result.uncertain, result.evidence, result.lang, result.note)
    ids = [i if rid is None or rid == "" else rid
           for i, rid in enumerate(_values(frame, id_field), start=1)]
    values = {"id": ids, "labels": labels, "scores": scores, "uncertain": uncertain,
              "model": [model.version] * size, "lang": langs, "error": errors, "note": notes,
              "evidence": found,
              **{name: _values(frame, name) for name in keep_fields}}
    return pd.DataFrame({name: pd.Series(values[name], index=frame.index, dtype=object)
                         for name in columns})


def _values(frame: pd.DataFrame, column: str) -> list:
    """A column as Python objects, with None for every kind of missing value (NaN, NA) and for
    every row where the frame has no such column."""
    if column not in frame.columns:
        return [None] * len(frame)
    series = frame[column]
    return [None if missing else value
            for value, missing in zip(series.tolist(), series.isna().tolist())]


@dataclass(frozen=True)
class _Chunk:
    rows: int
    written: int
    errors: int
    tactics: Counter
    payload: bytes | pd.DataFrame     # the encoded result, or the frame when nothing encodes it


@dataclass(frozen=True)
class _Job:
    """What classifying and encoding one chunk of rows needs; sent once to each worker."""

    text_field: str
    id_field: str
    keep_fields: tuple[str, ...]
    evidence: bool
    encoder: FrameEncoder | None

    def columns(self, rows: list[Row]) -> dict[str, list]:
        """A chunk of rows as the columns of classify_frame's input (id, text, the readers'
        error, kept fields): plain lists, which cost a worker far less to receive than rows."""
        columns = {self.id_field: [row.id for row in rows],
                   self.text_field: [row.text for row in rows],
                   "error": [row.error for row in rows]}
        for name in self.keep_fields:
            columns.setdefault(name, [row.fields.get(name) for row in rows])
        return columns

    def run(self, model: TacticModel, columns: dict[str, list]) -> _Chunk:
        frame = pd.DataFrame({name: pd.Series(values, dtype=object)
                              for name, values in columns.items()})
        result = classify_frame(model, frame, text_field=self.text_field, id_field=self.id_field,
                                keep_fields=self.keep_fields, evidence=self.evidence)
        tactics = Counter(chain.from_iterable(result["labels"].dropna()))
        return _Chunk(len(frame), len(result), int(result["error"].notna().sum()), tactics,
                      result if self.encoder is None else self.encoder.encode(result))


def classify_chunks(model: TacticModel, chunks: Iterable[dict[str, list]], *,
                    text_field: str = "text", id_field: str = "id", workers: int = 1
                    ) -> Iterator[pd.DataFrame]:
    """``classify_frame``'s result for each chunk of columns (plain lists keyed by field
    name), in order, streaming; with several workers as ``run_batch`` runs them (the model
    sent once to each process, at most two chunks per worker in flight)."""
    job = _Job(text_field, id_field, (), False, None)
    with contextlib.closing(_classify_chunks(job, model, chunks, workers)) as results:
        for result in results:
            yield result.payload


_WORKER: tuple[_Job, TacticModel] | None = None   # set once in each worker process


def _start_worker(job: _Job, model: TacticModel, parent: int) -> None:
    global _WORKER
    _leave_with(parent)
    _WORKER = job, model


def _leave_with(parent: int) -> None:
    """Make this worker exit when the batch process that started it dies, however it dies
    (SIGKILL included): on Linux the kernel kills it, and everywhere a watchdog thread notices
    that its parent changed. Ctrl-C, which reaches the whole process group, is left to the
    parent, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    if os.getppid() != parent:          # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int, interval: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    os._exit(1)


def _run_in_worker(columns: dict[str, list]) -> _Chunk:
    job, model = _WORKER
    return job.run(model, columns)


def _classify_chunks(job: _Job, model: TacticModel, chunks: Iterable[dict[str, list]],
                     workers: int) -> Iterator[_Chunk]:
    """Each chunk's result, in input order. With several workers, each process receives the
    model once, and at most two chunks per worker are in flight, so memory stays flat."""
    if workers == 1:
        yield from (job.run(model, chunk) for chunk in chunks)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                               initializer=_start_worker, initargs=(job, model, os.getpid()))
    pending: deque = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(_run_in_worker, chunk))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise TacticsError("a worker process died (killed, or out of memory?); the job can "
                           "continue with --resume") from None
    finally:
        pool.shutdown(cancel_futures=True)


@dataclass
class _Checkpoint:
    """How far a job got, saved beside the output after every chunk, so that --resume can go on
    from there: rows done, the output's position after them, and the running counts."""

    path: Path
    job: dict
    rows: int = 0
    written: int = 0
    position: int = 0
    errors: int = 0
    tactics: Counter = field(default_factory=Counter)

    @classmethod
    def open(cls, output: Path, job: dict, resume: bool) -> _Checkpoint:
        path = output.with_name(f".{output.name}.checkpoint.json")
        if not (resume and path.exists()):
            if path.exists():
                log.warning(f"discarding a checkpoint at {_rows_in(path)} rows; pass --resume "
                            f"to continue")
            path.unlink(missing_ok=True)
            return cls(path, job)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            counts = [saved[key] for key in ("rows", "written", "position", "errors")]
            previous, tactics = saved["job"], Counter(saved["tactics"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read the checkpoint ({exc!r}); run without --resume",
                            path=str(path)) from None
        changed = [f"{key} was {previous.get(key)!r}, now {value!r}"
                   for key, value in job.items() if previous.get(key) != value]
        if changed:
            raise DataError(f"the checkpoint is for a different job ({'; '.join(changed)}); "
                            f"run without --resume to start over", path=str(path))
        return cls(path, job, *counts, tactics)

    def stopped(self) -> str:
        """What a stopped job leaves behind, for the message that reports the stop."""
        if not self.rows:
            return "no chunk was finished, so there is nothing to resume"
        return (f"the checkpoint at {self.rows:,} rows is kept: run the same command with "
                f"--resume to continue")

    def add(self, chunk: _Chunk, position: int) -> None:
        """Count a chunk whose output is durably written up to ``position``, and save."""
        self.rows += chunk.rows
        self.written += chunk.written
        self.errors += chunk.errors
        self.tactics.update(chunk.tactics)
        self.position = position
        state = {"job": self.job, "rows": self.rows, "written": self.written,
                 "position": position, "errors": self.errors, "tactics": dict(self.tactics)}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.path)

    def summary(self, resumed_from: int, seconds: float, blank_lines: int) -> dict:
        """The whole job's counts; the rate is of the rows done in this run."""
        return {"rows_in": self.rows, "rows_out": self.written, "errors": self.errors,
                "blank_lines": blank_lines,
                "tactics": dict(self.tactics.most_common()), "resumed_from": resumed_from,
                "seconds": round(seconds, 3),
                "rows_per_second": round((self.rows - resumed_from) / max(seconds, 1e-9), 1)}


def run_batch(input: str | Path, output: str | Path, *, model: TacticModel | str | Path | None = None,
              text_field: str = "text", id_field: str = "id", keep_fields: Sequence[str] = (),
              evidence: bool = False, workers: int = 1, chunk_size: int = 1000,
              resume: bool = False, quiet: bool = False) -> dict:
    """Classify every row of ``input`` (JSONL, CSV, Parquet, text) into ``output`` (JSONL or CSV,
    optionally .gz, or Parquet): one row per input row, in input order, streamed in chunks.

    The output appears only when complete; a checkpoint beside it lets ``resume=True`` continue a
    killed job without losing or repeating a row. A job stopped by Ctrl-C (or SIGTERM, which the
    command line turns into the same KeyboardInterrupt) keeps its checkpoint, and the exception
    carries a note saying so. Unless ``quiet``, a progress bar is shown when stderr is a
    terminal, and a summary is printed on stderr. Returns the summary.
    """
    input, output = _job_path(input), _job_path(output)
    if not input.is_file():
        raise DataError("input file not found", path=str(input))
    check_not_input(output, input)
    if workers < 1 or chunk_size < 1:
        raise DataError(f"workers ({workers}) and chunk size ({chunk_size}) must be at least 1")
    model = model if isinstance(model, TacticModel) else load_model(model)
    keep_fields = tuple(keep_fields)
    encoder = frame_encoder(output, schema=result_schema(model.tactics, keep_fields, evidence))
    job = _Job(text_field, id_field, keep_fields, evidence, encoder)
    checkpoint = _Checkpoint.open(output, _describe(input, model, job), resume)
    sink = resumable_output(output, encoder, checkpoint.position if checkpoint.rows else None)
    resumed_from, started, skipped = checkpoint.rows, time.perf_counter(), Counter()
    rows = islice(iter_rows(input, text_field=text_field, id_field=id_field, skipped=skipped),
                  resumed_from, None)
    try:
        with _progress(input, resumed_from, enabled=not quiet and sys.stderr.isatty()) as advance:
            chunks = (job.columns(chunk) for chunk in _chunks(rows, chunk_size))
            with contextlib.closing(_classify_chunks(job, model, chunks, workers)) as results:
                for result in results:      # closing: the pool stops however the loop ends
                    checkpoint.add(result, sink.append(result.payload))
                    advance(result.rows)
    except KeyboardInterrupt as exc:
        exc.add_note(checkpoint.stopped())
        raise
    sink.finish()
    checkpoint.path.unlink(missing_ok=True)
    summary = {"input": str(input), "output": str(output),
               **checkpoint.summary(resumed_from, time.perf_counter() - started,
                                    skipped["blank lines"])}
    if not quiet:
        print(format_summary(summary), file=sys.stderr)
    return summary


def _job_path(path: str | Path) -> Path:
    if str(path) == "-":
        raise DataError("batch jobs read and write files (a resumed job reads its input again); "
                        "use `tactics predict` for stdin and stdout")
    return Path(path)


def _rows_in(checkpoint: Path) -> str:
    try:
        return f"{json.loads(checkpoint.read_text(encoding='utf-8'))['rows']:,}"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown number of"


def _describe(input: Path, model: TacticModel, job: _Job) -> dict:
    """What a checkpoint must match to be resumed: the same input file, model and options."""
    stat = input.stat()
    return {"input": str(input.resolve()), "input_bytes": stat.st_size,
            "input_mtime_ns": stat.st_mtime_ns, "model": model.version,
            "text_field": job.text_field, "id_field": job.id_field,
            "keep_fields": list(job.keep_fields), "evidence": job.evidence}


def format_summary(summary: dict) -> str:
    """The end-of-job report: rows in and out, errors, throughput, counts per tactic."""
    resumed = f", resumed after {summary['resumed_from']:,}" if summary["resumed_from"] else ""
    blank = summary.get("blank_lines", 0)
    skipped = f", {blank:,} blank line{'s' * (blank != 1)} skipped" if blank else ""
    tactics = ", ".join(f"{t} {n:,}" for t, n in summary["tactics"].items()) or "none"
    return (f"{summary['rows_in']:,} rows in, {summary['rows_out']:,} rows out, "
            f"{summary['errors']:,} errors{skipped}; {summary['rows_per_second']:,.0f} rows/s over "
            f"{summary['seconds']:,.1f} s{resumed}\ntactics: {tactics}")


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")


@contextlib.contextmanager
def _progress(input: Path, done: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (rows, rows/s, ETA) when enabled; otherwise a no-op."""
    if not enabled:
        yield lambda rows: None
        return
    columns = (BarColumn(), MofNCompleteColumn(), _RateColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("rows", total=estimate_rows(input), completed=done)
        yield lambda rows: bar.advance(task, rows)
