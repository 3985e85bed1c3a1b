"""Batch throughput and memory: `tactics batch` with 1 and 2 workers, a naive loop that calls
``model.predict`` one text at a time, and the Dask adapter on a 2-worker LocalCluster.

    python benchmarks/batch_bench.py --rows 1000000 --model /tmp/batch-model

The feed (short snippets: single sentences of the training corpus, numbered) is built once and
reused from the system's temporary folder. Every job runs as a child process while its process
tree's resident memory is sampled, so peak RSS covers the workers too. Needs the ``dask`` extra
(for Dask and for psutil). This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "training_data" / "train.jsonl"
sys.path.insert(0, str(ROOT))    # runs from a checkout, installed or not
TARGETS = {"per_core": 5000, "rss_mb": 600, "scaling": 1.6}


def build_feed(path: Path, rows: int, seed: int = 0) -> Path:
    """``rows`` JSONL snippets drawn (seeded) from the corpus's sentences of 40-300 characters."""
    if path.exists():
        return path
    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    sentences = [s for text in texts for s in re.split(r"(?<=[.!?])\s+", text) if 40 <= len(s) <= 300]
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8") as out:
        for n in range(1, rows + 1):
            out.write(json.dumps({"id": f"s{n:07d}", "text": rng.choice(sentences)}) + "\n")
    partial.rename(path)
    return path


@dataclass
class Run:
    seconds: float       # wall time
    cpu_seconds: float   # user + system time of the whole process tree
    rss_mb: float        # peak resident memory of the process tree, sampled every 0.2 s
    stdout: str


def measure(command: list[str]) -> Run:
    """Run ``command`` as a child process and measure it."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.2)
    if process.returncode:
        sys.exit(f"failed ({process.returncode}): {' '.join(command)}")
    return Run(time.perf_counter() - started, _children_cpu() - cpu_before, peak / 2**20,
               process.stdout.read())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss(pid: int) -> int:
    try:
        parent = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
    except psutil.Error:
        return 0


def naive_rate(model_path: str | None, feed: Path, sample: int) -> float:
    """Snippets/s of ``model.predict([text], evidence=False)`` called once per text."""
    from nlp import load_model

    model = load_model(model_path)
    with feed.open(encoding="utf-8") as lines:
        texts = [json.loads(next(lines))["text"] for _ in range(sample)]
    started = time.perf_counter()
    for text in texts:
        model.predict([text], evidence=False)
    return sample / (time.perf_counter() - started)


def dask_job(feed: Path, model_path: str | None, output: Path) -> None:
    """The Dask path end to end: JSONL in, classify_dask on a LocalCluster, Parquet out."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from nlp import load_model
    from nlp.apps.batch import result_schema
    from nlp.apps.dask import classify_dask

    model = load_model(model_path)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster):
        started = time.perf_counter()
        feed_frame = dd.read_json(feed, lines=True, blocksize=4 * 2**20)   # ~30,000 rows
        classify_dask(feed_frame, model=model).to_parquet(
            output, write_index=False, schema=result_schema(model.tactics))
        print(json.dumps({"seconds": time.perf_counter() - started}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", default=None, help="model directory (default: the default model)")
    parser.add_argument("--feed", type=Path, default=None, help="feed to build or reuse")
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--dask-job", nargs=2, metavar=("FEED", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dask_job:
        return dask_job(Path(args.dask_job[0]), args.model, Path(args.dask_job[1]))

    work = Path(tempfile.gettempdir()) / "tactics-bench"
    feed = build_feed(args.feed or work / f"feed-{args.rows}.jsonl", args.rows)
    model_args = ["--model", args.model] if args.model else []
    print(f"feed: {feed} ({args.rows:,} snippets, {feed.stat().st_size / args.rows:.0f} bytes "
          f"each); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    runs = {}
    for workers in (1, 2):
        runs[workers] = measure([sys.executable, "-m", "nlp", "batch", str(feed),
                                 str(work / "out.jsonl"), "--workers", str(workers),
                                 "--chunk-size", str(args.chunk_size), "--quiet", *model_args])
        report(f"tactics batch --workers {workers}", args.rows, runs[workers])
    naive = naive_rate(args.model, feed, args.naive_sample)
    print(f"naive loop, model.predict([text]) one at a time ({args.naive_sample:,} texts): "
          f"{naive:,.0f} snippets/s", flush=True)
    dask = measure([sys.executable, __file__, *model_args, "--dask-job", str(feed),
                    str(work / "out-dask.parquet")])
    report("dask LocalCluster, 2 workers (with cluster start)", args.rows, dask)
    dask_seconds = json.loads(dask.stdout)["seconds"]
    print(f"  dask without interpreter and cluster start: {args.rows / dask_seconds:,.0f} "
          f"snippets/s", flush=True)
    one, two = (args.rows / runs[w].seconds for w in (1, 2))
    print(f"\nbatch (1 worker) / naive loop: {one / naive:.1f}x")
    print(f"2 workers / 1 worker: {two / one:.2f}x (target >= {TARGETS['scaling']})")
    print(f"snippets/s per core, 1 worker: {one:,.0f} wall, "
          f"{args.rows / runs[1].cpu_seconds:,.0f} per CPU-second (target >= "
          f"{TARGETS['per_core']:,})")
    print(f"peak RSS, 1 worker: {runs[1].rss_mb:,.0f} MB (target < {TARGETS['rss_mb']} MB)")


def report(name: str, rows: int, run: Run, unit: str = "snippets") -> None:
    print(f"{name}: {rows:,} rows in {run.seconds:,.1f} s = {rows / run.seconds:,.0f} {unit}/s "
          f"({rows / run.cpu_seconds:,.0f} per CPU-second), peak RSS {run.rss_mb:,.0f} MB",
          flush=True)


if __name__ == "__main__":
    main()
