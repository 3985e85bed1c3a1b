"""Outputs of every command: files and directories get the modes the umask gives (a service
account can read a promoted model), and no command writes over one of its inputs."""

import os
import shutil
import stat

import pytest
from typer.testing import CliRunner

from nlp.cli import app
from nlp.io.writers import atomic_directory, atomic_text_output
from nlp.research.retrain import promote

from .conftest import write_jsonl

runner = CliRunner()


@pytest.fixture
def umask():
    """Set the process umask for a test; the previous one is restored after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, directory, file", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640),
                                                   (0o077, 0o700, 0o600)])
def test_atomic_outputs_follow_the_umask(tmp_path, umask, mask, directory, file):
    umask(mask)
    with atomic_directory(tmp_path / "model") as staging:
        (staging / "model.json").write_text("{}")
        (staging / "spacy").mkdir()
    with atomic_text_output(tmp_path / "out.jsonl") as handle:
        handle.write("{}\n")
    assert _mode(tmp_path / "model") == directory and _mode(tmp_path / "model" / "spacy") == directory
    assert _mode(tmp_path / "model" / "model.json") == file and _mode(tmp_path / "out.jsonl") == file


def test_a_promoted_default_is_readable_by_others(small_model, small_corpus, tmp_path, umask):
    umask(0o022)
    models = tmp_path / "models"
    for name in ("default", "spring"):
        shutil.copytree(small_model, models / name)
        (models / name).chmod(0o700)           # as an earlier release left its directories
    promote("spring", models_dir=models, data_dir=small_corpus, force=True)
    assert _mode(models / "default") == 0o755
    assert {_mode(p) for p in (models / "default").iterdir()} == {0o644}


def test_no_command_writes_over_its_input(small_model, small_corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    feed = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": "A text to classify."}])
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    before = {p: p.read_bytes() for p in (feed, corpus / "train.jsonl", corpus / "test.jsonl")}
    runs = [
        ["import", "feed.jsonl", "--format", "csv", "--out", "./feed.jsonl"],
        ["suggest", "feed.jsonl", "--out", "feed.jsonl", "--model", str(small_model)],
        ["suggest", "feed.jsonl", "--label-config", "feed.jsonl", "--model", str(small_model)],
        ["audit", "--data", "corpus", "--output", "corpus/train.jsonl"],
        ["agreement", "feed.jsonl", "--data", "corpus", "--output", "feed.jsonl"],
        ["train", "--data", "corpus", "--output", "corpus"],
        ["train", "--data", "corpus", "--output", "."],
    ]
    for args in runs:
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert "the output is the input" in result.stderr or "the output holds the input" in \
            result.stderr, (args, result.stderr)
    assert {p: p.read_bytes() for p in before} == before
