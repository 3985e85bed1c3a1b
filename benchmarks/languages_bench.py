"""Languages: how well and how fast texts are routed, and what the multilingual path costs.

    python benchmarks/languages_bench.py [--model models/default] [--n 600]

1. Language identification on the corpus's test texts of each language, cut to short snippets
   (their first sentence, as feeds carry them) and whole: accuracy and texts/s for the router
   (``nlp.model.language``), plain py3langid, and lingua (``pip install lingua-language-detector``,
   skipped when absent).
2. English throughput with and without the router, one process (the router must cost little).
3. The multilingual path: Russian, Ukrainian and German texts/s through ``predict``, one process.

Ratios are measured in the same run; this prints figures, it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp import load_model  # noqa: E402
from nlp.model.language import detect_language  # noqa: E402


def _texts(lang: str, n: int) -> list[str]:
    path = ROOT / "training_data" / "test.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in records if r.get("lang", "en") == lang][:n]


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def _rate(fn, texts: list[str]) -> tuple[float, list]:
    started = time.perf_counter()
    out = [fn(t) for t in texts]
    return len(texts) / (time.perf_counter() - started), out


def identification(n: int) -> None:
    import py3langid

    systems = {"router": detect_language, "py3langid": lambda t: py3langid.classify(t)[0]}
    try:
        from lingua import Language, LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()
        codes = {lang: lang.iso_code_639_1.name.lower() for lang in Language.all()}
        systems["lingua"] = lambda t: codes.get(detector.detect_language_of(t), "und")
    except ImportError:
        print("lingua not installed: skipped")
    print(f"{'system':10} {'form':9} " + " ".join(f"{x:>6}" for x in ("en", "ru", "uk", "de"))
          + "  texts/s")
    for name, fn in systems.items():
        for form, cut in (("snippet", _first_sentence), ("whole", lambda t: t)):
            accuracies, total, seconds = [], 0, 0.0
            for lang in ("en", "ru", "uk", "de"):
                texts = [cut(t) for t in _texts(lang, n)]
                started = time.perf_counter()
                found = [fn(t) for t in texts]
                seconds += time.perf_counter() - started
                total += len(texts)
                accuracies.append(sum(f == lang for f in found) / max(len(texts), 1))
            print(f"{name:10} {form:9} " + " ".join(f"{a:6.3f}" for a in accuracies)
                  + f"  {total / seconds:8.0f}")


def throughput(model_path: str | None, n: int) -> None:
    model = load_model(model_path)
    snippets = [_first_sentence(t) for t in _texts("en", n)] * 3
    model.predict(snippets[:50], evidence=False)
    # the few snippets identified as another language go through the encoder: shown apart
    read_as_english = [t for t in snippets if detect_language(t) == "en"]
    for name, english in (("all", snippets), ("identified as English", read_as_english)):
        started = time.perf_counter()
        model.predict_proba(english)
        bare = len(english) / (time.perf_counter() - started)
        started = time.perf_counter()
        model.predict(english, evidence=False)
        routed = len(english) / (time.perf_counter() - started)
        print(f"English snippets ({name}, {len(english)}), one process: scores only {bare:.0f}/s; "
              f"predict with routing {routed:.0f}/s ({routed / bare:.2f}x)")
    for lang in ("ru", "uk", "de"):
        texts = _texts(lang, n)
        if not texts or model.multilingual is None:
            continue
        started = time.perf_counter()
        model.predict(texts, evidence=False)
        rate = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        model.predict(texts[:100], evidence=True)
        with_evidence = min(len(texts), 100) / (time.perf_counter() - started)
        print(f"{lang}: {rate:.1f} texts/s without evidence, {with_evidence:.1f}/s with "
              f"(mean {sum(len(t.split()) for t in texts) / len(texts):.0f} words)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--n", type=int, default=600, help="texts per language")
    args = parser.parse_args()
    identification(args.n)
    throughput(args.model, args.n)


if __name__ == "__main__":
    main()
