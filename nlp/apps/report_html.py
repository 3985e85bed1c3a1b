"""A feed report as one self-contained HTML page: plots drawn with matplotlib and inlined as
base64 PNGs, no scripts, no external files, so it opens offline and can be mailed."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import numpy as np
import pandas as pd

FeedReport = Any     # nlp.apps.report.FeedReport, which imports this module

__all__ = ["render_report"]

TOP_TACTICS = 8          # lines in the share-over-time plot
LISTED_CLUSTERS = 50
STYLE = """body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.num{text-align:right}.muted{color:#777}img{max-width:100%}blockquote{margin:.3em 0 .8em;padding-left:.8em;border-left:3px solid #c33}
.facts span{display:inline-block;margin-right:1.5em}"""


def render_report(report: FeedReport) -> str:
    """The page: summary, data problems, then (for a non-empty feed) trends, sources,
    co-occurrence, examples and coordinated clusters."""
    summary, counts = report.summary, report.counts
    parts = [f"<h1>Feed report</h1>{_facts(report)}{_problems(report)}"]
    if not summary["rows"]:
        parts.append("<p><strong>The feed holds no rows</strong>: there is nothing to report.</p>")
    elif not summary["classified"]:
        parts.append("<p><strong>No row of the feed could be classified</strong>.</p>")
    else:
        parts += [_trends(report), _sources(report), _cooccurrence(counts),
                  _examples(counts), _clusters(report)]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Feed report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def _facts(report: FeedReport) -> str:
    s, o = report.summary, report.options
    facts = [f"{s['rows']:,} rows", f"{s['classified']:,} classified", f"{s['sources']:,} sources",
             f"{s['periods']:,} {o.period}s", f"{s['clusters']:,} coordinated clusters",
             f"window {o.window}", f"model {s['model'] or 'none (rows came labelled)'}"]
    return "<p class='facts'>" + "".join(f"<span>{escape(f)}</span>" for f in facts) + "</p>"


def _problems(report: FeedReport) -> str:
    s, counts = report.summary, report.counts
    items = []
    if s["errors"]:
        kinds = ", ".join(f"{escape(kind)} ({n:,})" for kind, n in counts.error_kinds.most_common(5))
        items.append(f"{_rows(s['errors'])} could not be classified: {kinds}")
    if s["bad_dates"]:
        listed = ", ".join(f"row {row} (id {escape(str(rid))}): {escape(repr(value))}"
                           for row, rid, value in counts.bad_date_examples)
        items.append(f"{_rows(s['bad_dates'])} with a missing or unreadable date, left out of "
                     f"the trends and clusters; the first: {listed}")
    if s["no_source"]:
        items.append(f"{_rows(s['no_source'])} without a source, counted as (no source)")
    if s["too_short"]:
        items.append(f"{_rows(s['too_short'])} too short (under 6 words) to compare for repetition")
    if not items:
        return ""
    return "<h2>Data problems</h2><ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _rows(n: int) -> str:
    return f"{n:,} row{'s' * (n != 1)}"


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure    # no pyplot: no global state, no GUI backend

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _trends(report: FeedReport) -> str:
    shares = report.counts.shares_over_time()
    html = f"<h2>Tactic share over time (per {report.options.period})</h2>"
    if shares.empty:
        return html + "<p class='muted'>No row has a readable date.</p>"
    top = shares.mean().sort_values(ascending=False).index[:TOP_TACTICS]
    figure, axes = _figure(10, 4)
    for tactic in top:
        axes.plot(range(len(shares)), shares[tactic] * 100, marker="o", markersize=3, label=tactic)
    ticks = np.linspace(0, len(shares) - 1, min(len(shares), 12)).round().astype(int)
    axes.set_xticks(ticks, [shares.index[i] for i in ticks], rotation=30, ha="right")
    axes.set_ylabel("% of texts")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    rising = report.rising.head(5)
    rows = "".join(f"<tr><td>{escape(r.tactic)}</td><td class='num'>{r.slope * 100:+.2f}</td>"
                   f"<td class='num'>{r.first:.1%}</td><td class='num'>{r.last:.1%}</td></tr>"
                   for r in rising.itertuples())
    table = ("<h3>Rising tactics</h3><table><tr><th>tactic</th><th>change (points per "
             f"{report.options.period})</th><th>first</th><th>last</th></tr>{rows}</table>"
             if rows else "")
    return html + _png(figure) + table


def _heatmap(frame: pd.DataFrame, title: str, percent: bool):
    figure, axes = _figure(max(6.0, 0.5 * frame.shape[1] + 3), max(3.0, 0.3 * frame.shape[0] + 2))
    image = axes.imshow(frame.to_numpy(), cmap="Reds", aspect="auto")
    axes.set_xticks(range(frame.shape[1]), frame.columns, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(frame.shape[0]), [str(i)[:40] for i in frame.index], fontsize=8)
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, format="{x:.0%}" if percent else "{x:,.0f}")
    return figure


def _sources(report: FeedReport) -> str:
    counts = report.counts
    shares = counts.source_shares()
    html = ("<h2>Sources and tactics</h2>"
            + _png(_heatmap(shares, f"share of each source's texts ({len(shares)} largest sources)",
                            True))
            + "<h3>Top sources per tactic</h3><table><tr><th>tactic</th><th>texts</th>"
              "<th>sources (texts, share of the source's texts)</th></tr>")
    for tactic, total in counts.tactic_texts.most_common():
        tops = "; ".join(f"{escape(source)} ({n:,}, {share:.0%})"
                         for source, n, share in counts.top_sources(tactic))
        html += f"<tr><td>{escape(tactic)}</td><td class='num'>{total:,}</td><td>{tops}</td></tr>"
    return html + "</table>"


def _cooccurrence(counts) -> str:
    used = [k for k, tactic in enumerate(counts.tactics) if counts.tactic_texts[tactic]]
    if len(used) < 2:
        return ""
    matrix = pd.DataFrame(counts.cooccurrence[np.ix_(used, used)],
                          index=[counts.tactics[k] for k in used],
                          columns=[counts.tactics[k] for k in used])
    return ("<h2>Tactic co-occurrence</h2><p class='muted'>Texts carrying both tactics; the "
            "diagonal is each tactic's total.</p>"
            + _png(_heatmap(matrix, "texts with both tactics", False)))


def _examples(counts) -> str:
    html = "<h2>Strongest examples per tactic</h2>"
    for tactic, _ in counts.tactic_texts.most_common():
        html += f"<h3>{escape(tactic)}</h3>"
        for example in counts.strongest(tactic):
            quote = example["sentence"] or _clip(example["text"])
            html += (f"<blockquote>{escape(quote)}<br><span class='muted'>{escape(example['source'])}"
                     f", id {escape(str(example['id']))}, score {example['score']:.2f}</span>"
                     "</blockquote>")
    return html


def _clusters(report: FeedReport) -> str:
    clusters = report.clusters
    html = (f"<h2>Coordinated repetition</h2><p>{len(clusters):,} clusters of near-identical "
            f"texts posted by at least {report.options.min_sources} sources within "
            f"{escape(report.options.window)}.</p>")
    if clusters.empty:
        return html
    html += ("<table><tr><th>#</th><th>sources</th><th>texts</th><th>first</th><th>last</th>"
             "<th>tactics</th><th>text</th></tr>")
    for c in clusters.head(LISTED_CLUSTERS).itertuples():
        html += (f"<tr><td>{c.cluster}</td><td>{escape(', '.join(c.sources))}</td>"
                 f"<td class='num'>{len(c.ids):,}</td><td>{escape(c.first[:16])}</td>"
                 f"<td>{escape(c.last[:16])}</td><td>{escape(', '.join(c.tactics))}</td>"
                 f"<td>{escape(_clip(c.text))}</td></tr>")
    more = len(clusters) - LISTED_CLUSTERS
    return html + "</table>" + (f"<p class='muted'>{more:,} more in clusters.jsonl.</p>" if more > 0 else "")


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
