"""Does a one-sentence request wait behind large batches? The service's fair scheduling
against the previous behaviour (each request classified whole, in arrival order), measured in
the same run on the same machine.

For each mode a server runs in a subprocess on loopback; ``--large-clients`` clients keep
sending the largest batch the limits allow (5 texts of 19,000 characters, with evidence) while
one client sends one-sentence requests one after another; the small requests' latencies are
compared with those of the same server when idle.

    .venv/bin/python benchmarks/fairness.py --model models/default
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import free_port, snippets, start_server, wait_until_up  # noqa: E402

SMALL = "Kyiv walked away from a deal that was ready in Istanbul."
WHOLE = 10**12        # pieces this large: every request in one piece, as before the scheduler
MODES = {"fair (pieces of 5,000 characters)": None, "whole requests (before)": WHOLE}


def large_batch() -> dict:
    """The largest request the default limits allow: 5 texts of 19,000 characters."""
    text = " ".join(snippets(400))
    return {"items": [{"id": i, "text": text[i * 1000:i * 1000 + 19_000]} for i in range(5)]}


async def small_latencies(http: httpx.AsyncClient, stop_at: float) -> list[float]:
    latencies = []
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        response = await http.post("/v1/predict", json={"text": SMALL})
        response.raise_for_status()
        latencies.append(time.perf_counter() - started)
    return latencies


async def large_client(http: httpx.AsyncClient, stop_at: float, body: dict) -> int:
    sent = 0
    while time.monotonic() < stop_at:
        (await http.post("/v1/predict", json=body, timeout=300)).raise_for_status()
        sent += 1
    return sent


async def measure(url: str, seconds: float, large_clients: int) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        idle = await small_latencies(http, time.monotonic() + 3)
        stop_at = time.monotonic() + seconds
        body = large_batch()
        busy, *large = await asyncio.gather(
            small_latencies(http, stop_at),
            *(large_client(http, stop_at, body) for _ in range(large_clients)))
    return {"idle_p50": float(np.median(idle)), "p50": float(np.median(busy)),
            "p95": float(np.percentile(busy, 95)), "max": max(busy), "small": len(busy),
            "large": sum(large)}


def run_mode(model: str | None, piece_chars: int | None, seconds: float, clients: int) -> dict:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tactics-fairness-") as tmp:
        data_dir = Path(tmp)
        server = start_server(model, port, data_dir,
                              extra=["--piece-chars", str(piece_chars)] if piece_chars else [])
        try:
            wait_until_up(server, f"http://127.0.0.1:{port}", data_dir / "server.log")
            return asyncio.run(measure(f"http://127.0.0.1:{port}", seconds, clients))
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the default model)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--large-clients", type=int, default=2)
    args = parser.parse_args()
    figures = {}
    for name, piece_chars in MODES.items():
        figures[name] = row = run_mode(args.model, piece_chars, args.seconds, args.large_clients)
        print(f"{name}: one-sentence request p50 {row['p50'] * 1000:,.0f} ms, p95 "
              f"{row['p95'] * 1000:,.0f} ms, max {row['max'] * 1000:,.0f} ms under "
              f"{args.large_clients} clients of large batches ({row['small']} small and "
              f"{row['large']} large requests done in {args.seconds:.0f} s); idle p50 "
              f"{row['idle_p50'] * 1000:,.0f} ms", flush=True)
    fair, whole = figures.values()
    print(f"\nsmall-request p50 under load, whole / fair: {whole['p50'] / fair['p50']:.1f}x; "
          f"p95: {whole['p95'] / fair['p95']:.1f}x")
    print(f"fair p50 under load / idle p50: {fair['p50'] / fair['idle_p50']:.1f}x")
    print(f"large batches done, fair / whole: {fair['large'] / max(whole['large'], 1):.2f}x")
    print(json.dumps({k: {m: round(v, 4) for m, v in row.items()} for k, row in figures.items()}))


if __name__ == "__main__":
    main()
