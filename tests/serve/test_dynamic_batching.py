"""DynamicBatcher: concurrent requests run together in one model call, each caller gets its own results in
order, a failing batch fails only its callers, the queue is bounded, and stop() answers what was queued."""

from __future__ import annotations

import asyncio
import threading

import pytest

from nlp_lstm.serve.batching import BatchStats, DynamicBatcher, QueueFull


class Recorder:
    """A `predict` that doubles numbers, records each batch and the thread it ran in, and fails on -1."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        if -1 in items:
            raise ValueError("bad item")
        return [2 * x for x in items]


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_a_batch_and_get_their_own_results_in_order() -> None:
    recorder, stats = Recorder(), []

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=64, max_wait_ms=50, on_batch=stats.append)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit([10 * k, 10 * k + 1, 10 * k + 2]) for k in range(5)))
        await batcher.stop()
        return results

    results = run(main())
    assert results == [[20 * k, 20 * k + 2, 20 * k + 4] for k in range(5)]
    assert len(recorder.batches) == 1 and len(recorder.batches[0]) == 15
    assert stats[0].requests == 5 and stats[0].items == 15 and len(stats[0].waits) == 5
    assert recorder.threads and all(n.startswith("nlp-lstm-model") for n in recorder.threads)  # off the loop


def test_batches_hold_at_most_max_batch_size_items_but_a_larger_request_runs_whole() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=4, max_wait_ms=20)
        batcher.start()
        small = [batcher.submit([k]) for k in range(6)]
        big = batcher.submit(list(range(100, 110)))
        results = await asyncio.gather(*small, big)
        await batcher.stop()
        return results

    results = run(main())
    assert results[:6] == [[2 * k] for k in range(6)] and results[6] == [2 * x for x in range(100, 110)]
    assert [len(b) for b in recorder.batches] == [4, 2, 10]


def test_a_failing_batch_fails_its_callers_and_the_next_batch_still_runs() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=8, max_wait_ms=20)
        batcher.start()
        first = await asyncio.gather(batcher.submit([1]), batcher.submit([-1]), return_exceptions=True)
        second = await batcher.submit([3])
        await batcher.stop()
        return first, second

    first, second = run(main())
    assert all(isinstance(r, ValueError) for r in first)  # both rode in the failing batch
    assert second == [6]


def test_a_full_queue_refuses_with_queue_full_and_takes_requests_again_once_drained() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=64, max_wait_ms=200, max_queue=3)
        batcher.start()
        waiting = asyncio.ensure_future(batcher.submit([1, 2]))
        await asyncio.sleep(0.01)
        assert batcher.waiting == 2
        with pytest.raises(QueueFull, match="2 texts are waiting"):
            await batcher.submit([3, 4])
        accepted = await batcher.submit([5])  # fits: 2 + 1 <= 3
        first = await waiting
        again = await batcher.submit([6, 7, 8])
        await batcher.stop()
        return first, accepted, again

    assert run(main()) == ([2, 4], [10], [12, 14, 16])


def test_stop_answers_every_queued_request_then_refuses_new_ones() -> None:
    recorder = Recorder()

    async def main():
        batcher = DynamicBatcher(recorder, max_batch_size=2, max_wait_ms=1000)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit([k])) for k in range(5)]
        await asyncio.sleep(0.01)
        await batcher.stop()  # does not wait out max_wait_ms
        with pytest.raises(QueueFull, match="shutting down"):
            await batcher.submit([9])
        return [p.result() for p in pending]

    assert run(main()) == [[2 * k] for k in range(5)]


def test_batch_stats_report_the_wait_of_each_request() -> None:
    stats: list[BatchStats] = []

    async def main():
        batcher = DynamicBatcher(lambda items: items, max_batch_size=64, max_wait_ms=30, on_batch=stats.append)
        batcher.start()
        await asyncio.gather(batcher.submit([1]), batcher.submit([2]))
        await batcher.stop()

    run(main())
    assert len(stats) == 1 and stats[0].requests == 2
    assert 0.02 < max(stats[0].waits) < 1.0  # the first request waited about max_wait_ms for the second
