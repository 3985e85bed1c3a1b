"""Feed reports: planted coordinated clusters and a planted rising tactic are found, outputs
and the page are complete and self-contained, bad input is named or counted, the Dask path
agrees, and rows without labels are classified by the shipped model."""

import importlib.util
import json
import random
import string

import pandas as pd
import pytest
from typer.testing import CliRunner

import nlp
from nlp import DataError
from nlp.apps.repetition import Signatures, find_clusters, normalise
from nlp.apps.report import feed_report, run_report
from nlp.cli import app

runner = CliRunner()
RISING = "western_fatigue"
START = pd.Timestamp("2026-01-05T00:00:00Z")
EDITS = [lambda t: "BREAKING: " + t, lambda t: t + " #truth #news", str.upper,
         lambda t: t.replace(" ", ", ", 3) + "!!!", lambda t: t + " https://t.co/x1y2z3"]


def planted_feed(rows: int = 20_000, sources: int = 40, clusters: int = 5, seed: int = 0):
    """A labelled feed over 8 weeks: unique random-word texts, ``RISING`` growing from 2% to
    30% of texts, ``clusters`` texts each posted by 5 sources 10 hours apart (with a prefix,
    hashtags, upper case, punctuation, a URL, one word changed), and two near misses: a text
    from 3 sources spread over 3 weeks, and one posted 6 times by only 2 sources."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(3000)]
    names = [f"outlet{i:02d}" for i in range(sources)]
    others = ["us_decline", "sanctions_backfire", "denazification", "multipolar_order"]
    records = []
    for n in range(rows):
        when = START + pd.Timedelta(seconds=rng.randrange(8 * 7 * 86400))
        labels = [t for t in others if rng.random() < 0.05]
        if rng.random() < 0.02 + 0.04 * ((when - START).days // 7):
            labels.append(RISING)
        records.append({"id": f"r{n}", "source": rng.choice(names), "date": when.isoformat(),
                        "text": " ".join(rng.choices(vocab, k=rng.randint(12, 30))),
                        "labels": labels})

    def post(prefix: str, text: str, source: str, when: pd.Timestamp) -> str:
        records.append({"id": f"{prefix}-{len(records)}", "source": source, "text": text,
                        "date": when.isoformat(), "labels": ["us_decline"]})
        return records[-1]["id"]

    planted = []
    for c in range(clusters):
        words, ids = rng.choices(vocab, k=20), set()
        for k, source in enumerate(rng.sample(names, 5)):
            variant = list(words)
            if k == 4:
                variant[rng.randrange(20)] = rng.choice(vocab)
            ids.add(post(f"c{c}", EDITS[k](" ".join(variant)), source,
                         START + pd.Timedelta(days=5 + 9 * c, hours=10 * k)))
        planted.append(ids)
    spread = " ".join(rng.choices(vocab, k=20))
    misses = {post("spread", spread, source, START + pd.Timedelta(days=10 * k + 1))
              for k, source in enumerate(names[:3])}
    pair = " ".join(rng.choices(vocab, k=20))
    misses |= {post("pair", pair, names[k % 2], START + pd.Timedelta(days=2, hours=k))
               for k in range(6)}
    rng.shuffle(records)
    return pd.DataFrame(records), planted, misses


@pytest.fixture(scope="module")
def planted():
    return planted_feed()


@pytest.fixture(scope="module")
def report(planted, tmp_path_factory):
    frame, _, _ = planted
    return feed_report(frame, out=tmp_path_factory.mktemp("report"))


def test_planted_clusters_are_found_with_their_members(planted, report):
    _, clusters, misses = planted
    found = [set(ids) for ids in report.clusters["ids"]]
    assert sum(cluster in found for cluster in clusters) >= 4
    assert len([ids for ids in found if ids not in clusters]) <= 5
    assert not misses & set().union(*found)
    first = report.clusters.iloc[0]
    assert len(first["sources"]) == 5 and first["tactics"] == ["us_decline"]
    assert first["first"] < first["last"]


def test_the_planted_rising_tactic_rises_most(report):
    rising = report.rising
    assert rising["tactic"].iloc[0] == RISING
    assert rising["first"].iloc[0] < 0.05 < 0.25 < rising["last"].iloc[0]
    assert rising["slope"].iloc[1] < 0.01


def test_trends_csv_counts_and_shares(planted, report):
    frame, _, _ = planted
    trends = pd.read_csv(report.path / "trends.csv")
    assert list(trends.columns) == ["period", "source", "tactic", "texts", "share"]
    assert trends["texts"].sum() == frame["labels"].map(len).sum()
    week = pd.to_datetime(frame["date"], utc=True).dt.tz_localize(None).dt.to_period("W").dt.start_time
    cell = frame[(frame["source"] == "outlet07") & (week == pd.Timestamp("2026-01-19"))]
    expected = cell["labels"].map(lambda labels: RISING in labels)
    [row] = trends[(trends.period == "2026-01-19") & (trends.source == "outlet07")
                   & (trends.tactic == RISING)].itertuples()
    assert row.texts == expected.sum() and row.share == pytest.approx(expected.mean(), abs=1e-4)


def test_the_page_is_self_contained_and_complete(report):
    page = (report.path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace("https://t.co", "")
    assert page.count("src='data:image/png;base64,") == 3       # trend, heatmap, co-occurrence
    for heading in ("Tactic share over time", "Rising tactics", "Top sources per tactic",
                    "Tactic co-occurrence", "Strongest examples", "Coordinated repetition"):
        assert heading in page
    lines = (report.path / "clusters.jsonl").read_text(encoding="utf-8").splitlines()
    assert set(json.loads(lines[0])) == {"cluster", "ids", "sources", "first", "last", "tactics",
                                         "text"}


def test_normalising_removes_what_copies_change():
    base = normalise("Kyiv regime shells Donetsk again, say officials")
    for text in ("BREAKING: Kyiv regime shells Donetsk again, say officials #Donbass",
                 "RT JUST IN - KYIV REGIME SHELLS DONETSK AGAIN... say officials https://t.co/x",
                 "@news kyiv regime: shells donetsk again, say officials!!!"):
        assert normalise(text) == base


def test_a_window_splits_repetition_spread_over_time():
    text = "the same words repeated by three outlets across a whole month"
    signatures = Signatures()
    days = [0, 1, 2, 20, 21, 40]
    signatures.add(list(range(1, 7)), [text] * 6, ["a", "b", "c", "a", "b", "c"],
                   [(START + pd.Timedelta(days=d)).value for d in days], [0] * 6)
    [cluster] = find_clusters(signatures, window=pd.Timedelta("72h"))
    assert cluster.keys == [1, 2, 3] and cluster.sources == ["a", "b", "c"]
    assert find_clusters(signatures, window=pd.Timedelta("72h"), min_sources=4) == []


def _feed(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _small(n=40):
    return [{"id": f"x{i}", "text": f"text number {i} about sanctions and the West", "source": f"s{i % 4}",
             "date": (START + pd.Timedelta(hours=i)).isoformat(), "labels": ["us_decline"]}
            for i in range(n)]


@pytest.mark.parametrize("flag, field", [("--source-field", "source"), ("--time-field", "date")])
def test_a_missing_source_or_time_column_names_column_and_flag(tmp_path, flag, field):
    records = [{k: v for k, v in r.items() if k != field} for r in _small()]
    result = runner.invoke(app, ["report", str(_feed(tmp_path / "f.jsonl", records)),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"no column '{field}'" in result.output and flag in result.output
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError, match=flag):
        feed_report(pd.DataFrame(records))


def test_unreadable_dates_are_counted_and_listed(tmp_path):
    records = _small()
    records[3]["date"], records[7]["date"], records[9]["date"] = "yesterday", None, 1700000000
    result = runner.invoke(app, ["report", str(_feed(tmp_path / "f.jsonl", records)),
                                 "--out", str(tmp_path / "out"), "--period", "day"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "3 rows with a missing or unreadable date" in page
    assert "row 4 (id x3): &#x27;yesterday&#x27;" in page and "1700000000" in page
    assert pd.read_csv(tmp_path / "out" / "trends.csv")["texts"].sum() == 37


def test_an_empty_feed_gives_a_report_that_says_so(tmp_path):
    result = runner.invoke(app, ["report", str(_feed(tmp_path / "f.jsonl", [])),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "The feed holds no rows" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "trends.csv").read_text().strip() == "period,source,tactic,texts,share"
    assert (tmp_path / "out" / "clusters.jsonl").read_text() == ""


def test_unknown_labels_and_bad_options_are_refused(tmp_path):
    records = _small()
    records[5]["labels"] = ["nonsense"]
    with pytest.raises(DataError, match="unknown tactic 'nonsense'"):
        run_report(_feed(tmp_path / "f.jsonl", records), tmp_path / "out")
    for option in (["--period", "year"], ["--window", "soon"]):
        result = runner.invoke(app, ["report", str(tmp_path / "f.jsonl"), "--out",
                                     str(tmp_path / "out"), *option])
        assert result.exit_code == 1 and option[0] in result.output


def test_csv_feeds_with_labels_as_text(tmp_path):
    frame = pd.DataFrame(_small())
    frame["labels"] = ["us_decline;western_fatigue"] * 20 + ['["us_decline"]'] * 20
    frame.to_csv(tmp_path / "f.csv", index=False)
    result = run_report(tmp_path / "f.csv", tmp_path / "out")
    assert result.counts.tactic_texts == {"us_decline": 40, RISING: 20}
    assert result.summary["model"] is None


def test_rows_without_labels_are_classified_by_the_shipped_model(tmp_path):
    texts = ["The West is tired; the aid will stop after the election.",
             "Sanctions hurt Europe more than Russia: factories close in Germany.", ""]
    records = [{"id": i, "text": texts[i % 3], "source": f"s{i % 5}",
                "date": (START + pd.Timedelta(hours=3 * i)).isoformat()} for i in range(12)]
    records[0]["labels"] = ["us_decline"]           # used as it is
    result = runner.invoke(app, ["report", str(_feed(tmp_path / "f.jsonl", records)),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output     # the empty texts cannot be classified
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "4 rows could not be classified" in page and "model default-" in page
    clusters = [json.loads(line) for line in (tmp_path / "out" / "clusters.jsonl").open()]
    assert any(RISING in c["tactics"] for c in clusters)
    assert "<blockquote>The West is tired; the aid will stop after the election." in page


def test_the_package_exports_the_report():
    assert nlp.feed_report is feed_report and "feed_report" in nlp.__all__


@pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="needs the dask extra")
def test_the_dask_path_gives_the_same_report(planted):
    import dask
    import dask.dataframe as dd

    from nlp.apps.dask import report_dask

    frame = planted[0].head(4000).copy()
    frame.loc[frame.index[:2], "date"] = "not a date"
    single = feed_report(frame)
    with dask.config.set({"dataframe.convert-string": False,    # keep the label lists
                          "scheduler": "synchronous"}):
        spread = report_dask(dd.from_pandas(frame, npartitions=3))
    pd.testing.assert_frame_equal(spread.trends, single.trends)
    assert spread.summary["bad_dates"] == single.summary["bad_dates"] == 2
    assert sorted(map(sorted, spread.clusters["ids"])) == sorted(map(sorted, single.clusters["ids"]))
