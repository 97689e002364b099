"""Read ahead: list a source in a thread while the caller writes what has arrived.

An HTTP listing spends most of its time waiting for the platform's next page; the sync spends its
time writing the store. :func:`read_ahead` runs the listing in a worker thread and hands records
over in batches (one queue operation per batch, not per record), so the platform prepares page
``n + 1`` while the store writes page ``n``.

Nothing about *what* is listed changes: the records arrive in the same order, and an error the
listing raises reaches the caller at the same place in the stream (after every record listed
before it), so a listing that fails part-way still fails, never looking complete. When the caller
stops early (its own error, or it closed the generator) the worker is told to stop, and it stops
at its next hand-over; at most ``batches`` batches are read beyond what the caller took.

The default depth (24 x 500 records) is a little more than what the store writer takes in one
flush (``sync.writer.BATCH``, 10,000 grants), so the listing goes on for the whole of a flush.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(source: Iterator[T], *, batch: int = 500, batches: int = 24, name: str = "read-ahead") -> Iterator[T]:
    """Yield ``source``'s items, produced in a worker thread ``batches`` x ``batch`` items ahead at most."""
    hand: queue.Queue[object] = queue.Queue(maxsize=batches)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                hand.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        chunk: list[T] = []
        try:
            for item in source:
                if stop.is_set():  # the consumer has gone: read no further (each read spends API budget)
                    return
                chunk.append(item)
                if len(chunk) >= batch:
                    if not put(chunk):
                        return
                    chunk = []
        except BaseException as exc:  # handed to the caller, in order
            if chunk and not put(chunk):
                return
            put(_Failed(exc))
            return
        finally:
            if stop.is_set():
                close = getattr(source, "close", None)
                if close is not None:
                    close()
        if chunk and not put(chunk):
            return
        put(_DONE)

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            got = hand.get()
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.exc
            assert isinstance(got, list)
            yield from got
    finally:
        stop.set()
        worker.join()
