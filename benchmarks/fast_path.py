"""Speed of the prediction path against a plain scikit-learn pipeline, measured in one run.

The reference is word 1-2 + char_wb 2-5 TF-IDF with one-vs-rest logistic regression, fitted here
on the English training records; it and the model classify the same short snippets (sentences of
the English test records, 40-300 characters), one thread, best of ``--repeats`` passes. Printed:
texts/s for the reference, for the model's labels + scores (the fast path, and the pipeline path
it replaced; and the English model alone, without identifying each text's language first) and
with evidence, the ratios the targets are set on, and with ``--service`` the
load test's figures for one client and for ``--clients`` concurrent clients.

    python benchmarks/fast_path.py
    python benchmarks/fast_path.py --model models/default --service --clients 50 --seconds 10

This prints figures; it is not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # one thread, before NumPy starts its pools

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))          # runs from a checkout, installed or not
sys.path.insert(0, str(ROOT / "benchmarks"))

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.multiclass import OneVsRestClassifier  # noqa: E402
from sklearn.pipeline import FeatureUnion, Pipeline  # noqa: E402

from nlp.corpus.dataset import in_language, label_matrix, load_split  # noqa: E402
from nlp.model.predict import TacticModel, load_model  # noqa: E402

TARGETS = {"labels_vs_reference": 1.5, "evidence_cost": 1.5, "one_client_p50_ms": 5.0,
           "many_clients_rps": 500.0, "many_clients_p99_ms": 200.0}


def reference_pipeline() -> Pipeline:
    """Plain scikit-learn: word 1-2 and char_wb 2-5 TF-IDF, one-vs-rest logistic regression."""
    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  sublinear_tf=True)),
    ])
    return Pipeline([("features", features),
                     ("clf", OneVsRestClassifier(LogisticRegression(solver="liblinear")))])


def short_snippets(records, count: int, seed: int = 0) -> list[str]:
    sentences = [s for r in records for s in re.split(r"(?<=[.!?])\s+", r.text)
                 if 40 <= len(s) <= 300]
    random.Random(seed).shuffle(sentences)
    return sentences[:count]


def best_rate(run, texts: list[str], repeats: int) -> float:
    """Texts per second of ``run(texts)``, the best of ``repeats`` passes."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def service_figures(model: str | None, clients: int, seconds: float) -> list[dict]:
    """The load test (benchmarks/load_test.py) with one client, then with ``clients``, then the
    same clients asking ``/healthz`` (no work), which shows what client and server on this
    machine allow at all."""
    import load_test

    port = load_test.free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tactics-fast-") as tmp:
        server = load_test.start_server(model, port, Path(tmp))
        try:
            load_test.wait_until_up(server, url, Path(tmp) / "server.log")
            texts = load_test.snippets()
            figures = [load_test.run(load_test.run_load(port, n, seconds, texts))
                       for n in (1, clients)]
            ceiling = load_test.run(load_test.run_load(port, clients, seconds, None))
            return figures + [{**ceiling, "clients": f"{clients} (GET /healthz, no work: the machine's ceiling)"}]
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--snippets", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--service", action="store_true", help="Also run the load test.")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    data = ROOT / "training_data"
    train = in_language(load_split(data / "train.jsonl"), "en")
    texts = short_snippets(in_language(load_split(data / "test.jsonl"), "en"), args.snippets)
    model = load_model(args.model)
    pipeline_path = TacticModel(model.estimator, model.meta, model.path, fast=False)
    started = time.perf_counter()
    reference = reference_pipeline().fit([r.text for r in train], label_matrix(train, model.tactics))
    print(f"reference fitted on {len(train)} English training records in "
          f"{time.perf_counter() - started:.0f} s; {len(texts)} snippets, best of {args.repeats}")

    rates = {
        "reference (labels + scores)": best_rate(lambda x: reference.predict_proba(x) >= 0.5,
                                                 texts, args.repeats),
        "model, labels + scores": best_rate(lambda x: model.predict(x, evidence=False),
                                            texts, args.repeats),
        "model, with evidence": best_rate(lambda x: model.predict(x, evidence=True),
                                          texts, args.repeats),
        "English model alone, labels + scores": best_rate(
            lambda x: model.predict_proba(x) >= model.thresholds, texts, args.repeats),
        "pipeline path, labels + scores": best_rate(
            lambda x: pipeline_path.predict(x, evidence=False), texts, args.repeats),
        "pipeline path, with evidence": best_rate(
            lambda x: pipeline_path.predict(x, evidence=True), texts, args.repeats),
    }
    for name, rate in rates.items():
        print(f"{name:34s} {rate:8.0f} texts/s")
    ref = rates["reference (labels + scores)"]
    ratio = rates["model, labels + scores"] / ref
    cost = rates["model, labels + scores"] / rates["model, with evidence"]
    print(f"labels + scores vs reference: {ratio:.2f}x (target >= {TARGETS['labels_vs_reference']}x;"
          f" the pipeline path: {rates['pipeline path, labels + scores'] / ref:.2f}x; without "
          f"language identification: {rates['English model alone, labels + scores'] / ref:.2f}x)")
    print(f"evidence cost: {cost:.2f}x the run without it (target <= {TARGETS['evidence_cost']}x; "
          f"the pipeline path: {rates['pipeline path, labels + scores'] / rates['pipeline path, with evidence']:.2f}x)")
    if args.service:
        for result in service_figures(args.model, args.clients, args.seconds):
            print(f"service, {result['clients']} client(s): {result['requests_per_s']} requests/s, "
                  f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, {result['errors']} errors")
        print(f"(targets: one client p50 <= {TARGETS['one_client_p50_ms']:.0f} ms; {args.clients} "
              f"clients >= {TARGETS['many_clients_rps']:.0f} requests/s, p99 <= "
              f"{TARGETS['many_clients_p99_ms']:.0f} ms, 0 errors)")


if __name__ == "__main__":
    main()
