"""Load test for `tactics serve`: N concurrent clients POST /v1/predict for a fixed time.

Starts the server on loopback in a subprocess (with a throw-away feedback database), waits for
/healthz, runs the clients, prints requests/s, p50/p99 latency and the error count, stops the
server. Exits 1 when any request failed.

    .venv/bin/python benchmarks/load_test.py --model models/default
    .venv/bin/python benchmarks/load_test.py --model /tmp/serve-model --clients 50 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "training_data" / "test.jsonl"
FALLBACK = ["The West is tired; the aid will stop after the election.",
            "Kyiv walked away from a deal that was ready in Istanbul.",
            "The city council met on Tuesday to discuss bus timetables."]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def snippets(limit: int = 200) -> list[str]:
    """Texts to send: the first records of the test split, else a few fixed sentences."""
    if not SNIPPETS.exists():
        return FALLBACK
    lines = SNIPPETS.read_text(encoding="utf-8").splitlines()[:limit]
    return [json.loads(line)["text"] for line in lines if line.strip()] or FALLBACK


def start_server(model: str | None, port: int, data_dir: Path,
                 extra: list[str] = ()) -> subprocess.Popen:
    """`tactics serve` on loopback (with ``extra`` options), its feedback database and log in
    ``data_dir``."""
    command = [sys.executable, "-m", "nlp", "serve", "--port", str(port), *extra]
    command += ["--model", model] if model else []
    env = {**os.environ, "TACTICS_DATA_DIR": str(data_dir)}
    with (data_dir / "server.log").open("w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)


def wait_until_up(server: subprocess.Popen, url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with code {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server did not answer /healthz within {timeout:.0f} s")


async def client(http: httpx.AsyncClient, texts: list[str] | None, offset: int, stop_at: float,
                 latencies: list[float], errors: list[str]) -> None:
    """Send requests one after another until ``stop_at``, cycling through the texts (``None``:
    ``GET /healthz``, which does no work, to measure what the machine allows)."""
    n = offset
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            if texts is None:
                response = await http.get("/healthz")
                ok = response.status_code == 200
            else:
                text = texts[n % len(texts)]
                n += 1
                response = await http.post("/v1/predict", json={"text": text})
                ok = response.status_code == 200 and "labels" in response.json()["results"][0]
            if not ok:
                errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - started)


async def run_load(url: str, clients: int, seconds: float, texts: list[str] | None) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        started = time.monotonic()
        stop_at = started + seconds
        await asyncio.gather(*(client(http, texts, i * 7, stop_at, latencies, errors)
                               for i in range(clients)))
        elapsed = time.monotonic() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "errors": len(errors), "first_errors": errors[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Model directory (default: the server's default model).")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="tactics-load-") as tmp:
        data_dir = Path(tmp)
        server = start_server(args.model, port, data_dir)
        try:
            wait_until_up(server, url, data_dir / "server.log")
            result = asyncio.run(run_load(url, args.clients, args.seconds, snippets()))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{result['clients']} clients for {result['seconds']} s: {result['requests']} requests, "
          f"{result['requests_per_s']} requests/s, p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms, {result['errors']} errors")
    for error in result["first_errors"]:
        print(f"  error: {error}")
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
