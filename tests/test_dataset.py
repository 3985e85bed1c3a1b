"""The committed corpus meets its targets, and validation catches every kind of bad record."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from nlp.cli import app
from nlp.corpus.dataset import (corpus_hash, label_matrix, load_corpus, load_hf_dataset, load_split,
                         validate_corpus)
from nlp.errors import DataError
from nlp.corpus.similarity import near_duplicate_pairs, template_share
from nlp.taxonomy import load_taxonomy

from .conftest import DATA, write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def report():
    return validate_corpus(DATA)


def test_committed_corpus_is_valid(report):
    assert report.ok, "\n".join(map(str, report.problems[:20]))


def test_corpus_meets_size_and_balance_targets(report):
    train, test = report.stats["splits"]["train"], report.stats["splits"]["test"]
    assert train["records"] + test["records"] >= 4500
    for tactic in load_taxonomy().ids:
        assert train["per_tactic"][tactic] + test["per_tactic"][tactic] >= 200, tactic
        assert test["per_tactic"][tactic] >= 50, tactic
    assert train["none"] + test["none"] >= 1500
    assert train["hard_negatives"] + test["hard_negatives"] >= 800
    assert train["multi_label_share"] >= 0.2 and test["multi_label_share"] >= 0.2


def test_every_tactic_has_hard_negatives_and_every_main_genre():
    records = [r for split in load_corpus(DATA).values() for r in split]
    main_genres = ["headline", "wire_report", "official_quote", "telegram_post", "x_post",
                   "tv_talk_show", "op_ed", "forum_comment"]
    for tactic in load_taxonomy().ids:
        assert sum(tactic in r.hard_for for r in records if r.is_none) >= 40, tactic
        genres = {r.genre for r in records if tactic in r.labels}
        assert set(main_genres) <= genres, (tactic, set(main_genres) - genres)


def test_lengths_span_headlines_to_articles():
    words = [len(r.text.split()) for split in load_corpus(DATA).values() for r in split]
    assert min(words) <= 8 and max(words) >= 150
    # Corpus v3 added the long registers of real media (articles, debunks), so short texts are
    # now a smaller share; headlines and posts must still be a fifth of the corpus.
    assert sum(w < 25 for w in words) / len(words) >= 0.20
    assert sum(w > 60 for w in words) / len(words) >= 0.25
    assert sum(w >= 150 for w in words) >= 150


def test_test_split_has_no_near_duplicate_of_train():
    corpus = load_corpus(DATA)
    pairs = near_duplicate_pairs([r.text for r in corpus["test"]], [r.text for r in corpus["train"]],
                                 n=5, threshold=0.5)
    assert pairs == []


def test_template_reuse_in_train_is_under_two_percent(report):
    assert report.stats["train_template_share"] < 0.02


def test_template_share_detects_swapped_word_frames():
    frame = "Officials in {} said on Monday that the new bridge over the river would open in {}"
    texts = [frame.format(city, month) for city, month in
             [("Lviv", "May"), ("Kharkiv", "June"), ("Odesa", "July")]] + ["An unrelated sentence."]
    assert template_share(texts) == pytest.approx(0.75)


def _corpus(tmp_path, train, test):
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "test.jsonl", test)
    return tmp_path


GOOD = {"id": "a1", "text": "Kyiv walked away from the deal in Istanbul.", "labels": ["blame_talks_failure"]}


@pytest.mark.parametrize("bad_line, expected", [
    ('{"id": "x", "text": "unterminated', "train.jsonl:2: not valid JSON"),
    ({"id": "x", "labels": []}, "train.jsonl:2: missing or empty text (field 'text')"),
    ({"id": "x", "text": "   ", "labels": []}, "train.jsonl:2: missing or empty text"),
    ({"id": "x", "text": "t", "labels": ["russophobia"]}, "unknown tactic id(s) 'russophobia'; valid ids: talks_good_faith"),
    ({"id": "x", "text": "t", "labels": "us_decline"}, "labels must be a list"),
    ({"id": "a1", "text": "another text", "labels": []}, "train.jsonl:2: duplicate id 'a1'"),
    ({"id": "x", "text": "t", "labels": [], "genre": "sonnet"}, "unknown genre 'sonnet'"),
    (b'{"id": "x", "text": "caf\xe9", "labels": []}', "train.jsonl:2: line is not valid UTF-8"),
])
def test_validate_names_file_line_and_problem(tmp_path, bad_line, expected):
    data = _corpus(tmp_path, [GOOD, bad_line], [{"id": "t1", "text": "A neutral sentence.", "labels": []}])
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 1
    assert expected in result.output.replace("\n", "")


def test_validate_finds_duplicates_and_near_duplicates_across_splits(tmp_path):
    long_text = ("The foreign ministry spokeswoman said on Thursday that Western capitals had "
                 "once again blocked any chance of a settlement by forbidding Kyiv to sign.")
    data = _corpus(tmp_path, [GOOD, {"id": "a2", "text": long_text, "labels": ["blame_talks_failure"]}],
                   [{"id": "t1", "text": GOOD["text"].upper(), "labels": []},
                    {"id": "t2", "text": long_text.replace("Thursday", "Friday"), "labels": []}])
    problems = [str(p) for p in validate_corpus(data).problems]
    assert any("test.jsonl:1: duplicate text (first at" in p and "train.jsonl:1" in p for p in problems)
    assert any("test.jsonl:2: near-duplicate of" in p and "train.jsonl:2" in p for p in problems)


def test_validate_reports_a_missing_split(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [GOOD])
    problems = [str(p) for p in validate_corpus(tmp_path).problems]
    assert problems == [f"{tmp_path / 'test.jsonl'}: split file is missing"]


def test_load_split_raises_on_first_bad_line(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [GOOD, "not json"])
    with pytest.raises(DataError, match=r"train.jsonl:2: not valid JSON"):
        load_split(path)


def test_hugging_face_dataset_matches_the_corpus():
    from datasets import DatasetDict

    dataset = load_hf_dataset(DATA)
    corpus = load_corpus(DATA)
    assert isinstance(dataset, DatasetDict) and set(dataset) == set(corpus) == {"train", "test", "shift_dev"}
    names = dataset["train"].features["labels"].feature.names
    assert names == load_taxonomy().ids
    assert all(len(dataset[split]) == len(corpus[split]) for split in corpus)
    assert set(dataset["test"]["lang"]) == {"en", "ru", "uk", "de"}
    first = corpus["train"][0]
    assert dataset["train"][0]["text"] == first.text
    assert [names[i] for i in dataset["train"][0]["labels"]] == list(first.labels)


def test_label_matrix_and_hash(tmp_path):
    records = load_split(write_jsonl(tmp_path / "x.jsonl", [GOOD, {"id": 2, "text": "x", "labels": []}]))
    y = label_matrix(records, load_taxonomy().ids)
    assert y.shape == (2, 15) and y[0, 1] == 1 and y.sum() == 1
    shutil.copy(tmp_path / "x.jsonl", tmp_path / "train.jsonl")
    shutil.copy(tmp_path / "x.jsonl", tmp_path / "test.jsonl")
    before = corpus_hash(tmp_path)
    (tmp_path / "test.jsonl").write_text(json.dumps(GOOD) + "\n")
    assert corpus_hash(tmp_path) != before


def test_relabel_applies_corrections_and_refuses_bad_files(tmp_path):
    data = _corpus(tmp_path, [GOOD, {"id": "a2", "text": "Rain in Lviv.", "labels": []}],
                   [{"id": "t1", "text": "A neutral sentence.", "labels": []}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a1", "labels": []}\nnot json\n')
    result = runner.invoke(app, ["relabel", str(bad), "--data", str(data)])
    assert result.exit_code == 1 and "bad.jsonl:2: not valid JSON" in result.stderr
    assert load_corpus(data)["train"][0].labels == ("blame_talks_failure",)  # nothing written
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "a1", "labels": [], "note": "reported speech"}])
    result = runner.invoke(app, ["relabel", str(good), "--data", str(data)])
    assert result.exit_code == 0 and "1 records relabelled" in result.stdout
    fixed = load_corpus(data)["train"][0]
    assert fixed.labels == () and fixed.kind == "hard_negative"
    assert fixed.hard_for == ("blame_talks_failure",) and fixed.note == "reported speech"


def test_relabel_rewrites_only_the_changed_lines(tmp_path):
    # explicit defaults ("lang": "en", "hard_for": []) and key order are the writer's, not ours
    kept = {"text": "Rain in Lviv.\u2028More rain.", "id": "a2", "labels": [], "lang": "en",
            "hard_for": [], "register": "news"}   # U+2028 is a line break to str.splitlines
    data = _corpus(tmp_path, [GOOD, kept], [{"id": "t1", "text": "A neutral sentence.", "labels": []}])
    train, test = data / "train.jsonl", data / "test.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (GOOD, kept)) + "\n",
                     encoding="utf-8")
    before_train, before_test = train.read_bytes().split(b"\n"), test.read_bytes()
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "a1", "labels": ["us_decline"]}])
    result = runner.invoke(app, ["relabel", str(good), "--data", str(data)])
    assert result.exit_code == 0 and "1 records relabelled" in result.stdout
    after = train.read_bytes().split(b"\n")
    assert after[1] == before_train[1] and test.read_bytes() == before_test
    first = json.loads(after[0])
    assert first["labels"] == ["us_decline"] and list(first)[:3] == list(GOOD)[:3]
    assert {k: v for k, v in first.items() if k != "labels"} == {
        k: v for k, v in json.loads(before_train[0]).items() if k != "labels"} | {"kind": "positive"}
