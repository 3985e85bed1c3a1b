"""The prediction API and the `tactics predict` command, including every kind of bad input."""

import gzip
import json

import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from typer.testing import CliRunner

from nlp import InputError, load_model, predict
from nlp.cli import app
from nlp.model.predict import MAX_CHARS

from .conftest import write_jsonl

runner = CliRunner()
PROPAGANDA = ("The so-called Ukrainian state is a puppet of Washington, installed by the 2014 coup; "
              "Kiev regime neo-Nazis shell Donbas while NATO provoked this war.")


@pytest.fixture(scope="module")
def model(small_model):
    return load_model(small_model)


def test_prediction_has_labels_scores_and_located_evidence(model):
    [result] = model.predict([PROPAGANDA])
    assert set(result.scores) == set(model.tactics)
    assert all(0.0 <= s <= 1.0 for s in result.scores.values())
    assert result.labels, "a text packed with tactic vocabulary should get some tactic"
    assert result.labels == [t for t in model.tactics
                             if result.scores[t] >= model.meta["thresholds"][t]]
    for tactic in result.labels:
        evidence = result.evidence[tactic]
        sentence = evidence["sentence"]
        assert PROPAGANDA[sentence["start"]:sentence["end"]] == sentence["text"]
        for phrase in evidence["phrases"]:
            assert PROPAGANDA[phrase["start"]:phrase["end"]] == phrase["text"]
            assert phrase["weight"] > 0
            assert not set(phrase["text"].lower().split()) <= ENGLISH_STOP_WORDS
    assert result.model == model.version


def test_evidence_sentence_picks_the_loaded_sentence_in_a_longer_text(model):
    neutral = "The city council met on Tuesday to discuss bus timetables and a new park. "
    text = neutral * 3 + PROPAGANDA + " " + neutral
    [result] = model.predict([text])
    for tactic in result.labels:
        sentence = result.evidence[tactic]["sentence"]
        assert "bus timetables" not in sentence["text"]
        assert text[sentence["start"]:sentence["end"]] == sentence["text"]


def test_module_level_predict_accepts_one_text_or_many(small_model):
    one = predict(PROPAGANDA, model=small_model)
    many = predict([PROPAGANDA, "Rain is expected in Lviv on Friday."], model=small_model)
    assert len(one) == 1 and len(many) == 2
    assert one[0].scores == many[0].scores


@pytest.mark.parametrize("bad", ["", "   \n", None, 42])
def test_bad_texts_raise_input_error(model, bad):
    with pytest.raises(InputError, match="text #1"):
        model.predict(["fine text", bad])


def test_very_long_text_is_truncated_with_a_note(model):
    text = ("Talks are going nowhere and the weather is fine. " * 3000)[:100_000]
    [result] = model.predict([text])
    assert result.note and str(MAX_CHARS) in result.note and "100000" in result.note


def test_cli_single_text_prints_json(small_model):
    result = runner.invoke(app, ["predict", PROPAGANDA, "--model", str(small_model), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert set(record) >= {"labels", "scores", "evidence", "model"}


def test_cli_single_text_human_view(small_model):
    result = runner.invoke(app, ["predict", PROPAGANDA, "--model", str(small_model)])
    assert result.exit_code == 0 and "model" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["   "], "error: text #0: text is empty"),
    ([], "error: give either a TEXT argument or --input FILE"),
    (["--input", "does-not-exist.jsonl"], "input file not found"),
    (["--input", "feed.xml"], "cannot tell the format"),
])
def test_cli_errors_are_one_line_and_nonzero(small_model, args, message):
    result = runner.invoke(app, ["predict", *args, "--model", str(small_model)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_cli_missing_model_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["predict", "text", "--model", str(tmp_path)])
    assert result.exit_code == 1 and "model.json is missing" in result.stderr


def test_cli_file_keeps_ids_and_flags_every_bad_record(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "text": PROPAGANDA},
        "this is not json",
        {"id": "c"},
        {"id": "d", "text": "   "},
        b'{"id": "e", "text": "caf\xe9"}',
        {"id": "f", "text": 17},
        {"id": "g", "text": "Lviv opens a new tram line."},
    ])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", "--input", str(source), "--output", str(out),
                                 "--model", str(small_model)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", 2, "c", "d", 5, "f", "g"]
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    assert errors == {2: errors[2], "c": "missing field 'text'", "d": "field 'text' is empty",
                      5: "line is not valid UTF-8", "f": "field 'text' must be a string, not int"}
    assert errors[2].startswith("not valid JSON")
    assert {"labels", "scores", "evidence", "model"} <= set(records[0])
    assert "7 records classified, 5 with errors" in result.stderr


def test_cli_reads_csv_text_lines_gzip_and_stdin(small_model, tmp_path):
    (tmp_path / "in.csv").write_text('id,text\nx1,"Kyiv, again, walked away from talks"\nx2,\n')
    (tmp_path / "in.txt").write_text("first snippet\n\nsecond snippet\n")
    with gzip.open(tmp_path / "in.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"id": "z", "text": "Aid fatigue grows."}) + "\n")
    runs = {
        "csv": (["--input", str(tmp_path / "in.csv")], None),
        "txt": (["--input", str(tmp_path / "in.txt")], None),
        "gz": (["--input", str(tmp_path / "in.jsonl.gz")], None),
        "stdin": (["--input", "-"], json.dumps({"id": "s", "text": "NATO provoked it."}) + "\n"),
    }
    outputs = {}
    for name, (args, stdin) in runs.items():
        result = runner.invoke(app, ["predict", *args, "--model", str(small_model)], input=stdin)
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in outputs["csv"]] == ["x1", "x2"] and "error" in outputs["csv"][1]
    assert [r["id"] for r in outputs["txt"]] == [1, 3]
    assert outputs["gz"][0]["id"] == "z" and outputs["stdin"][0]["id"] == "s"


def test_cli_reads_one_text_from_stdin(small_model):
    result = runner.invoke(app, ["predict", "-", "--json", "--model", str(small_model)],
                           input=PROPAGANDA)
    assert result.exit_code == 0 and json.loads(result.stdout)["labels"]


def test_output_file_is_not_left_half_written(small_model, tmp_path):
    out = tmp_path / "out.jsonl"
    (tmp_path / "in.csv").write_text("body\nno text column here\n")
    result = runner.invoke(app, ["predict", "--input", str(tmp_path / "in.csv"), "--output",
                                 str(out), "--model", str(small_model)])
    assert result.exit_code == 1 and "no column 'text'" in result.stderr
    assert not out.exists() and list(tmp_path.glob(".out.jsonl*")) == []


def test_package_docstring_example_runs():
    import doctest

    import nlp

    result = doctest.testmod(nlp, raise_on_error=False)
    assert result.attempted >= 3 and result.failed == 0
