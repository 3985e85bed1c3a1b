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


class _Connection:
    """One keep-alive HTTP/1.1 connection on plain asyncio streams. A full HTTP client (httpx)
    spends more CPU per request than the server does, and the two share this machine's cores:
    with it, 50 clients measured the client, not the service (see docs/speed.md)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, bytes, bool]:
        """Send one request, already encoded; its status, its body, and whether the server
        closes the connection after it."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = {name.strip().lower(): value.strip()
                  for name, value in (line.split(":", 1) for line in lines if ":" in line)}
        if "content-length" not in fields:
            raise ConnectionError(f"no Content-Length in the answer: {status_line}")
        body = await self.reader.readexactly(int(fields["content-length"]))
        return int(status_line.split()[1]), body, fields.get("connection", "").lower() == "close"

    def close(self) -> None:
        self.writer.close()


def encode(texts: list[str] | None, port: int) -> list[bytes]:
    """The requests to send, encoded once: ``POST /v1/predict`` with each text, or (``None``)
    ``GET /healthz``."""
    host = f"Host: 127.0.0.1:{port}\r\n"
    if texts is None:
        return [f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode()]
    requests = []
    for text in texts:
        body = json.dumps({"text": text}).encode()
        requests.append(f"POST /v1/predict HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return requests


def _problem(status: int, body: bytes, health: bool) -> str | None:
    """What is wrong with an answer, or None for a good one."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    if health:
        return None
    try:
        return None if "labels" in json.loads(body)["results"][0] else "no labels in the answer"
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return f"unreadable answer ({type(exc).__name__}): {body[:200]!r}"


async def client(port: int, requests: list[bytes], health: bool, offset: int, stop_at: float,
                 latencies: list[float], errors: list[str], timeout: float = 60.0) -> None:
    """Send requests one after another on one connection until ``stop_at``, cycling through
    ``requests``. Every answer's latency is recorded (from sending to the last byte; connecting
    is not part of it); a bad answer and a failed or timed-out request are errors, and the
    connection is opened again after a failure or when the server closes it."""
    n = offset
    connection = None
    while time.monotonic() < stop_at:
        raw = requests[n % len(requests)]
        n += 1
        try:
            if connection is None:
                connection = _Connection(*await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), timeout))
            started = time.perf_counter()
            status, body, closing = await asyncio.wait_for(connection.request(raw), timeout)
        except (OSError, EOFError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ValueError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if connection is not None:
                connection.close()
                connection = None
            continue
        latencies.append(time.perf_counter() - started)
        problem = _problem(status, body, health)
        if problem:
            errors.append(problem)
        if closing:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


async def run_load(port: int, clients: int, seconds: float, texts: list[str] | None) -> dict:
    """``clients`` concurrent clients for ``seconds`` against the server on ``port``: answered
    requests per second, their p50 and p99 latency, and the errors (bad answers, and requests
    that got none) (``texts=None``: ``GET /healthz``)."""
    latencies: list[float] = []
    errors: list[str] = []
    requests = encode(texts, port)
    started = time.monotonic()
    stop_at = started + seconds
    await asyncio.gather(*(client(port, requests, texts is None, i * 7, stop_at, latencies, errors)
                           for i in range(clients)))
    elapsed = time.monotonic() - started
    ms = np.array(latencies or [np.nan]) * 1000
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "errors": len(errors), "first_errors": errors[:3]}


def run(coroutine):
    """Run the clients on uvloop when it is installed (the serve extra brings it), as the
    server does."""
    try:
        import uvloop
    except ModuleNotFoundError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


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
            result = run(run_load(port, args.clients, args.seconds, snippets()))
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
