"""The figures section of the corpus datasheet (training_data/README.md), computed from the data.

``tactics datasheet`` rewrites the part of the README between the two markers below, so the
counts in the datasheet can never drift from the corpus (a test compares them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .dataset import DEFAULT_DATA_DIR, GENRES, LANGUAGES, PERIODS, REGISTERS, Record, load_corpus
from ..errors import DataError
from ..io.markdown import markdown_table
from ..taxonomy import load_taxonomy

__all__ = ["render_stats", "update_datasheet", "START", "END", "MAIN_GENRES", "LENGTH_BINS"]

START, END = "<!-- stats:start (written by `tactics datasheet`) -->", "<!-- stats:end -->"
MAIN_GENRES = ("headline", "wire_report", "official_quote", "telegram_post", "x_post",
               "tv_talk_show", "op_ed", "forum_comment")
LENGTH_BINS = ((0, 12), (13, 24), (25, 40), (41, 60), (61, 100), (101, 149), (150, 300),
               (301, 10**9))


def _words(record: Record) -> int:
    return len(record.text.split())


def render_stats(corpus: dict[str, list[Record]]) -> str:
    """Markdown tables: per split, per tactic, tactic x genre, hard negatives, lengths."""
    tactics = load_taxonomy().ids
    everything = [r for records in corpus.values() for r in records]
    splits = list(corpus)
    overview = markdown_table(
        ["", *splits, "all"],
        [[name, *(fn(corpus[s]) for s in splits), fn(everything)] for name, fn in (
            ("records", len),
            ("with a tactic", lambda rs: sum(not r.is_none for r in rs)),
            ("no tactic", lambda rs: sum(r.is_none for r in rs)),
            ("… hard negatives", lambda rs: sum(r.kind == "hard_negative" for r in rs)),
            ("… other (neutral)", lambda rs: sum(r.is_none and r.kind != "hard_negative" for r in rs)),
            ("positives with 2+ tactics", lambda rs: f"{_multi_share(rs):.0%}"),
            ("long texts (150+ words)", lambda rs: sum(_words(r) >= 150 for r in rs)),
        )])
    per_tactic = markdown_table(
        ["tactic", *(f"{s} positives" for s in splits), "all positives", "hard negatives for it"],
        [[t, *(sum(t in r.labels for r in corpus[s]) for s in splits),
          sum(t in r.labels for r in everything),
          sum(t in r.hard_for for r in everything if r.is_none)] for t in tactics])
    genre_counts = Counter((label, r.genre) for r in everything for label in r.labels)
    genres_used = [g for g in GENRES if any(r.genre == g for r in everything)]
    coverage = markdown_table(
        ["tactic", *genres_used],
        [[t, *(genre_counts[(t, g)] for g in genres_used)] for t in tactics]
        + [["(no tactic)", *(sum(r.is_none and r.genre == g for r in everything) for g in genres_used)]])
    empty = [(t, g) for t in tactics for g in MAIN_GENRES if not genre_counts[(t, g)]]
    lengths = Counter(next(f"{lo}-{hi}" if hi < 10**9 else f"{lo}+" for lo, hi in LENGTH_BINS
                           if lo <= _words(r) <= hi) for r in everything)
    histogram = markdown_table(
        ["words", "texts", "share", ""],
        [[label, lengths[label], f"{lengths[label] / len(everything):.1%}",
          "█" * max(1, round(60 * lengths[label] / len(everything)))]
         for label in (f"{lo}-{hi}" if hi < 10**9 else f"{lo}+" for lo, hi in LENGTH_BINS)])
    facets = "\n\n".join(_facet(corpus, title, key, values, tactics) for title, key, values in (
        ("language", lambda r: r.lang, LANGUAGES),
        ("register", lambda r: r.register or "general", (*REGISTERS, "general")),
        ("period", lambda r: r.period or "unrecorded", (*PERIODS, "unrecorded"))))
    short = sum(_words(r) < 25 for r in everything) / len(everything)
    long_ = sum(_words(r) > 60 for r in everything) / len(everything)
    return f"""{START}
### Counts

{overview}

### Per tactic

{per_tactic}

{facets}

### Coverage: positives per tactic and genre (all splits)

{coverage}

Empty cells among the 8 main genres: {len(empty) if empty else 'none'}.

### Lengths (words, all splits)

{histogram}

Under 25 words: {short:.1%}; over 60 words: {long_:.1%}.
{END}"""


def _facet(corpus: dict[str, list[Record]], title: str, key, values: tuple[str, ...],
           tactics: list[str]) -> str:
    """Records per split by one facet (language, register, period), then positives per tactic
    by that facet over all splits; values no record has are left out."""
    everything = [r for records in corpus.values() for r in records]
    used = [v for v in values if any(key(r) == v for r in everything)]
    splits = markdown_table(
        [title, *(f"{s} texts" for s in corpus), "no tactic (all splits)"],
        [[v, *(sum(key(r) == v for r in records) for records in corpus.values()),
          sum(key(r) == v and r.is_none for r in everything)] for v in used])
    per_tactic = markdown_table(
        ["tactic", *used],
        [[t, *(sum(key(r) == v and t in r.labels for r in everything) for v in used)]
         for t in tactics])
    return f"### By {title}\n\n{splits}\n\nPositives per tactic by {title} (all splits):\n\n{per_tactic}"


def _multi_share(records: list[Record]) -> float:
    positives = [r for r in records if r.labels]
    return sum(len(r.labels) > 1 for r in positives) / len(positives) if positives else 0.0


def update_datasheet(data_dir: str | Path = DEFAULT_DATA_DIR) -> Path:
    """Replace the stats section of ``data_dir/README.md`` with freshly computed figures."""
    path = Path(data_dir) / "README.md"
    if not path.exists():
        raise DataError("datasheet not found", path=str(path))
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise DataError(f"the datasheet lacks the markers {START!r} and {END!r}", path=str(path))
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + render_stats(load_corpus(data_dir)) + tail, encoding="utf-8")
    return path
