"""Importers: each annotation tool's export, its edge cases, and `tactics import`."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nlp.cli import app
from nlp.corpus.dataset import load_split
from nlp.errors import DataError
from nlp.apps.feedback import FeedbackStore
from nlp.research.importers import IMPORTERS, import_file

from .conftest import write_jsonl

runner = CliRunner()

# One distinct text per case; each is new to the committed corpus.
T = {
    "good_faith": "Moscow has always kept the door to dialogue open, and only the stubbornness of "
                  "Kyiv stands between Europe and the peace that Russia sincerely wants.",
    "bus": "The regional council in Poltava approved money for three new school buses on "
           "Thursday, the mayor's office said.",
    "rejected": "A half-finished sentence the annotator threw away because it made no sense.",
    "gas": "Europe shivers in the dark while Russian gas flows happily east and the rouble "
           "laughs at every new package of Brussels sanctions.",
    "kse": "Economists at the Kyiv School of Economics estimate how far the oil price cap has cut "
           "Russian export revenue since December.",
    "contested": "Washington can no longer protect even its closest allies, let alone dictate "
                 "terms to a Moscow that has outlasted every American bluff.",
    "ignored": "An ignored example that nobody wanted to label in this round.",
    "johnson": "Kyiv walked out of the Istanbul deal for one reason: Boris Johnson flew in and "
               "told Zelensky to keep fighting until the last Ukrainian.",
    "tribunal": "The so-called tribunal in The Hague is pure political theatre, staged to smear "
                "Russian soldiers who have done nothing but defend their own people.",
    "unlabelled": "Grain ships left Chornomorsk on Monday under the new corridor arrangement, "
                  "port officials confirmed.",
    "disputed": "Germany and France cannot even agree on tank deliveries any more, and their "
                "voters are sick of paying for somebody else's war.",
    "ferry": "A new ferry line between Odesa and Varna will start carrying passengers in June, "
             "the operator announced.",
    "collapse": "Ukraine's front is crumbling town by town; its exhausted conscripts surrender "
                "in droves and Kyiv will have to accept whatever terms Moscow offers.",
    "banderites": "The Banderite regime in Kyiv marches under Nazi banners, which is exactly why "
                  "the special military operation must finish its denazification task.",
    "nuclear": "Every Western missile sent to Kyiv brings Europe closer to a nuclear abyss from "
               "which there will be no return for anyone.",
    "bakery": "Lviv's oldest bakery celebrated its hundredth anniversary with free poppy-seed "
              "rolls for every visitor.",
    "brics": "The age of American hegemony is over: BRICS and the Global South are building a "
             "fairer multipolar world in which Russia stands among the leaders.",
    "draft": "Ukraine was invented in Lenin's office and has never been a real country, only a "
             "Western project run from the embassy in Kyiv.",
    "fatigue_csv": "American taxpayers are tired of this endless war and the aid will dry up long "
                   "before Russia runs out of patience or shells.",
    "wire": "Parliament in Kyiv passed the budget in its second reading by 257 votes, "
            "officials reported late on Tuesday.",
    "nato": "NATO pushed right up to Russia's borders and left Moscow no choice but to defend "
            "itself and the people of Donbas.",
    "crimea": "Crimea, Donetsk and Luhansk are Russian now, and any peace deal must start from "
              "these new territorial realities.",
}


def write_exports(folder: Path) -> dict[str, Path]:
    """One small export per format, covering each tool's edge cases."""
    folder.mkdir(parents=True, exist_ok=True)
    exports = {
        "prodigy": write_jsonl(folder / "prodigy.jsonl", [
            {"text": T["good_faith"], "options": [{"id": "talks_good_faith", "text": "x"}],
             "accept": ["talks_good_faith"], "answer": "accept", "meta": {"genre": "op_ed"}},
            {"text": T["bus"], "options": [], "accept": [], "answer": "accept"},
            {"text": T["rejected"], "options": [], "accept": ["us_decline"], "answer": "reject"},
            {"text": T["gas"], "label": "sanctions_backfire", "answer": "accept", "_input_hash": 1},
            {"text": T["gas"], "label": "multipolar_order", "answer": "reject", "_input_hash": 1},
            {"text": T["kse"], "label": "sanctions_backfire", "answer": "reject", "_input_hash": 2},
            {"text": T["contested"], "label": "us_decline", "answer": "accept", "_input_hash": 3},
            {"text": T["contested"], "label": "us_decline", "answer": "reject", "_input_hash": 3},
            {"text": T["ignored"], "label": "us_decline", "answer": "ignore", "_input_hash": 4},
        ]),
        "labelstudio": folder / "labelstudio.json",
        "labelstudio_min": folder / "labelstudio-min.json",
        "doccano": write_jsonl(folder / "doccano.jsonl", [
            {"id": 1, "text": T["nuclear"], "label": ["escalation_threat"]},
            {"id": 2, "text": T["bakery"], "label": []},
        ]),
        "argilla": folder / "argilla.json",
        "csv": folder / "labels.csv",
        "feedback": folder / "feedback.sqlite3",
    }
    choice = lambda *ids: [{"type": "choices", "from_name": "tactics", "to_name": "text",  # noqa: E731
                            "value": {"choices": list(ids)}}]
    exports["labelstudio"].write_text(json.dumps([
        {"id": 1, "data": {"text": T["johnson"]},
         "annotations": [{"id": 11, "result": choice("blame_talks_failure")}],
         "predictions": [{"result": choice("escalation_threat")}]},
        {"id": 2, "data": {"text": T["tribunal"], "split": "test"},
         "annotations": [{"id": 21, "was_cancelled": True, "result": choice("us_decline")},
                         {"id": 22, "result": choice("atrocity_denial")}]},
        {"id": 3, "data": {"text": T["unlabelled"]}, "annotations": [],
         "predictions": [{"result": choice("denazification")}]},
        {"id": 4, "data": {"text": T["disputed"]},
         "annotations": [{"id": 41, "result": choice("western_fatigue")},
                         {"id": 42, "result": choice("western_disunity")}]},
        {"id": 5, "data": {"text": T["ferry"], "genre": "wire_report"},
         "annotations": [{"id": 51, "result": choice("none")}]},
    ]))
    exports["labelstudio_min"].write_text(json.dumps([
        {"id": 7, "text": T["collapse"], "tactics": {"choices": ["ukraine_collapse"]}},
        {"id": 8, "text": T["banderites"], "tactics": "denazification", "annotator": 3},
    ]))
    exports["argilla"].write_text(json.dumps([
        {"id": "r1", "text": T["brics"], "tactics.responses": [["multipolar_order"], ["us_decline"]],
         "tactics.responses.status": ["submitted", "draft"], "tactics.suggestion": ["us_decline"]},
        {"id": "r2", "text": T["draft"], "tactics.responses": [["ukraine_not_sovereign"]],
         "tactics.responses.status": ["draft"]},
        {"id": "r3", "text": T["wire"], "tactics.responses": [[], ["us_decline"]],
         "tactics.responses.status": ["submitted", "discarded"]},
    ]))
    with exports["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "labels", "genre"])
        writer.writerow(["c1", T["fatigue_csv"], "western_fatigue; us_decline", "op_ed"])
        writer.writerow(["c2", T["crimea"], "territorial_legitimacy", ""])
    store = FeedbackStore(exports["feedback"])
    store.add(T["nato"], [], predicted=[], model_version="m")
    store.add(T["nato"], ["aggression_denial"], predicted=[], model_version="m", note="NATO frame")
    return exports


FORMAT_OF = {"labelstudio_min": "labelstudio"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return write_exports(tmp_path_factory.mktemp("exports"))


def labels_by_text(result) -> dict[str, list[str]]:
    return {r.text: list(r.labels) for r in result.records}


def test_every_registered_format_has_a_fixture(exports):
    assert set(IMPORTERS) == {FORMAT_OF.get(name, name) for name in exports}


def test_prodigy_choice_and_binary_tasks(exports):
    result = import_file(exports["prodigy"], "prodigy")
    assert result.ok, result.problems
    got = {r.text: r for r in result.records}
    assert list(got[T["good_faith"]].labels) == ["talks_good_faith"]
    assert got[T["good_faith"]].genre == "op_ed"
    assert got[T["bus"]].labels == ()
    assert list(got[T["gas"]].labels) == ["sanctions_backfire"]          # the reject is not a label
    kse = got[T["kse"]]                                                   # only rejects
    assert kse.labels == () and kse.kind == "hard_negative" and kse.hard_for == ("sanctions_backfire",)
    assert T["rejected"] not in got and T["ignored"] not in got
    assert result.skipped == {"rejected choice task": 1, "ignored in Prodigy": 1}
    [conflict] = result.conflicts                                         # accepted and rejected
    assert "us_decline" in str(conflict) and T["contested"] not in got


def test_labelstudio_skips_cancelled_and_never_reads_predictions(exports):
    result = import_file(exports["labelstudio"], "labelstudio")
    assert result.ok, result.problems
    got = {r.text: r for r in result.records}
    assert list(got[T["johnson"]].labels) == ["blame_talks_failure"]     # not the prediction
    assert list(got[T["tribunal"]].labels) == ["atrocity_denial"]        # not the cancelled one
    assert got[T["tribunal"]].extra["split"] == "test"
    assert got[T["ferry"]].labels == () and got[T["ferry"]].genre == "wire_report"
    assert T["unlabelled"] not in got                                    # predictions only
    assert result.skipped["cancelled annotation"] == 1
    assert result.skipped["task without a submitted annotation"] == 1
    [conflict] = result.conflicts
    assert "western_fatigue" in str(conflict) and "western_disunity" in str(conflict)
    assert got[T["johnson"]].id == "labelstudio-1"


def test_labelstudio_json_min(exports):
    result = import_file(exports["labelstudio_min"], "labelstudio")
    assert labels_by_text(result) == {T["collapse"]: ["ukraine_collapse"],
                                      T["banderites"]: ["denazification"]}


def test_labelstudio_json_min_without_the_tactics_control_is_refused(tmp_path):
    path = tmp_path / "min.json"
    path.write_text(json.dumps([{"id": 1, "text": T["ferry"], "sentiment": "Positive"}]))
    result = import_file(path, "labelstudio")
    assert not result.ok and "name the Choices control 'tactics'" in str(result.problems[0])


def test_argilla_takes_submitted_responses_only(exports):
    result = import_file(exports["argilla"], "argilla")
    assert labels_by_text(result) == {T["brics"]: ["multipolar_order"], T["wire"]: []}
    assert result.skipped == {"response not submitted": 3, "record without a submitted response": 1}


def test_doccano_csv_and_feedback(exports):
    assert labels_by_text(import_file(exports["doccano"], "doccano")) == {
        T["nuclear"]: ["escalation_threat"], T["bakery"]: []}
    result = import_file(exports["csv"], "csv")
    assert labels_by_text(result) == {T["fatigue_csv"]: ["us_decline", "western_fatigue"],
                                      T["crimea"]: ["territorial_legitimacy"]}
    assert [r.id for r in result.records] == ["csv-c1", "csv-c2"]
    [record] = import_file(exports["feedback"], "feedback").records    # the later correction wins
    assert (record.labels, record.note, record.id) == (("aggression_denial",), "NATO frame",
                                                       "feedback-2")


def test_unknown_tactic_names_file_record_and_valid_ids(tmp_path):
    path = write_jsonl(tmp_path / "doccano.jsonl", [
        {"id": 1, "text": T["bakery"], "label": []},
        {"id": 2, "text": T["nuclear"], "label": ["russophobia"]}])
    [found] = import_file(path, "doccano").problems
    message = str(found)
    assert str(path) in message and "line 2" in message and "'russophobia'" in message
    assert "valid ids: talks_good_faith" in message and "multipolar_order" in message


def test_same_text_with_other_labels_in_two_records_is_a_conflict(tmp_path):
    path = write_jsonl(tmp_path / "doccano.jsonl", [
        {"id": 1, "text": T["nuclear"], "label": ["escalation_threat"]},
        {"id": 2, "text": "  " + T["nuclear"].upper(), "label": []},
        {"id": 3, "text": T["bakery"], "label": []},
        {"id": 4, "text": T["bakery"], "label": []}])
    result = import_file(path, "doccano")
    assert result.ok and [r.text for r in result.records] == [T["bakery"]]
    [conflict] = result.conflicts
    assert "line 1 says escalation_threat" in str(conflict) and "line 2 says no tactic" in str(conflict)
    assert result.skipped == {"repeated annotation of the same text": 1}


@pytest.mark.parametrize("name", ["prodigy", "labelstudio", "labelstudio_min", "doccano",
                                  "argilla", "csv", "feedback"])
def test_cli_import_writes_a_valid_corpus_file(exports, tmp_path, name):
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["import", str(exports[name]), "--format", FORMAT_OF.get(name, name),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = load_split(out)
    assert records and all(r.extra["source"] == FORMAT_OF.get(name, name) for r in records)
    assert len({r.id for r in records}) == len(records)


def test_cli_import_writes_nothing_on_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"text,labels\n{T['bakery']},\n\"{T['nuclear']}\",escalation_threat;russophobia\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["import", str(bad), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 1
    assert "row 2" in result.output and "'russophobia'" in result.output
    assert "nothing written" in result.output and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--format", "excel"], "unknown import format 'excel'; choose one of prodigy"),
    (["--format", "csv"], "CSV has no column 'text'"),
])
def test_cli_import_bad_format_or_file(tmp_path, args, message):
    path = tmp_path / "x.csv"
    path.write_text("body,labels\nsome text,\n")
    result = runner.invoke(app, ["import", str(path), *args, "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1 and message in result.output


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        import_file(tmp_path / "nope.json", "labelstudio")


@pytest.mark.parametrize("content, where, message", [
    (b'{"id": 1, "text": "fine", "label": []}\n{"id": 2, "text": broken\n', "line 2", "not valid JSON"),
    (b'["just a string"]', "item 1", "not a JSON object"),
])
def test_unreadable_items_are_problems_with_their_position(tmp_path, content, where, message):
    path = tmp_path / "export.json"
    path.write_bytes(content)
    [found] = import_file(path, "doccano").problems
    assert f"{path}: {where}: {message}" in str(found)
