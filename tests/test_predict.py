"""The prediction API and the `tactics predict` command, including every kind of bad input."""

import gzip
import json
import os
import stat

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from typer.testing import CliRunner

from nlp import InputError, load_model, predict
from nlp.cli import app
from nlp.model.predict import MAX_CHARS, round_scores

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


@pytest.mark.parametrize("bad, problem", [("", "is empty"), ("   \n", "is empty"),
                                          (None, "is null"), (42, "must be a string, not int")])
def test_bad_texts_raise_input_error_naming_which_text(model, bad, problem):
    with pytest.raises(InputError, match=f"^text 2 of 3 {problem}$"):
        model.predict(["fine text", bad, "another fine text"])
    with pytest.raises(InputError, match=f"^the text {problem}$"):
        model.predict([bad])


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


@pytest.mark.parametrize("args, message, code", [
    (["   "], "error: the text is empty", 3),
    ([], "error: give either a TEXT argument or --input FILE", 2),
    (["--input", "does-not-exist.jsonl"], "input file not found", 1),
    (["--input", "feed.xml"], "cannot tell the format", 1),
    (["--input", "in.jsonl", "--output", "out.csv"], "`tactics batch INPUT OUTPUT` writes CSV", 1),
])
def test_cli_errors_are_one_line_with_the_documented_exit_code(small_model, args, message, code):
    result = runner.invoke(app, ["predict", *args, "--model", str(small_model)])
    assert result.exit_code == code
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
        "",
        {"id": "g", "text": "Lviv opens a new tram line."},
        {"id": "h", "text": None},
        "   ",
    ])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", "--input", str(source), "--output", str(out),
                                 "--model", str(small_model)])
    assert result.exit_code == 3, result.output      # some rows carry an error; all are written
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", 2, "c", "d", 5, "f", "g", "h"]
    errors = {r["id"]: r["error"] for r in records if "error" in r}
    assert errors == {2: errors[2], "c": "missing field 'text'", "d": "field 'text' is empty",
                      5: "line is not valid UTF-8", "f": "field 'text' must be a string, not int",
                      "h": "field 'text' is null"}
    assert errors[2].startswith("not valid JSON")
    assert {"labels", "scores", "evidence", "model"} <= set(records[0])
    assert "8 records classified, 6 with errors; 2 blank lines skipped" in result.stderr


def test_cli_exit_code_is_0_when_every_record_is_classified(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": PROPAGANDA}])
    result = runner.invoke(app, ["predict", "--input", str(source), "--model", str(small_model)])
    assert result.exit_code == 0 and "1 records classified, 0 with errors" in result.stderr


@pytest.mark.parametrize("name", ["out.jsonl.gz", "out.json.gz", "out.ndjson"])
def test_cli_output_is_in_the_format_its_extension_names(small_model, tmp_path, name):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": PROPAGANDA}])
    out = tmp_path / name
    result = runner.invoke(app, ["predict", "--input", str(source), "--output", str(out),
                                 "--model", str(small_model)])
    assert result.exit_code == 0, result.output
    opener = gzip.open if name.endswith(".gz") else open
    with opener(out, "rt", encoding="utf-8") as handle:
        assert [json.loads(line)["id"] for line in handle] == ["a"]


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz", "out.parquet", "out.txt"])
def test_cli_refuses_an_output_in_a_format_it_does_not_write(small_model, tmp_path, name):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": PROPAGANDA}])
    result = runner.invoke(app, ["predict", "--input", str(source), "--output",
                                 str(tmp_path / name), "--model", str(small_model)])
    assert result.exit_code == 1 and "this command writes JSON lines" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("spelling", ["same", "dotted", "link"])
def test_cli_refuses_to_write_over_its_input(small_model, tmp_path, monkeypatch, spelling):
    source = write_jsonl(tmp_path / "feed.jsonl", [{"id": "a", "text": PROPAGANDA}])
    before = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    if spelling == "link":
        (tmp_path / "alias.jsonl").symlink_to(source)
    output = {"same": str(source), "dotted": "./sub/../feed.jsonl", "link": "alias.jsonl"}[spelling]
    (tmp_path / "sub").mkdir()
    result = runner.invoke(app, ["predict", "--input", "feed.jsonl", "--output", output,
                                 "--model", str(small_model)])
    assert result.exit_code == 1 and "the output is the input" in result.stderr
    assert source.read_bytes() == before


def test_output_files_get_the_mode_the_umask_gives(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": PROPAGANDA}])
    previous = os.umask(0o022)
    try:
        for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
            os.umask(umask)
            out = tmp_path / f"out-{umask:o}.jsonl"
            result = runner.invoke(app, ["predict", "--input", str(source), "--output", str(out),
                                         "--model", str(small_model)])
            assert result.exit_code == 0, result.output
            assert stat.S_IMODE(out.stat().st_mode) == mode
    finally:
        os.umask(previous)


def test_no_tactic_view_names_the_tactic_with_the_highest_score(small_model, model):
    text = "The council voted to repave the market square next spring."
    [result] = model.predict([text])
    assert not result.labels
    top = max(result.scores, key=result.scores.get)
    shown = runner.invoke(app, ["predict", text, "--model", str(small_model)])
    assert shown.exit_code == 0
    assert f"no tactic (highest score: {top} {result.scores[top]:.2f})" in shown.stdout


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
        assert result.exit_code == (3 if name == "csv" else 0), (name, result.output)
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


def test_a_long_text_that_refutes_is_scored_whole(model):
    reporting = " ".join(f"On day {n} the delegations met again in the hotel on the lake, and the "
                         f"talks went on late into the night." for n in range(1, 12))
    loaded = reporting + " Kyiv walked out of the talks because London ordered it to."
    debunk = loaded + " Fact check: that claim is false, and no evidence supports it."
    rows, _ = model.window_scores([loaded, debunk, "Kyiv walked out of the talks."], 5)
    assert rows.tolist() == [0]           # only the long text without refutation has windows
    whole = model.predict_proba([debunk], long_texts=False)
    assert np.array_equal(model.predict_proba([debunk]), whole)


@pytest.mark.parametrize("opening, examined", [
    ('"Kyiv walked out of the talks because London ordered it to." ', True),
    ("Claim: Kyiv walked out of the talks because London ordered it to. ", True),
    ("«Киев сорвал переговоры по приказу Лондона.» ", True),
    ('"Every Name Is a Family": a conversation about the talks. ', False),   # a quoted title
    ('"Kyiv walked out," the spokeswoman said. ', False),                   # a quote, attributed
    ('"Kyiv walked out of the talks on London\'s orders!" the spokeswoman said. ', False),
    ("Claim-by-claim, the minister went through the talks. ", False),
])
def test_a_long_text_that_opens_by_setting_out_a_claim_is_scored_whole(model, opening, examined):
    # a debunk opens with the claim it examines, quoted or labelled, and restates it at length
    reporting = " ".join(f"On day {n} the delegations met again in the hotel on the lake, and the "
                         f"talks went on late into the night." for n in range(1, 12))
    rows, _ = model.window_scores([opening + reporting], 5)
    assert (len(rows) == 0) == examined


def test_scores_are_rounded_as_python_rounds_them():
    rng = np.random.default_rng(0)
    grid = np.arange(0, 10_001) / 10_000                   # every 4-digit value ...
    halves = (np.arange(0, 10_000) + 0.5) / 10_000         # ... and every half between two
    scores = np.concatenate([rng.random(200_000), grid, halves, np.nextafter(halves, 0),
                             np.nextafter(halves, 1), [0.0, 1.0, 5e-5, 0.00015, 0.12345]])
    expected = [round(float(s), 4) for s in scores]
    assert round_scores(scores.reshape(-1, 1)).ravel().tolist() == expected
    assert round_scores(scores).tolist() == expected                       # any shape
    assert round_scores(np.float32([0.1235])).tolist() == [round(float(np.float32(0.1235)), 4)]
