"""A demonstration feed for `tactics report`, and the page it gives (docs/report.png).

    python scripts/report_demo.py /tmp/demo            # writes /tmp/demo/feed.jsonl, /tmp/demo/report/

Real texts with their gold labels from training_data/train.jsonl (so nothing is classified),
spread over 40 sources and 12 weeks, with one tactic (western_fatigue) drawn more often week by
week and three texts copied, with light edits, by 4 to 6 sources within two days.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.apps.report import run_report  # noqa: E402

RISING, WEEKS, SOURCES, ROWS = "western_fatigue", 12, 40, 3000
START = datetime(2026, 1, 5, tzinfo=timezone.utc)
EDITS = ("BREAKING: {}", "{} #StopTheWar", "{}", "JUST IN - {} https://t.co/demo", "{}!!", "RT {}")


def build(path: Path, seed: int = 0) -> Path:
    records = [json.loads(line) for line in (ROOT / "training_data" / "train.jsonl").open(encoding="utf-8")
               if line.strip()]
    records = [r for r in records if r.get("lang", "en") == "en" and len(r["text"]) < 600]
    rng = random.Random(seed)
    rng.shuffle(records)
    rising = [r for r in records if RISING in r["labels"]]
    others = [r for r in records if RISING not in r["labels"]]
    sources = [f"channel_{i:02d}" for i in range(SOURCES)]
    rows = []
    for n in range(ROWS):
        week = rng.randrange(WEEKS)
        pool = rising if rng.random() < 0.01 + 0.02 * week and rising else others
        record = pool.pop()        # each text once: repetition comes only from the copies below
        when = START + timedelta(weeks=week, seconds=rng.randrange(7 * 86400))
        rows.append({"id": f"d{n:05d}", "source": rng.choice(sources), "date": when.isoformat(),
                     "text": record["text"], "labels": record["labels"]})
    for c, record in enumerate(others[:3]):
        when = START + timedelta(weeks=2 + 3 * c)
        for k, source in enumerate(rng.sample(sources, 4 + c)):
            rows.append({"id": f"copy{c}-{k}", "source": source, "labels": record["labels"],
                         "date": (when + timedelta(hours=9 * k)).isoformat(),
                         "text": EDITS[k].format(record["text"])})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
    report = run_report(build(out / "feed.jsonl"), out / "report")
    print(f"{report.path / 'report.html'}: {report.summary}")
