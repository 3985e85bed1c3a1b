"""Fair, bounded scheduling of the service's CPU-bound work.

A request's texts are classified in pieces of at most ``piece_chars`` characters (consecutive
texts, or one longer text alone) on a fixed number of threads, ``lanes`` (one per core). Pieces
take the lanes first come, first served, so a small request (``piece_chars`` or fewer, one
piece) waits behind at most one piece of each large request ahead of it, never behind a whole
large request. Pieces of large requests may hold at most ``lanes - 1`` lanes at once (one when
there is a single lane), so with two or more cores a small request always finds a lane that
large requests cannot take.

At most ``max_pending`` requests are admitted (running or waiting); the next one is refused at
once with ``Busy``, which carries how many seconds the admitted work is expected to take.

Small requests are micro-batched: requests given the same ``batch_key`` that arrive while one of
them waits for a lane (and, when others are in, within ``batch_window`` seconds of it) join it
and are classified in one call of ``work``, up to ``piece_chars`` in all, as model servers do.
A lone request is not held back. A batch is one piece, so the fairness above still holds; if
the joint call fails, each request in it is run again alone, so errors stay its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TypeVar

import anyio

__all__ = ["Busy", "Scheduler", "pieces", "BATCH_WINDOW"]

BATCH_WINDOW = 0.002   # seconds a batch stays open for requests arriving with it

Item = TypeVar("Item")
Result = TypeVar("Result")


class Busy(Exception):
    """The queue is full; ``retry_after`` is a whole number of seconds to wait."""

    def __init__(self, pending: int, retry_after: int) -> None:
        super().__init__(f"the server is busy: {pending} requests are being classified or "
                         f"waiting; retry after {retry_after} s")
        self.pending, self.retry_after = pending, retry_after


def pieces(sizes: Sequence[int], piece_chars: int) -> Iterator[range]:
    """Consecutive index ranges whose sizes add up to at most ``piece_chars`` (a longer item
    makes a piece of its own)."""
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > piece_chars:
            yield range(start, i)
            start, total = i, 0
        total += size
    if start < len(sizes):
        yield range(start, len(sizes))


class _Batch:
    """Small requests' items classified together; each member knows its slice."""

    def __init__(self) -> None:
        self.items: list = []
        self.size = 0
        self.members = 0
        self.done = anyio.Event()
        self.results: list | None = None


class Scheduler:
    """Runs ``work`` over a request's items in pieces on ``lanes`` threads, fairly and with a
    bounded queue (see the module's docstring). Use it from one event loop."""

    def __init__(self, *, lanes: int, max_pending: int, piece_chars: int,
                 batch_window: float = BATCH_WINDOW) -> None:
        self.lanes = anyio.CapacityLimiter(lanes)
        self.batch_window = batch_window
        self._open: dict[Hashable, _Batch] = {}   # batches still taking members, by key
        self.large_lanes = anyio.CapacityLimiter(max(1, lanes - 1))
        self.max_pending, self.piece_chars = max_pending, piece_chars
        self.pending = 0
        self.pending_chars = 0
        self.seconds_per_char = 1e-5       # refined from every piece run

    def retry_after(self) -> int:
        """Seconds the admitted work should take, by the pace measured so far (1 to 60)."""
        seconds = self.pending_chars * self.seconds_per_char / self.lanes.total_tokens
        return min(60, max(1, math.ceil(seconds)))

    async def run(self, work: Callable[[list[Item]], list[Result]], items: list[Item],
                  sizes: Sequence[int], *, batch_key: Hashable | None = None) -> list[Result]:
        """``work`` applied to ``items`` piece by piece, the results in order; ``sizes`` are the
        items' sizes in characters. Raises ``Busy`` when ``max_pending`` requests are in.

        A small request with a ``batch_key`` may be classified together with others of the
        same key (``work`` must then map items to results one by one, the same for any of
        them)."""
        if self.pending >= self.max_pending:
            raise Busy(self.pending, self.retry_after())
        chars = sum(sizes)
        self.pending += 1
        self.pending_chars += chars
        try:
            results: list[Result] = []
            for piece in pieces(sizes, self.piece_chars):
                part = [items[i] for i in piece]
                size = sum(sizes[i] for i in piece)
                if batch_key is not None and chars <= self.piece_chars:
                    results += await self._run_batched(work, part, size, batch_key)
                else:
                    results += await self._run_piece(work, part, size, large=chars > self.piece_chars)
            return results
        finally:
            self.pending -= 1
            self.pending_chars -= chars

    async def _run_piece(self, work: Callable[[list[Item]], list[Result]], part: list[Item],
                         size: int, *, large: bool) -> list[Result]:
        if not large:
            return await anyio.to_thread.run_sync(self._timed, work, part, size,
                                                  limiter=self.lanes)
        async with self.large_lanes:
            return await anyio.to_thread.run_sync(self._timed, work, part, size,
                                                  limiter=self.lanes)

    async def _run_batched(self, work: Callable[[list[Item]], list[Result]], part: list[Item],
                           size: int, key: Hashable) -> list[Result]:
        batch = self._open.get(key)
        leader = batch is None or batch.size + size > self.piece_chars
        if leader:
            batch = self._open[key] = _Batch()
        start = len(batch.items)
        batch.items += part
        batch.size += size
        batch.members += 1
        if leader:
            await self._lead(work, batch, key)
        else:
            await batch.done.wait()
        if batch.results is None:   # the joint call failed: this request alone, its own error
            return await self._run_piece(work, part, size, large=False)
        return batch.results[start:start + len(part)]

    async def _lead(self, work: Callable[[list[Item]], list[Result]], batch: _Batch,
                    key: Hashable) -> None:
        """Keep the batch open for the window (when other requests are in) and until a lane is
        free, then classify it in one call."""
        try:
            if self.pending > 1:
                await anyio.sleep(self.batch_window)
            async with self.lanes:
                if self._open.get(key) is batch:
                    del self._open[key]
                try:
                    batch.results = await anyio.to_thread.run_sync(self._timed, work, batch.items,
                                                                   batch.size)
                except Exception:
                    if batch.members == 1:
                        raise
        finally:
            if self._open.get(key) is batch:
                del self._open[key]
            batch.done.set()

    def _timed(self, work: Callable[[list[Item]], list[Result]], part: list[Item],
               size: int) -> list[Result]:
        started = time.perf_counter()
        results = work(part)
        if size:
            pace = (time.perf_counter() - started) / size
            self.seconds_per_char = 0.8 * self.seconds_per_char + 0.2 * pace
        return results
