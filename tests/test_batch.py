"""Batch classification: classify_frame, run_batch (formats, bad rows, order, kept fields,
workers, output only when complete, resume) and `tactics batch`, including resuming a job whose
process was killed."""

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from nlp import DataError, load_model
from nlp.apps.batch import classify_frame, result_columns, run_batch
from nlp.cli import app
from nlp.model.predict import MAX_CHARS

from .conftest import ROOT, write_jsonl

runner = CliRunner()
FORMATS = ["jsonl", "jsonl.gz", "csv", "csv.gz", "parquet"]


@pytest.fixture(scope="module")
def model(small_model):
    return load_model(small_model)


@pytest.fixture(scope="module")
def texts(small_corpus):
    lines = (small_corpus / "test.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def feed(texts, n):
    """n records with unique ids and a field to keep."""
    return [{"id": f"r{i:05d}", "text": texts[i % len(texts)], "source": f"outlet-{i % 3}"}
            for i in range(n)]


def write_feed(path, records):
    """Write records in the format that path's extension names."""
    name = path.name
    if name.endswith(".parquet"):
        pd.DataFrame(records).to_parquet(path)
        return path
    if ".csv" in name:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
        data = buffer.getvalue().encode("utf-8")
    else:
        data = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def read_output(path):
    """Records of a batch output in any format, decoded to the same Python values."""
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        if ".csv" not in name:
            return [json.loads(line) for line in handle]
        return [{k: _csv_cell(k, v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _csv_cell(column, value):
    if value == "":
        return None
    return json.loads(value) if column in ("labels", "scores", "uncertain") else value


def expected_records(model, records, keep_fields=("source",)):
    frame = classify_frame(model, pd.DataFrame(records), keep_fields=keep_fields)
    return frame.to_dict("records")


def test_classify_frame_matches_predict_and_flags_bad_rows(model, texts):
    frame = pd.DataFrame({
        "id": ["a", "b", "c", "d", None, "f"],
        "text": [texts[0], None, "   ", 17, texts[1], float("nan")],
        "source": ["x", "y", None, "z", "w", "v"],
    }, index=[10, 11, 12, 13, 14, 15])
    out = classify_frame(model, frame, keep_fields=["source"])
    assert list(out.columns) == result_columns(["source"]) and list(out.index) == list(frame.index)
    assert out["id"].tolist() == ["a", "b", "c", "d", 5, "f"]
    assert out["error"].tolist() == [None, "field 'text' is null", "field 'text' is empty",
                                     "field 'text' must be a string, not int", None,
                                     "field 'text' is null"]
    assert out["source"].tolist() == ["x", "y", None, "z", "w", "v"]
    assert out["model"].tolist() == [model.version] * 6
    for row, prediction in zip([0, 4], model.predict(texts[:2], evidence=False)):
        assert out["labels"].iloc[row] == prediction.labels
        assert out["scores"].iloc[row] == prediction.scores
        assert out["uncertain"].iloc[row] == prediction.uncertain
    assert out["labels"].iloc[[1, 2, 3, 5]].isna().all()


def test_classify_frame_keeps_a_readers_error_and_adds_evidence_on_request(model, texts):
    frame = pd.DataFrame({"id": [1, 2], "text": [texts[2], None],
                          "error": [None, "line is not valid UTF-8"]})
    out = classify_frame(model, frame, evidence=True)
    assert out["error"].tolist() == [None, "line is not valid UTF-8"]
    [prediction] = model.predict([texts[2]], evidence=True)
    assert out["evidence"].iloc[0] == prediction.evidence
    assert "evidence" not in classify_frame(model, frame).columns


@pytest.mark.parametrize("keep, message", [(["labels"], "cannot keep labels"),
                                           (["nowhere"], "no column 'nowhere'")])
def test_classify_frame_rejects_bad_keep_fields(model, keep, message):
    with pytest.raises(DataError, match=message):
        classify_frame(model, pd.DataFrame({"text": ["a text"]}), keep_fields=keep)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_input_format(model, texts, tmp_path, suffix):
    records = feed(texts, 40)
    source = write_feed(tmp_path / f"in.{suffix}", records)
    summary = run_batch(source, tmp_path / "out.jsonl", model=model, keep_fields=["source"],
                        chunk_size=7, quiet=True)
    assert read_output(tmp_path / "out.jsonl") == expected_records(model, records)
    assert summary["rows_in"] == summary["rows_out"] == 40 and summary["errors"] == 0


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_output_format_round_trips(model, texts, tmp_path, suffix):
    records = feed(texts, 40)
    out = tmp_path / f"out.{suffix}"
    run_batch(write_feed(tmp_path / "in.jsonl", records), out, model=model,
              keep_fields=["source"], chunk_size=7, quiet=True)
    got = read_output(out)
    assert [r["id"] for r in got] == [r["id"] for r in records]
    assert got == expected_records(model, records)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.jsonl", out.name])


@pytest.mark.parametrize("suffix", ["jsonl", "csv.gz", "parquet"])
def test_empty_input_gives_a_valid_empty_output(model, tmp_path, suffix):
    source = tmp_path / "in.jsonl"
    source.write_text("")
    summary = run_batch(source, tmp_path / f"out.{suffix}", model=model, quiet=True)
    assert summary["rows_out"] == 0 and read_output(tmp_path / f"out.{suffix}") == []


def test_bad_jsonl_rows_get_errors_and_the_rest_is_classified(model, texts, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "text": texts[0]},
        "this is not json",
        {"id": "c"},
        {"id": "d", "text": "   "},
        b'{"id": "e", "text": "caf\xe9"}',
        {"id": "f", "text": 17},
        "[1, 2]",
        {"id": "h", "text": texts[1]},
    ])
    summary = run_batch(source, tmp_path / "out.jsonl", model=model, chunk_size=3, quiet=True)
    records = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["a", 2, "c", "d", 5, "f", 7, "h"]
    errors = {r["id"]: r["error"] for r in records if r["error"]}
    assert errors.pop(2).startswith("not valid JSON")
    assert errors == {"c": "missing field 'text'", "d": "field 'text' is empty",
                      5: "line is not valid UTF-8", "f": "field 'text' must be a string, not int",
                      7: "a JSONL record must be a JSON object"}
    assert [r["labels"] is not None for r in records] == [True] + [False] * 6 + [True]
    assert summary["errors"] == 6 and summary["rows_in"] == summary["rows_out"] == 8


def test_bad_csv_rows_get_errors(model, texts, tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b'id,text\nx1,"' + texts[0].replace('"', '""').encode() + b'"\n'
                       b"x2,caf\xe9\nx3,\nx4,two,cells\n")
    run_batch(source, tmp_path / "out.csv", model=model, quiet=True)
    records = read_output(tmp_path / "out.csv")
    assert [r["error"] for r in records] == [None, "row is not valid UTF-8", "field 'text' is empty",
                                             "row has more cells than the header"]
    assert records[0]["scores"] and records[1]["scores"] is None


def test_kept_text_field_and_ids_from_another_column(model, texts, tmp_path):
    records = [{"url": f"u{i}", "body": texts[i]} for i in range(3)] + [{"body": texts[3]}]
    source = write_feed(tmp_path / "in.jsonl", records)
    run_batch(source, tmp_path / "out.jsonl", model=model, text_field="body", id_field="url",
              keep_fields=["body"], quiet=True)
    out = read_output(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == ["u0", "u1", "u2", 4]
    assert [r["body"] for r in out] == texts[:4]


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_kept_values_of_any_type_are_written(model, texts, tmp_path, suffix):
    source = tmp_path / "in.parquet"
    pd.DataFrame({"id": [7, 8], "text": texts[:2], "count": [3, None],
                  "seen": pd.to_datetime(["2024-02-29 10:00", "2024-03-01 00:00"])}).to_parquet(source)
    run_batch(source, tmp_path / f"out.{suffix}", model=model, keep_fields=["count", "seen"],
              quiet=True)
    records = read_output(tmp_path / f"out.{suffix}")
    as_text = suffix != "jsonl"          # CSV and Parquet store ids and kept fields as text
    assert [r["id"] for r in records] == (["7", "8"] if as_text else [7, 8])
    assert [r["count"] for r in records] == (["3.0", None] if as_text else [3.0, None])
    assert [r["seen"] for r in records] == ["2024-02-29 10:00:00", "2024-03-01 00:00:00"]


def test_two_workers_write_the_same_bytes_as_one(model, texts, tmp_path):
    source = write_feed(tmp_path / "in.jsonl", feed(texts, 150) + [{"id": "bad", "text": ""}])
    one = run_batch(source, tmp_path / "one.jsonl.gz", model=model, chunk_size=16, quiet=True)
    two = run_batch(source, tmp_path / "two.jsonl.gz", model=model, chunk_size=16, workers=2,
                    quiet=True)
    assert (tmp_path / "one.jsonl.gz").read_bytes() == (tmp_path / "two.jsonl.gz").read_bytes()
    assert {k: one[k] for k in ("rows_in", "rows_out", "errors", "tactics")} == \
        {k: two[k] for k in ("rows_in", "rows_out", "errors", "tactics")} and one["errors"] == 1


def test_a_failed_job_leaves_the_previous_output_untouched(model, texts, tmp_path):
    data = "".join(json.dumps(r) + "\n" for r in feed(texts, 300)).encode()
    source = tmp_path / "in.jsonl.gz"
    source.write_bytes(gzip.compress(data)[:-200])       # ends mid-stream, after many rows
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    with pytest.raises(DataError, match="in.jsonl.gz: cannot read"):
        run_batch(source, out, model=model, chunk_size=10, quiet=True)
    assert out.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == \
        ["in.jsonl.gz", "out.jsonl"]
    checkpoint = json.loads((tmp_path / ".out.jsonl.checkpoint.json").read_text())
    assert checkpoint["rows"] > 0 and checkpoint["rows"] % 10 == 0


class Crash(Exception):
    pass


def crash_on_chunk(monkeypatch, model, n):
    """Make the model fail while classifying the n-th chunk, as a job that dies half-way."""
    calls, predict = [], model.predict

    def failing(batch, **options):
        calls.append(1)
        if len(calls) == n:
            raise Crash()
        return predict(batch, **options)

    monkeypatch.setattr(model, "predict", failing)


@pytest.mark.parametrize("suffix", ["jsonl", "csv.gz", "parquet"])
def test_resume_drops_what_was_written_after_the_checkpoint(model, texts, tmp_path, monkeypatch,
                                                             suffix):
    source = write_feed(tmp_path / "in.jsonl", feed(texts, 100))
    reference, out = tmp_path / f"reference.{suffix}", tmp_path / f"out.{suffix}"
    run_batch(source, reference, model=model, keep_fields=["source"], chunk_size=8, quiet=True)
    crash_on_chunk(monkeypatch, model, 5)
    with pytest.raises(Crash):
        run_batch(source, out, model=model, keep_fields=["source"], chunk_size=8, quiet=True)
    monkeypatch.undo()
    assert not out.exists()
    work = tmp_path / f".{out.name}.part"
    if work.is_dir():                      # Parquet: a stray part past the checkpoint
        (work / "00000004.parquet").write_bytes(b"half a part")
    else:                                  # JSONL / CSV: a half-written chunk at the end
        with work.open("ab") as handle:
            handle.write(b'{"id": "half a li')
    summary = run_batch(source, out, model=model, keep_fields=["source"], chunk_size=8,
                        resume=True, quiet=True)
    assert summary["resumed_from"] == 32 and summary["rows_out"] == 100
    assert out.read_bytes() == reference.read_bytes()
    assert not work.exists() and not (tmp_path / f".{out.name}.checkpoint.json").exists()


def test_resume_refuses_a_checkpoint_of_another_job(model, texts, tmp_path, monkeypatch):
    source, out = write_feed(tmp_path / "in.jsonl", feed(texts, 30)), tmp_path / "out.jsonl"
    crash_on_chunk(monkeypatch, model, 3)
    with pytest.raises(Crash):
        run_batch(source, out, model=model, keep_fields=["source"], chunk_size=5, quiet=True)
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"checkpoint is for a different job \(keep_fields was "
                                        r"\['source'\], now \[\]\); run without --resume"):
        run_batch(source, out, model=model, resume=True, quiet=True)
    summary = run_batch(source, out, model=model, quiet=True)
    assert summary["rows_out"] == 30 and summary["resumed_from"] == 0


@pytest.mark.parametrize("suffix", ["jsonl.gz", "parquet"])
def test_resume_after_the_process_is_killed(small_model, model, texts, tmp_path, suffix):
    source = write_feed(tmp_path / "in.jsonl", feed(texts, 2000))
    out = tmp_path / f"out.{suffix}"
    checkpoint = tmp_path / f".{out.name}.checkpoint.json"
    command = [sys.executable, "-m", "nlp", "batch", str(source), str(out), "--model",
               str(small_model), "--chunk-size", "20", "--keep-fields", "source", "--quiet"]
    job = subprocess.Popen(command, cwd=ROOT)
    try:
        done = _wait_for_progress(checkpoint, job, rows=100)
        os.kill(job.pid, signal.SIGKILL)
    finally:
        job.wait(timeout=60)
    killed_at = json.loads(checkpoint.read_text())["rows"]
    assert job.returncode == -signal.SIGKILL and 100 <= done <= killed_at < 2000
    assert not out.exists()
    result = runner.invoke(app, ["batch", str(source), str(out), "--model", str(small_model),
                                 "--chunk-size", "20", "--keep-fields", "source", "--resume"])
    assert result.exit_code == 0, result.output
    assert f"resumed after {killed_at:,}" in result.stderr and not checkpoint.exists()
    records = read_output(out)
    assert [r["id"] for r in records] == [f"r{i:05d}" for i in range(2000)]
    run_batch(source, tmp_path / f"reference.{suffix}", model=model, chunk_size=20,
              keep_fields=["source"], quiet=True)
    assert out.read_bytes() == (tmp_path / f"reference.{suffix}").read_bytes()


def _wait_for_progress(checkpoint, job, rows, timeout=120):
    """Rows done once the job's checkpoint shows at least ``rows``; fails if the job ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.poll() is not None:
            pytest.fail(f"the job ended (code {job.returncode}) before it could be killed")
        try:
            done = json.loads(checkpoint.read_text())["rows"]
        except (FileNotFoundError, ValueError):
            done = 0
        if done >= rows:
            return done
        time.sleep(0.005)
    pytest.fail("the job made no progress")


def test_cli_prints_a_summary_and_nothing_when_quiet(small_model, texts, tmp_path):
    source = write_feed(tmp_path / "in.jsonl", feed(texts, 12) + [{"id": "x", "text": ""}])
    args = ["batch", str(source), str(tmp_path / "out.csv"), "--model", str(small_model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output     # a row carries an error; all are written
    first, second = result.stderr.strip().splitlines()
    assert first.startswith("13 rows in, 13 rows out, 1 errors;") and second.startswith("tactics:")
    quiet = runner.invoke(app, [*args, "--quiet"])
    assert quiet.exit_code == 3 and quiet.output == ""
    assert len(read_output(tmp_path / "out.csv")) == 13
    clean = write_feed(tmp_path / "clean.jsonl", feed(texts, 5))
    assert runner.invoke(app, ["batch", str(clean), str(tmp_path / "clean.csv"), "--model",
                               str(small_model), "--quiet"]).exit_code == 0


def test_a_truncated_text_keeps_its_note(model, texts, tmp_path):
    long_text = (texts[0] + " ") * (MAX_CHARS // len(texts[0]) + 2)
    source = write_feed(tmp_path / "in.jsonl", [{"id": "long", "text": long_text},
                                                {"id": "short", "text": texts[1]}])
    for suffix in ("jsonl", "csv", "parquet"):
        run_batch(source, tmp_path / f"out.{suffix}", model=model, quiet=True)
        records = read_output(tmp_path / f"out.{suffix}")
        assert records[0]["note"] == model.predict([long_text])[0].note
        assert str(MAX_CHARS) in records[0]["note"] and records[1]["note"] is None
    assert result_columns().index("note") == result_columns().index("error") + 1


def test_blank_lines_are_counted_in_the_summary(small_model, texts, tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [json.dumps(r) for r in feed(texts, 3)]
    source.write_text(f"{lines[0]}\n\n{lines[1]}\n   \n{lines[2]}\n")
    result = runner.invoke(app, ["batch", str(source), str(tmp_path / "out.jsonl"), "--model",
                                 str(small_model)])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("3 rows in, 3 rows out, 0 errors, 2 blank lines skipped;")


@pytest.mark.parametrize("spelling", ["same", "dotted", "link"])
def test_batch_refuses_to_write_over_its_input(model, texts, tmp_path, spelling):
    source = write_feed(tmp_path / "feed.jsonl", feed(texts, 3))
    before = source.read_bytes()
    if spelling == "link":
        (tmp_path / "alias.jsonl").symlink_to(source)
    output = {"same": source, "dotted": tmp_path / "sub" / ".." / "feed.jsonl",
              "link": tmp_path / "alias.jsonl"}[spelling]
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError, match="the output is the input"):
        run_batch(source, output, model=model, quiet=True)
    assert source.read_bytes() == before


def test_a_rerun_without_resume_says_it_discards_the_checkpoint(small_model, model, texts,
                                                                 tmp_path, monkeypatch):
    source, out = write_feed(tmp_path / "in.jsonl", feed(texts, 30)), tmp_path / "out.jsonl"
    crash_on_chunk(monkeypatch, model, 3)
    with pytest.raises(Crash):
        run_batch(source, out, model=model, chunk_size=5, quiet=True)
    monkeypatch.undo()
    result = runner.invoke(app, ["batch", str(source), str(out), "--model", str(small_model),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "warning: discarding a checkpoint at 10 rows; pass --resume to continue\n"
    assert len(read_output(out)) == 30


@pytest.mark.parametrize("args, message", [
    (["missing.jsonl", "out.jsonl"], "missing.jsonl: input file not found"),
    (["in.jsonl", "out.txt"], "out.txt: batch output must be .jsonl or .csv"),
    (["in.jsonl", "out.parquet.gz"], "Parquet files are compressed internally"),
    (["-", "out.jsonl"], "batch jobs read and write files"),
    (["in.jsonl", "out.jsonl", "--keep-fields", "model"], "cannot keep model"),
])
def test_cli_errors_are_one_line(small_model, texts, tmp_path, args, message):
    write_feed(tmp_path / "in.jsonl", feed(texts, 3))
    paths = [str(tmp_path / a) if a.startswith(("in.", "out.", "missing.")) else a for a in args]
    result = runner.invoke(app, ["batch", *paths, "--model", str(small_model)])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.jsonl").exists()


def _children(pid):
    """The ids of the live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat_file.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(stat_file.parent.name))
    return found


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _still_alive_after(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def _start_two_worker_job(small_model, texts, tmp_path):
    source = write_feed(tmp_path / "in.jsonl", feed(texts, 8000))
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "nlp", "batch", str(source), str(out), "--model",
               str(small_model), "--chunk-size", "20", "--workers", "2", "--quiet"]
    job = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / f".{out.name}.checkpoint.json"
    _wait_for_progress(checkpoint, job, rows=40)
    helpers = _children(job.pid)          # the two workers and multiprocessing's resource tracker
    assert len(helpers) >= 2, helpers
    return job, source, out, checkpoint, helpers


def _kill_leftovers(pids):
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_and_the_resource_tracker_exit_when_the_job_is_killed(small_model, texts,
                                                                      tmp_path):
    job, _, _, _, helpers = _start_two_worker_job(small_model, texts, tmp_path)
    try:
        os.kill(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
        assert _still_alive_after(helpers, 20) == []
    finally:
        _kill_leftovers(helpers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_the_job_cleanly_keeping_its_checkpoint(small_model, texts, tmp_path):
    job, source, out, checkpoint, helpers = _start_two_worker_job(small_model, texts, tmp_path)
    try:
        os.kill(job.pid, signal.SIGTERM)
        _, stderr = job.communicate(timeout=60)
        assert _still_alive_after(helpers, 20) == []
    finally:
        _kill_leftovers(helpers)
    done = json.loads(checkpoint.read_text())["rows"]
    assert job.returncode == 143 and 40 <= done < 8000
    assert stderr == (f"error: stopped by SIGTERM; the checkpoint at {done:,} rows is kept: "
                      f"run the same command with --resume to continue\n")
    assert not out.exists()
    result = runner.invoke(app, ["batch", str(source), str(out), "--model", str(small_model),
                                 "--chunk-size", "20", "--resume"])
    assert result.exit_code == 0 and f"resumed after {done:,}" in result.stderr
    assert [r["id"] for r in read_output(out)] == [f"r{i:05d}" for i in range(8000)]
