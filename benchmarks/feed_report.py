"""Feed report end to end: wall time and peak memory of `tactics report` on a feed of unlabelled
rows (classification included), against `tactics batch` on the same feed and workers (the
baseline: classification alone), and `tactics report` again on the batch output (rows that come
labelled: the report's own cost).

    python benchmarks/feed_report.py --rows 1000000 --workers 2
    python benchmarks/feed_report.py --rows 1000000 --only-report       # end to end only
    python benchmarks/feed_report.py --rows 1000000 --only-labelled     # the report's own cost

The feed (built once, reused from the system's temporary folder): texts of two sentences drawn
(seeded) from the training corpus, 500 sources, 90 days; 2% of rows repost one of the
campaign sentences (one per 500 rows), lightly edited, from 3 to 8 sources within a day. Each command runs as a
child process whose process tree's resident memory is sampled. This prints figures; it is not
a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from batch_bench import CORPUS, Run, measure, report     # also puts the checkout on sys.path

from nlp.taxonomy import load_taxonomy

SOURCES, DAYS, CAMPAIGN_SHARE = 500, 90, 0.02
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
EDITS = ("BREAKING: {}", "{} #news", "{} https://t.co/abc", "JUST IN - {}", "{}!!")


def build_feed(path: Path, rows: int, seed: int = 0, labelled: bool = False) -> Path:
    """``rows`` JSONL rows with id, source, date (ISO 8601) and text; with ``labelled``, also
    0 to 2 tactics drawn at random (the report then classifies nothing)."""
    if path.exists():
        return path
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    sentences = [s for text in texts for s in re.split(r"(?<=[.!?])\s+", text) if 40 <= len(s) <= 300]
    tactics = load_taxonomy().ids
    rng = random.Random(seed)
    campaigns = [(rng.choice(sentences), rng.randrange(DAYS * 24), rng.randint(3, 8),
                  rng.randrange(SOURCES)) for _ in range(max(1, rows // 500))]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8") as out:
        for n in range(1, rows + 1):
            if rng.random() < CAMPAIGN_SHARE:
                text, hour, spread, first = rng.choice(campaigns)
                text = rng.choice(EDITS).format(text)
                source = (first + rng.randrange(spread)) % SOURCES
                hour += rng.randrange(24)
            else:
                text = f"{rng.choice(sentences)} {rng.choice(sentences)}"
                source, hour = rng.randrange(SOURCES), rng.randrange(DAYS * 24)
            row = {"id": f"f{n:07d}", "source": f"source{source:03d}",
                   "date": (START + timedelta(hours=hour)).isoformat(), "text": text}
            if labelled:
                row["labels"] = rng.sample(tactics, rng.choice((0, 0, 1, 1, 2)))
            out.write(json.dumps(row) + "\n")
    partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default=None, help="model directory (default: the default model)")
    parser.add_argument("--only-labelled", action="store_true",
                        help="only the report's own cost: a feed built with labels, no classification")
    parser.add_argument("--only-report", action="store_true",
                        help="only the end-to-end report (no batch baseline, no labelled pass)")
    args = parser.parse_args()
    work = Path(tempfile.gettempdir()) / "tactics-bench"
    if args.only_labelled:
        feed = build_feed(work / f"report-labelled-{args.rows}.jsonl", args.rows, labelled=True)
        run = measure([sys.executable, "-m", "nlp", "report", str(feed), "--out",
                       str(work / "report-labelled-only"), "--quiet"])
        return show("tactics report, rows built with labels (no classification)", args.rows, run)
    feed = build_feed(work / f"report-feed-{args.rows}.jsonl", args.rows)
    model = ["--model", args.model] if args.model else []
    workers = ["--workers", str(args.workers)]
    print(f"feed: {feed} ({args.rows:,} rows); {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    tagged = work / f"report-tagged-{args.rows}.jsonl"
    tactics = [sys.executable, "-m", "nlp"]
    if args.only_report:
        run = measure([*tactics, "report", str(feed), "--out", str(work / "report-full"),
                       "--quiet", *workers, *model])
        return show("tactics report, unlabelled rows (classification included)", args.rows, run)
    batch = measure([*tactics, "batch", str(feed), str(tagged), "--keep-fields", "text,source,date",
                     "--quiet", *workers, *model])
    show("tactics batch (baseline: classification alone)", args.rows, batch)
    full = measure([*tactics, "report", str(feed), "--out", str(work / "report-full"), "--quiet",
                    *workers, *model])
    show("tactics report, unlabelled rows (classification included)", args.rows, full)
    labelled = measure([*tactics, "report", str(tagged), "--out", str(work / "report-labelled"),
                        "--quiet", *model])
    show("tactics report, rows already labelled (the report's own cost)", args.rows, labelled)
    clusters = sum(1 for _ in (work / "report-full" / "clusters.jsonl").open(encoding="utf-8"))
    print(f"\nclusters found: {clusters:,} (the feed has {max(1, args.rows // 500):,} campaigns; "
          f"some reach fewer than 3 sources within the window)")
    print(f"report / batch wall time: {full.seconds / batch.seconds:.2f}x; "
          f"peak RSS report / batch: {full.rss_mb / batch.rss_mb:.2f}x")
    if args.rows != 1_000_000:
        scale = 1_000_000 / args.rows
        print(f"EXTRAPOLATED to 1,000,000 rows (linear in rows, from this run): report "
              f"{full.seconds * scale / 60:,.1f} min end to end; signatures add about "
              f"{(full.rss_mb - batch.rss_mb) * scale:,.0f} MB at most over the batch job's "
              f"peak (an upper bound: the difference also holds fixed costs)")


def show(name: str, rows: int, run: Run) -> None:
    report(name, rows, run, unit="rows")


if __name__ == "__main__":
    main()
