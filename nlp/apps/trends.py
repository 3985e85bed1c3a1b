"""Tactic counts of a classified feed, by period and source: what a feed report's trends,
heatmaps, co-occurrence and examples are drawn from.

``FeedCounts`` is filled chunk by chunk (``add``) and merged across partitions (``merge``); its
memory grows with the number of (period, source, tactic) cells and a few examples per tactic,
never with the number of rows.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["FeedCounts", "period_labels", "PERIODS", "NO_SOURCE"]

PERIODS = ("day", "week", "month")
NO_SOURCE = "(no source)"
EXAMPLES = 5            # strongest examples kept per tactic
LISTED_DATES = 20       # unparsable dates listed by value in the report


def period_labels(times: pd.Series, period: str) -> pd.Series:
    """Each UTC timestamp's period: the day (2026-03-02), the Monday its week starts on
    (2026-03-02) or the month (2026-03); None where the time is missing (NaT)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    if period == "week":
        times = times.dt.normalize() - pd.to_timedelta(times.dt.day_of_week, unit="D")
    labels = times.dt.strftime("%Y-%m" if period == "month" else "%Y-%m-%d")
    return pd.Series([label if known else None
                      for label, known in zip(labels.tolist(), times.notna().tolist())],
                     index=times.index, dtype=object)


@dataclass
class FeedCounts:
    """Running counts over a feed's classified rows."""

    tactics: Sequence[str]
    rows: int = 0                     # input rows seen
    errors: int = 0                   # rows that could not be classified
    error_kinds: Counter = field(default_factory=Counter)
    no_source: int = 0
    bad_dates: int = 0
    bad_date_examples: list = field(default_factory=list)   # (row, id, value)
    by_period: Counter = field(default_factory=Counter)     # (period, source) -> texts
    trend: Counter = field(default_factory=Counter)         # (period, source, tactic) -> texts
    by_source: Counter = field(default_factory=Counter)     # source -> texts
    source_tactic: Counter = field(default_factory=Counter)  # (source, tactic) -> texts
    tactic_texts: Counter = field(default_factory=Counter)
    cooccurrence: np.ndarray = None
    examples: dict = field(default_factory=dict)            # tactic -> heap of example tuples

    def __post_init__(self) -> None:
        self.tactics = list(self.tactics)
        if self.cooccurrence is None:
            self.cooccurrence = np.zeros((len(self.tactics),) * 2, dtype=np.int64)
        self._column = {tactic: k for k, tactic in enumerate(self.tactics)}

    @property
    def classified(self) -> int:
        return self.rows - self.errors

    def add(self, chunk: pd.DataFrame, periods: pd.Series) -> None:
        """Count one chunk: columns ``row``, ``id``, ``text``, ``source``, ``time`` (raw value),
        ``labels`` (a list, None where ``error`` is set), ``scores``, ``evidence``; ``periods``
        holds each row's period, None where its time could not be read."""
        self.rows += len(chunk)
        columns = (chunk[name].tolist() for name in
                   ("row", "id", "text", "source", "time", "labels", "scores", "evidence", "error"))
        for row, rid, text, source, raw, labels, scores, evidence, error, period in zip(
                *columns, periods.tolist()):
            if error is not None:
                self.errors += 1
                self.error_kinds[error] += 1
                continue
            if source is None:
                self.no_source += 1
                source = NO_SOURCE
            if period is None:
                self.bad_dates += 1
                if len(self.bad_date_examples) < LISTED_DATES:
                    self.bad_date_examples.append((row, rid, raw))
            self._add_text(row, rid, text, str(source), period, labels, scores or {},
                           evidence or {})

    def _add_text(self, row: int, rid: object, text: str, source: str, period: str | None,
                  labels: list[str], scores: dict, evidence: dict) -> None:
        self.by_source[source] += 1
        if period is not None:
            self.by_period[period, source] += 1
        if not labels:
            return
        columns = [self._column[tactic] for tactic in labels]
        self.cooccurrence[np.ix_(columns, columns)] += 1
        for tactic in labels:
            self.tactic_texts[tactic] += 1
            self.source_tactic[source, tactic] += 1
            if period is not None:
                self.trend[period, source, tactic] += 1
            sentence = (evidence.get(tactic) or {}).get("sentence", {}).get("text")
            self._keep_example(tactic, (float(scores.get(tactic, 1.0)), -row, rid, source,
                                        text, sentence))

    def _keep_example(self, tactic: str, example: tuple) -> None:
        heap = self.examples.setdefault(tactic, [])
        if any(kept[4] == example[4] for kept in heap):     # one copy of a repeated text
            return
        if len(heap) < EXAMPLES:
            heapq.heappush(heap, example)
        elif example[:2] > heap[0][:2]:
            heapq.heapreplace(heap, example)

    def merge(self, other: FeedCounts) -> FeedCounts:
        """Add another partition's counts to these (in place) and return self."""
        for name in ("rows", "errors", "no_source", "bad_dates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("error_kinds", "by_period", "trend", "by_source", "source_tactic",
                     "tactic_texts"):
            getattr(self, name).update(getattr(other, name))
        self.bad_date_examples = (self.bad_date_examples + other.bad_date_examples)[:LISTED_DATES]
        self.cooccurrence += other.cooccurrence
        for tactic, heap in other.examples.items():
            for example in heap:
                self._keep_example(tactic, example)
        return self

    def trends(self) -> pd.DataFrame:
        """One row per (period, source, tactic) with at least one text: ``texts`` carrying the
        tactic and their ``share`` of the source's dated texts in that period."""
        records = [(period, source, tactic, texts, texts / self.by_period[period, source])
                   for (period, source, tactic), texts in self.trend.items()]
        frame = pd.DataFrame(records, columns=["period", "source", "tactic", "texts", "share"])
        return frame.sort_values(["period", "source", "tactic"], ignore_index=True)

    def shares_over_time(self) -> pd.DataFrame:
        """Share of each period's dated texts (all sources) that carry each tactic: periods as
        rows, tactics as columns."""
        totals = Counter()
        for (period, _), texts in self.by_period.items():
            totals[period] += texts
        counts = Counter()
        for (period, _, tactic), texts in self.trend.items():
            counts[period, tactic] += texts
        periods = sorted(totals)
        return pd.DataFrame([[counts[p, t] / totals[p] for t in self.tactics] for p in periods],
                            index=pd.Index(periods, name="period"), columns=self.tactics)

    def rising(self, shares: pd.DataFrame | None = None) -> pd.DataFrame:
        """Tactics ranked by the least-squares slope of their share over the periods (share
        points per period), with the first and last period's shares."""
        shares = self.shares_over_time() if shares is None else shares
        if len(shares) < 2:
            return pd.DataFrame(columns=["tactic", "slope", "first", "last"])
        steps = np.arange(len(shares))
        slopes = np.polyfit(steps, shares.to_numpy(), 1)[0]
        frame = pd.DataFrame({"tactic": shares.columns, "slope": slopes,
                              "first": shares.iloc[0].to_numpy(),
                              "last": shares.iloc[-1].to_numpy()})
        return frame.sort_values("slope", ascending=False, ignore_index=True)

    def source_shares(self, top: int = 25) -> pd.DataFrame:
        """Share of each of the ``top`` largest sources' texts that carry each tactic (the
        tactics that some text carries)."""
        sources = [source for source, _ in self.by_source.most_common(top)]
        tactics = [t for t in self.tactics if self.tactic_texts[t]]
        return pd.DataFrame([[self.source_tactic[s, t] / self.by_source[s] for t in tactics]
                             for s in sources],
                            index=pd.Index(sources, name="source"), columns=tactics)

    def top_sources(self, tactic: str, top: int = 5) -> list[tuple[str, int, float]]:
        """The sources with most texts carrying ``tactic``: (source, texts, share of its texts)."""
        counts = [(source, n) for (source, t), n in self.source_tactic.items() if t == tactic]
        counts.sort(key=lambda item: (-item[1], item[0]))
        return [(source, n, n / self.by_source[source]) for source, n in counts[:top]]

    def strongest(self, tactic: str) -> list[dict]:
        """The kept examples of ``tactic``, strongest first."""
        return [{"score": score, "row": -negative_row, "id": rid, "source": source,
                 "text": text, "sentence": sentence}
                for score, negative_row, rid, source, text, sentence
                in sorted(self.examples.get(tactic, []), reverse=True)]
