"""Output files that appear whole or not at all: written to a temporary file, then renamed."""

from __future__ import annotations

import abc
import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable, Iterator, Sequence

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["atomic_directory", "atomic_text_output", "json_line", "frame_encoder", "resumable_output", "as_text",
           "FrameEncoder", "JsonlEncoder", "CsvEncoder", "ParquetEncoder", "ResumableOutput",
           "OUTPUT_FORMATS", "staging_directory", "umask_mode", "check_not_input",
           "check_jsonl_output"]


def json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(directory: bool = False) -> int:
    """The mode a new file (0666) or directory (0777) gets under the current umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def staging_directory(path: str | Path) -> Path:
    """A new, empty directory beside ``path`` with the mode the umask gives new directories
    (``tempfile.mkdtemp`` alone makes it private, 0700, whatever the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    staging.chmod(umask_mode(directory=True))
    return staging


def check_not_input(output: str | Path, *inputs: str | Path | None) -> None:
    """Refuse an output path that is one of the inputs, or a directory holding one (compared as
    resolved paths, and as the same file where both exist), which writing would replace."""
    if str(output) == "-":
        return
    out = Path(output).resolve()
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = Path(given).resolve()
        if out == source or (out.exists() and source.exists() and os.path.samefile(out, source)):
            raise DataError(f"the output is the input {given}: writing it would replace the "
                            f"input; choose another output path", path=str(output))
        if out in source.parents:
            raise DataError(f"the output holds the input {given}: writing it would replace the "
                            f"input; choose another output path", path=str(output))


def check_jsonl_output(path: str | Path) -> None:
    """Refuse an output path whose extension names another format than JSON lines."""
    from .readers import detect_format

    if str(path) != "-" and detect_format(path) != "jsonl":
        raise DataError("this command writes JSON lines: name the output .jsonl (optionally .gz) "
                        "or '-' for stdout; `tactics batch INPUT OUTPUT` writes CSV and Parquet",
                        path=str(path))


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, replace: bool = True) -> Iterator[Path]:
    """A staging directory beside ``path``, renamed to ``path`` on success (replacing what was
    there when ``replace``) and removed on failure: the directory appears whole or not at all,
    with the modes the umask gives."""
    path = Path(path)
    staging = staging_directory(path)
    try:
        yield staging
        if path.exists() and replace:
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_text_output(path: str | Path) -> Iterator[IO[str]]:
    """A text handle on a temporary file beside ``path``, renamed into place on success (with
    the mode the umask gives new files) and removed on failure; gzip-compressed when ``path``
    ends in ``.gz``; ``-`` writes to stdout."""
    if str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            packed = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) \
                if path.suffix.lower() == ".gz" else contextlib.nullcontext(raw)
            with packed as binary, io.TextIOWrapper(binary, encoding="utf-8", newline="") as handle:
                yield handle
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# Batch outputs: result frames encoded per format (in worker processes), then appended durably to
# a work file beside the output, which is renamed into place only when the job is complete.

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class JsonlEncoder:
    """Result frames as JSON lines: lists and dicts stay nested, None is null, dates and other
    values without a JSON type are strings."""

    columns: tuple[str, ...]
    compress: bool = False

    def header(self) -> bytes:
        return b""

    def encode(self, frame: pd.DataFrame) -> bytes:
        text = "".join(_json(dict(zip(self.columns, values))) + "\n"
                       for values in _frame_rows(frame, self.columns))
        return _maybe_gzip(text.encode("utf-8"), self.compress)


@dataclass(frozen=True)
class CsvEncoder:
    """Result frames as CSV: cells as ``as_text`` writes them, None as an empty cell."""

    columns: tuple[str, ...]
    compress: bool = False

    def header(self) -> bytes:
        return _maybe_gzip(_csv_bytes([self.columns]), self.compress)

    def encode(self, frame: pd.DataFrame) -> bytes:
        rows = ([as_text(v) for v in values] for values in _frame_rows(frame, self.columns))
        return _maybe_gzip(_csv_bytes(rows), self.compress)


@dataclass(frozen=True)
class ParquetEncoder:
    """Result frames as self-contained Parquet files of the given schema; values of string
    columns as ``as_text`` writes them."""

    schema: pa.Schema

    def encode(self, frame: pd.DataFrame) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays = []
        for column in self.schema:
            values = frame[column.name].tolist()
            if pa.types.is_string(column.type):
                values = [as_text(v) for v in values]
            arrays.append(pa.array(values, type=column.type))
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_arrays(arrays, schema=self.schema), sink)
        return sink.getvalue()


FrameEncoder = JsonlEncoder | CsvEncoder | ParquetEncoder


def frame_encoder(path: str | Path, *, schema: pa.Schema) -> FrameEncoder:
    """The encoder that ``path``'s extension asks for: .jsonl or .csv (optionally .gz), .parquet."""
    from .readers import detect_format

    fmt = detect_format(path)
    if fmt not in OUTPUT_FORMATS:
        raise DataError("batch output must be .jsonl or .csv (optionally .gz), or .parquet",
                        path=str(path))
    if fmt == "parquet":
        return ParquetEncoder(schema)
    compress = str(path).lower().endswith(".gz")
    return (JsonlEncoder if fmt == "jsonl" else CsvEncoder)(tuple(schema.names), compress)


def as_text(value: object) -> str | None:
    """A cell's text: strings unchanged, None kept, numbers, lists and dicts as JSON, anything
    else (dates, decimals) as its str()."""
    if value is None or isinstance(value, str):
        return value
    return _json(value) if isinstance(value, (bool, int, float, list, tuple, dict)) else str(value)


def _json(value: object) -> str:
    """JSON, with values JSON has no type for (dates, decimals, bytes) written as their str()."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _frame_rows(frame: pd.DataFrame, columns: tuple[str, ...]) -> Iterator[tuple]:
    return zip(*(frame[column].tolist() for column in columns))


def _csv_bytes(rows: Iterable[Sequence]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _maybe_gzip(data: bytes, compress: bool) -> bytes:
    """Each chunk its own gzip member (mtime 0, so output is reproducible): concatenated members
    are one valid gzip file, and cutting the file at a member boundary leaves a valid one."""
    return gzip.compress(data, compresslevel=6, mtime=0) if compress else data


class ResumableOutput(abc.ABC):
    """Encoded chunks appended to a work path beside ``path``; each append returns a position
    that a checkpoint can record, and ``resume_at`` continues from such a position, dropping
    whatever was written after it. ``finish`` moves the complete output into place."""

    def __init__(self, path: str | Path, resume_at: int | None = None) -> None:
        self.path = Path(path)
        self.work = self.path.with_name(f".{self.path.name}.part")
        self.resume_at = resume_at
        self._opened = False

    def append(self, payload: bytes) -> int:
        """Write one encoded chunk durably (fsync) and return the position after it."""
        self._open()
        return self._write(payload)

    def finish(self) -> None:
        """Complete the output and rename it into place."""
        self._open()
        self._complete()

    def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        if self.resume_at is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._start()
        elif not self.work.exists():
            raise DataError("cannot resume: the partial output is missing; run without --resume "
                            "to start over", path=str(self.work))
        else:
            self._resume(self.resume_at)

    @abc.abstractmethod
    def _start(self) -> None:
        """Create an empty work path."""

    @abc.abstractmethod
    def _resume(self, position: int) -> None:
        """Cut the work path back to ``position`` and continue after it."""

    @abc.abstractmethod
    def _write(self, payload: bytes) -> int:
        """Append durably; return the new position."""

    @abc.abstractmethod
    def _complete(self) -> None:
        """Move the finished work into ``self.path``."""


class AppendOutput(ResumableOutput):
    """JSONL and CSV: one work file; a position is its size in bytes."""

    def __init__(self, path: str | Path, header: bytes, resume_at: int | None = None) -> None:
        super().__init__(path, resume_at)
        self.header = header
        self._handle: IO[bytes] | None = None

    def _start(self) -> None:
        self._handle = self.work.open("wb")
        self._write(self.header)

    def _resume(self, position: int) -> None:
        self._handle = self.work.open("r+b")
        self._handle.truncate(position)
        self._handle.seek(position)

    def _write(self, payload: bytes) -> int:
        self._handle.write(payload)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return self._handle.tell()

    def _complete(self) -> None:
        self._handle.close()
        os.replace(self.work, self.path)


class PartsOutput(ResumableOutput):
    """Parquet, which cannot be appended to: each chunk a file in a work folder (a position is
    the number of parts), streamed into one file, one row group per part, at the end."""

    def __init__(self, path: str | Path, schema: pa.Schema, resume_at: int | None = None) -> None:
        super().__init__(path, resume_at)
        self.schema = schema
        self._parts = 0

    def _part(self, index: int) -> Path:
        return self.work / f"{index:08d}.parquet"

    def _start(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir()

    def _resume(self, position: int) -> None:
        for part in self.work.glob("[0-9]*.parquet"):
            if int(part.stem) >= position:
                part.unlink()
        self._parts = position

    def _write(self, payload: bytes) -> int:
        with self._part(self._parts).open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        self._parts += 1
        return self._parts

    def _complete(self) -> None:
        import pyarrow.parquet as pq

        merged = self.work / "complete.tmp"
        with pq.ParquetWriter(merged, self.schema) as writer:
            for index in range(self._parts):
                writer.write_table(pq.read_table(self._part(index)))
        os.replace(merged, self.path)
        shutil.rmtree(self.work)


def resumable_output(path: str | Path, encoder: FrameEncoder,
                     resume_at: int | None = None) -> ResumableOutput:
    """The work-file strategy for ``encoder``'s format."""
    if isinstance(encoder, ParquetEncoder):
        return PartsOutput(path, encoder.schema, resume_at)
    return AppendOutput(path, encoder.header(), resume_at)
