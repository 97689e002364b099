"""connectors.prefetch.read_ahead: same items in the same order, errors in place, an early stop stops the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from accessward.connectors.prefetch import read_ahead


def test_items_arrive_in_order_across_batches() -> None:
    assert list(read_ahead(iter(range(1_234)), batch=100, batches=2)) == list(range(1_234))
    assert list(read_ahead(iter([]))) == []


def test_an_error_arrives_after_every_item_listed_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(250)
        raise RuntimeError("page 3 failed")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for item in read_ahead(failing(), batch=100):
            got.append(item)
    assert got == list(range(250))  # never a partial listing that looks complete


def test_the_listing_runs_ahead_in_another_thread() -> None:
    threads: set[str] = set()

    def listing() -> Iterator[int]:
        for n in range(10):
            threads.add(threading.current_thread().name)
            time.sleep(0.02)  # the platform's wait
            yield n

    start = time.perf_counter()
    for _ in read_ahead(listing(), batch=1, name="ahead"):
        time.sleep(0.02)  # the store's write, overlapping the next wait
    assert threads == {"ahead"}
    assert time.perf_counter() - start < 0.36  # 10 x (20 + 20) ms one after the other would be 0.4 s


def test_stopping_early_stops_the_worker_and_closes_the_listing() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    stream = read_ahead(endless(), batch=10, batches=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert closed.wait(2)
    assert len(produced) <= 10 * (2 + 2)  # a few batches ahead at most, then it stopped
