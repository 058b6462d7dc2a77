"""Work an iterator ahead in a thread, so that pure-Python work overlaps database round trips.

The producing thread runs while the consumer waits on PostgreSQL (psycopg lets go of the GIL
there), so an import parses its next batch while the current one is being written. The
iterator must not touch the database: the thread has no connection of its own to use, and
tests run inside the consumer's transaction.
"""

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_DONE = object()
# How often a producer blocked on a full queue checks whether the consumer left.
POLL_SECONDS = 0.05


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


@contextmanager
def ahead[T](items: Iterator[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """``items``, produced up to ``depth`` ahead of the consumer by a thread. An exception the
    iterator raises reaches the consumer in its place, after the items before it. Leaving the
    block early stops the thread and waits for it (so files it reads can be closed after)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed over to the consumer, raised there
            put(_Raised(exc))
            return
        put(_DONE)

    def consume() -> Iterator[T]:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item

    thread = threading.Thread(target=produce, name="ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
