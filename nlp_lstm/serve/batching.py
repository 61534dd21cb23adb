"""Dynamic batching: concurrent requests queue up and run through the model together, off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


class QueueFull(Exception):
    """The batcher already holds as many waiting items as it may; the caller should try again later."""


@dataclass
class BatchStats:
    """What one model call ran: how many items, from how many requests, and how long each request waited."""

    items: int
    requests: int
    waits: list[float]
    seconds: float


@dataclass
class _Job:
    items: Sequence[Any]
    future: asyncio.Future
    enqueued: float


class DynamicBatcher:
    """Collects the items of concurrent `submit` calls into batches of at most `max_batch_size` items, waiting at
    most `max_wait_ms` after the first of them arrived, and runs `predict` on each batch in one worker thread.
    A request with more items than `max_batch_size` runs as a batch of its own. At most `max_queue` items wait;
    past that `submit` raises QueueFull."""

    def __init__(self, predict: Callable[[list[Any]], list[Any]], max_batch_size: int = 64,
                 max_wait_ms: float = 5.0, max_queue: int = 4096,
                 on_batch: Callable[[BatchStats], None] | None = None) -> None:
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.waiting = 0  # items queued, not yet in a running batch
        self._jobs: deque[_Job] = deque()
        self._arrived = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._worker: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        """Start the worker; call from the running event loop."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp-lstm-model")
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Answer every request already queued, then stop the worker and its thread."""
        self._closing = True
        self._arrived.set()
        if self._worker is not None:
            await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """`predict`'s results for `items`, in order, once the batch holding them has run."""
        if self._closing or self._worker is None:
            raise QueueFull("the server is shutting down")
        if self.waiting + len(items) > self.max_queue:
            raise QueueFull(f"{self.waiting} texts are waiting (at most {self.max_queue})")
        job = _Job(items, asyncio.get_running_loop().create_future(), time.perf_counter())
        self._jobs.append(job)
        self.waiting += len(items)
        self._arrived.set()
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._jobs:
                if self._closing:
                    return
                self._arrived.clear()
                await self._arrived.wait()
            deadline = self._jobs[0].enqueued + self.max_wait
            while self.waiting < self.max_batch_size and not self._closing:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            batch = self._take()
            items = [item for job in batch for item in job.items]
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self.predict, items)
            except Exception as err:  # the callers get the error; the worker goes on with the next batch
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            finished = time.perf_counter()
            offset = 0
            for job in batch:
                if not job.future.done():  # a caller that went away has a cancelled future
                    job.future.set_result(results[offset:offset + len(job.items)])
                offset += len(job.items)
            if self.on_batch is not None:
                self.on_batch(BatchStats(len(items), len(batch), [started - job.enqueued for job in batch],
                                         finished - started))

    def _take(self) -> list[_Job]:
        """The queued jobs of the next batch: whole requests, first come first served, up to max_batch_size
        items (the first request always)."""
        batch = [self._jobs.popleft()]
        count = len(batch[0].items)
        while self._jobs and count + len(self._jobs[0].items) <= self.max_batch_size:
            count += len(self._jobs[0].items)
            batch.append(self._jobs.popleft())
        self.waiting -= count
        return batch
