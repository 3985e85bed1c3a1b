"""Streaming input rows from JSONL, CSV, Parquet or plain-text files (``-`` for stdin).

Every input row comes out as exactly one ``Row``: a row that cannot be classified carries an
``error`` instead of a text, so callers never drop or reorder rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from ..errors import DataError

__all__ = ["Row", "iter_rows", "detect_format", "estimate_rows", "text_error", "FORMATS"]

FORMATS = ("jsonl", "csv", "parquet", "txt")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
             ".parquet": "parquet", ".pq": "parquet", ".txt": "txt"}


@dataclass
class Row:
    number: int                      # 1-based position among the input's rows (line for text files)
    id: object                       # the row's id field, else its number
    text: str | None
    error: str | None = None
    fields: dict = field(default_factory=dict)   # the other input columns, for --keep-fields


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format named by ``fmt`` or by the file's extension (``.gz`` looked through)."""
    if fmt:
        if fmt not in FORMATS:
            raise DataError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    if str(path) == "-":
        return "jsonl"
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise DataError("cannot tell the format from the extension; use .jsonl, .csv, .parquet "
                        "or .txt (optionally .gz), or pass --format", path=str(path))
    if found == "parquet" and str(path).lower().endswith(".gz"):
        raise DataError("Parquet files are compressed internally; drop the .gz", path=str(path))
    return found


def _open_binary(path: str | Path) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    path = Path(path)
    if not path.exists():
        raise DataError("input file not found", path=str(path))
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def iter_rows(path: str | Path, *, fmt: str | None = None, text_field: str = "text",
              id_field: str = "id", skipped: Counter | None = None) -> Iterator[Row]:
    """Yield one Row per input row, in input order, streaming (constant memory). Blank lines
    are no rows: each one is counted in ``skipped["blank lines"]`` when a Counter is given."""
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        yield from _parquet_rows(path, text_field, id_field)
        return
    handle = _open_binary(path)
    skipped = Counter() if skipped is None else skipped
    try:
        reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "txt": _text_rows}[fmt]
        yield from reader(handle, text_field, id_field, skipped)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read: {exc}", path=str(path)) from None
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def estimate_rows(path: str | Path, fmt: str | None = None) -> int | None:
    """About how many rows ``path`` holds, for a progress bar's ETA: exact for Parquet, the line
    count otherwise (blank lines and quoted newlines in CSV make it an overestimate); None for
    stdin or a file that cannot be read."""
    fmt = detect_format(path, fmt)
    if str(path) == "-":
        return None
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            return pq.ParquetFile(path).metadata.num_rows
        with _open_binary(path) as handle:
            lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except (OSError, EOFError, DataError):
        return None
    return max(lines - (fmt == "csv"), 0)


def _from_mapping(number: int, obj: dict, text_field: str, id_field: str) -> Row:
    rid = obj.get(id_field)
    rid = number if rid is None or rid == "" else rid
    fields = {k: v for k, v in obj.items() if k not in (text_field, id_field)}
    text = obj.get(text_field)
    error = text_error(text, text_field) if text_field in obj else f"missing field '{text_field}'"
    return Row(number, rid, None if error else text, error, fields)


def text_error(text: object, text_field: str = "text") -> str | None:
    """Why a field's value cannot be classified (null, not a string, empty), else None."""
    if text is None:
        return f"field '{text_field}' is null"
    if not isinstance(text, str):
        return f"field '{text_field}' must be a string, not {type(text).__name__}"
    if not text.strip():
        return f"field '{text_field}' is empty"
    return None


def _jsonl_rows(handle: IO[bytes], text_field: str, id_field: str,
                skipped: Counter) -> Iterator[Row]:
    number = 0
    for raw in handle:
        if not raw.strip():
            skipped["blank lines"] += 1
            continue
        number += 1
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            yield Row(number, number, None, "line is not valid UTF-8")
            continue
        except json.JSONDecodeError as exc:
            yield Row(number, number, None, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield Row(number, number, None, "a JSONL record must be a JSON object")
            continue
        yield _from_mapping(number, obj, text_field, id_field)


def _csv_rows(handle: IO[bytes], text_field: str, id_field: str,
              skipped: Counter) -> Iterator[Row]:
    text_stream = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
    lines = csv.reader(text_stream)
    header = next(lines, None)
    if header is None:
        return
    if text_field not in header:
        raise DataError(f"CSV has no column '{text_field}' (columns: {', '.join(header)});"
                        f" name the text column with --text-field")
    number = 0
    for cells in lines:
        if not cells:
            skipped["blank lines"] += 1
            continue
        number += 1
        record = dict(zip(header, cells))   # cells missing at the end are missing fields
        if len(cells) > len(header):
            record[None] = cells[len(header):]
        if None in record:
            yield Row(number, record.get(id_field) or number, None,
                      "row has more cells than the header")
            continue
        if any(_has_surrogates(v) for v in record.values() if isinstance(v, str)):
            yield Row(number, number, None, "row is not valid UTF-8")
            continue
        yield _from_mapping(number, record, text_field, id_field)


def _text_rows(handle: IO[bytes], text_field: str, id_field: str,
               skipped: Counter) -> Iterator[Row]:
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield Row(number, number, None, "line is not valid UTF-8")
            continue
        if line.strip():
            yield Row(number, number, line)
        elif line:
            yield Row(number, number, None, "line holds only whitespace")
        else:
            skipped["blank lines"] += 1


def _parquet_rows(path: str | Path, text_field: str, id_field: str,
                  batch_size: int = 8192) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataError("input file not found", path=str(path)) from None
    except Exception as exc:
        raise DataError(f"not a readable Parquet file: {exc}", path=str(path)) from None
    if text_field not in parquet.schema_arrow.names:
        raise DataError(f"Parquet file has no column '{text_field}' "
                        f"(columns: {', '.join(parquet.schema_arrow.names)})", path=str(path))
    number = 0
    for batch in parquet.iter_batches(batch_size=batch_size):
        for obj in batch.to_pylist():
            number += 1
            yield _from_mapping(number, obj, text_field, id_field)


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
